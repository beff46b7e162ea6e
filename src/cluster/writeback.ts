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
