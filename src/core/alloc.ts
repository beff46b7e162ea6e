// Allocation records (an address a provisioner chose): the node's (state/allocs.ts) or the cluster store's.

/** Who holds an allocation key (the same shape as the cluster store's records). */
export interface AllocationRecord {
  /** The owner: "<object> <rid> @<node>". */
  readonly owner: string;
  readonly data?: Readonly<Record<string, string | number | boolean>>;
  readonly at: string;
}

/** Allocation records: `allocate` creates the key only if absent, so two objects never get the same value. */
export interface Allocations {
  allocate(key: string, record: AllocationRecord): Promise<{ created: boolean; record: AllocationRecord }>;
  /** Removes the key if `owner` holds it; returns whether it did. */
  freeAlloc(key: string, owner: string): Promise<boolean>;
  getAlloc(key: string): Promise<AllocationRecord | undefined>;
  /**
   * In a cluster: per rid, the addresses the orchestrator reserved for this node in the cluster
   * store (its `--allocated rid=a,b`): the only candidates <allocate> may pick from, so two
   * orchestrators never pick the same one.
   */
  readonly reserved?: Readonly<Record<string, readonly string[]>>;
}

/** Parses `--allocated rid=a.b.c.d,e.f.g.h` words (the orchestrator's): rid -> addresses, or an error text. */
export function parseReserved(words: readonly string[]): Record<string, string[]> | { error: string } {
  const out: Record<string, string[]> = {};
  for (const w of words) {
    const m = /^([A-Za-z0-9_.-]+#[A-Za-z0-9_.-]+)=(.+)$/.exec(w);
    const addrs = m ? m[2].split(",") : [];
    if (!m || !addrs.every((a) => /^\d{1,3}(\.\d{1,3}){3}$/.test(a))) return { error: `--allocated ${JSON.stringify(w)}: expected <rid>=<ipv4>[,<ipv4>...]` };
    out[m[1]] = [...(out[m[1]] ?? []), ...addrs];
  }
  return out;
}
