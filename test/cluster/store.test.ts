// The cluster store: ONE suite run against both backends (embedded files, a real 3-member etcd),
// then etcd's failure cases (raft leader killed, quorum lost) and migration both ways.
import type { ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { EmbeddedStore, StoreLockedError, StoreLockLostError, StoreUnavailableError, migrateObject, openStoreConfig, type ClusterStore, type InstanceRecord, type StoreLock } from "../../src/cluster/store/index.js";
import { EtcdStore } from "../../src/cluster/store/etcd.js";
import { parseInventory } from "../../src/cluster/inventory.js";
import { endHolders, holderProcess as startHolder } from "../helpers/store-holder.js";
import { startEtcd, type TestEtcd } from "../helpers/etcd.js";
import { cleanup, makeTempDir } from "../helpers/host.js";

const uid = (): string => randomBytes(4).toString("hex");
const now = (): string => new Date().toISOString();
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

let etcd: TestEtcd | undefined;
const stores: ClusterStore[] = [];
const children: ChildProcess[] = [];
let embeddedRoot = "";

beforeAll(async () => {
  embeddedRoot = makeTempDir("osvc-store-");
  cleanup.paths.splice(cleanup.paths.indexOf(embeddedRoot), 1); // lives for the whole file
  etcd = await startEtcd();
  console.log(`etcd 3 members healthy in ${etcd.startMs} ms`);
}, 120_000);

afterEach(() => endHolders(children));

afterAll(async () => {
  for (const s of stores.splice(0)) await s.close().catch(() => undefined);
  const problems = etcd ? await etcd.stop() : [];
  cleanup.register(embeddedRoot);
  problems.push(...cleanup.run());
  expect(problems).toEqual([]);
}, 60_000);

interface Backend {
  name: "embedded" | "etcd";
  open(prefix: string): ClusterStore;
  /** Takes the lock away from outside the holder (a partition, an admin). */
  revokeFromOutside(object: string, lock: StoreLock): Promise<void>;
  holderArgs(prefix: string, object: string): string;
}

const backends: Backend[] = [
  {
    name: "embedded",
    open: (prefix) => track(new EmbeddedStore(path.join(embeddedRoot, prefix))),
    async revokeFromOutside(object, lock) {
      // Another process of the operator: force-unlock with the id the error shows.
      await new EmbeddedStore(path.join(embeddedRoot, currentPrefix)).forceUnlock(object, lock.holder.id);
    },
    holderArgs: (prefix, object) => JSON.stringify({ backend: "embedded", root: path.join(embeddedRoot, prefix), object }),
  },
  {
    name: "etcd",
    open: (prefix) => track(new EtcdStore({ endpoints: etcd!.endpoints, prefix: `/t-${prefix}` })),
    async revokeFromOutside(_object, lock) {
      const r = await etcd!.ctl(["lease", "revoke", lock.holder.id]);
      expect(r.rc, r.stderr).toBe(0);
    },
    holderArgs: (prefix, object) => JSON.stringify({ backend: "etcd", endpoints: etcd!.endpoints, prefix: `/t-${prefix}`, object, ttl: 2 }),
  },
];

let currentPrefix = "";
function track<T extends ClusterStore>(s: T): T {
  stores.push(s);
  return s;
}

function instance(node: string, avail: string): InstanceRecord {
  return { node, provisioned: { "fs#1": true, "disk#1": avail !== "down" }, avail, lastAction: { action: "provision", result: "ok", at: now() }, updatedAt: now() };
}

const holderProcess = (args: string) => startHolder(args, children);

describe.each(backends)("cluster store: $name", (b) => {
  let store: ClusterStore;
  const obj = (): string => `ns${uid()}/svc/web`;

  beforeAll(() => {
    currentPrefix = `p${uid()}`;
    store = b.open(currentPrefix);
  });

  it("round-trips config, instances, shared, orchestration and allocations; lists objects; reports health", async () => {
    const o = obj();
    expect(await store.readObject(o)).toEqual({ object: o, instances: {}, shared: {} });
    const lock = await store.lock(o, { command: "test round-trip", orchestrationId: "orch-1" });
    expect(lock.holder).toMatchObject({ command: "test round-trip", orchestrationId: "orch-1", pid: process.pid });
    const text = "[DEFAULT]\nnodes = n1 n2\n";
    const cfg = await lock.putConfig(text);
    expect(cfg).toMatchObject({ text, sha256: createHash("sha256").update(text).digest("hex") });
    const i1 = instance("n1", "up");
    const i2 = instance("n2", "standby down");
    await lock.write([
      { op: "instance", record: i1 },
      { op: "instance", record: i2 },
      { op: "shared", record: { rid: "disk#1", node: "n1", outputs: { dev: "/dev/loop7", size: 1024, ro: false }, updatedAt: now() } },
    ]);
    const orch = { id: "orch-1", action: "provision", leaders: ["n1"], phase: "followers", nodes: { n1: "ok", n2: "running" } as const, startedAt: now(), updatedAt: now() };
    await lock.putOrchestration(orch);
    expect(await store.getConfig(o)).toEqual(cfg);
    expect(await store.getInstances(o)).toEqual({ n1: i1, n2: i2 });
    expect((await store.getShared(o))["disk#1"]).toMatchObject({ node: "n1", outputs: { dev: "/dev/loop7", size: 1024, ro: false } });
    expect(await store.getOrchestration(o)).toEqual(orch);
    // Batches apply in order; deletions.
    await lock.write([{ op: "deleteInstance", node: "n2" }, { op: "deleteShared", rid: "disk#1" }, { op: "deleteOrchestration" }]);
    const after = await store.readObject(o);
    expect(Object.keys(after.instances)).toEqual(["n1"]);
    expect(after.shared).toEqual({});
    expect(after.orchestration).toBeUndefined();
    // Allocations: create-if-absent.
    const key = `ip/10.1.2.${Math.floor(Math.random() * 250)}-${uid()}`;
    expect(await lock.allocate(key, { owner: o, at: now() })).toMatchObject({ created: true });
    expect(await lock.allocate(key, { owner: "other", at: now() })).toMatchObject({ created: false, record: { owner: o } });
    expect(await lock.freeAlloc(key, "other")).toBe(false);
    expect(await lock.freeAlloc(key, o)).toBe(true);
    expect(await store.getAlloc(key)).toBeUndefined();
    // Node records (informational, not under a lock).
    await store.putNode({ name: "n1", reachable: true, osvcVersion: "0.1.0", seenAt: now() });
    await store.putNode({ name: "n2", reachable: false, seenAt: now() });
    expect(Object.keys(await store.getNodes())).toEqual(["n1", "n2"]);
    expect((await store.getNodes()).n1).toMatchObject({ reachable: true, osvcVersion: "0.1.0" });
    // Reads take no lock: they work while it is held.
    expect(await store.lockHolder(o)).toEqual(lock.holder);
    expect(await store.listObjects()).toContain(o);
    await lock.release();
    expect(await store.lockHolder(o)).toBeUndefined();
    // Writes after release are refused.
    await expect(lock.putInstance(i2)).rejects.toThrow(/released/);
    const h = await store.health();
    expect(h).toMatchObject({ backend: b.name, ok: true });
    if (b.name === "etcd") {
      expect(h.members).toHaveLength(3);
      expect(h.members!.filter((m) => m.leader)).toHaveLength(1);
    }
  });

  it("two lockers: the second fails at once naming the holder and the lock id, or waits and gets it after release", async () => {
    const o = obj();
    const other = b.open(currentPrefix); // another operator
    const l1 = await store.lock(o, { command: "osvc web provision", orchestrationId: "o-1" });
    const t0 = Date.now();
    const e = await other.lock(o, { command: "osvc web stop" }, { timeoutMs: 0 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(StoreLockedError);
    expect(Date.now() - t0).toBeLessThan(5_000);
    const msg = (e as Error).message;
    expect(msg).toContain(`pid ${process.pid}`);
    expect(msg).toContain("osvc web provision");
    expect(msg).toContain(`lock id ${l1.holder.id}`);
    expect((e as StoreLockedError).hint).toContain(`osvc cluster force-unlock ${o} --id ${l1.holder.id}`);
    // A wrong id is refused; waiting works.
    await expect(other.forceUnlock(o, "nope")).rejects.toThrow(new RegExp(`has id ${l1.holder.id}`));
    const waited: string[] = [];
    const p2 = other.lock(o, { command: "osvc web stop" }, { timeoutMs: 30_000, onWait: (h) => waited.push(h.id) });
    await sleep(500);
    await l1.release();
    const l2 = await p2;
    expect(waited).toEqual([l1.holder.id]);
    await l2.putInstance(instance("n1", "down"));
    await l2.release();
  });

  it("different objects lock in parallel", async () => {
    const os = [obj(), obj(), obj()];
    const locks = await Promise.all(os.map((o) => store.lock(o, { command: "parallel" })));
    await Promise.all(locks.map((l, i) => l.putInstance(instance(`n${i + 1}`, "up"))));
    for (const [i, o] of os.entries()) expect(Object.keys(await store.getInstances(o))).toEqual([`n${i + 1}`]);
    await Promise.all(locks.map((l) => l.release()));
  });

  it("a holder killed with SIGKILL: the lock frees (etcd: after its TTL; embedded: the dead pid is reclaimed)", async () => {
    const o = obj();
    const { child, id } = await holderProcess(b.holderArgs(currentPrefix, o));
    expect((await store.lockHolder(o))?.id).toBe(id);
    await expect(store.lock(o, { command: "next" })).rejects.toThrow(StoreLockedError);
    child.kill("SIGKILL");
    await new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r(null) : child.once("exit", r)));
    const t0 = Date.now();
    const l = await store.lock(o, { command: "next" }, { timeoutMs: 30_000 });
    const freedMs = Date.now() - t0;
    console.log(`${b.name}: lock of a SIGKILLed holder free after ${freedMs} ms${b.name === "etcd" ? " (TTL 2 s)" : ""}`);
    if (b.name === "embedded") expect(freedMs).toBeLessThan(5_000);
    else expect(freedMs).toBeGreaterThan(500); // the lease outlived the process until its TTL
    await l.release();
  });

  it("a lock taken away from outside: lost fires with a clear message and the holder writes nothing more", async () => {
    const o = obj();
    const lock = await store.lock(o, { command: "victim" }, { ttlSeconds: 15 });
    await lock.putInstance(instance("n1", "up"));
    await b.revokeFromOutside(o, lock);
    const lost = await Promise.race([lock.lost, sleep(20_000).then(() => undefined)]);
    expect(lost).toBeInstanceOf(StoreLockLostError);
    expect(lock.signal.aborted).toBe(true);
    expect(lost!.message).toMatch(new RegExp(`lock of ${o} \\(id ${lock.holder.id}\\) was lost`));
    await expect(lock.putInstance(instance("n2", "up"))).rejects.toThrow(StoreLockLostError);
    await expect(lock.write([{ op: "purge" }])).rejects.toThrow(StoreLockLostError);
    expect(Object.keys(await store.getInstances(o))).toEqual(["n1"]);
    await lock.release(); // harmless
    // Someone else can lock it now.
    const l2 = await store.lock(o, { command: "next" }, { timeoutMs: 20_000 });
    await l2.release();
  });

  it("fencing: a write racing the loss lands nowhere (checked at each write)", async () => {
    const o = obj();
    const lock = await store.lock(o, { command: "racer" });
    const other = b.open(currentPrefix);
    await other.forceUnlock(o, lock.holder.id);
    // Immediately (before any watcher could fire): the fenced write itself must refuse.
    await expect(lock.putInstance(instance("n9", "up"))).rejects.toThrow(StoreLockLostError);
    expect(await store.getInstances(o)).toEqual({});
    await lock.release();
  });

  it("measures lock acquire/release and fenced write latency", async () => {
    const o = obj();
    const acq: number[] = [];
    const rel: number[] = [];
    for (let i = 0; i < 15; i++) {
      let t = performance.now();
      const l = await store.lock(o, { command: "bench" });
      acq.push(performance.now() - t);
      t = performance.now();
      await l.release();
      rel.push(performance.now() - t);
    }
    const l = await store.lock(o, { command: "bench" });
    const w: number[] = [];
    for (let i = 0; i < 30; i++) {
      const t = performance.now();
      await l.putInstance(instance("n1", `up ${i}`));
      w.push(performance.now() - t);
    }
    await l.release();
    expect((await store.getInstances(o)).n1.avail).toBe("up 29");
    console.log(`${b.name}: lock acquire median ${median(acq).toFixed(1)} ms, release ${median(rel).toFixed(1)} ms, fenced write ${median(w).toFixed(1)} ms`);
  });
});

describe("migration between the embedded and the etcd store", () => {
  it("copies every record both ways, verified; refuses to overwrite newer records unless forced", async () => {
    const pfx = `m${uid()}`;
    const emb = track(new EmbeddedStore(path.join(embeddedRoot, pfx)));
    const ets = track(new EtcdStore({ endpoints: etcd!.endpoints, prefix: `/t-${pfx}` }));
    const o = `ns${uid()}/svc/db`;
    const l = await emb.lock(o, { command: "seed" });
    await l.write([
      { op: "config", text: "[DEFAULT]\nnodes = n1 n2 n3\n" },
      { op: "instance", record: instance("n1", "up") },
      { op: "instance", record: instance("n2", "standby down") },
      { op: "shared", record: { rid: "disk#1", node: "n1", outputs: { dev: "/dev/loop3" }, updatedAt: now() } },
      { op: "orchestration", record: { id: "x", action: "provision", leaders: ["n1"], phase: "done", nodes: { n1: "ok", n2: "ok" }, startedAt: now(), updatedAt: now() } },
    ]);
    await l.release();
    const src = await emb.readObject(o);
    const r = await migrateObject(emb, ets, o);
    expect(r.copied).toEqual({ config: true, instances: 2, shared: 1, orchestration: true });
    const got = await ets.readObject(o);
    expect({ ...got, config: { ...got.config, updatedAt: "" } }).toEqual({ ...src, config: { ...src.config, updatedAt: "" } });
    expect(await ets.listObjects()).toEqual([o]);
    // etcd moves on (newer); migrating the embedded copy back over it is refused.
    await sleep(5);
    const le = await ets.lock(o, { command: "newer run" });
    await le.putInstance(instance("n3", "standby up"));
    await le.release();
    await expect(migrateObject(emb, ets, o)).rejects.toThrow(/holds newer records/);
    expect(Object.keys(await ets.getInstances(o)).sort()).toEqual(["n1", "n2", "n3"]);
    // etcd -> embedded: the newer records come back, nothing lost.
    const back = await migrateObject(ets, emb, o);
    expect(back.copied.instances).toBe(3);
    const e2 = await emb.readObject(o);
    const t2 = await ets.readObject(o);
    expect(e2.instances).toEqual(t2.instances);
    expect(e2.shared).toEqual(t2.shared);
    expect(e2.orchestration).toEqual(t2.orchestration);
    expect(e2.config?.sha256).toBe(t2.config?.sha256);
    // Forced: the older copy wins when asked.
    const lo = await emb.lock(o, { command: "drop n3" });
    await lo.write([{ op: "deleteInstance", node: "n3" }]);
    await lo.release();
    await sleep(5);
    const le2 = await ets.lock(o, { command: "newer again" });
    await le2.putInstance(instance("n3", "up"));
    await le2.release();
    await expect(migrateObject(emb, ets, o)).rejects.toThrow(/newer/);
    await migrateObject(emb, ets, o, { force: true });
    expect(Object.keys(await ets.getInstances(o)).sort()).toEqual(["n1", "n2"]);
    // A locked source is not migrated.
    const held = await emb.lock(o, { command: "busy" });
    await expect(migrateObject(emb, ets, o)).rejects.toThrow(StoreLockedError);
    await held.release();
  });
});

describe("the store config and openStore", () => {
  it("[store] selects the backend; bad values are positioned diagnostics", async () => {
    const good = parseInventory("[cluster]\nnodes = n1\n[store]\nbackend = etcd\nendpoints = http://127.0.0.1:1 http://127.0.0.1:2\nprefix = /osvc/prod\nlock_ttl = 20\n", "/x/cluster.conf");
    expect(good.diagnostics).toEqual([]);
    expect(good.inventory!.store).toMatchObject({ backend: "etcd", endpoints: ["http://127.0.0.1:1", "http://127.0.0.1:2"], prefix: "/osvc/prod", lockTtlS: 20 });
    const bad = parseInventory("[cluster]\nnodes = n1\n[store]\nbackend = etdc\n", "/x/cluster.conf");
    expect(bad.diagnostics[0]).toMatchObject({ code: "E6006", summary: 'invalid store backend "etdc"', hint: expect.stringContaining("etcd") });
    expect(bad.diagnostics[0].range?.start.line).toBe(4);
    const noEp = parseInventory("[cluster]\nnodes = n1\n[store]\nbackend = etcd\nendpoints = 127.0.0.1:2379\n", "/x/c.conf");
    expect(noEp.diagnostics.map((d) => d.summary)).toEqual(['invalid etcd endpoint "127.0.0.1:2379"']);
    const emb = await openStoreConfig(undefined, embeddedRoot);
    expect(emb.backend).toBe("embedded");
    const e = track(await openStoreConfig({ backend: "etcd", endpoints: etcd!.endpoints }, embeddedRoot));
    expect(e.backend).toBe("etcd");
    expect((await e.health()).ok).toBe(true);
  });
});

describe("etcd failures (3 members)", () => {
  /** Writes in a loop through a lock while `disturb` runs; returns the longest gap between two writes. */
  async function gapDuringLeaderKill(store: EtcdStore, o: string): Promise<{ gapMs: number; writes: number }> {
    const lock = await store.lock(o, { command: "writer" }, { ttlSeconds: 15 });
    let stop = false;
    let last = performance.now();
    let gap = 0;
    let n = 0;
    const loop = (async () => {
      while (!stop) {
        await lock.putInstance(instance("n1", `up ${n}`));
        const t = performance.now();
        gap = Math.max(gap, t - last);
        last = t;
        n++;
        await sleep(20);
      }
    })();
    await sleep(1_000);
    const leader = await etcd!.leader();
    gap = 0;
    await etcd!.kill(leader);
    await sleep(6_000);
    stop = true;
    await loop;
    expect(lock.signal.aborted).toBe(false);
    await lock.release();
    await etcd!.restart(leader);
    await etcd!.leader();
    expect((await store.getInstances(o)).n1.avail).toBe(`up ${n - 1}`);
    return { gapMs: gap, writes: n };
  }

  it("raft leader killed while a holder writes in a loop: writes continue within ~2 s (tuned policy)", async () => {
    const store = track(new EtcdStore({ endpoints: etcd!.endpoints, prefix: `/t-l${uid()}` }));
    const tuned = await gapDuringLeaderKill(store, `l${uid()}`);
    console.log(`etcd leader killed: longest write gap ${tuned.gapMs.toFixed(0)} ms with the tuned policy (${tuned.writes} writes)`);
    expect(tuned.gapMs).toBeLessThan(5_000); // etcd3 defaults: ~7 s
    const dflt = track(new EtcdStore({ endpoints: etcd!.endpoints, prefix: `/t-l${uid()}`, faultPolicy: "client-default" }));
    const d = await gapDuringLeaderKill(dflt, `l${uid()}`).catch((e: Error) => ({ gapMs: Number.NaN, writes: 0, error: e.message }));
    console.log(`etcd leader killed: longest write gap ${d.gapMs.toFixed(0)} ms with etcd3's default policy${"error" in d ? ` (failed: ${d.error})` : ""}`);
  }, 180_000);

  it("two of three members down: a clear error within a bounded time, nothing half-written; members back: works again", async () => {
    const store = track(new EtcdStore({ endpoints: etcd!.endpoints, prefix: `/t-q${uid()}`, callTimeoutMs: 8_000 }));
    const o = `q${uid()}`;
    const lock = await store.lock(o, { command: "quorum" }, { ttlSeconds: 15 });
    await lock.write([{ op: "instance", record: instance("n1", "v1") }, { op: "instance", record: instance("n2", "v1") }]);
    const leader = await etcd!.leader();
    const down = [leader, (leader + 1) % 3];
    for (const i of down) await etcd!.kill(i);
    const t0 = Date.now();
    const e = await lock.write([{ op: "instance", record: instance("n1", "v2") }, { op: "instance", record: instance("n2", "v2") }]).catch((x: unknown) => x);
    const ms = Date.now() - t0;
    console.log(`etcd without quorum: write failed after ${ms} ms: ${(e as Error).message}`);
    expect(e).toBeInstanceOf(StoreUnavailableError);
    expect((e as Error).message).toMatch(/etcd (is unavailable|did not answer)/);
    expect((e as StoreUnavailableError).hint).toMatch(/majority/);
    expect(ms).toBeLessThan(20_000);
    // Taking a lock (what a run does before touching any node) fails the same way.
    const t1 = Date.now();
    await expect(store.lock(`q2${uid()}`, { command: "no quorum" })).rejects.toThrow(StoreUnavailableError);
    expect(Date.now() - t1).toBeLessThan(20_000);
    const h = await store.health();
    expect(h.ok).toBe(false);
    expect(h.error).toMatch(/etcd/);
    for (const i of down) await etcd!.restart(i);
    await etcd!.leader(60_000);
    // Nothing half-written: both records are of the same generation.
    const inst = await store.getInstances(o);
    expect(inst.n1.avail).toBe(inst.n2.avail);
    await lock.release().catch(() => undefined);
    const l2 = await store.lock(o, { command: "after" }, { timeoutMs: 40_000 });
    await l2.write([{ op: "instance", record: instance("n1", "v3") }]);
    expect((await store.getInstances(o)).n1.avail).toBe("v3");
    await l2.release();
    expect((await store.health()).ok).toBe(true);
  }, 180_000);
});
