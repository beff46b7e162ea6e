// Orchestrated provisioning across a real 3-node test cluster (DESIGN §8, the seed's provisioning):
// the orchestrator (the built CLI, in the host namespace) drives each node's `osvc ... --local`
// over ssh. Verified on each node through its own namespaces: addresses (ip -j addr), mounts
// (findmnt in its mount namespace), processes (/proc/PID), and its own state.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { alive, NODES, show, summaryOf, useOrchCluster, type Svc } from "../helpers/orchestrate.js";

const oc = useOrchCluster("orch");

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
async function expectStatusAndNoChanges(s: Svc, leaders: readonly string[]) {
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

async function unprovisionAll(s: Svc, leaders: readonly string[]) {
  const u = await oc.osvc([s.name, "unprovision"]);
  expect(u.code, show(u)).toBe(0);
  // The followers first, the leader (and the shared resources) last.
  const first = (n: string) => u.stdout.search(new RegExp(`^${n} +INFO`, "m"));
  for (const f of NODES.filter((n) => n !== leaders[0])) expect(first(leaders[0])).toBeGreaterThan(first(f));
  oc.expectNothingLeft(s);
}

describe("orchestrated provision (3-node failover service)", () => {
  it("the leader provisions and stays up, the others follow the shared resources and end in standby; status, plan, unprovision", async () => {
    const s = oc.service();
    const t0 = performance.now();
    const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision"]);
    console.log(`orchestrated create --provision, 3 nodes: ${Math.round(performance.now() - t0)} ms`);
    expect(p.code, show(p)).toBe(0);
    // The log: each line names its node; the leader runs first, alone.
    expect(p.stdout).toMatch(new RegExp(`^n1 +INFO +${s.name}\\.disk#0 +provisioned`, "m"));
    expect(p.stdout).toMatch(new RegExp(`^n2 +INFO +${s.name}\\.disk#0 +recorded \\(shared, follower\\)`, "m"));
    expect(p.stdout.search(/^n1 +INFO +\S+ +leader: ok/m)).toBeLessThan(p.stdout.search(/^n[23] +INFO/m));
    expect(p.stdout).toMatch(/Provision complete on 3 nodes/);
    oc.expectLeaderUp(s, ["n1"]);
    await expectStatusAndNoChanges(s, ["n1"]);

    // The cluster store: the shared resources are the leader's, each instance is recorded, the
    // orchestration is done.
    const rec = JSON.parse(readFileSync(path.join(oc.root, "cluster/objects/root/svc", s.name, "records.json"), "utf8")) as {
      shared: Record<string, { node: string }>;
      instances: Record<string, { provisioned: Record<string, boolean>; lastAction: { action: string; result: string } }>;
      orchestration: { phase: string; leaders: string[]; nodes: Record<string, string> };
    };
    expect(Object.fromEntries(Object.entries(rec.shared).map(([rid, r]) => [rid, r.node]))).toEqual({ "disk#0": "n1", "fs#0": "n1" });
    for (const n of NODES) {
      expect(rec.instances[n].provisioned, n).toMatchObject({ "disk#0": true, "fs#0": true, "fs#1": true });
      expect(rec.instances[n].lastAction, n).toMatchObject({ action: "provision", result: "ok" });
    }
    expect(rec.orchestration).toMatchObject({ phase: "done", leaders: ["n1"], nodes: { n1: "ok", n2: "ok", n3: "ok" } });

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
    await unprovisionAll(s, ["n1"]);
  }, 300_000);

  it("topology = flex, flex_target = 2: two instances up (the first creates the shared resources), the third in standby", async () => {
    const s = oc.service({ defaults: ["topology = flex", "flex_target = 2"] });
    const p = await oc.osvc(["apply", s.cfg, "--path", s.name, "--json"]);
    expect(p.code, show(p)).toBe(0);
    const sum = summaryOf(p.stdout);
    expect([sum.leaders, sum.followers]).toEqual([["n1", "n2"], ["n3"]]);
    oc.expectLeaderUp(s, ["n1", "n2"]);
    await expectStatusAndNoChanges(s, ["n1", "n2"]);
    // stop then start follow the topology: start runs the flex_target instances only.
    expect((await oc.osvc([s.name, "stop"])).code).toBe(0);
    for (const n of NODES) expect(oc.appPid(n, s.name) === undefined || !alive(oc.appPid(n, s.name)), n).toBe(true);
    const st = await oc.osvc([s.name, "start"]);
    expect(st.code, show(st)).toBe(0);
    oc.expectLeaderUp(s, ["n1", "n2"]);
    const d = await oc.osvc(["destroy", s.name]);
    expect(d.code, show(d)).toBe(0);
    oc.expectNothingLeft(s);
  }, 300_000);

  it("placement = spread: the leader is the node of the smallest md5(path + nodename)", async () => {
    const s = oc.service({ defaults: ["placement = spread"] });
    const md5 = (t: string) => createHash("md5").update(t).digest("hex");
    const leader = [...NODES].sort((a, b) => (md5(`root/svc/${s.name}${a}`) < md5(`root/svc/${s.name}${b}`) ? -1 : 1))[0];
    const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
    expect(p.code, show(p)).toBe(0);
    expect(summaryOf(p.stdout).leaders).toEqual([leader]);
    oc.expectLeaderUp(s, [leader]);
    await expectStatusAndNoChanges(s, [leader]);
    // purge: unprovision everywhere, the object gone from every node and from the store.
    const u = await oc.osvc([s.name, "purge"]);
    expect(u.code, show(u)).toBe(0);
    oc.expectNothingLeft(s);
    for (const n of NODES) expect(oc.nodeState(n, s.name), n).toBeUndefined();
    const st = await oc.osvc([s.name, "print", "status"]);
    expect(st.code).not.toBe(0);
  }, 300_000);
});
