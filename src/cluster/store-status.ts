// `osvc cluster status`: the cluster store's backend and health, and what it holds per object.
// Only reads (never takes a lock): it answers while an orchestration holds an object.
import type { ClusterStore, LockHolderRecord, StoreHealth } from "./store/types.js";

export interface StoreObjectInstance {
  readonly node: string;
  /** Resources recorded provisioned / recorded. */
  readonly provisioned: number;
  readonly resources: number;
  readonly avail: string;
  readonly lastAction?: { readonly action: string; readonly result: string; readonly at: string };
}

export interface StoreObjectStatus {
  readonly object: string;
  readonly config?: { readonly sha256: string; readonly updatedAt: string };
  readonly instances: readonly StoreObjectInstance[];
  /** Shared rid -> the node that provisioned it. */
  readonly shared: Readonly<Record<string, string>>;
  readonly lock?: LockHolderRecord;
  readonly orchestration?: { readonly id: string; readonly action: string; readonly phase: string; readonly leaders: readonly string[]; readonly updatedAt: string };
}

export interface StoreStatus {
  readonly health: StoreHealth;
  readonly objects: readonly StoreObjectStatus[];
  /** Why the objects could not be listed (the store is unavailable). */
  readonly error?: string;
}

/** The store's health and every object it holds (or only `objects`). */
export async function storeStatus(store: ClusterStore, only?: readonly string[]): Promise<StoreStatus> {
  const health = await store.health();
  let names: string[];
  try {
    names = only?.length ? [...only] : await store.listObjects();
  } catch (e) {
    return { health, objects: [], error: (e as Error).message };
  }
  const objects = await Promise.all(names.map((o) => objectStatus(store, o)));
  return { health, objects };
}

async function objectStatus(store: ClusterStore, object: string): Promise<StoreObjectStatus> {
  const [rec, lock] = await Promise.all([store.readObject(object), store.lockHolder(object)]);
  const instances = Object.values(rec.instances)
    .sort((a, b) => a.node.localeCompare(b.node))
    .map((i) => {
      const flags = Object.values(i.provisioned);
      return {
        node: i.node,
        provisioned: flags.filter(Boolean).length,
        resources: flags.length,
        avail: i.avail,
        ...(i.lastAction ? { lastAction: { action: i.lastAction.action, result: i.lastAction.result, at: i.lastAction.at } } : {}),
      };
    });
  const o = rec.orchestration;
  return {
    object: rec.object,
    ...(rec.config ? { config: { sha256: rec.config.sha256, updatedAt: rec.config.updatedAt } } : {}),
    instances,
    shared: Object.fromEntries(Object.entries(rec.shared).sort(([a], [b]) => a.localeCompare(b)).map(([rid, r]) => [rid, r.node])),
    ...(lock ? { lock } : {}),
    ...(o ? { orchestration: { id: o.id, action: o.action, phase: o.phase, leaders: o.leaders, updatedAt: o.updatedAt } } : {}),
  };
}
