// Orchestration scenarios run on both cluster stores (embedded and etcd): the test files call them
// with their OrchCluster (test/helpers/orchestrate.ts), whose store is one or the other.
import { expect } from "vitest";
import { ETCD_LOCK_TTL_S, eventsOf, NODES, show, summaryOf, type OrchCluster, type Svc } from "./orchestrate.js";

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
