// The embedded cluster store (the default): files under the orchestrator's state root.
//
// <root>/cluster/objects/<namespace>/<kind>/<name>/
//   records.json   every record of the object, one JSON document (temp file + fsync + rename),
//                  so a batch of ops lands whole or not at all
//   lock           the object lock (state/lock.ts: exclusive create; a dead local holder is reclaimed)
//   holder.json    the holder record of the current lock (user, orchestration id...), same id
// <root>/cluster/alloc/<key, URI-encoded>.json   allocation records (created with link: if absent)
// <root>/cluster/nodes/<node>.json               node records
//
// One operator host: the lock's id is its token; fencing = the lock file still holds our token,
// checked before each write (and every second, to fire `lost` when someone force-unlocked us).
import { randomUUID } from "node:crypto";
import { access, constants, link, mkdir, readFile, readdir, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { acquireLock, LockTimeoutError, type Lock } from "../../state/lock.js";
import { fsyncDir, writeFileAtomic } from "../../state/store.js";
import { applyOps, canonicalObject, checkName, configRecord, emptyRecords, isEmpty, LostSignal, makeHolder, parseHolderRecord, FencedRecords } from "./common.js";
import {
  StoreError,
  StoreLockedError,
  StoreLockLostError,
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
} from "./types.js";

const RECORDS = "records.json";
const LOCK = "lock";
const HOLDER = "holder.json";
const RECORDS_FORMAT = 1;
/** How often a held lock checks it is still ours (to fire `lost` between writes). */
const WATCH_MS = 1000;

function errCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    if (errCode(e) === "ENOENT") return null;
    throw e;
  }
}

/** The token of the lock file's holder, or undefined when there is no lock. */
async function lockToken(dir: string): Promise<string | undefined> {
  const raw = await readOrNull(join(dir, LOCK));
  if (raw === null) return undefined;
  try {
    const t = (JSON.parse(raw) as { token?: unknown }).token;
    return typeof t === "string" ? t : "";
  } catch {
    return "";
  }
}

export class EmbeddedStore implements ClusterStore {
  readonly backend = "embedded" as const;
  /** `<root>/cluster`. */
  readonly dir: string;

  constructor(root: string) {
    this.dir = join(root, "cluster");
  }

  objectDir(object: string): string {
    return join(this.dir, "objects", ...canonicalObject(object).split("/"));
  }

  private allocFile(key: string): string {
    return join(this.dir, "alloc", `${encodeURIComponent(checkName("alloc key", key))}.json`);
  }

  async readObject(object: string): Promise<ObjectRecords> {
    const path = canonicalObject(object);
    const file = join(this.objectDir(path), RECORDS);
    const raw = await readOrNull(file);
    if (raw === null) return emptyRecords(path);
    let v: Partial<ObjectRecords> & { format?: number };
    try {
      v = JSON.parse(raw) as typeof v;
    } catch (e) {
      throw new StoreError(`${file} is not valid JSON: ${(e as Error).message}`, "It was not written by osvc, or the disk is damaged; restore it from a backup.");
    }
    if (v.format !== RECORDS_FORMAT) throw new StoreError(`${file}: unknown format ${String(v.format)}`, "Written by another osvc version.");
    return {
      object: path,
      ...(v.config ? { config: v.config } : {}),
      instances: v.instances ?? {},
      shared: v.shared ?? {},
      ...(v.orchestration ? { orchestration: v.orchestration } : {}),
    };
  }

  async getConfig(object: string): Promise<ConfigRecord | undefined> {
    return (await this.readObject(object)).config;
  }

  async getInstances(object: string): Promise<Record<string, InstanceRecord>> {
    return { ...(await this.readObject(object)).instances };
  }

  async getShared(object: string): Promise<Record<string, SharedRecord>> {
    return { ...(await this.readObject(object)).shared };
  }

  async getOrchestration(object: string): Promise<OrchestrationRecord | undefined> {
    return (await this.readObject(object)).orchestration;
  }

  async getAlloc(key: string): Promise<AllocRecord | undefined> {
    const raw = await readOrNull(this.allocFile(key));
    return raw === null ? undefined : (JSON.parse(raw) as AllocRecord);
  }

