// `osvc cluster status | migrate | force-unlock` (the built CLI) against a real 3-member etcd
// (started once for this file, ended by pid) and the embedded store under a temp state root.
import type { ChildProcess } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedStore, type ClusterStore, type InstanceRecord, type ObjectRecords } from "../../src/cluster/store/index.js";
import { EtcdStore } from "../../src/cluster/store/etcd.js";
import { ROOT, runCli } from "../helpers/cli.js";
import { startEtcd, type TestEtcd } from "../helpers/etcd.js";
import { golden } from "../helpers/golden.js";
import { cleanup, makeTempDir } from "../helpers/host.js";
import { endHolders, holderProcess } from "../helpers/store-holder.js";

let etcd: TestEtcd | undefined;
let dir = "";
const stores: ClusterStore[] = [];
const holders: ChildProcess[] = [];
let seq = 0;

beforeAll(async () => {
  dir = makeTempDir("osvc-store-cli-");
  cleanup.paths.splice(cleanup.paths.indexOf(dir), 1); // lives for the whole file
  etcd = await startEtcd();
}, 120_000);

afterEach(() => endHolders(holders));

afterAll(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  const problems = etcd ? await etcd.stop() : [];
  cleanup.register(dir);
  problems.push(...cleanup.run());
  expect(problems).toEqual([]);
}, 60_000);

/** A state root and a cluster config whose [store] is this file's etcd under a fresh prefix (or embedded). */
function setup(backend: "etcd" | "embedded" = "etcd") {
  const n = ++seq;
  const root = path.join(dir, `root${n}`);
  const prefix = `/cli-${process.pid}-${n}`;
  const conf = path.join(dir, `cluster${n}.conf`);
  const store = backend === "etcd" ? ["[store]", "backend = etcd", `endpoints = ${etcd!.endpoints.join(" ")}`, `prefix = ${prefix}`, "lock_ttl = 2", ""] : [];
  writeFileSync(conf, ["[cluster]", "nodes = n1 n2", "", ...store].join("\n"));
  const cli = (args: readonly string[]) => runCli([...args, "--root", root, "--cluster-config", conf]);
  const ets = new EtcdStore({ endpoints: etcd!.endpoints, prefix });
  const emb = new EmbeddedStore(root);
  stores.push(ets, emb);
  return { root, prefix, conf, cli, ets, emb };
}

const AT = "2026-01-02T03:04:05.000Z";

function instance(node: string, flags: Record<string, boolean>, at = AT): InstanceRecord {
  return { node, provisioned: flags, avail: "up", lastAction: { action: "provision", result: "ok", at }, updatedAt: at };
}

/** Writes a full set of records of `object` into `store`. */
async function seed(store: ClusterStore, object: string, at = AT): Promise<void> {
  const l = await store.lock(object, { command: "seed" });
  await l.write([
    { op: "config", text: "[DEFAULT]\nnodes = n1 n2\n\n[fs#1]\ntype = directory\npath = /srv/x\n" },
    { op: "instance", record: instance("n1", { "disk#0": true, "fs#1": true }, at) },
    { op: "instance", record: instance("n2", { "disk#0": true, "fs#1": false }, at) },
    { op: "shared", record: { rid: "disk#0", node: "n1", outputs: { dev: "/dev/loop9" }, updatedAt: at } },
    { op: "orchestration", record: { id: "0f1e2d3c-0000-4000-8000-000000000001", action: "provision", leaders: ["n1"], phase: "done", nodes: { n1: "ok", n2: "ok" }, startedAt: at, updatedAt: at } },
  ]);
  await l.release();
}

/** The records as compared across stores (the config's write time is the store's own). */
function comparable(r: ObjectRecords) {
  return { ...r, config: r.config ? { text: r.config.text, sha256: r.config.sha256 } : undefined };
}

