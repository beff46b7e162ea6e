// The cluster store (DESIGN §8): what the orchestrator records about each object across the
// cluster, behind one interface with two backends — embedded (files under the orchestrator's state
// root, the default) and etcd (several operators). Each node keeps its own embedded state as the
// truth of its host; these records are the orchestrator's view.
//
// Per object (always its canonical path <namespace>/<kind>/<name>):
//   config          the installed config text and its sha256
//   instances/<n>   each node's instance record
//   shared/<rid>    who provisioned each shared resource, and its outputs
//   orchestration   the current (or last) orchestration record
//   lock            the object lock: its holder record
// Cluster-wide: alloc/<key> (allocation records: key -> owner, create-if-absent) and nodes/<n>
// (what was last seen of each node: informational, the one write not under an object lock).
//
// Reads (plan, status) never take the lock. Every write goes through a StoreLock: it is fenced,
// i.e. conditioned on the lock still being held, so a holder that lost its lock writes nothing.

/** A value a resource exported (a device path, an address, ...). */
export type OutputValue = string | number | boolean | null;

export interface ConfigRecord {
  readonly text: string;
  /** sha256 of `text` (hex). */
  readonly sha256: string;
  readonly updatedAt: string;
}

export type ActionResult = "ok" | "failed" | "interrupted";

export interface InstanceRecord {
  readonly node: string;
  /** Provisioned state per rid ("fs#1" -> true). */
  readonly provisioned: Readonly<Record<string, boolean>>;
  /** The instance's availability as last seen ("up", "down", "standby up", "warn", "n/a"...). */
  readonly avail: string;
  readonly lastAction?: { readonly action: string; readonly result: ActionResult; readonly at: string; readonly detail?: string };
  readonly updatedAt: string;
}

export interface SharedRecord {
  readonly rid: string;
  /** The node that provisioned it (the leader of that run). */
  readonly node: string;
  readonly outputs: Readonly<Record<string, OutputValue>>;
  readonly updatedAt: string;
}

export type NodeRunState = "pending" | "running" | "ok" | "failed" | "skipped" | "unreachable";

export interface OrchestrationRecord {
  readonly id: string;
  readonly action: string;
  readonly leaders: readonly string[];
  /** Free-form phase name of the orchestrator ("leaders", "followers", "done", "failed"). */
  readonly phase: string;
  readonly nodes: Readonly<Record<string, NodeRunState>>;
  readonly startedAt: string;
  readonly updatedAt: string;
}

/** An allocation (an address, a port...): who owns the key. */
export interface AllocRecord {
  /** The owner, e.g. an object path. */
  readonly owner: string;
  readonly data?: Readonly<Record<string, OutputValue>>;
  readonly at: string;
}

/** What was last seen of a node (`osvc node ls`). */
export interface NodeRecord {
  readonly name: string;
  readonly reachable: boolean;
  readonly osvcVersion?: string;
  readonly seenAt: string;
}

/** Who holds an object lock. `id` is what forceUnlock needs. */
export interface LockHolderRecord {
  readonly id: string;
  readonly user: string;
  readonly host: string;
  readonly pid: number;
  readonly command: string;
  readonly orchestrationId?: string;
  /** ISO 8601, when the lock was taken. */
  readonly since: string;
}

/** Everything the store holds about one object (what migration copies). */
export interface ObjectRecords {
  readonly object: string;
  readonly config?: ConfigRecord;
  readonly instances: Readonly<Record<string, InstanceRecord>>;
  readonly shared: Readonly<Record<string, SharedRecord>>;
  readonly orchestration?: OrchestrationRecord;
}

export type StoreBackend = "embedded" | "etcd";

export interface StoreMember {
  readonly name: string;
  readonly endpoints: readonly string[];
  readonly leader?: boolean;
  /** etcd: the member id (hex, as etcdctl shows it). */
  readonly id?: string;
  /** Whether the member answered a status request (etcd). */
  readonly reachable?: boolean;
  readonly raftTerm?: number;
  /** The member's database size (bytes). */
  readonly dbSize?: number;
  readonly version?: string;
  /** Why the member did not answer. */
  readonly error?: string;
}

export interface StoreHealth {
  readonly backend: StoreBackend;
  readonly ok: boolean;
  /** etcd: the client endpoints; embedded: the directory. */
  readonly endpoints: readonly string[];
  readonly members?: readonly StoreMember[];
  readonly error?: string;
}

export interface LockRequest {
  readonly command: string;
  readonly orchestrationId?: string;
}

export interface LockOptions {
  /** How long to wait for another holder (--lock-timeout); 0 = fail at once naming the holder. */
  readonly timeoutMs?: number;
  /** Lease TTL (etcd; default 15 s): how long a dead holder keeps the lock. */
  readonly ttlSeconds?: number;
  /** Called when the lock is busy and we start waiting (once per holder). */
  readonly onWait?: (holder: LockHolderRecord) => void;
}

