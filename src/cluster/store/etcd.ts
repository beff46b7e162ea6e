// The etcd cluster store: the only module that imports `etcd3` (and its fault-handling library
// cockatiel), so the client can be replaced here alone.
//
// Keys under one prefix P (default /osvc):
//   P/objects/<ns>/<kind>/<name>/config          ConfigRecord (JSON)
//   P/objects/<ns>/<kind>/<name>/instances/<n>   InstanceRecord
//   P/objects/<ns>/<kind>/<name>/shared/<rid>    SharedRecord
//   P/objects/<ns>/<kind>/<name>/orchestration   OrchestrationRecord
//   P/objects/<ns>/<kind>/<name>/lock            LockHolderRecord, attached to the holder's lease
//   P/alloc/<key>                                AllocRecord
//   P/nodes/<node>                               NodeRecord
//
// The lock: a lease (TTL 15 s by default, kept alive by the client) and a create-if-absent
// transaction putting the holder record on the lock key under that lease. Its id is the lease id
// (hex, as `etcdctl lease list` shows it). Every write of the holder is ONE transaction conditioned
// on the lock key's create revision being the one we created (fencing): once the lease expired or
// was revoked (the key went with it) or the lock was force-unlocked, nothing lands. The lease's
// `lost` event, a watch on the lock key and a keepalive watchdog abort the lock's signal at once.
import { readFileSync } from "node:fs";
import * as tls from "node:tls";
import { ConsecutiveBreaker, ExponentialBackoff, TimeoutStrategy, circuitBreaker, handleWhen, isBrokenCircuitError, noop as noPolicy, retry, timeout, wrap } from "cockatiel";
import { Etcd3, isRecoverableError, type IOptions, type Lease, type Watcher } from "etcd3";
import { LeaseClient } from "etcd3/lib/rpc.js";
import { canonicalJson, canonicalObject, checkName, configRecord, emptyRecords, LostSignal, makeHolder, parseHolderRecord, sleep, FencedRecords } from "./common.js";
import {
  StoreError,
  StoreLockedError,
  StoreLockLostError,
  StoreUnavailableError,
  type AllocRecord,
  type ClusterStore,
  type ConfigRecord,
  type InstanceRecord,
  type LockHolderRecord,
  type LockOptions,
  type LockRequest,
  type NodeRecord,
  type ObjectRecords,
  type OrchestrationRecord,
  type SharedRecord,
  type StoreHealth,
  type StoreLock,
  type StoreOp,
  type StoreMember,
} from "./types.js";

export interface EtcdStoreOptions {
  readonly endpoints: readonly string[];
  /** Key prefix (default /osvc). */
  readonly prefix?: string;
  /** PEM texts (not paths) for TLS. */
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer };
  /** Default lease TTL of locks (s). */
  readonly ttlSeconds?: number;
  /**
   * "tuned" (default): 500 ms per attempt, retries every 50–250 ms across hosts, a dead host's
   * breaker open for only 500 ms: writes resume 1.3–2.2 s after the raft leader dies (etcd's own
   * election takes 1.2–1.8 s here); "client-default": etcd3's own (measured: ~7 s).
   */
  readonly faultPolicy?: "tuned" | "client-default";
  /** Bound on one store call, retries included (default 10 s): then StoreUnavailableError. */
  readonly callTimeoutMs?: number;
}

export const DEFAULT_PREFIX = "/osvc";
export const DEFAULT_TTL_S = 15;
const DEFAULT_CALL_TIMEOUT_MS = 10_000;
/**
 * Deadline of one gRPC attempt (unary calls). A write sent just before the raft leader died hangs
 * until then (the follower forwarded it to the dead leader), so it bounds the write gap.
 */
const ATTEMPT_DEADLINE_MS = 500;
const POLL_MIN_MS = 100;
/** How long `cluster status` waits for one member's own status. */
const MEMBER_STATUS_TIMEOUT_MS = 2_000;
const POLL_MAX_MS = 1_000;

/** How long the client retries one call: a little less than the call's bound. */
const retryBudgetMs = (callTimeoutMs: number): number => Math.max(1_000, callTimeoutMs - 500);

/**
 * The roots an https endpoint is checked against when the cluster config names no `ca`: Node's
 * own store, plus the PEM file NODE_EXTRA_CA_CERTS names. The launcher (bin/osvc.js) starts node
 * without that variable (loading it costs ~90 ms of every start) and puts it back in the
 * environment, so node's default TLS context lacks those roots: they are given here, where osvc
 * makes its only TLS connections. A file that cannot be read is ignored, as node ignores it.
 */
