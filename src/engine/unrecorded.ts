// What destroy/unprovision find when nothing is recorded, and the recorded inputs a stop or an
// unprovision falls back on when the installed config has errors.
import { join } from "node:path";
import { compileTexts, type CompileResult } from "../config/index.js";
import type { Diagnostic } from "../core/diagnostics.js";
import { formatObjectPath, type ObjectPath } from "../core/path.js";
import { OBJECT_FILES } from "../state/store.js";
import type { EngineContext } from "./context.js";
import { nodeEval } from "./node.js";
import { computePlan } from "./plan.js";
import { prepare } from "./prepare.js";
import { recordedCompiled } from "./recorded.js";
import type { PlanRequest } from "./requests.js";
import type { NodeTarget } from "./status.js";

/** destroy/unprovision with nothing recorded: what the journal names, probed with the installed config. */
export type Unrecorded =
  | { readonly kind: "nothing" }
  | { readonly kind: "no-config"; readonly named: readonly string[]; readonly stateFile: string; readonly journalFile: string }
  | { readonly kind: "invalid"; readonly diagnostics: Diagnostic[]; readonly compiled: CompileResult }
  | { readonly kind: "absent"; readonly named: readonly string[]; readonly journalFile: string }
  | { readonly kind: "held"; readonly named: readonly string[]; readonly held: readonly string[]; readonly stateFile: string; readonly journalFile: string };

/**
 * Nothing recorded: what the journal names (an interrupted or failed run) is probed with the
 * installed config, and reported when the host holds it, never "nothing recorded" then.
 */
export async function probeUnrecorded(ctx: EngineContext, path: ObjectPath, req: PlanRequest & NodeTarget): Promise<Unrecorded> {
  const { store } = ctx;
  const object = formatObjectPath(path);
  const stateFile = join(store.objectDir(object), OBJECT_FILES.state);
  const journalFile = join(store.objectDir(object), OBJECT_FILES.journal);
  const named = [...new Set((await store.readJournal(object)).map((e) => e.rid))].sort();
  if (!named.length) return { kind: "nothing" };
  const text = await store.readConfig(object);
  if (text === null) return { kind: "no-config", named, stateFile, journalFile };
  const compiled = compileTexts([{ name: `${object}.conf`, text }], { path, ...nodeEval({ ...req, root: store.root }), catalog: ctx.catalog });
  const p = prepare(compiled);
  if (!p.ok) return { kind: "invalid", diagnostics: p.diagnostics, compiled };
  const known = named.filter((rid) => p.prepared.compiled.evaluated.resources.some((r) => r.rid.toString() === rid));
  const plan = known.length ? await computePlan(ctx, p.prepared, { ...req, targets: known, mode: "converge" }) : undefined;
  const held = (plan?.changes ?? []).filter((ch) => known.includes(ch.rid) && (ch.observed?.provisioned === true || ch.observed?.up === true)).map((ch) => ch.rid);
  if (!held.length) return { kind: "absent", named, journalFile };
  return { kind: "held", named, held, stateFile, journalFile };
}

/**
 * Stop and unprovision of an object whose installed config has errors (a bad value installed after
 * provision): the action works from what the state recorded (the inputs osvc applied). Undefined
 * when nothing is recorded.
 */
export async function recordedFallback(ctx: EngineContext, path: ObjectPath, nodename: string): Promise<{ compiled: CompileResult; stateFile: string } | undefined> {
  const { store } = ctx;
  const object = formatObjectPath(path);
  const state = await store.readState(object);
  if (!state || Object.keys(state.resources).length === 0) return undefined;
  const stateFile = join(store.objectDir(object), "state.json");
  return { compiled: recordedCompiled(path, state, nodename, ctx.catalog, stateFile), stateFile };
}
