// The volume and <allocate> scenarios of volume.e2e.test.ts and allocate.e2e.test.ts with the
// cluster store on a real 3-member etcd (started once for this file, ended by pid), same
// assertions: the leader's vol config and its allocated addresses reach the store (read with
// etcdctl) and every node before the followers act; unprovision/destroy give them back.
import { describe, it } from "vitest";
import { useOrchCluster } from "../helpers/orchestrate.js";
import { allocateFailoverScenario, allocateFlexScenario, volumeScenario } from "../helpers/orchestrate-config-scenarios.js";

const oc = useOrchCluster("ocfge", { store: "etcd" });

describe("configs the leader made, with the etcd cluster store", () => {
  it("volume: followers get the leader's vol config through the orchestrator before they act; unprovision unclaims on every node", () => volumeScenario(oc, "ocfge"), 300_000);

  it("<allocate>, failover: one address, on the leader; every node's installed config is the leader's; unprovision gives <allocate> back everywhere", () => allocateFailoverScenario(oc), 300_000);

  it("<allocate>, flex: one address per node (ipname@node), each on its node, all configs identical", () => allocateFlexScenario(oc), 300_000);
});
