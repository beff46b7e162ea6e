// Wiring of config write-back (apply/writeback.ts) for the engine commands: the writer of the
// installed config (re-compiled with this run's node and --env), and the recorded edits that are
// replayed over a template file.
import { installedConfigWriter, recordedWriteBacks, type ConfigWriter } from "../apply/writeback.js";
import { compileTexts } from "../config/index.js";
import type { ConfigPatch } from "../core/patch.js";
import { formatObjectPath, parseObjectPath, type ObjectPath } from "../core/path.js";
import type { StateFile } from "../state/model.js";
import type { StateStore } from "../state/store.js";
import type { RecordedRead } from "../engine/index.js";
import { builtinCatalog, nodeEval, parseEnvOverrides, type TemplateOptions } from "./common.js";

/** The config writer of `object` for a run on `node` with these options. */
export function configWriter(store: StateStore, object: string, node: string, opts: TemplateOptions & { root?: string }): ConfigWriter {
  const p = parseObjectPath(object);
  if (!p.ok) throw new Error(`internal: bad object path ${object}`);
  const path = p.path;
  return installedConfigWriter(store, object, node, (text) =>
    compileTexts([{ name: `${object} (installed config)`, text }], { path, ...nodeEval({ ...opts, node }), envOverrides: parseEnvOverrides(opts.env), osEnv: opts.osEnv ? process.env : undefined, catalog: builtinCatalog() }),
  );
}

/**
 * The edits recorded in the object's state (empty when it has none); `seen` gets the state read
 * (not called when it could not be read), and the template compiles once what it returns settled.
 */
export function recordedEdits(store: StateStore, seen?: (read: RecordedRead) => void | Promise<void>): (path: ObjectPath) => Promise<ConfigPatch> {
  return async (path) => {
    const object = formatObjectPath(path);
    const warnings: string[] = [];
    let state: StateFile | null;
    try {
      state = await store.readState(object, (w) => warnings.push(w));
    } catch {
      return recordedWriteBacks(null);
    }
    await seen?.({ object, state, warnings });
    return recordedWriteBacks(state);
  };
}