/** One write of a batch: every op of a `write()` lands together or not at all. */
export type StoreOp =
  | { readonly op: "config"; readonly text: string }
  | { readonly op: "instance"; readonly record: InstanceRecord }
  | { readonly op: "deleteInstance"; readonly node: string }
  | { readonly op: "shared"; readonly record: SharedRecord }
  | { readonly op: "deleteShared"; readonly rid: string }
  | { readonly op: "orchestration"; readonly record: OrchestrationRecord }
  | { readonly op: "deleteOrchestration" }
  /** Removes every record of the object (not its lock). */
  | { readonly op: "purge" };

/**
 * A held object lock. Every write of the run goes through it and is fenced: it lands only if the
 * lock is still ours (etcd: the lock key still has our create revision; embedded: the lock file
 * still has our id). Once the lock is lost, `signal` is aborted (reason: a StoreLockLostError),
 * `lost` resolves with that error, and every write throws it.
 */
export interface StoreLock {
  readonly object: string;
  readonly holder: LockHolderRecord;
  readonly signal: AbortSignal;
  readonly lost: Promise<Error>;
  /** Applies the ops atomically, fenced. */
  write(ops: readonly StoreOp[]): Promise<void>;
  /** Installs the config; returns the record written. */
  putConfig(text: string): Promise<ConfigRecord>;
  putInstance(record: InstanceRecord): Promise<void>;
  putShared(record: SharedRecord): Promise<void>;
  putOrchestration(record: OrchestrationRecord): Promise<void>;
  /** Creates `alloc/<key>` if absent (fenced by this lock); returns whether it did and the record now there. */
  allocate(key: string, record: AllocRecord): Promise<{ created: boolean; record: AllocRecord }>;
  /** Removes `alloc/<key>` if its owner is `owner`; returns whether it did. */
  freeAlloc(key: string, owner: string): Promise<boolean>;
  /** Releases the lock (no-op when lost or released). */
  release(): Promise<void>;
}

export interface ClusterStore {
  readonly backend: StoreBackend;
  /** The object's config, or undefined. */
  getConfig(object: string): Promise<ConfigRecord | undefined>;
  /** Instance records by node. */
  getInstances(object: string): Promise<Record<string, InstanceRecord>>;
  /** Shared resources' records by rid. */
  getShared(object: string): Promise<Record<string, SharedRecord>>;
  getOrchestration(object: string): Promise<OrchestrationRecord | undefined>;
  /** Every record of the object at once (a consistent snapshot). */
  readObject(object: string): Promise<ObjectRecords>;
  getAlloc(key: string): Promise<AllocRecord | undefined>;
  /** Node records by name. */
  getNodes(): Promise<Record<string, NodeRecord>>;
  /** Records what was seen of a node. Not fenced (no object lock): last writer wins. */
  putNode(record: NodeRecord): Promise<void>;
  /** Objects holding at least one record or a lock, canonical paths, sorted. */
  listObjects(): Promise<string[]>;
  /** The current holder of the object's lock, if any (a read: takes nothing). */
  lockHolder(object: string): Promise<LockHolderRecord | undefined>;
  /**
   * Takes the object's lock. Busy: waits up to timeoutMs, then throws StoreLockedError naming
   * the holder and the lock id (what forceUnlock needs).
   */
  lock(object: string, request: LockRequest, opts?: LockOptions): Promise<StoreLock>;
  /** Removes the lock if its id is `id`; throws StoreError otherwise. Returns the removed holder. */
  forceUnlock(object: string, id: string): Promise<LockHolderRecord>;
  health(): Promise<StoreHealth>;
  /** Ends connections and timers (held locks are NOT released: do it first). */
  close(): Promise<void>;
}

export class StoreError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "StoreError";
  }
}

/** The store cannot be reached or has no quorum; nothing was written by the failed call. */
export class StoreUnavailableError extends StoreError {
  constructor(message: string, hint?: string) {
    super(message, hint);
    this.name = "StoreUnavailableError";
  }
}

export class StoreLockedError extends StoreError {
  constructor(
    readonly object: string,
    readonly holder: LockHolderRecord,
    readonly waitedMs: number,
  ) {
    super(
      `object ${object} is locked by ${holder.user}@${holder.host} pid ${holder.pid} (${holder.command})` +
        `${holder.orchestrationId ? ` orchestration ${holder.orchestrationId}` : ""} since ${holder.since}; lock id ${holder.id}` +
        `${waitedMs >= 1000 ? ` (waited ${Math.round(waitedMs / 1000)} s)` : ""}`,
      `Wait for it (--lock-timeout 60s), or if that holder is gone: osvc cluster force-unlock ${object} --id ${holder.id}`,
    );
    this.name = "StoreLockedError";
  }
}

export class StoreLockLostError extends StoreError {
  constructor(
    readonly object: string,
    readonly lockId: string,
    reason: string,
  ) {
    super(`the lock of ${object} (id ${lockId}) was lost: ${reason}; this run stops and writes nothing more`, "Run again: the next run resumes from the recorded state.");
    this.name = "StoreLockLostError";
  }
}
