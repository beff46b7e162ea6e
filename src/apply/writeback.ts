// Config write-back (issue 11 item 1): a provisioner that filled a value (`ipname = <allocate>`)
// hands the applier a patch; it is journaled, applied to the object's INSTALLED config (validated
// by re-compiling; StateStore.installConfig writes a temp file, fsyncs, renames and keeps
// config.conf.backup), and recorded with the resource's outputs (`writeback`: the edits as lines).
// The recorded edits are replayed over a template file when it is planned again (`osvc plan
// web.conf`): the user's file is never rewritten, and the object keeps the value it was given.
import type { LoadedText } from "../config/load.js";
import type { EvaluatedTemplate } from "../config/evaluate.js";
import { applyPatch } from "../config/patch.js";
import { sectionNames } from "../config/edit.js";
import { ALLOCATE_MARKER, formatEdit, parseEdit, type ConfigEdit, type ConfigPatch } from "../core/patch.js";
import type { Diagnostic } from "../core/diagnostics.js";
import { ProviderError } from "../provider/api.js";
import type { StateFile } from "../state/model.js";
import type { StateStore } from "../state/store.js";

/** Applies a patch to the installed config; returns the edits as applied (scoped) and the object re-evaluated. */
export type ConfigWriter = (patch: ConfigPatch) => Promise<{ readonly patch: ConfigPatch; readonly evaluated: EvaluatedTemplate }>;

/**
 * A flex object has one instance per node: what a provider writes back is this node's (`ipname@n1`),
 * so the nodes' edits merge as keys. A value set back to the marker, an unset and an emptied
 * cascade target remove the node's key (the unscoped value shows through again). Edits that carry a
 * scope already, and [env] keys (not scopable), are kept as they are.
 */
export function scopeForNode(patch: ConfigPatch, node: string): ConfigEdit[] {
  return patch.map((e) => {
    if (e.key.includes("@") || e.section === "env") return e;
    const key = `${e.key}@${node}`;
    return e.value === undefined || e.value === "" || e.value === ALLOCATE_MARKER ? { section: e.section, key } : { ...e, key };
  });
}

/** What compiling a config text gives (config/index.ts compileTexts). */
export interface Compiled {
  readonly ok: boolean;
  readonly diagnostics: readonly Diagnostic[];
  readonly evaluated: EvaluatedTemplate;
}

/** The writer of an object's installed config: patch, re-compile (refused on errors), install atomically. */
export function installedConfigWriter(store: StateStore, object: string, node: string, compile: (text: string) => Compiled): ConfigWriter {
  return async (given) => {
    const text = await store.readConfig(object);
    if (text === null) throw new ProviderError(`${object} has no installed config to write back into`);
    const flex = compile(text).evaluated.defaults.get("topology")?.value === "flex";
    const patch = flex ? scopeForNode(given, node) : given;
    const next = applyPatch(text, patch);
    const c = compile(next);
    if (!c.ok) {
      const first = c.diagnostics.find((d) => d.severity === "error");
      throw new ProviderError(`the config written back (${patch.map(formatEdit).join("; ")}) does not validate: ${first?.summary ?? "errors"}`, "the installed config is left as it was");
    }
    await store.installConfig(object, next);
    return { patch, evaluated: c.evaluated };
  };
}

/** The recorded edits of a resource's outputs, folded with new ones: the last edit of a key wins; an unset drops it. */
export function foldEdits(previous: unknown, edits: ConfigPatch): string[] {
  const byKey = new Map<string, ConfigEdit>();
  const prior = Array.isArray(previous) ? previous.map((l) => parseEdit(String(l))).filter((e): e is ConfigEdit => e !== undefined) : [];
  for (const e of [...prior, ...edits]) {
    const id = `${e.section}.${e.key}`;
    byKey.delete(id);
    if (e.value !== undefined) byKey.set(id, e);
  }
  return [...byKey.values()].map(formatEdit);
}

/** Every edit the provisioned resources of a state wrote back (to replay over a template file). */
export function recordedWriteBacks(state: StateFile | null): ConfigPatch {
  const out: ConfigEdit[] = [];
  for (const r of Object.values(state?.resources ?? {})) {
    const lines = r.outputs?.writeback;
    if (!Array.isArray(lines)) continue;
    for (const l of lines) {
      const e = parseEdit(String(l));
      if (e) out.push(e);
    }
  }
  return out;
}

/**
 * Replays recorded edits over template sources, in memory: each edit goes to the last source
 * that has its section (else the last source). Returns the sources unchanged when there is none.
 */
export function overlayWriteBacks(texts: readonly LoadedText[], patch: ConfigPatch): LoadedText[] {
  if (patch.length === 0 || texts.length === 0) return [...texts];
  const out = texts.map((t) => ({ ...t }));
  const names = out.map((t) => new Set(sectionNames(t.text)));
  for (const e of patch) {
    let i = names.map((n, j) => (n.has(e.section) ? j : -1)).filter((j) => j >= 0).pop() ?? out.length - 1;
    if (i < 0) i = out.length - 1;
    out[i] = { ...out[i], text: applyPatch(out[i].text, [e]) };
    names[i].add(e.section);
  }
  return out;
}
