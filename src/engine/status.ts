// An installed object's live status (print status, osvc status) and its resources' info facts
// (print resinfo): its installed config compiled for this node, its state, the host's probes.
import { compileTexts, type CompileResult } from "../config/index.js";
import { DATA_KINDS, parseObjectPath } from "../core/path.js";
import { buildGraph } from "../graph/index.js";
import { makePlan } from "../plan/planner.js";
import { planStatus, type ObjectStatus } from "../plan/status.js";
import type { StateFile } from "../state/model.js";
import { EngineError, type EngineContext } from "./context.js";
import { nodeEval, type NodeEval } from "./node.js";
import { planOptions, probeContext } from "./plan.js";
import { dependencyView } from "./prepare.js";

/** The node an installed object is read for: --node (default: the node its state records), --node-config. */
export interface NodeTarget {
  readonly node?: string;
  readonly nodeConfig?: string;
}

export interface Installed {
  readonly state: StateFile | null;
  readonly node: NodeEval;
  readonly compiled: CompileResult;
}

/** An installed object: its config compiled for this node (and the node config), and its recorded state. */
export async function loadInstalled(ctx: EngineContext, object: string, target: NodeTarget): Promise<Installed> {
  const { store } = ctx;
  const config = await store.readConfig(object);
  if (config === null) throw new EngineError(`object ${object} does not exist on this node`, `Create it: osvc ${object} create --config <file>, or apply a template`);
  const parsed = parseObjectPath(object);
  if (!parsed.ok) throw new EngineError(parsed.error);
  const state = await store.readState(object, (w) => ctx.notify(`warning: ${w}\n`));
  const node = nodeEval({ ...target, root: store.root }, state?.node);
  const compiled = compileTexts([{ name: `${object} (installed config)`, text: config }], { path: parsed.path, ...node, catalog: ctx.catalog });
  return { state, node, compiled };
}

/** The objects `osvc status` shows: the services and volumes (cfg/sec objects hold keys, not resources). */
export async function statusObjects(ctx: EngineContext): Promise<string[]> {
  return (await ctx.store.listObjects()).filter((o) => !DATA_KINDS.includes(o.split("/").length === 3 ? o.split("/")[1] : "svc"));
}

/** The live status of an installed object on this node: avail, overall, each resource's status and flags. */
export async function objectStatus(ctx: EngineContext, object: string, target: NodeTarget): Promise<ObjectStatus> {
  const { state, compiled } = await loadInstalled(ctx, object, target);
  const { graph } = buildGraph(compiled.evaluated);
  const plan = await makePlan({
    evaluated: compiled.evaluated,
    graph: dependencyView(graph),
    state,
    registry: ctx.registry,
    probe: probeContext(ctx.store, object, compiled.evaluated.nodename),
    options: planOptions({ leader: true }),
    templateHash: state?.templateHash ?? "",
    osvcVersion: ctx.osvcVersion,
  });
  const byRid = new Map(compiled.evaluated.resources.map((r) => [r.rid.toString(), r]));
  return planStatus(plan, (rid) => {
    const r = byRid.get(rid);
    const kw = (k: string) => r?.keywords.get(k)?.value;
    const rec = state?.resources[rid];
    const label = describe(rid, (k) => kw(k) ?? rec?.inputs[k], rec?.outputs);
    return { disabled: kw("disable") === true, monitor: kw("monitor") === true, encap: kw("encap") === true, restart: Number(kw("restart") ?? 0), label, recorded: rec ? rec.provisioned : undefined };
  });
}

export interface ResourceInfo {
  readonly object: string;
  readonly node: string;
  readonly info: { rid: string; key: string; value: string }[];
  readonly errors: { rid: string; error: string }[];
}

/**
 * `print resinfo`: the key/value facts resources report (an app's info command), read-only.
 * Disabled resources and drivers without an info hook are skipped; a failing info command is
 * reported in `errors`. The compile result when the installed config has errors.
 */
export async function resourceInfo(ctx: EngineContext, object: string, target: NodeTarget): Promise<ResourceInfo | { readonly invalid: CompileResult }> {
  const { state, compiled } = await loadInstalled(ctx, object, target);
  if (!compiled.ok) return { invalid: compiled };
  const { graph } = buildGraph(compiled.evaluated);
  const reg = ctx.registry;
  const plan = await makePlan({
    evaluated: compiled.evaluated,
    graph: dependencyView(graph),
    state,
    registry: reg,
    probe: probeContext(ctx.store, object, compiled.evaluated.nodename),
    options: planOptions({ leader: true, refresh: false }),
    templateHash: state?.templateHash ?? "",
    osvcVersion: ctx.osvcVersion,
  });
  const probe = probeContext(ctx.store, object, compiled.evaluated.nodename);
  const rows: { rid: string; key: string; value: string }[] = [];
  const errors: { rid: string; error: string }[] = [];
  for (const ch of plan.changes) {
    const provider = reg.get(ch.driver);
    if (!provider?.info || ch.reason === "disabled") continue;
    try {
      for (const i of await provider.info(probe, { rid: ch.rid, driver: ch.driver, kw: ch.inputs, ...(ch.priorOutputs ? { recorded: ch.priorOutputs } : {}) })) rows.push({ rid: ch.rid, ...i });
    } catch (e) {
      errors.push({ rid: ch.rid, error: e instanceof Error ? e.message : String(e) });
    }
  }
  return { object, node: plan.node, info: rows, errors };
}

/** An app's command: `start`, or `<script> start` when start is true or a sequence number (as the app driver runs it). */
function appLabel(start: unknown, script: unknown): string {
  const line = start === undefined || start === null ? "" : String(start).trim();
  const viaScript = /^(true|[+-]?\d+)$/i.test(line);
  if (line && !viaScript && line.toLowerCase() !== "false") return line;
  return script !== undefined && script !== null && String(script) ? `${String(script)}${viaScript ? " start" : ""}` : "";
}

function describe(rid: string, kw: (k: string) => unknown, outputs: Record<string, unknown> | undefined): string {
  const group = rid.split("#")[0];
  const dev = (outputs?.exposed_devs as string[] | undefined)?.[0];
  if (group === "disk") return `${kw("file") ?? kw("name") ?? ""}${dev ? ` -> ${dev}` : ""}`;
  if (group === "fs") return kw("path") !== undefined ? String(kw("path")) : `${kw("dev") ?? ""}@${kw("mnt") ?? ""}`;
  if (group === "ip") return `${kw("ipname") ?? ""}@${kw("ipdev") ?? ""}`;
  if (group === "container") return String(kw("image") ?? "");
  if (group === "app") return appLabel(kw("start"), kw("script"));
  if (group === "volume") return `${kw("name") ?? ""}${outputs?.mnt ? `@${String(outputs.mnt)}` : ""}`;
  if (group === "sync") {
    const src = [kw("src") ?? []].flat().join(" ");
    const dst = String(kw("dst") ?? "");
    const to = [kw("target") ?? []].flat().join(" ");
    return [src || dst ? `${src} -> ${dst}` : "", to ? `to ${to}` : ""].filter(Boolean).join(" ");
  }
  return "";
}