export function etcdRoots(env: NodeJS.ProcessEnv = process.env): Buffer {
  let extra = "";
  try {
    if (env.NODE_EXTRA_CA_CERTS) extra = readFileSync(env.NODE_EXTRA_CA_CERTS, "utf8");
  } catch {
    // unreadable: Node's roots only
  }
  return Buffer.from([...tls.rootCertificates, ...(extra ? [extra] : [])].join("\n"));
}

function clientOptions(o: EtcdStoreOptions): IOptions {
  const callTimeout = o.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  // TLS files given, or https with extra roots to trust: explicit credentials (without a `ca`, the
  // default roots: a client certificate alone used to get an empty root list); else etcd3 decides
  // from the endpoints' scheme with node's default context.
  const https = o.endpoints.some((e) => /^https:/i.test(e));
  const tlsFiles = o.tls ?? (https && process.env.NODE_EXTRA_CA_CERTS ? {} : undefined);
  const credentials = tlsFiles && { rootCertificate: tlsFiles.ca ?? etcdRoots(), ...(tlsFiles.cert ? { certChain: tlsFiles.cert } : {}), ...(tlsFiles.key ? { privateKey: tlsFiles.key } : {}) };
  const base: IOptions = {
    hosts: [...o.endpoints],
    dialTimeout: 3_000,
    ...(credentials ? { credentials } : {}),
    grpcOptions: { "grpc.keepalive_time_ms": 6_000, "grpc.keepalive_timeout_ms": 3_000, "grpc.initial_reconnect_backoff_ms": 100, "grpc.max_reconnect_backoff_ms": 1_000 },
  };
  if (o.faultPolicy === "client-default") return base;
  return {
    ...base,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + ATTEMPT_DEADLINE_MS }),
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(2) }),
      // A bounded retry: stops retrying (and the call fails) when the overall timeout fires. A
      // member's open circuit is retried too: right after members come back, the breakers are
      // still open for up to halfOpenAfter, and the call would fail though the cluster answers.
      global: wrap(
        timeout(retryBudgetMs(callTimeout), TimeoutStrategy.Aggressive),
        retry(handleWhen((e) => isRecoverableError(e) || isBrokenCircuitError(e)), { maxAttempts: 1_000, backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 250 }) }),
      ),
      // etcd3 calls .next() on it for a fresh backoff: a factory, whatever its typings say.
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }) as unknown as NonNullable<NonNullable<IOptions["faultHandling"]>["watchBackoff"]>,
    },
  };
}

const toHex = (leaseId: string): string => BigInt(leaseId).toString(16);

export class EtcdStore implements ClusterStore {
  readonly backend = "etcd" as const;
  readonly client: Etcd3;
  readonly prefix: string;
  private readonly ttl: number;
  private readonly callTimeoutMs: number;

  constructor(readonly options: EtcdStoreOptions) {
    if (options.endpoints.length === 0) throw new StoreError("the etcd store needs at least one endpoint", "Set [store] endpoints in the cluster config.");
    this.prefix = `/${(options.prefix ?? DEFAULT_PREFIX).replace(/^\/+|\/+$/g, "")}`.replace(/^\/$/, "");
    this.ttl = options.ttlSeconds ?? DEFAULT_TTL_S;
    this.callTimeoutMs = options.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.client = new Etcd3(clientOptions(options));
  }

  objectPrefix(object: string): string {
    return `${this.prefix}/objects/${canonicalObject(object)}/`;
  }

  lockKey(object: string): string {
    return `${this.objectPrefix(object)}lock`;
  }

  allocKey(key: string): string {
    return `${this.prefix}/alloc/${checkName("alloc key", key)}`;
  }

