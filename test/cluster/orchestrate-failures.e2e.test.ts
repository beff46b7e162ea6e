// Orchestration failure semantics (DESIGN §8) on a real 3-node test cluster: a leader that fails
// stops the orchestration with the followers untouched; a follower that fails does not stop the
// others, and a re-run converges only it; an orchestrator killed between the leader and the
// followers is resumed by the next run from the orchestration record and the nodes' live status;
// a follower whose link drops mid-run is reported within seconds and converges once it is back.
// The embedded cluster store; orchestrate-failures-etcd.e2e.test.ts runs the same scenarios on etcd.
import { describe, it } from "vitest";
import { useOrchCluster } from "../helpers/orchestrate.js";
import { followerFailsScenario, killAndResumeScenario, leaderFailsScenario, leaderUnreachableScenario, linkCutScenario } from "../helpers/orchestrate-scenarios.js";

const oc = useOrchCluster("orf");

describe("orchestration failures", () => {
  it("the leader fails: the orchestration stops, the followers are untouched, exit 1 with per-node results", () => leaderFailsScenario(oc), 300_000);

  it("a follower fails: the others are provisioned, exit 1; a re-run converges only that node", () => followerFailsScenario(oc), 300_000);

  it("the orchestrator killed (-9) between the leader and the followers: the next run resumes with the followers", () => killAndResumeScenario(oc), 300_000);

  it("a follower's link cut mid-run: reported unreachable within seconds; after the link is back, a re-run converges", () => linkCutScenario(oc), 300_000);

  it("the leader unreachable: nothing is done (no other leader is guessed); --leader-node names another one", () => leaderUnreachableScenario(oc), 300_000);
});
