// Write-back across the nodes (issue 11 item 1): what a leader's providers wrote into its installed
// config (its `writeback` events: `ipname` allocated, cascaded values) is committed to the cluster
// store's config (a put fenced by the object lock) and installed on every other node before it
// acts, so the followers' installed configs are identical to the leader's. Edits apply as keys
// (a flex node's `ipname@n2` never overwrites `ipname@n1`), never as a whole file.
import { applyPatch } from "../config/patch.js";
import { parseEdit, type ConfigEdit } from "../core/patch.js";

/** The edits of a node's `writeback` events, in order. */
export function writeBackEdits(events: readonly Record<string, unknown>[]): ConfigEdit[] {
  const out: ConfigEdit[] = [];
  for (const e of events) {
    if (e.type !== "writeback" || !Array.isArray(e.edits)) continue;
    for (const l of e.edits) {
      const edit = parseEdit(String(l));
      if (edit) out.push(edit);
    }
  }
  return out;
}

/** The config with the nodes' edits merged in (nodes in the order given). */
export function mergeWriteBacks(config: string, edits: ReadonlyMap<string, readonly ConfigEdit[]>, nodes: readonly string[]): string {
  let text = config;
  for (const n of nodes) text = applyPatch(text, edits.get(n) ?? []);
  return text;
}

/** What a node's run asked of the allocation records ({type: "allocation"} events), in order. */
export function allocationEvents(events: readonly Record<string, unknown>[]): { op: "allocate" | "free"; key: string; owner: string }[] {
  return events
    .filter((e) => e.type === "allocation" && (e.op === "allocate" || e.op === "free") && typeof e.key === "string" && typeof e.owner === "string")
    .map((e) => ({ op: e.op as "allocate" | "free", key: e.key as string, owner: e.owner as string }));
}

/** The store operations the allocation mirror needs (StoreLock's, fenced by the object lock). */
export interface AllocStore {
  allocate(key: string, record: { owner: string; data?: Record<string, string>; at: string }): Promise<{ created: boolean; record: { owner: string; data?: Readonly<Record<string, unknown>> } }>;
  freeAlloc(key: string, owner: string): Promise<boolean>;
}

/**
 * Mirrors a node's allocations into the cluster store (create-if-absent): returns the conflicts, keys
 * the store already gives to another owner (another object took the address through another node).
 */
export async function mirrorAllocations(store: AllocStore, node: string, events: readonly Record<string, unknown>[]): Promise<string[]> {
  const conflicts: string[] = [];
  // The net effect per key: a record taken then released in the same run (an address that
  // answered ARP) never reaches the store.
  const net = new Map<string, { op: "allocate" | "free"; key: string; owner: string }>();
  for (const a of allocationEvents(events)) {
    const prev = net.get(a.key);
    if (prev?.op === "allocate" && a.op === "free" && prev.owner === a.owner) net.delete(a.key);
    else net.set(a.key, a);
  }
  for (const a of net.values()) {
    if (a.op === "free") {
      await store.freeAlloc(a.key, a.owner);
      continue;
    }
    const r = await store.allocate(a.key, { owner: a.owner, data: { node }, at: new Date().toISOString() });
    if (!r.created && r.record.owner !== a.owner) conflicts.push(`${a.key} is allocated to ${r.record.owner} in the cluster store`);
  }
  return conflicts;
}
