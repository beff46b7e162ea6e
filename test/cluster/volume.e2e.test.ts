// Volumes across the real 3-node test cluster (issue 11, item 3): the leader's volume resource
// creates the vol from ITS pools; the orchestrator stores the vol config in the cluster store and
// installs it on the followers before they act, so their vol configs are the leader's, byte for
// byte, although their own node configs define other pools. Each node's vol lives in its private
// data directory (a tmpfs per node); checks go through each node's own mount namespace. Directory
// pools: the nodes of the test cluster share one kernel, so loop images at one path on every node
// would be one loop-device namespace (a real cluster's hosts have their own).
// The embedded cluster store; cluster-configs-etcd.e2e.test.ts runs the same scenario on etcd.
import { describe, it } from "vitest";
import { useOrchCluster } from "../helpers/orchestrate.js";
import { volumeScenario } from "../helpers/orchestrate-config-scenarios.js";

const oc = useOrchCluster("ovol");

describe("orchestrated volumes", () => {
  it("followers get the leader's vol config through the orchestrator before they act; unprovision unclaims on every node", () => volumeScenario(oc, "ovol"), 300_000);
});
