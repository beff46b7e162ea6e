// The storage pools of this node and the vol objects allocated from them (osvc pool ls, validate,
// the purge of a vol): engine work the CLI renders.
import { nodePools, poolUsage, volumeChildren, volumePool } from "../apply/volumes.js";
import type { CompileResult } from "../config/index.js";
import { poolCapabilities } from "../config/pools.js";
import { suggestion, type Diagnostic } from "../core/diagnostics.js";
import { formatObjectPath, type ObjectPath } from "../core/path.js";
import type { StateStore } from "../state/store.js";

export interface PoolRow {
  name: string;
  type: string;
  path: string;
  capabilities: string[];
  volumes: string[];
  size: number | null;
  free: number | null;
}

export interface PoolList {
  rows: PoolRow[];
  diagnostics: Diagnostic[];
  sources: { name: string; text: string }[];
}

/** The vol objects of this node allocated from each pool (DEFAULT.pool of their config). */
async function volumesByPool(store: StateStore): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const o of await store.listObjects().catch(() => [])) {
    if (!o.includes("/vol/")) continue;
    const text = await store.readConfig(o).catch(() => null);
    const pool = text === null ? undefined : volumePool(text);
    if (pool) out.set(pool, [...(out.get(pool) ?? []), o]);
  }
  return out;
}

/** The pools of the node config (and the cluster config, and the default one) with their usage. */
export async function poolList(store: StateStore, root: string, nodeConfig?: string): Promise<PoolList> {
  const { pools, diagnostics, sources } = nodePools(root, nodeConfig);
  const vols = await volumesByPool(store);
  const rows = pools.map((p) => {
    const u = poolUsage(p.path);
    return { name: p.name, type: p.type, path: p.path, capabilities: poolCapabilities(p), volumes: vols.get(p.name) ?? [], size: u?.size ?? null, free: u?.free ?? null };
  });
  return { rows, diagnostics, sources };
}

/**
 * validate (no host needed): the pool sections of the node config, and the pools the template's
 * volume resources name (W2041 at the keyword when the node has no such pool).
 */
export function volumePoolDiagnostics(c: CompileResult, root: string, nodeConfig?: string): { diagnostics: Diagnostic[]; named: Diagnostic[]; sources: { name: string; text: string }[] } | undefined {
  const volumes = c.evaluated.resources.filter((r) => r.rid.toString().startsWith("volume#"));
  if (!volumes.length) return undefined;
  const { pools, diagnostics, sources } = nodePools(root, nodeConfig);
  const named: Diagnostic[] = [];
  for (const r of volumes) {
    const k = r.keywords.get("pool");
    if (typeof k?.value !== "string" || !k.value || pools.some((p) => p.name === k.value)) continue;
    named.push({
      code: "W2041",
      severity: "warning",
      summary: `${r.rid.toString()}: no pool "${k.value}" in this node's config`,
      ...(k.range ? { range: k.range } : {}),
      hint: `${suggestion(k.value, pools.map((p) => p.name)) ?? `The pools here: ${pools.map((p) => p.name).join(", ")}`} (osvc pool ls). A provision on this node would fail.`,
    });
  }
  return { diagnostics, named, sources };
}

/** The objects claiming a vol (its DEFAULT.children): what its purge or unprovision would take data from. */
export async function volumeClaimers(path: ObjectPath, store: StateStore): Promise<string[]> {
  if (path.kind !== "vol") return [];
  const text = await store.readConfig(formatObjectPath(path));
  return text === null ? [] : volumeChildren(text);
}
