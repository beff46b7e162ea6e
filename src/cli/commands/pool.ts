// osvc pool ls: the storage pools of this node (config/pools.ts), with their usage, and the vol
// objects' claims as the purge of a vol checks them.
import { nodePools, poolUsage, volumeChildren } from "../../apply/volumes.js";
import { poolCapabilities } from "../../config/pools.js";
import { humanBytes } from "../../provider/content.js";
import { hasErrors, suggestion, type Diagnostic } from "../../core/diagnostics.js";
import type { CompileResult } from "../../config/index.js";
import { formatObjectPath, type ObjectPath } from "../../core/path.js";
import { defaultRoot, type StateStore } from "../../state/store.js";
import { sourcesOf, UsageError } from "../common.js";
import { colorsFor, type ColorMode } from "../views/color.js";
import { renderDiagnostics } from "../views/diagnostics.js";
import { storeFor } from "./engine.js";

export interface PoolLsOptions {
  root?: string;
  nodeConfig?: string;
  format?: string;
  color?: ColorMode;
}

interface PoolRow {
  name: string;
  type: string;
  path: string;
  capabilities: string[];
  volumes: string[];
  size: number | null;
  free: number | null;
}

/** The vol objects of this node allocated from each pool (DEFAULT.pool of their config). */
async function volumesByPool(store: StateStore): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const o of await store.listObjects().catch(() => [])) {
    if (!o.includes("/vol/")) continue;
    const text = await store.readConfig(o).catch(() => null);
    const m = text ? /^\s*pool\s*[=:]\s*(\S+)/m.exec(text.split(/^\[(?!DEFAULT\])/m)[0]) : null;
    if (!m) continue;
    out.set(m[1], [...(out.get(m[1]) ?? []), o]);
  }
  return out;
}

export async function poolLsCommand(opts: PoolLsOptions): Promise<number> {
  const format = opts.format ?? "text";
  if (format !== "text" && format !== "json") throw new UsageError(`--format ${format}: expected text or json`);
  const root = opts.root ?? defaultRoot();
  const { pools, diagnostics, sources } = nodePools(root, opts.nodeConfig);
  const diag = renderDiagnostics(diagnostics, sourcesOf(sources), colorsFor(opts.color, process.stderr));
  if (diag) process.stderr.write(diag);
  const vols = await volumesByPool(storeFor({ root }));
  const rows: PoolRow[] = pools.map((p) => {
    const u = poolUsage(p.path);
    return { name: p.name, type: p.type, path: p.path, capabilities: poolCapabilities(p), volumes: vols.get(p.name) ?? [], size: u?.size ?? null, free: u?.free ?? null };
  });
  if (format === "json") process.stdout.write(JSON.stringify(rows, null, 2) + "\n");
  else process.stdout.write(poolTable(rows));
  return hasErrors(diagnostics) ? 1 : 0;
}

function poolTable(rows: readonly PoolRow[]): string {
  const head = ["NAME", "TYPE", "PATH", "VOLS", "SIZE", "FREE"];
  const cells = rows.map((r) => [r.name, r.type, r.path, String(r.volumes.length), r.size === null ? "-" : humanBytes(r.size), r.free === null ? "-" : humanBytes(r.free)]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: readonly string[]) => c.map((x, i) => (i === c.length - 1 ? x : x.padEnd(widths[i]))).join("  ") + "\n";
  return line(head) + cells.map(line).join("");
}

/**
 * validate (no host needed): the pool sections of the node config, and the pools the template's
 * volume resources name (W2041 at the keyword when the node has no such pool). Printed here (the
 * node config is not one of the template's sources); true when there are errors.
 */
export function reportVolumePools(c: CompileResult, opts: { root?: string; nodeConfig?: string; color?: ColorMode }): boolean {
  const ev = c.evaluated;
  const volumes = ev.resources.filter((r) => r.rid.toString().startsWith("volume#"));
  if (!volumes.length) return false;
  const { pools, diagnostics, sources } = nodePools(opts.root ?? defaultRoot(), opts.nodeConfig);
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
  const text = renderDiagnostics([...diagnostics, ...named], new Map([...sourcesOf(sources), ...sourcesOf(c.sources)]), colorsFor(opts.color, process.stderr));
  if (text) process.stderr.write(text);
  return hasErrors(diagnostics);
}

/**
 * `osvc <ns>/vol/<name> purge` (and unprovision) destroys the vol's data: refused while objects
 * claim it (its DEFAULT.children). Throws a UsageError naming them.
 */
export async function checkVolumePurge(path: ObjectPath, store: StateStore, verb: "purge" | "unprovision" = "purge"): Promise<void> {
  if (path.kind !== "vol") return;
  const object = formatObjectPath(path);
  const text = await store.readConfig(object);
  const children = text === null ? [] : volumeChildren(text);
  if (!children.length) return;
  throw new UsageError(
    `${object} is claimed by ${children.join(", ")}: ${verb === "purge" ? "purging" : "unprovisioning"} it would destroy the data they use`,
    `Unprovision ${children.length > 1 ? "them" : "it"} first (osvc ${children[0]} unprovision releases the claim, data kept), then ${verb} ${object}.`,
  );
}