  async getNodes(): Promise<Record<string, NodeRecord>> {
    const dir = join(this.dir, "nodes");
    const names = await readdir(dir).catch((e: unknown) => (errCode(e) === "ENOENT" ? [] : Promise.reject(e)));
    const out: Record<string, NodeRecord> = {};
    for (const f of names.filter((n) => n.endsWith(".json")).sort()) {
      const raw = await readOrNull(join(dir, f));
      if (raw !== null) out[f.slice(0, -5)] = JSON.parse(raw) as NodeRecord;
    }
    return out;
  }

  async putNode(record: NodeRecord): Promise<void> {
    const dir = join(this.dir, "nodes");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(dir, `${checkName("node", record.name)}.json`, `${JSON.stringify(record)}\n`);
  }

  async listObjects(): Promise<string[]> {
    const base = join(this.dir, "objects");
    const out: string[] = [];
    const ls = async (d: string): Promise<string[]> => readdir(d).catch((e: unknown) => (errCode(e) === "ENOENT" ? [] : Promise.reject(e)));
    for (const ns of await ls(base))
      for (const kind of await ls(join(base, ns)))
        for (const name of await ls(join(base, ns, kind))) {
          const files = await ls(join(base, ns, kind, name));
          if (files.includes(RECORDS) || files.includes(LOCK)) out.push(`${ns}/${kind}/${name}`);
        }
    return out.sort();
  }

  async lockHolder(object: string): Promise<LockHolderRecord | undefined> {
    const dir = this.objectDir(object);
    const raw = await readOrNull(join(dir, LOCK));
    if (raw === null) return undefined;
    return this.holderOf(dir, raw);
  }

  /** The holder record of a lock file's content: holder.json when it is the same lock's. */
  private async holderOf(dir: string, lockRaw: string): Promise<LockHolderRecord> {
    let l: { token?: string; pid?: number; host?: string; command?: string; startedAt?: string } = {};
    try {
      l = JSON.parse(lockRaw) as typeof l;
    } catch {
      /* a torn or foreign lock file: described as unknown below */
    }
    const side = parseHolderRecord((await readOrNull(join(dir, HOLDER))) ?? "");
    if (side && side.id === l.token) return side;
    return { id: l.token ?? "", user: "unknown", host: l.host ?? "unknown", pid: l.pid ?? 0, command: l.command ?? "unknown command", since: l.startedAt ?? "an unknown time" };
  }

  async lock(object: string, request: LockRequest, opts: LockOptions = {}): Promise<StoreLock> {
    const path = canonicalObject(object);
    const dir = this.objectDir(path);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    let lock: Lock;
    const seen = new Set<string>();
    try {
      lock = await acquireLock(dir, {
        timeoutMs: opts.timeoutMs ?? 0,
        command: request.command,
        label: path,
        onWait: (h) => {
          if (!opts.onWait || seen.has(h.token)) return;
          seen.add(h.token);
          void this.lockHolder(path).then((r) => r && opts.onWait?.(r), () => undefined);
        },
      });
    } catch (e) {
      if (!(e instanceof LockTimeoutError)) throw e;
      const raw = await readOrNull(join(dir, LOCK));
      const holder = raw !== null ? await this.holderOf(dir, raw) : { id: e.holder.token, user: "unknown", host: e.holder.host, pid: e.holder.pid, command: e.holder.command, since: e.holder.startedAt };
      throw new StoreLockedError(path, holder, e.waitedMs);
    }
    const holder = makeHolder(lock.holder.token, request, lock.holder.startedAt);
    try {
      await writeFileAtomic(dir, HOLDER, `${JSON.stringify(holder)}\n`);
    } catch (e) {
      await lock.release();
      throw e;
    }
    return new EmbeddedLock(this, path, dir, lock, holder);
  }

  async forceUnlock(object: string, id: string): Promise<LockHolderRecord> {
    const path = canonicalObject(object);
    const dir = this.objectDir(path);
    const raw = await readOrNull(join(dir, LOCK));
    if (raw === null) throw new StoreError(`object ${path} is not locked`);
    const holder = await this.holderOf(dir, raw);
    if (holder.id !== id) throw new StoreError(`the lock of ${path} has id ${holder.id}, not ${id}`, `It is held by ${holder.user}@${holder.host} pid ${holder.pid} (${holder.command}) since ${holder.since}.`);
    // Remove it only if it is still that lock.
    if ((await readOrNull(join(dir, LOCK))) === raw) await unlink(join(dir, LOCK)).catch(() => undefined);
    await unlink(join(dir, HOLDER)).catch(() => undefined);
    return holder;
  }

