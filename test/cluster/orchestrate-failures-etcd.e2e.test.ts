// The orchestration failure scenarios of orchestrate-failures.e2e.test.ts with the cluster store on
// a real 3-member etcd (started once for this file, ended by pid), same assertions: a leader that
// fails stops the orchestration with the followers untouched; a follower that fails does not stop
// the others, and a re-run converges only it; a follower whose link drops mid-run is reported within
// seconds and converges once it is back; an unreachable leader is never replaced by a guess.
// (The kill -9 → resume scenario on etcd is in orchestrate-etcd.e2e.test.ts.)
import { describe, it } from "vitest";
import { useOrchCluster } from "../helpers/orchestrate.js";
import { followerFailsScenario, leaderFailsScenario, leaderUnreachableScenario, linkCutScenario } from "../helpers/orchestrate-scenarios.js";

const oc = useOrchCluster("orfe", { store: "etcd" });

describe("orchestration failures with the etcd cluster store", () => {
  it("the leader fails: the orchestration stops, the followers are untouched, exit 1 with per-node results", () => leaderFailsScenario(oc), 300_000);

  it("a follower fails: the others are provisioned, exit 1; a re-run converges only that node", () => followerFailsScenario(oc), 300_000);

  it("a follower's link cut mid-run: reported unreachable within seconds; after the link is back, a re-run converges", () => linkCutScenario(oc), 300_000);

  it("the leader unreachable: nothing is done (no other leader is guessed); --leader-node names another one", () => leaderUnreachableScenario(oc), 300_000);
});
