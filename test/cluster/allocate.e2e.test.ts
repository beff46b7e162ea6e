// ipname = <allocate> across the real 3-node test cluster (issue 11 items 1 and 2): the nodes' eth0
// share one segment (the cluster bridge); the leader allocates from the cluster subnet (arping -D
// skips the nodes' own addresses), its write-back goes to the cluster store's config and to every
// node before the followers act. Checked on each node: ip -j addr (in its namespace), its installed
// config file, its own state. The embedded cluster store; cluster-configs-etcd.e2e.test.ts runs
// the same scenarios on etcd.
import { describe, it } from "vitest";
import { useOrchCluster } from "../helpers/orchestrate.js";
import { allocateFailoverScenario, allocateFlexScenario } from "../helpers/orchestrate-config-scenarios.js";

const oc = useOrchCluster("alc");

describe("<allocate> in a cluster", () => {
  it("failover: one address, on the leader; every node's installed config is the leader's before the followers act; unprovision gives <allocate> back everywhere", () => allocateFailoverScenario(oc), 300_000);

  it("flex: one address per node (ipname@node), each on its node, all configs identical", () => allocateFlexScenario(oc), 300_000);
});
