// osvc pool ls: the storage pools of this node (engine/pools.ts), with their usage, and the vol
// objects' claims as the purge of a vol checks them.
import type { CompileResult } from "../../config/index.js";
import { hasErrors } from "../../core/diagnostics.js";
import { formatObjectPath, type ObjectPath } from "../../core/path.js";
import { poolList, volumeClaimers, volumePoolDiagnostics, type PoolRow } from "../../engine/index.js";
import { humanBytes } from "../../provider/content.js";
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

export async function poolLsCommand(opts: PoolLsOptions): Promise<number> {
  const format = opts.format ?? "text";
  if (format !== "text" && format !== "json") throw new UsageError(`--format ${format}: expected text or json`);
  const root = opts.root ?? defaultRoot();
  const { rows, diagnostics, sources } = await poolList(storeFor({ root }), root, opts.nodeConfig);
  const diag = renderDiagnostics(diagnostics, sourcesOf(sources), colorsFor(opts.color, process.stderr));
  if (diag) process.stderr.write(diag);
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
  const r = volumePoolDiagnostics(c, opts.root ?? defaultRoot(), opts.nodeConfig);
  if (!r) return false;
  const text = renderDiagnostics([...r.diagnostics, ...r.named], new Map([...sourcesOf(r.sources), ...sourcesOf(c.sources)]), colorsFor(opts.color, process.stderr));
  if (text) process.stderr.write(text);
  return hasErrors(r.diagnostics);
}

/**
 * `osvc <ns>/vol/<name> purge` (and unprovision) destroys the vol's data: refused while objects
 * claim it (its DEFAULT.children). Throws a UsageError naming them.
 */
export async function checkVolumePurge(path: ObjectPath, store: StateStore, verb: "purge" | "unprovision" = "purge"): Promise<void> {
  const children = await volumeClaimers(path, store);
  if (!children.length) return;
  const object = formatObjectPath(path);
  throw new UsageError(
    `${object} is claimed by ${children.join(", ")}: ${verb === "purge" ? "purging" : "unprovisioning"} it would destroy the data they use`,
    `Unprovision ${children.length > 1 ? "them" : "it"} first (osvc ${children[0]} unprovision releases the claim, data kept), then ${verb} ${object}.`,
  );
}
