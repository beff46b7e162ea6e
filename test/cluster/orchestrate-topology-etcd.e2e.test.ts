// The topology, placement and live-log scenarios of orchestrate.e2e.test.ts and
// orchestrate-live.e2e.test.ts with the cluster store on a real 3-member etcd (started once for this
// file, ended by pid), same assertions: flex_target = 2 runs two instances (the first creates the
// shared resources), stop/start follow the topology; placement = spread picks the node of the
// smallest md5(path + nodename), purge removes the object everywhere (the store too); placement =
// score ranks the nodes by their own scores; the nodes' logs reach the orchestrator live.
import { describe, it } from "vitest";
import { useOrchCluster } from "../helpers/orchestrate.js";
import { flexScenario, liveLogsScenario, scorePlacementScenario, spreadScenario } from "../helpers/orchestrate-scenarios.js";

const oc = useOrchCluster("otope", { store: "etcd" });

describe("orchestration topologies with the etcd cluster store", () => {
  it("topology = flex, flex_target = 2: two instances up (the first creates the shared resources), the third in standby", () => flexScenario(oc), 300_000);

  it("placement = spread: the leader is the node of the smallest md5(path + nodename)", () => spreadScenario(oc), 300_000);

  it("placement = score: the nodes are ranked by the score each node computes of itself; the top one leads (plan and provision)", () => scorePlacementScenario(oc), 300_000);

  it("live node logs: each node line reaches the orchestrator's output while the node's command still runs (prefixed, whole lines)", () => liveLogsScenario(oc), 300_000);
});