describe("osvc cluster status", () => {
  it("etcd: each member (id, leader, raft term, db size), the objects (config hash, instances, shared, lock holder, orchestration); text (golden) and json", async () => {
    const t = setup();
    await seed(t.ets, "stcli/svc/alpha");
    const held = await t.ets.lock("stcli/svc/beta", { command: "osvc beta provision", orchestrationId: "0f1e2d3c-0000-4000-8000-000000000002" }, { ttlSeconds: 30 });
    try {
      const j = t.cli(["cluster", "status", "--format", "json"]);
      expect(j.code, j.stderr).toBe(0);
      const doc = JSON.parse(j.stdout) as {
        health: { backend: string; ok: boolean; members: { name: string; id: string; endpoints: string[]; leader: boolean; reachable: boolean; raftTerm: number; dbSize: number }[] };
        objects: { object: string; config?: { sha256: string }; instances: { node: string; provisioned: number; resources: number }[]; shared: Record<string, string>; lock?: { id: string; pid: number }; orchestration?: { phase: string } }[];
      };
      expect(doc.health).toMatchObject({ backend: "etcd", ok: true });
      expect(doc.health.members.map((m) => [m.name, m.endpoints, m.reachable])).toEqual(etcd!.members.map((m) => [m.name, [m.clientUrl], true]));
      expect(doc.health.members.filter((m) => m.leader)).toHaveLength(1);
      for (const m of doc.health.members) {
        expect(m.id).toMatch(/^[0-9a-f]+$/);
        expect(m.raftTerm).toBeGreaterThanOrEqual(1);
        expect(m.dbSize).toBeGreaterThan(0);
      }
      // The member ids are etcd's own (etcdctl shows them in hex).
      const ctl = await etcd!.ctl(["member", "list"]);
      for (const m of doc.health.members) expect(ctl.stdout).toContain(`${m.id}, started, ${m.name}`);
      expect(doc.objects.map((o) => o.object)).toEqual(["stcli/svc/alpha", "stcli/svc/beta"]);
      expect(doc.objects[0]).toMatchObject({ instances: [{ node: "n1", provisioned: 2, resources: 2 }, { node: "n2", provisioned: 1, resources: 2 }], shared: { "disk#0": "n1" }, orchestration: { phase: "done" } });
      expect(doc.objects[0].lock).toBeUndefined();
      expect(doc.objects[1].lock).toMatchObject({ id: held.holder.id, pid: process.pid });

      const text = t.cli(["cluster", "status"]);
      expect(text.code, text.stderr).toBe(0);
      golden(path.join(ROOT, "fixtures/cluster/status-etcd.txt"), normalize(text.stdout, held.holder.id));
    } finally {
      await held.release();
    }
  });

  it("embedded: the directory, local; an object filter; an unreachable etcd is exit 1 with every member's error", async () => {
    const t = setup("embedded");
    await seed(t.emb, "stcli/svc/gamma");
    const r = t.cli(["cluster", "status", "stcli/svc/gamma"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`store  embedded  ok\n  directory ${path.join(t.root, "cluster")} (local to this host)\n`);
    expect(r.stdout).toMatch(/^stcli\/svc\/gamma\n {2}config {8}sha256 [0-9a-f]{12}, updated /m);
    expect(r.stdout).toMatch(/^ {2}lock {10}free$/m);

    // Nothing listens there: each member is reported unreachable, the store unavailable.
    const bad = path.join(dir, "bad.conf");
    writeFileSync(bad, ["[cluster]", "nodes = n1 n2", "", "[store]", "backend = etcd", "endpoints = http://127.0.0.1:9 http://127.0.0.1:7", ""].join("\n"));
    const u = runCli(["cluster", "status", "--root", t.root, "--cluster-config", bad, "--format", "json"], { timeoutMs: 60_000 });
    expect(u.code, u.stderr).toBe(1);
    const doc = JSON.parse(u.stdout) as { health: { ok: boolean; error: string; members: { reachable: boolean; error: string }[] }; error?: string };
    expect(doc.health.ok).toBe(false);
    expect(doc.health.members.map((m) => m.reachable)).toEqual([false, false]);
    expect(doc.health.error).toMatch(/unavailable|did not answer/);
  });
});

/** The text view with what changes from run to run replaced (ports, ids, sizes, terms, times, pids, host). */
function normalize(text: string, lockId: string): string {
  let out = text
    .replaceAll(lockId, "<lock-id>")
    .replaceAll(`pid ${process.pid} `, "pid <pid> ")
    .replace(/http:\/\/127\.0\.0\.1:\d+/g, "http://127.0.0.1:<port>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z/g, (m) => (m === AT ? m : "<time>"))
    .replace(/held by \S+@\S+ pid/g, "held by <user>@<host> pid");
  // The member rows: id, leader, term and size vary; the columns are re-joined by two spaces.
  out = out.replace(/^(m\d) +[0-9a-f]+ +(\S+) +(yes|no) +\d+ +[\d.]+ \w+ +ok$/gm, "$1  <id>  $2  <leader?>  <term>  <size>  ok");
  return out.replace(/^MEMBER +ID +ENDPOINT +LEADER +TERM +DB SIZE +STATUS$/m, "MEMBER  ID  ENDPOINT  LEADER  TERM  DB SIZE  STATUS");
}

describe("osvc cluster migrate", () => {
  it("embedded -> etcd -> embedded: every record moved and back, compared; the source emptied each time; --all", async () => {
    const t = setup();
    const o = "stcli/svc/delta";
    await seed(t.emb, o);
    await seed(t.emb, "stcli/svc/eps");
    const before = await t.emb.readObject(o);

    const there = t.cli(["cluster", "migrate", o, "--to", "etcd"]);
    expect(there.code, there.stderr).toBe(0);
    expect(there.stdout).toBe(`${o}: moved embedded -> etcd: config yes, 2 instance records, 1 shared record, orchestration yes; verified (read back equal)\n`);
    expect(comparable(await t.ets.readObject(o))).toEqual(comparable(before));
    expect(await t.emb.listObjects()).toEqual(["stcli/svc/eps"]); // moved, not copied

    const back = t.cli(["cluster", "migrate", o, "--to", "embedded"]);
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain(`${o}: moved etcd -> embedded:`);
    expect(comparable(await t.emb.readObject(o))).toEqual(comparable(before));
    expect(await t.ets.listObjects()).toEqual([]);

    // --all moves every object of the source; --keep-source copies.
    const all = t.cli(["cluster", "migrate", "--all", "--to", "etcd", "--keep-source"]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.trim().split("\n").map((l) => l.split(":")[0])).toEqual([o, "stcli/svc/eps"]);
    expect(await t.ets.listObjects()).toEqual([o, "stcli/svc/eps"]);
    expect(await t.emb.listObjects()).toEqual([o, "stcli/svc/eps"]);
    expect(comparable(await t.ets.readObject("stcli/svc/eps"))).toEqual(comparable(await t.emb.readObject("stcli/svc/eps")));
  });

  it("refuses while the object is locked (naming the holder), and over newer records unless --force; both stores untouched", async () => {
    const t = setup();
    const o = "stcli/svc/zeta";
    await seed(t.emb, o);
    const h = await holderProcess({ backend: "embedded", root: t.root, object: o }, holders);
    const r = t.cli(["cluster", "migrate", o, "--to", "etcd"]);
    expect(r.code, r.stdout).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`object ${o} is locked by \\S+ pid ${h.child.pid} \\(store-holder test\\) since \\S+; lock id ${h.id}`));
    expect(await t.ets.listObjects()).toEqual([]);
    await endHolders(holders);

    // etcd holds newer records of it: a migration from embedded would lose them.
    await seed(t.ets, o, "2030-01-01T00:00:00.000Z");
    const etcdBefore = await t.ets.readObject(o);
    const n = t.cli(["cluster", "migrate", o, "--to", "etcd"]);
    expect(n.code).toBe(1);
    expect(n.stderr).toMatch(/holds newer records/);
    expect(await t.ets.readObject(o)).toEqual(etcdBefore);
    expect(await t.emb.listObjects()).toEqual([o]);
    const f = t.cli(["cluster", "migrate", o, "--to", "etcd", "--force"]);
    expect(f.code, f.stderr).toBe(0);
    expect((await t.ets.readObject(o)).instances.n1.updatedAt).toBe(AT);

    // Usage errors: no target, no object, an embedded [store].
    expect(t.cli(["cluster", "migrate", o]).stderr).toMatch(/--to/);
    expect(t.cli(["cluster", "migrate", "--to", "etcd"]).stderr).toMatch(/or pass --all/);
    const e = setup("embedded");
    expect(e.cli(["cluster", "migrate", o, "--to", "etcd"]).stderr).toMatch(/\[store\] is not etcd/);
  });
});
