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
}
