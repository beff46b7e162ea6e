// Orchestrated provisioning across a real 3-node test cluster (DESIGN §8, the seed's provisioning):
// the orchestrator (the built CLI, in the host namespace) drives each node's `osvc ... --local`
// over ssh (the embedded cluster store; orchestrate-etcd.e2e.test.ts and orchestrate-topology-etcd.e2e.test.ts
// run the same scenarios on etcd). Verified on each node through its own namespaces: addresses (ip -j addr),
// mounts (findmnt in its mount namespace), processes (/proc/PID), and its own state.
import { describe, it } from "vitest";
import { useOrchCluster } from "../helpers/orchestrate.js";
import { failoverScenario, flexScenario, spreadScenario } from "../helpers/orchestrate-scenarios.js";

const oc = useOrchCluster("orch");

describe("orchestrated provision (3-node failover service)", () => {
  it("the leader provisions and stays up, the others follow the shared resources and end in standby; status, plan, unprovision", () => failoverScenario(oc), 300_000);

  it("topology = flex, flex_target = 2: two instances up (the first creates the shared resources), the third in standby", () => flexScenario(oc), 300_000);

  it("placement = spread: the leader is the node of the smallest md5(path + nodename)", () => spreadScenario(oc), 300_000);
});
