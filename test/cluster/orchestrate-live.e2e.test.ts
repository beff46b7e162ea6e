// Issue 8 leftovers on a real 3-node test cluster: the nodes' logs reach the orchestrator's
// output live (line by line, prefixed with the node, while the node's command is still running),
// and placement = score ranks the nodes by the score each node computes of itself.
// The embedded cluster store; orchestrate-topology-etcd.e2e.test.ts runs the same scenarios on etcd.
import { describe, it } from "vitest";
import { useOrchCluster } from "../helpers/orchestrate.js";
import { liveLogsScenario, scorePlacementScenario } from "../helpers/orchestrate-scenarios.js";

const oc = useOrchCluster("live");

describe("live node logs", () => {
  it("each node line reaches the orchestrator's output while the node's command still runs (prefixed, whole lines)", () => liveLogsScenario(oc), 300_000);
});

describe("placement = score", () => {
  it("the nodes are ranked by the score each node computes of itself; the top one leads (plan and provision)", () => scorePlacementScenario(oc), 300_000);
});
