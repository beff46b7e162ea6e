// Orchestration failure semantics (DESIGN §8) on a real 3-node test cluster: a leader that fails
// stops the orchestration with the followers untouched; a follower that fails does not stop the
// others, and a re-run converges only it; an orchestrator killed between the leader and the
// followers is resumed by the next run from the orchestration record and the nodes' live status;
// a follower whose link drops mid-run is reported within seconds and converges once it is back.
import { describe, expect, it } from "vitest";
import { alive, eventsOf, show, summaryOf, useOrchCluster } from "../helpers/orchestrate.js";
import { killAndResumeScenario, until } from "../helpers/orchestrate-scenarios.js";

const oc = useOrchCluster("orf");

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The nodes where a --json run changed something. */
function changedNodes(stdout: string): string[] {
  const nodes = eventsOf(stdout)
    .filter((e) => e.type === "node_event" && (e.event as { type?: string }).type === "change_done")
    .map((e) => e.node as string);
  return [...new Set(nodes)].sort();
}

describe("orchestration failures", () => {
  it("the leader fails: the orchestration stops, the followers are untouched, exit 1 with per-node results", async () => {
    const s = oc.service({ app: ["start = /bin/sleep 3600", "start@n1 = /nonexistent/osvc-test-bad-image"] });
    const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
    expect(p.code, show(p)).toBe(1);
    const sum = summaryOf(p.stdout);
    expect(sum.ok).toBe(false);
    expect(sum.nodes.map((n) => [n.node, n.role, n.state])).toEqual([["n1", "leader", "failed"], ["n2", "follower", "skipped"], ["n3", "follower", "skipped"]]);
    expect(sum.nodes[0].error).toMatch(/app#0/);
    expect(changedNodes(p.stdout)).toEqual(["n1"]);
    for (const n of ["n2", "n3"]) oc.expectUntouched(s, n);
    // The text view says the same.
    const t = await oc.osvc([s.name, "provision"]);
    expect(t.code, show(t)).toBe(1);
    expect(t.stdout).toMatch(/Provision failed on 3 nodes/);
    expect(t.stdout).toMatch(/^ +n1 +leader +failed +app#0: /m);
    expect(t.stdout).toMatch(/^ +n2 +follower +skipped +not run: the leader failed/m);
    for (const n of ["n2", "n3"]) oc.expectUntouched(s, n);
  }, 300_000);

  it("a follower fails: the others are provisioned, exit 1; a re-run converges only that node", async () => {
    const s = oc.service({ app: ["start = /bin/sleep 3600", "start@n3 = /nonexistent/osvc-test-bad-image"] });
    const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
    expect(p.code, show(p)).toBe(1);
    const sum = summaryOf(p.stdout);
    expect(sum.nodes.map((n) => [n.node, n.state])).toEqual([["n1", "ok"], ["n2", "ok"], ["n3", "failed"]]);
    expect(alive(oc.appPid("n1", s.name))).toBe(true);
    expect(oc.nodeState("n2", s.name)?.resources["fs#1"]?.provisioned).toBe(true);
    expect(alive(oc.appPid("n3", s.name))).toBe(false);

    // Fixed: the re-run acts on n3 only.
    s.write();
    const r = await oc.osvc(["apply", s.cfg, "--path", s.name, "--json"]);
    expect(r.code, show(r)).toBe(0);
    expect(changedNodes(r.stdout)).toEqual(["n3"]);
    oc.expectLeaderUp(s, ["n1"]);
  }, 300_000);

  it("the orchestrator killed (-9) between the leader and the followers: the next run resumes with the followers", () => killAndResumeScenario(oc), 300_000);

  it("a follower's link cut mid-run: reported unreachable within seconds; after the link is back, a re-run converges", async () => {
    // A slow start on n3 (a forking app of 8 s) keeps its run going when the link drops.
    const slow = ["", "[app#1]", "type = forking", "start = /bin/true", "start@n3 = /bin/sleep 8", ""];
    const s = oc.service({ more: slow });
    const run = oc.spawnOsvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
    await until("n3 running", () => oc.orchestration(s.name)?.nodes.n3 === "running");
    await sleep(1000); // its osvc is under way on n3
    oc.cluster.cut("n3");
    const cutAt = Date.now();
    let r;
    try {
      r = await run.done;
    } finally {
      oc.cluster.restore("n3");
    }
    const reportedMs = Date.now() - cutAt;
    console.log(`link cut: reported after ${reportedMs} ms`);
    expect(r.code, show(r)).toBe(1);
    const sum = summaryOf(r.stdout);
    expect(sum.nodes.map((n) => [n.node, n.state])).toEqual([["n1", "ok"], ["n2", "ok"], ["n3", "unreachable"]]);
    expect(reportedMs).toBeLessThan(20_000); // ServerAlive: 3 s; generous for a loaded machine

    // n3's own run finishes there under its local lock; the next run waits for it and converges.
    const again = await oc.osvc([s.name, "provision", "--json"]);
    expect(again.code, show(again)).toBe(0);
    oc.expectLeaderUp(s, ["n1"]);
  }, 300_000);
  it("the leader unreachable: nothing is done (no other leader is guessed); --leader-node names another one", async () => {
    const s = oc.service();
    oc.cluster.cut("n1");
    try {
      const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
      expect(p.code, show(p)).toBe(1);
      const sum = summaryOf(p.stdout);
      expect(sum.nodes.map((n) => [n.node, n.state])).toEqual([["n1", "unreachable"], ["n2", "skipped"], ["n3", "skipped"]]);
      expect(p.stdout).toMatch(/the leader n1 is unreachable: nothing was done \(pass --leader-node N/);
      for (const n of ["n2", "n3"]) oc.expectUntouched(s, n);
      // Named explicitly, n2 leads; n1 (unreachable) is reported, the others are provisioned.
      const q = await oc.osvc([s.name, "provision", "--leader-node", "n2", "--json"]);
      expect(q.code, show(q)).toBe(1);
      expect(summaryOf(q.stdout).nodes.map((n) => [n.node, n.role, n.state])).toEqual([["n1", "follower", "unreachable"], ["n2", "leader", "ok"], ["n3", "follower", "ok"]]);
      expect(alive(oc.appPid("n2", s.name))).toBe(true);
      expect(oc.mounted("n2", `${oc.data}/${s.name}/shared`)).toBe(true);
    } finally {
      oc.cluster.restore("n1");
    }
    // Back: n1 joins as a follower of the recorded leader (the shared resources' owner).
    const r = await oc.osvc([s.name, "provision", "--json"]);
    expect(r.code, show(r)).toBe(0);
    expect(summaryOf(r.stdout).leaders).toEqual(["n2"]);
    expect(changedNodes(r.stdout)).toEqual(["n1"]);
  }, 300_000);
});