  async health(): Promise<StoreHealth> {
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await access(this.dir, constants.W_OK);
      return { backend: "embedded", ok: true, endpoints: [this.dir] };
    } catch (e) {
      return { backend: "embedded", ok: false, endpoints: [this.dir], error: (e as Error).message };
    }
  }

  async close(): Promise<void> {
    /* nothing held */
  }

  /** Writes the object's records (the caller checked the fence); none left: the file goes (as etcd's keys do). */
  async writeRecords(rec: ObjectRecords): Promise<void> {
    const dir = this.objectDir(rec.object);
    if (isEmpty(rec)) {
      await unlink(join(dir, RECORDS)).catch((e: unknown) => (errCode(e) === "ENOENT" ? undefined : Promise.reject(e)));
      await fsyncDir(dir);
      return;
    }
    const { object: _o, ...body } = rec;
    await writeFileAtomic(dir, RECORDS, `${JSON.stringify({ format: RECORDS_FORMAT, ...body }, null, 1)}\n`);
  }

  /** Creates the alloc file if absent (link: never half-written). */
  async createAlloc(key: string, record: AllocRecord): Promise<{ created: boolean; record: AllocRecord }> {
    const file = this.allocFile(key);
    const dir = join(this.dir, "alloc");
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const tmp = join(dir, `.tmp-${process.pid}-${randomUUID()}`);
    await writeFile(tmp, `${JSON.stringify(record)}\n`, { mode: 0o600, flush: true });
    try {
      await link(tmp, file);
      await fsyncDir(dir);
      return { created: true, record };
    } catch (e) {
      if (errCode(e) !== "EEXIST") throw e;
      return { created: false, record: (await this.getAlloc(key)) as AllocRecord };
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  async removeAlloc(key: string, owner: string): Promise<boolean> {
    const cur = await this.getAlloc(key);
    if (!cur || cur.owner !== owner) return false;
    await unlink(this.allocFile(key)).catch(() => undefined);
    return true;
  }
}

class EmbeddedLock extends FencedRecords implements StoreLock {
  private readonly lostSig = new LostSignal();
  private readonly timer: NodeJS.Timeout;
  private chain: Promise<unknown> = Promise.resolve();
  private released = false;

  constructor(
    private readonly store: EmbeddedStore,
    readonly object: string,
    private readonly dir: string,
    private readonly lock: Lock,
    readonly holder: LockHolderRecord,
  ) {
    super();
    this.timer = setInterval(() => void this.fence().catch(() => undefined), WATCH_MS);
    this.timer.unref();
  }

  get signal(): AbortSignal {
    return this.lostSig.signal;
  }

  get lost(): Promise<Error> {
    return this.lostSig.lost;
  }

  /** Throws (and fires `lost`) unless the lock file still holds our id. */
  private async fence(): Promise<void> {
    if (this.lostSig.error) throw this.lostSig.error;
    if (this.released) throw new StoreError(`the lock of ${this.object} was released; no more writes`);
    const token = await lockToken(this.dir);
    if (token === this.holder.id) return;
    const why = token === undefined ? "the lock file was removed (force-unlock?)" : "another holder took the lock";
    this.lostSig.fire(new StoreLockLostError(this.object, this.holder.id, why));
    throw this.lostSig.error;
  }

  /** Runs one write after the previous ones of this handle (read-modify-write of records.json). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn);
    this.chain = p.catch(() => undefined);
    return p;
  }

  write(ops: readonly StoreOp[]): Promise<void> {
    return this.serial(async () => {
      await this.fence();
      const next = applyOps(await this.store.readObject(this.object), ops);
      await this.fence();
      await this.store.writeRecords(next);
    });
  }

  protected readConfig(): Promise<ConfigRecord | null | undefined> {
    return this.store.getConfig(this.object);
  }

  allocate(key: string, record: AllocRecord): Promise<{ created: boolean; record: AllocRecord }> {
    return this.serial(async () => {
      await this.fence();
      return this.store.createAlloc(key, record);
    });
  }

  freeAlloc(key: string, owner: string): Promise<boolean> {
    return this.serial(async () => {
      await this.fence();
      return this.store.removeAlloc(key, owner);
    });
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    clearInterval(this.timer);
    await this.chain;
    if (this.lostSig.error) return;
    if ((await lockToken(this.dir)) === this.holder.id) await unlink(join(this.dir, HOLDER)).catch(() => undefined);
    await this.lock.release();
  }
}
