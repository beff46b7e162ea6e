// Orchestration scenarios run on both cluster stores (embedded and etcd): the test files call them
// with their OrchCluster (test/helpers/orchestrate.ts), whose store is one or the other.
import { createHash } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { alive, ETCD_LOCK_TTL_S, eventsOf, NODES, show, summaryOf, type OrchCluster, type Svc } from "./orchestrate.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits (bounded) until `cond` holds. */
export async function until(what: string, cond: () => boolean, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

interface StatusDoc {
  object: string;
  leaders: string[];
  instances: { node: string; live: boolean; stale?: boolean; status: { avail: string; resources: { rid: string; provisioned: boolean | null }[] } }[];
}

interface PlanDoc {
  leaders: string[];
  shared: string[];
  nodes: { node: string; role: string; changes: number; plan: { resource_changes: { action: string }[] } }[];
}

/** print status (json and text) shows every instance live; plan shows no change on any node. */
export async function expectStatusAndNoChanges(oc: OrchCluster, s: Svc, leaders: readonly string[]): Promise<void> {
  const st = await oc.osvc([s.name, "print", "status", "--format", "json"]);
  expect(st.code, show(st)).toBe(0);
  const doc = JSON.parse(st.stdout) as StatusDoc;
  expect(doc.leaders).toEqual(leaders.slice(0, 1).concat(leaders.slice(1)));
  expect(doc.instances.map((i) => [i.node, i.live])).toEqual(NODES.map((n) => [n, true]));
  for (const i of doc.instances) {
    expect(i.status.resources.filter((r) => r.provisioned === false), `${i.node}: ${JSON.stringify(i.status)}`).toEqual([]);
    const app = i.status.resources.find((r) => r.rid === "app#0") as unknown as { status: string };
    expect(app.status, i.node).toBe(leaders.includes(i.node) ? "up" : "down");
    // The first leader has everything up; another flex leader has not mounted the shared
    // filesystem (it is the first leader's: ext4 is not a cluster filesystem), so it warns.
    if (i.node === leaders[0]) expect(i.status.avail, i.node).toBe("up");
    else expect(i.status.avail, i.node).not.toBe("up");
  }
  const text = await oc.osvc([s.name, "print", "status"]);
  expect(text.code, show(text)).toBe(0);
  for (const n of NODES) expect(text.stdout).toMatch(new RegExp(`^${n} +\\S`, "m"));

  const pl = await oc.osvc(["plan", s.cfg, "--path", s.name, "--json"]);
  expect(pl.code, show(pl)).toBe(0);
  const plan = JSON.parse(pl.stdout) as PlanDoc;
  expect(plan.leaders).toEqual(leaders);
  expect(plan.shared).toEqual(["disk#0", "fs#0"]);
  expect(plan.nodes.map((n) => [n.node, n.role, n.changes])).toEqual(NODES.map((n) => [n, leaders.includes(n) ? "leader" : "follower", 0]));
  const pt = await oc.osvc(["plan", s.cfg, "--path", s.name, "--detailed-exitcode"]);
  expect(pt.code, show(pt)).toBe(0);
  expect(pt.stdout).toMatch(/n1 \((leader|follower)\): no changes/);
}

export async function unprovisionAll(oc: OrchCluster, s: Svc, leaders: readonly string[]): Promise<void> {
  const u = await oc.osvc([s.name, "unprovision"]);
  expect(u.code, show(u)).toBe(0);
  // The followers first, the leader (and the shared resources) last.
  const first = (n: string) => u.stdout.search(new RegExp(`^${n} +INFO`, "m"));
  for (const f of NODES.filter((n) => n !== leaders[0])) expect(first(leaders[0])).toBeGreaterThan(first(f));
  oc.expectNothingLeft(s);
}

/** The main failover scenario: provision (leader then followers), status, plan no-op, a node cut, re-provision no-op, unprovision. */
export async function failoverScenario(oc: OrchCluster): Promise<void> {
  const s = oc.service();
  const t0 = performance.now();
  const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision"]);
  console.log(`[${oc.store}] orchestrated create --provision, 3 nodes: ${Math.round(performance.now() - t0)} ms`);
  expect(p.code, show(p)).toBe(0);
  // The log: each line names its node; the leader runs first, alone.
  expect(p.stdout).toMatch(new RegExp(`^n1 +INFO +${s.name}\\.disk#0 +provisioned`, "m"));
  expect(p.stdout).toMatch(new RegExp(`^n2 +INFO +${s.name}\\.disk#0 +recorded \\(shared, follower\\)`, "m"));
  expect(p.stdout.search(/^n1 +INFO +\S+ +leader: ok/m)).toBeLessThan(p.stdout.search(/^n[23] +INFO/m));
  expect(p.stdout).toMatch(/Provision complete on 3 nodes/);
  oc.expectLeaderUp(s, ["n1"]);
  await expectStatusAndNoChanges(oc, s, ["n1"]);

  // The cluster store: the shared resources are the leader's, each instance is recorded, the
  // orchestration is done, the lock is free.
  const rec = oc.records(s.name)!;
  expect(Object.fromEntries(Object.entries(rec.shared).map(([rid, r]) => [rid, r.node]))).toEqual({ "disk#0": "n1", "fs#0": "n1" });
  for (const n of NODES) {
    expect(rec.instances[n].provisioned, n).toMatchObject({ "disk#0": true, "fs#0": true, "fs#1": true });
    expect(rec.instances[n].lastAction, n).toMatchObject({ action: "provision", result: "ok" });
  }
  expect(rec.orchestration).toMatchObject({ phase: "done", leaders: ["n1"], nodes: { n1: "ok", n2: "ok", n3: "ok" } });
  expect(oc.lockHolder(s.name)).toBeUndefined();

  // A node that does not answer: print status shows its record, marked stale; exit 1.
  oc.cluster.cut("n2");
  try {
    const st = await oc.osvc([s.name, "print", "status", "--format", "json"]);
    expect(st.code, show(st)).toBe(1);
    const n2 = (JSON.parse(st.stdout) as { instances: { node: string; live: boolean; stale?: boolean; record?: { provisioned: Record<string, boolean> } }[] }).instances[1];
    expect(n2).toMatchObject({ node: "n2", live: false, stale: true, record: { provisioned: { "fs#1": true } } });
    const text = await oc.osvc([s.name, "print", "status"]);
    expect(text.stdout).toMatch(/^n2 .*stale: recorded /m);
  } finally {
    oc.cluster.restore("n2");
  }

  // A second provision converges nothing (every node: no change).
  const again = await oc.osvc([s.name, "provision", "--json"]);
  expect(again.code, show(again)).toBe(0);
  expect(again.stdout).not.toMatch(/"type":"change_done"/);
  await unprovisionAll(oc, s, ["n1"]);
}

/**
 * The orchestrator killed (-9) between the leader and the followers: its lock outlives it (etcd:
 * until its lease TTL; embedded: until a locker sees the pid is dead); the next run, waiting for
 * the lock (--lock-timeout), resumes with the followers.
 */
export async function killAndResumeScenario(oc: OrchCluster): Promise<void> {
  const s = oc.service();
  const run = oc.spawnOsvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
  await until("the followers phase", () => oc.orchestration(s.name)?.phase === "followers");
  run.child.kill("SIGKILL");
  const killed = await run.done;
  expect(killed.signal).toBe("SIGKILL");
  const killedAt = Date.now();
  const rec = oc.orchestration(s.name)!;
  expect(rec.nodes.n1).toBe("ok");
  // The dead orchestrator's lock is still there (etcd: its lease has not expired yet).
  const held = oc.lockHolder(s.name);
  expect(held, "the killed run's lock").toMatchObject({ pid: run.child.pid, orchestrationId: rec.id });

  if (oc.store === "etcd") {
    // Nobody takes it: the lock goes by itself when the dead holder's lease expires (its TTL).
    await until("the killed run's lease to expire", () => oc.lockHolder(s.name) === undefined, (ETCD_LOCK_TTL_S + 60) * 1000);
    console.log(`[etcd] lock of the SIGKILLed orchestrator gone ${Date.now() - killedAt} ms after the kill (lock_ttl ${ETCD_LOCK_TTL_S} s)`);
  }
  const r = await oc.osvc([s.name, "provision", "--json", "--lock-timeout", "120s"]);
  expect(r.code, show(r)).toBe(0);
  const events = eventsOf(r.stdout);
  const sum = summaryOf(r.stdout);
  expect(sum.resumed).toBe(true);
  expect(sum.id).toBe(rec.id);
  // The leader was asked where it is (provisioned), not run again.
  expect(events.filter((e) => e.type === "node_event" && e.node === "n1")).toEqual([]);
  oc.expectLeaderUp(s, ["n1"]);
  expect(oc.orchestration(s.name)?.phase).toBe("done");
  expect(oc.lockHolder(s.name)).toBeUndefined();
}

/** topology = flex, flex_target = 2: two instances up (the first creates the shared resources), the third in standby; stop/start follow the topology; destroy. */
export async function flexScenario(oc: OrchCluster): Promise<void> {
  const s = oc.service({ defaults: ["topology = flex", "flex_target = 2"] });
  const p = await oc.osvc(["apply", s.cfg, "--path", s.name, "--json"]);
  expect(p.code, show(p)).toBe(0);
  const sum = summaryOf(p.stdout);
  expect([sum.leaders, sum.followers]).toEqual([["n1", "n2"], ["n3"]]);
  oc.expectLeaderUp(s, ["n1", "n2"]);
  await expectStatusAndNoChanges(oc, s, ["n1", "n2"]);
  // stop then start follow the topology: start runs the flex_target instances only.
  expect((await oc.osvc([s.name, "stop"])).code).toBe(0);
  for (const n of NODES) expect(oc.appPid(n, s.name) === undefined || !alive(oc.appPid(n, s.name)), n).toBe(true);
  const st = await oc.osvc([s.name, "start"]);
  expect(st.code, show(st)).toBe(0);
  oc.expectLeaderUp(s, ["n1", "n2"]);
  const d = await oc.osvc(["destroy", s.name]);
  expect(d.code, show(d)).toBe(0);
  oc.expectNothingLeft(s);
}

/** placement = spread: the leader is the node of the smallest md5(path + nodename); purge removes it everywhere and from the store. */
export async function spreadScenario(oc: OrchCluster): Promise<void> {
  const s = oc.service({ defaults: ["placement = spread"] });
  const md5 = (t: string) => createHash("md5").update(t).digest("hex");
  const leader = [...NODES].sort((a, b) => (md5(`root/svc/${s.name}${a}`) < md5(`root/svc/${s.name}${b}`) ? -1 : 1))[0];
  const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
  expect(p.code, show(p)).toBe(0);
  expect(summaryOf(p.stdout).leaders).toEqual([leader]);
  oc.expectLeaderUp(s, [leader]);
  await expectStatusAndNoChanges(oc, s, [leader]);
  expect(oc.records(s.name)?.orchestration).toMatchObject({ phase: "done", leaders: [leader] });
  // purge: unprovision everywhere, the object gone from every node and from the store.
  const u = await oc.osvc([s.name, "purge"]);
  expect(u.code, show(u)).toBe(0);
  oc.expectNothingLeft(s);
  for (const n of NODES) expect(oc.nodeState(n, s.name), n).toBeUndefined();
  expect(oc.records(s.name)).toBeUndefined();
  const st = await oc.osvc([s.name, "print", "status"]);
  expect(st.code).not.toBe(0);
}

/** The nodes where a --json run changed something. */
export function changedNodes(stdout: string): string[] {
  const nodes = eventsOf(stdout)
    .filter((e) => e.type === "node_event" && (e.event as { type?: string }).type === "change_done")
    .map((e) => e.node as string);
  return [...new Set(nodes)].sort();
}

/** The leader fails: the orchestration stops, the followers are untouched, exit 1 with per-node results (json and text). */
export async function leaderFailsScenario(oc: OrchCluster): Promise<void> {
  const s = oc.service({ app: ["start = /bin/sleep 3600", "start@n1 = /nonexistent/osvc-test-bad-image"] });
  const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
  expect(p.code, show(p)).toBe(1);
  const sum = summaryOf(p.stdout);
  expect(sum.ok).toBe(false);
  expect(sum.nodes.map((n) => [n.node, n.role, n.state])).toEqual([["n1", "leader", "failed"], ["n2", "follower", "skipped"], ["n3", "follower", "skipped"]]);
  expect(sum.nodes[0].error).toMatch(/app#0/);
  expect(changedNodes(p.stdout)).toEqual(["n1"]);
  for (const n of ["n2", "n3"]) oc.expectUntouched(s, n);
  // The store: the orchestration stopped at the leader, the lock is free.
  expect(oc.orchestration(s.name)).toMatchObject({ phase: "failed", leaders: ["n1"], nodes: { n1: "failed", n2: "skipped", n3: "skipped" } });
  expect(oc.lockHolder(s.name)).toBeUndefined();
  // The text view says the same.
  const t = await oc.osvc([s.name, "provision"]);
  expect(t.code, show(t)).toBe(1);
  expect(t.stdout).toMatch(/Provision failed on 3 nodes/);
  expect(t.stdout).toMatch(/^ +n1 +leader +failed +app#0: /m);
  expect(t.stdout).toMatch(/^ +n2 +follower +skipped +not run: the leader failed/m);
  for (const n of ["n2", "n3"]) oc.expectUntouched(s, n);
}

/** A follower fails: the others are provisioned, exit 1; once fixed, a re-run converges only that node. */
export async function followerFailsScenario(oc: OrchCluster): Promise<void> {
  const s = oc.service({ app: ["start = /bin/sleep 3600", "start@n3 = /nonexistent/osvc-test-bad-image"] });
  const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
  expect(p.code, show(p)).toBe(1);
  const sum = summaryOf(p.stdout);
  expect(sum.nodes.map((n) => [n.node, n.state])).toEqual([["n1", "ok"], ["n2", "ok"], ["n3", "failed"]]);
  expect(alive(oc.appPid("n1", s.name))).toBe(true);
  expect(oc.nodeState("n2", s.name)?.resources["fs#1"]?.provisioned).toBe(true);
  expect(alive(oc.appPid("n3", s.name))).toBe(false);
  expect(oc.orchestration(s.name)).toMatchObject({ phase: "failed", nodes: { n1: "ok", n2: "ok", n3: "failed" } });
  expect(oc.lockHolder(s.name)).toBeUndefined();

  // Fixed: the re-run acts on n3 only.
  s.write();
  const r = await oc.osvc(["apply", s.cfg, "--path", s.name, "--json"]);
  expect(r.code, show(r)).toBe(0);
  expect(changedNodes(r.stdout)).toEqual(["n3"]);
  oc.expectLeaderUp(s, ["n1"]);
  expect(oc.orchestration(s.name)).toMatchObject({ phase: "done", nodes: { n1: "ok", n2: "ok", n3: "ok" } });
}

/** A follower's link cut mid-run: reported unreachable within seconds; after the link is back, a re-run converges. */
export async function linkCutScenario(oc: OrchCluster): Promise<void> {
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
  console.log(`[${oc.store}] link cut: reported after ${reportedMs} ms`);
  expect(r.code, show(r)).toBe(1);
  const sum = summaryOf(r.stdout);
  expect(sum.nodes.map((n) => [n.node, n.state])).toEqual([["n1", "ok"], ["n2", "ok"], ["n3", "unreachable"]]);
  expect(reportedMs).toBeLessThan(20_000); // ServerAlive: 3 s; generous for a loaded machine

  // n3's own run finishes there under its local lock; the next run waits for it and converges.
  const again = await oc.osvc([s.name, "provision", "--json"]);
  expect(again.code, show(again)).toBe(0);
  oc.expectLeaderUp(s, ["n1"]);
}

/** The leader unreachable: nothing is done (no other leader is guessed); --leader-node names another one; back, it follows the recorded leader. */
export async function leaderUnreachableScenario(oc: OrchCluster): Promise<void> {
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
    // The store: the shared resources are n2's now.
    expect(Object.fromEntries(Object.entries(oc.records(s.name)?.shared ?? {}).map(([rid, r]) => [rid, r.node]))).toEqual({ "disk#0": "n2", "fs#0": "n2" });
  } finally {
    oc.cluster.restore("n1");
  }
  // Back: n1 joins as a follower of the recorded leader (the shared resources' owner).
  const r = await oc.osvc([s.name, "provision", "--json"]);
  expect(r.code, show(r)).toBe(0);
  expect(summaryOf(r.stdout).leaders).toEqual(["n2"]);
  expect(changedNodes(r.stdout)).toEqual(["n1"]);
}

/**
 * Live node logs: each node line reaches the orchestrator's output while the node's command still
 * runs (prefixed, whole lines). The leader's later resource (app#1) ends only once the test has seen
 * a line of n1 on the orchestrator's stdout: without live logs, n1's lines come only after its
 * command ended, so app#1 would time out and the leader fail.
 */
export async function liveLogsScenario(oc: OrchCluster): Promise<void> {
  const mark = path.join(oc.cluster.san, `live-mark-${process.pid}-${Date.now()}`);
  const slow = ["", "[app#1]", "type = forking", "start = /bin/true", `start@n1 = until [ -e ${mark} ]; do sleep 0.1; done`, "start_timeout = 60s", ""];
  const s = oc.service({ more: slow });
  const order: string[] = [];
  try {
    const run = oc.spawnOsvc([s.name, "create", "--config", s.cfg, "--provision"]);
    let seen = "";
    let pending = "";
    run.child.stdout!.on("data", (d: string) => {
      const lines = (pending + d).split("\n");
      pending = lines.pop()!;
      for (const line of lines) {
        if (!seen && new RegExp(`^n1 +INFO +${s.name}\\.`).test(line)) {
          seen = line;
          order.push("n1 line seen");
          writeFileSync(mark, "");
        }
      }
    });
    run.child.on("exit", () => order.push("orchestrator exited"));
    const r = await run.done;
    expect(r.code, show(r)).toBe(0);
    expect(order).toEqual(["n1 line seen", "orchestrator exited"]);
    // The first n1 line came before app#1 had started (it was waiting for it), in the log's order too.
    expect(r.stdout.indexOf(seen)).toBeLessThan(r.stdout.search(new RegExp(`^n1 +INFO +${s.name}\\.app#1 +started`, "m")));
    // Whole lines only: each line of the log starts with a node column (a node name or "-") or is the summary.
    const body = r.stdout.slice(0, r.stdout.search(/^\S+ complete on/m));
    for (const line of body.split("\n").filter(Boolean)) expect(line, line).toMatch(/^(n1|n2|n3|-) {2}/);
    // The nodes' final results are parsed, not shown as lines.
    expect(r.stdout).not.toMatch(/action_result/);
    oc.expectLeaderUp(s, ["n1"]);
  } finally {
    rmSync(mark, { force: true });
  }
  const u = await oc.osvc([s.name, "unprovision"]);
  expect(u.code, show(u)).toBe(0);
  oc.expectNothingLeft(s);
}

/** Upstream's node score (om3 nmon getStats), computed here from a node's own /proc texts. */
function upstreamScore(meminfo: string, loadavg: string): number {
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(meminfo)?.[1] ?? 0);
  const load15 = Number(loadavg.trim().split(/\s+/)[2]);
  const memAvail = Math.floor((100 * kb("MemAvailable")) / kb("MemTotal"));
  const swapAvail = kb("SwapTotal") > 0 ? Math.floor((100 * kb("SwapFree")) / kb("SwapTotal")) : 0;
  return Math.floor((Math.floor(100 / Math.max(load15, 1)) + 100 + memAvail + 2 * (100 + swapAvail)) / 7);
}

/** Each node's score, read by the test in the node's own namespaces (nsenter), not through osvc. */
function independentScores(oc: OrchCluster): Record<string, number> {
  return Object.fromEntries(NODES.map((n) => [n, upstreamScore(oc.cluster.nodeExec(n, ["cat", "/proc/meminfo"]).stdout, oc.cluster.nodeExec(n, ["cat", "/proc/loadavg"]).stdout)]));
}

/**
 * A node's score read by the osvc under test must lie between two independent reads taken before
 * and after it (memory and load move while the suite runs), give or take the rounding of one read.
 */
function expectBracketed(scores: Readonly<Record<string, number>>, before: Record<string, number>, after: Record<string, number>, slack: number): void {
  for (const n of NODES) {
    const what = `${n}: ${scores[n]} not within the independent reads ${before[n]}..${after[n]} (±${slack})`;
    expect(scores[n], what).toBeGreaterThanOrEqual(Math.min(before[n], after[n]) - slack);
    expect(scores[n], what).toBeLessThanOrEqual(Math.max(before[n], after[n]) + slack);
  }
}

/** Nodes by descending score, ties by nodes order. */
function rankByScore(scores: Readonly<Record<string, number>>): string[] {
  return [...NODES].sort((a, b) => scores[b] - scores[a] || NODES.indexOf(a) - NODES.indexOf(b));
}

/** placement = score: the nodes are ranked by the score each node computes of itself; the top one leads (plan and provision). */
export async function scorePlacementScenario(oc: OrchCluster): Promise<void> {
  const s = oc.service({ defaults: ["placement = score"] });
  const before = independentScores(oc);
  const pl = await oc.osvc(["plan", s.cfg, "--path", s.name, "--json"]);
  const after = independentScores(oc);
  expect(pl.code, show(pl)).toBe(0);
  const plan = JSON.parse(pl.stdout) as { leaders: string[]; placement: { policy: string; ranks: string[]; scores: Record<string, number> } };
  expect(plan.placement.policy).toBe("score");
  expect(Object.keys(plan.placement.scores).sort()).toEqual(NODES);
  // Each node's own score is the one the test computes from that node's /proc, read just before and after.
  expectBracketed(plan.placement.scores, before, after, 1);
  expect(plan.placement.ranks).toEqual(rankByScore(plan.placement.scores));
  expect(plan.leaders).toEqual([plan.placement.ranks[0]]);
  const pt = await oc.osvc(["plan", s.cfg, "--path", s.name]);
  expect(pt.code, show(pt)).toBe(0);
  // The text plan ranks by the scores it read itself (they may have moved since the JSON plan).
  const line = /^placement score: (.+); ties: nodes order$/m.exec(pt.stdout);
  expect(line, pt.stdout).not.toBeNull();
  const shown = line![1].split(", ").map((w) => /^(\S+) \(score (\d+)\)$/.exec(w));
  expect(shown.every(Boolean), line![1]).toBe(true);
  const textScores = Object.fromEntries(shown.map((m) => [m![1], Number(m![2])]));
  expect(Object.keys(textScores).sort()).toEqual(NODES);
  expect(shown.map((m) => m![1])).toEqual(rankByScore(textScores));

  const before2 = independentScores(oc);
  const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
  const after2 = independentScores(oc);
  expect(p.code, show(p)).toBe(0);
  const orch = eventsOf(p.stdout).find((e) => e.type === "orchestration") as { scores: Record<string, number> };
  expectBracketed(orch.scores, before2, after2, 1);
  const leader = rankByScore(orch.scores)[0];
  expect(summaryOf(p.stdout).leaders).toEqual([leader]);
  oc.expectLeaderUp(s, [leader]);

  const u = await oc.osvc([s.name, "unprovision"]);
  expect(u.code, show(u)).toBe(0);
  oc.expectNothingLeft(s);
}