  /** Runs one store call, bounded: a cluster without quorum is a StoreUnavailableError, not a hang. */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreUnavailableError(`etcd did not answer (${what}) within ${this.callTimeoutMs / 1000} s`, this.unavailableHint())), this.callTimeoutMs);
    });
    try {
      return await Promise.race([fn(), bound]);
    } catch (e) {
      if (e instanceof StoreError) throw e;
      const err = e as Error;
      if (/TaskCancelled|Operation timed out/i.test(`${err.name} ${err.message}`)) {
        throw new StoreUnavailableError(`etcd is unavailable (${what}): no member answered with a quorum in ${retryBudgetMs(this.callTimeoutMs) / 1000} s`, this.unavailableHint());
      }
      if (isRecoverableError(err) || /BrokenCircuit|circuit breaker is open|timed out|no leader|leader changed/i.test(`${err.name} ${err.message}`)) {
        throw new StoreUnavailableError(`etcd is unavailable (${what}): ${err.message}`, this.unavailableHint());
      }
      throw new StoreError(`etcd ${what}: ${err.message}`);
    } finally {
      clearTimeout(timer);
    }
  }

  private unavailableHint(): string {
    return `Check the etcd members (${this.options.endpoints.join(" ")}): a majority must be up (etcdctl endpoint health). Nothing was written by this call.`;
  }

  async readObject(object: string): Promise<ObjectRecords> {
    const path = canonicalObject(object);
    const pfx = this.objectPrefix(path);
    const kvs = await this.call("read", () => this.client.getAll().prefix(pfx).strings());
    let rec: ObjectRecords = emptyRecords(path);
    const instances: Record<string, InstanceRecord> = {};
    const shared: Record<string, SharedRecord> = {};
    for (const [key, value] of Object.entries(kvs)) {
      const sub = key.slice(pfx.length);
      if (sub === "config") rec = { ...rec, config: JSON.parse(value) as ConfigRecord };
      else if (sub === "orchestration") rec = { ...rec, orchestration: JSON.parse(value) as OrchestrationRecord };
      else if (sub.startsWith("instances/")) instances[sub.slice("instances/".length)] = JSON.parse(value) as InstanceRecord;
      else if (sub.startsWith("shared/")) shared[sub.slice("shared/".length)] = JSON.parse(value) as SharedRecord;
    }
    return { ...rec, instances, shared };
  }

  async getConfig(object: string): Promise<ConfigRecord | undefined> {
    return this.getJson<ConfigRecord>(`${this.objectPrefix(object)}config`);
  }

  async getInstances(object: string): Promise<Record<string, InstanceRecord>> {
    return { ...(await this.readObject(object)).instances };
  }

  async getShared(object: string): Promise<Record<string, SharedRecord>> {
    return { ...(await this.readObject(object)).shared };
  }

  async getOrchestration(object: string): Promise<OrchestrationRecord | undefined> {
    return this.getJson<OrchestrationRecord>(`${this.objectPrefix(object)}orchestration`);
  }

  async getAlloc(key: string): Promise<AllocRecord | undefined> {
    return this.getJson<AllocRecord>(this.allocKey(key));
  }

  private async getJson<T>(key: string): Promise<T | undefined> {
    const v = await this.call("read", () => this.client.get(key).string());
    return v === null ? undefined : (JSON.parse(v) as T);
  }

  async getNodes(): Promise<Record<string, NodeRecord>> {
    const pfx = `${this.prefix}/nodes/`;
    const kvs = await this.call("read nodes", () => this.client.getAll().prefix(pfx).strings());
    return Object.fromEntries(Object.entries(kvs).map(([k, v]) => [k.slice(pfx.length), JSON.parse(v) as NodeRecord]));
  }

  async putNode(record: NodeRecord): Promise<void> {
    const key = `${this.prefix}/nodes/${checkName("node", record.name)}`;
    await this.call("write a node", () => this.client.put(key).value(JSON.stringify(record)).exec());
  }

  async listObjects(): Promise<string[]> {
    const pfx = `${this.prefix}/objects/`;
    const keys = await this.call("list", () => this.client.getAll().prefix(pfx).keys());
    const out = new Set<string>();
    for (const k of keys) {
      const parts = k.slice(pfx.length).split("/");
      if (parts.length >= 4) out.add(parts.slice(0, 3).join("/"));
    }
    return [...out].sort();
  }

  async lockHolder(object: string): Promise<LockHolderRecord | undefined> {
    const raw = await this.call("read lock", () => this.client.get(this.lockKey(object)).string());
    return raw === null ? undefined : (parseHolderRecord(raw) ?? { id: "?", user: "unknown", host: "unknown", pid: 0, command: "unknown", since: "unknown" });
  }

  async lock(object: string, request: LockRequest, opts: LockOptions = {}): Promise<StoreLock> {
    const path = canonicalObject(object);
    const key = this.lockKey(path);
    const ttl = opts.ttlSeconds ?? this.ttl;
    const start = Date.now();
    const deadline = start + Math.max(0, opts.timeoutMs ?? 0);
    const lease = this.client.lease(ttl);
    const lost = new LostSignal();
    let id = "?";
    lease.on("lost", (e) => lost.fire(new StoreLockLostError(path, id, `its etcd lease (TTL ${ttl} s) expired or was revoked (${e.message})`)));
    const leaseId = await this.call("grant a lease", () => lease.grant()).catch(async (e: unknown) => {
      lease.release();
      throw e;
    });
    id = toHex(leaseId);
    const holder = makeHolder(id, request);
    const value = JSON.stringify(holder);
    let delay = POLL_MIN_MS;
    let lastSeen = "";
    try {
      for (;;) {
        const res = await this.call("take the lock", () => this.client.if(key, "Create", "==", 0).then(this.client.put(key).value(value).lease(leaseId)).commit());
        let createRev: string | undefined = res.succeeded ? res.header.revision : undefined;
        if (!createRev) {
          const kv = (await this.call("read lock", () => this.client.getAll().prefix(key).exec())).kvs.find((k) => k.key.toString() === key);
          if (!kv) continue; // released meanwhile
          const cur = parseHolderRecord(kv.value.toString());
          // A retried transaction that had landed: the lock is ours.
          if (cur?.id === id && kv.lease === leaseId) createRev = kv.create_revision;
          else {
            const h = cur ?? { id: "?", user: "unknown", host: "unknown", pid: 0, command: kv.value.toString().slice(0, 80), since: "unknown" };
            const now = Date.now();
            if (now >= deadline) throw new StoreLockedError(path, h, now - start);
            if (h.id !== lastSeen) {
              lastSeen = h.id;
              opts.onWait?.(h);
            }
            await sleep(Math.min(delay * (0.75 + Math.random() * 0.5), deadline - now));
            delay = Math.min(delay * 1.5, POLL_MAX_MS);
            continue;
          }
        }
        if (lost.error) throw lost.error;
        const l = new EtcdLock(this, path, key, holder, lease, createRev, ttl, lost);
        await l.watch();
        return l;
      }
    } catch (e) {
      await lease.revoke().catch(() => lease.release());
      throw e;
    }
  }

  async forceUnlock(object: string, id: string): Promise<LockHolderRecord> {
    const path = canonicalObject(object);
    const key = this.lockKey(path);
    const kv = (await this.call("read lock", () => this.client.getAll().prefix(key).exec())).kvs.find((k) => k.key.toString() === key);
    if (!kv) throw new StoreError(`object ${path} is not locked`);
    const holder = parseHolderRecord(kv.value.toString());
    if (!holder || holder.id !== id) {
      throw new StoreError(`the lock of ${path} has id ${holder?.id ?? "?"}, not ${id}`, holder ? `It is held by ${holder.user}@${holder.host} pid ${holder.pid} (${holder.command}) since ${holder.since}.` : undefined);
    }
    await this.call("force-unlock", () => this.client.if(key, "Mod", "==", kv.mod_revision).then(this.client.delete().key(key)).commit());
    // Revoke the holder's lease too, so it learns at its next keepalive even without a watch.
    await this.revokeLease(kv.lease).catch(() => undefined);
    return holder;
  }

  private async revokeLease(leaseId: string): Promise<void> {
    if (!leaseId || leaseId === "0") return;
    // etcd3 has no revoke-by-id on the high-level API: its LeaseClient does.
    const pool = (this.client as unknown as { pool: ConstructorParameters<typeof LeaseClient>[0] }).pool;
    await this.call("revoke the lease", () => new LeaseClient(pool).leaseRevoke({ ID: leaseId }));
  }

  async health(): Promise<StoreHealth> {
    const endpoints = [...this.options.endpoints];
    let list: { name: string; id: string; urls: string[] }[];
    let error: string | undefined;
    try {
      const res = await this.call("member list", () => this.client.cluster.memberList({}));
      list = res.members.map((m) => ({ name: m.name || "(unstarted)", id: m.ID, urls: m.clientURLs }));
    } catch (e) {
      // No member answers the list: ask each configured endpoint on its own.
      error = (e as Error).message;
      list = endpoints.map((u) => ({ name: u, id: "", urls: [u] }));
    }
    const statuses = await Promise.all(list.map((m) => (m.urls[0] ? this.memberStatus(m.urls[0]) : Promise.resolve({ error: "no client URL" } as const))));
    const leaderIds = new Set(statuses.flatMap((s) => ("leader" in s ? [s.leader] : [])));
    const members: StoreMember[] = list.map((m, i) => {
      const st = statuses[i];
      const id = m.id || ("memberId" in st ? st.memberId : "");
      return {
        name: m.name,
        endpoints: m.urls,
        ...(id ? { id: toHex(id) } : {}),
        ...("leader" in st
          ? { reachable: true, leader: leaderIds.size === 1 && leaderIds.has(id) && id !== "0", raftTerm: Number(st.raftTerm), dbSize: Number(st.dbSize), version: st.version }
          : { reachable: false, error: st.error }),
      };
    });
    members.sort((a, b) => a.name.localeCompare(b.name));
    if (!error) {
      try {
        // A linearizable read proves there is a quorum.
        await this.call("quorum read", () => this.client.get(`${this.prefix}/health`).string());
      } catch (e) {
        error = (e as Error).message;
      }
    }
    return { backend: "etcd", ok: !error, endpoints, members, ...(error ? { error } : {}) };
  }

  /** One member's own status (its raft term, db size, the leader it sees), asked of it alone, bounded. */
  private async memberStatus(url: string): Promise<{ memberId: string; leader: string; raftTerm: string; dbSize: string; version: string } | { error: string }> {
    const c = new Etcd3({ ...clientOptions({ ...this.options, endpoints: [url], faultPolicy: "client-default" }), faultHandling: { global: noPolicy, host: () => noPolicy } });
    let timer: NodeJS.Timeout | undefined;
    try {
      const st = await Promise.race([
        c.maintenance.status({ deadline: Date.now() + MEMBER_STATUS_TIMEOUT_MS }),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${MEMBER_STATUS_TIMEOUT_MS / 1000} s`)), MEMBER_STATUS_TIMEOUT_MS + 500))),
      ]);
      return { memberId: st.header.member_id, leader: st.leader, raftTerm: st.raftTerm, dbSize: st.dbSize, version: st.version };
    } catch (e) {
      return { error: (e as Error).message.split("\n")[0] };
    } finally {
      clearTimeout(timer);
      c.close();
    }
  }

  async close(): Promise<void> {
    this.client.close();
  }

  /** The etcd operations of a batch: one put or delete per key (etcd refuses a key twice in a txn). */
  async opsFor(path: string, ops: readonly StoreOp[]): Promise<Map<string, string | null>> {
    const pfx = this.objectPrefix(path);
    const at = new Date().toISOString();
    const out = new Map<string, string | null>();
    for (const o of ops) {
      switch (o.op) {
        case "config":
          out.set(`${pfx}config`, JSON.stringify(configRecord(o.text, at)));
          break;
        case "instance":
          out.set(`${pfx}instances/${checkName("node", o.record.node)}`, JSON.stringify(o.record));
          break;
        case "deleteInstance":
          out.set(`${pfx}instances/${checkName("node", o.node)}`, null);
          break;
        case "shared":
          out.set(`${pfx}shared/${checkName("rid", o.record.rid)}`, JSON.stringify(o.record));
          break;
        case "deleteShared":
          out.set(`${pfx}shared/${checkName("rid", o.rid)}`, null);
          break;
        case "orchestration":
          out.set(`${pfx}orchestration`, JSON.stringify(o.record));
          break;
        case "deleteOrchestration":
          out.set(`${pfx}orchestration`, null);
          break;
        case "purge": {
          const keys = await this.call("read", () => this.client.getAll().prefix(pfx).keys());
          for (const k of keys) if (k !== `${pfx}lock`) out.set(k, null);
          break;
        }
      }
    }
    return out;
  }
}

class EtcdLock extends FencedRecords implements StoreLock {
  private watcher: Watcher | undefined;
  private readonly timer: NodeJS.Timeout;
  private lastKeepAlive = Date.now();
  private released = false;

  constructor(
    private readonly store: EtcdStore,
    readonly object: string,
    private readonly key: string,
    readonly holder: LockHolderRecord,
    private readonly lease: Lease,
    /** The lock key's create revision: the fencing token. */
    readonly revision: string,
    private readonly ttl: number,
    private readonly lostSig: LostSignal,
  ) {
    super();
    lease.on("keepaliveSucceeded", () => (this.lastKeepAlive = Date.now()));
    // No keepalive answered for a whole TTL: the lease has expired on the server, or will before
    // anything we send lands; stop now rather than at the client's 2×TTL.
    this.timer = setInterval(() => {
      if (Date.now() - this.lastKeepAlive > this.ttl * 1000) this.fail(`no etcd keepalive answered for ${this.ttl} s: the lease has expired`);
    }, 250);
    this.timer.unref();
  }

  /** Watches the lock key: deleted or replaced means lost, at once. */
  async watch(): Promise<void> {
    try {
      const w = await this.store.call("watch the lock", () => this.store.client.watch().key(this.key).create());
      this.watcher = w;
      w.on("delete", () => this.fail("the lock key was deleted (lease revoked or expired, or force-unlock)"));
      w.on("put", (kv) => {
        if (kv.create_revision !== this.revision) this.fail("another holder took the lock");
      });
      if (this.released || this.lostSig.error) await w.cancel();
    } catch {
      /* the lease and the fencing still guard us */
    }
  }

  private fail(reason: string): void {
    if (this.released || this.lostSig.error) return;
    this.lostSig.fire(new StoreLockLostError(this.object, this.holder.id, reason));
    this.stop();
  }

  private stop(): void {
    clearInterval(this.timer);
    void this.watcher?.cancel().catch(() => undefined);
  }

  get signal(): AbortSignal {
    return this.lostSig.signal;
  }

  get lost(): Promise<Error> {
    return this.lostSig.lost;
  }

  private check(): void {
    if (this.lostSig.error) throw this.lostSig.error;
    if (this.released) throw new StoreError(`the lock of ${this.object} was released; no more writes`);
  }

  /** A fenced transaction: `then` lands only while the lock key has our create revision. */
  private async fenced(what: string, build: (c: Etcd3) => ReturnType<Etcd3["if"]>): Promise<boolean> {
    this.check();
    const res = await this.store.call(what, () => build(this.store.client).commit());
    if (res.succeeded) return true;
    // Failed: either the lock is gone (fencing) or an extra comparison failed.
    const kv = (await this.store.call("read lock", () => this.store.client.getAll().prefix(this.key).exec())).kvs.find((k) => k.key.toString() === this.key);
    if (!kv || kv.create_revision !== this.revision) {
      this.fail(kv ? "another holder took the lock" : "the lock key is gone (lease revoked or expired, or force-unlock)");
      throw this.lostSig.error;
    }
    return false;
  }

  async write(ops: readonly StoreOp[]): Promise<void> {
    this.check();
    const changes = await this.store.opsFor(this.object, ops);
    if (changes.size === 0) return;
    const ok = await this.fenced("write", (c) =>
      c.if(this.key, "Create", "==", this.revision).then(...[...changes].map(([k, v]) => (v === null ? c.delete().key(k) : c.put(k).value(v)))),
    );
    if (!ok) throw new StoreError("fenced write failed without losing the lock (unexpected)");
  }

  protected readConfig(): Promise<ConfigRecord | null | undefined> {
    return this.store.getConfig(this.object);
  }

  async allocate(key: string, record: AllocRecord): Promise<{ created: boolean; record: AllocRecord }> {
    const k = this.store.allocKey(key);
    const created = await this.fenced("allocate", (c) => c.if(this.key, "Create", "==", this.revision).and(k, "Create", "==", 0).then(c.put(k).value(JSON.stringify(record))));
    if (created) return { created, record };
    const cur = await this.store.getAlloc(key);
    if (!cur) return this.allocate(key, record); // freed meanwhile
    // A retried transaction that had landed is ours.
    return { created: canonicalJson(cur) === canonicalJson(record), record: cur };
  }

  async freeAlloc(key: string, owner: string): Promise<boolean> {
    const k = this.store.allocKey(key);
    const kv = (await this.store.call("read", () => this.store.client.getAll().prefix(k).exec())).kvs.find((x) => x.key.toString() === k);
    if (!kv || (JSON.parse(kv.value.toString()) as AllocRecord).owner !== owner) return false;
    if (await this.fenced("free", (c) => c.if(this.key, "Create", "==", this.revision).and(k, "Mod", "==", kv.mod_revision).then(c.delete().key(k)))) return true;
    // A retried transaction that had landed: the key is gone.
    return (await this.store.getAlloc(key)) === undefined;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.stop();
    if (this.lostSig.error) {
      this.lease.release();
      return;
    }
    try {
      await this.store.call("release the lock", () => this.store.client.if(this.key, "Create", "==", this.revision).then(this.store.client.delete().key(this.key)).commit());
      await this.store.call("revoke the lease", () => this.lease.revoke());
    } finally {
      this.lease.release();
    }
  }
}
