// Planning one object on this node: the recorded state, the interrupted runs of the journal,
// the host's probes, and the checks that need this node (data objects, other objects' claims).
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { EvaluatedTemplate } from "../config/index.js";
import type { Diagnostic } from "../core/diagnostics.js";
import { formatObjectPath, parseObjectPath, type ObjectPath } from "../core/path.js";
import { hasChanges, type Plan } from "../plan/model.js";
import { makePlan, type PlanOptions } from "../plan/planner.js";
import { claimDiagnostic, crossClaims, heldClaims, HELD_CLAIMS_FORMAT, type HeldClaims } from "../plan/claims.js";
import { parseDataWord } from "../provider/data-env.js";
import type { ProviderRegistry } from "../provider/registry.js";
import { createExec } from "../provider/exec.js";
import { isHolderDead, LOCK_FILE, parseHolder, type LockHolder } from "../state/lock.js";
import { dataReader } from "../apply/data-reader.js";
import { volumeHost } from "../apply/volumes.js";
import { dataEntries } from "../state/data.js";
import type { StateFile } from "../state/model.js";
import type { StateStore } from "../state/store.js";
import type { EngineContext } from "./context.js";
import { listedNodes } from "./nodes.js";
import { templateHash, type Prepared } from "./prepare.js";
import type { PlanRequest, PlanSelection } from "./requests.js";

export function planOptions(sel: PlanSelection, destroy = false): PlanOptions {
  return {
    refresh: sel.refresh ?? true,
    targets: sel.targets ?? [],
    excludes: sel.excludes ?? [],
    allowReplace: sel.allowReplace ?? [],
    allowFormat: sel.allowFormat ?? [],
    allowDestroy: sel.allowDestroy ?? [],
    destroy,
    leader: sel.leader ?? false,
  };
}

/** What the planner's probes get: read-only commands, the object's var dir and data objects. */
export function probeContext(store: StateStore, object: string, node: string) {
  const p = parseObjectPath(object);
  const namespace = p.ok ? p.path.namespace : "root";
  // volumes: the vol objects of this namespace, for the volume driver's probe.
  return { exec: createExec(), objectName: object, nodename: node, varDir: store.varDir(object), readData: dataReader(store, namespace), volumes: volumeHost({ store, namespace, nodename: node, exec: createExec() }) };
}

/**
 * configs_/secrets_environment name keys of cfg/sec objects: a missing object or key is an error
 * at plan time (E3007, at the keyword), not a failed start in the middle of an apply.
 */
async function checkDataRefs(ev: EvaluatedTemplate, store: StateStore): Promise<Diagnostic[]> {
  const out: Diagnostic[] = [];
  const cache = new Map<string, Map<string, string> | null>();
  for (const r of ev.resources) {
    if (r.keywords.get("disable")?.value === true) continue;
    for (const [kw, kind] of [["configs_environment", "cfg"], ["secrets_environment", "sec"]] as const) {
      const k = r.keywords.get(kw);
      const v = k?.value;
      const words = Array.isArray(v) ? v.map(String) : [];
      for (const w of words) {
        const m = parseDataWord(w);
        if (!m) continue; // the provider says what is wrong with the word
        const path = `${ev.path.namespace}/${kind}/${m.object}`;
        if (!cache.has(path)) {
          const text = await store.readConfig(path);
          cache.set(path, text === null ? null : dataEntries(text));
        }
        const entries = cache.get(path);
        if (entries && entries.has(m.key)) continue;
        out.push({
          code: "E3007",
          severity: "error",
          summary: `${r.rid}: ${kw}: ${entries ? `${path} has no key ${m.key}` : `${path} does not exist on this node`}`,
          ...(k?.range ? { range: k.range } : {}),
          hint: entries ? `Add it: osvc ${path} add --key ${m.key} --value ...` : `Create it: osvc ${path} create, then osvc ${path} add --key ${m.key} --value ...`,
        });
      }
    }
  }
  return out;
}

/** The recorded state of an object as a command read it (with the warnings of a read from the backup). */
export interface RecordedRead {
  readonly object: string;
  readonly state: StateFile | null;
  readonly warnings: readonly string[];
}

/**
 * The plan of a prepared template. `recorded`: the object's state as the caller already read it
 * (a command without the object's lock: `osvc plan`); otherwise it is read here.
 */
export async function computePlan(ctx: EngineContext, p: Prepared, req: PlanRequest, destroy = false, recorded?: RecordedRead): Promise<Plan> {
  const { store } = ctx;
  const object = formatObjectPath(p.compiled.evaluated.path);
  const notify = (w: string) => ctx.notify(`warning: ${w}\n`);
  let state: StateFile | null;
  if (recorded?.object === object) {
    recorded.warnings.forEach(notify);
    state = recorded.state;
  } else state = await store.readState(object, notify);
  const interrupted = await reportInterrupted(ctx, object);
  const dataDiagnostics = destroy || req.mode === "stop" ? [] : await checkDataRefs(p.compiled.evaluated, store);
  const plan = await makePlan({
    interrupted,
    evaluated: p.compiled.evaluated,
    graph: p.view,
    state,
    registry: ctx.registry,
    probe: probeContext(store, object, p.compiled.evaluated.nodename),
    options: { ...planOptions(req, destroy), mode: req.mode ?? (destroy ? "destroy" : "converge"), force: req.force },
    templateHash: templateHash(p.compiled, req.env ?? {}),
    osvcVersion: ctx.osvcVersion,
  });
  const checked = req.mode === "start" || req.mode === "stop" ? plan : await checkClaims(plan, store, object, destroy);
  const extra = [...dataDiagnostics, ...(destroy ? [] : foreignNode(p.compiled.evaluated, req))];
  return extra.length ? { ...checked, diagnostics: [...checked.diagnostics, ...extra] } : checked;
}

/**
 * This node is not one of the object's `nodes`/`drpnodes`: planning here is an error (E3008) unless
 * the node is named on purpose (--node) or --force says so; tearing down (destroy) is always allowed.
 */
function foreignNode(ev: EvaluatedTemplate, req: PlanRequest): Diagnostic[] {
  if (req.nodeNamed || req.force) return [];
  const nodes = listedNodes(ev, "nodes");
  const drp = listedNodes(ev, "drpnodes");
  const all = [...nodes, ...drp].map((n) => n.toLowerCase());
  const me = ev.nodename.toLowerCase();
  if (all.length === 0 || all.includes("*") || all.includes(me) || all.includes(me.split(".")[0])) return [];
  const k = ev.defaults.get("nodes");
  return [
    {
      code: "E3008",
      severity: "error",
      summary: `this node (${ev.nodename}) is not one of the object's nodes`,
      detail: `nodes = ${nodes.join(" ") || "(none)"}${drp.length ? `, drpnodes = ${drp.join(" ")}` : ""}: provisioning ${ev.path.name} here would act on a host the template does not name.`,
      ...(k?.range ? { range: k.range } : {}),
      hint: `Run it on one of those nodes, add ${ev.nodename} to nodes, or, if this host is meant, pass --node ${ev.nodename} (or --force to apply).`,
    },
  ];
}

/**
 * Starts the listings the probes of the drivers `state` records ask for first (Provider.prefetch):
 * `osvc plan` calls it with the state it reads before compiling, so the host answers while the
 * template compiles. Only a plan: a command that acts takes the object's lock first, and a listing
 * made before a lock wait could predate what the holder did. Resolves once their commands are
 * running: a command starts a few promise reactions after it is asked for, and a compile right
 * after would run first, without a break (30 ms of `losetup -l` on a host with 570 loop devices
 * then came after the compile).
 */
export async function prefetchProbes(registry: ProviderRegistry, state: StateFile | null): Promise<void> {
  if (!state) return;
  const drivers = new Set(Object.values(state.resources).map((r) => r.driver));
  let started = false;
  for (const d of drivers) {
    const provider = registry.get(d);
    if (!provider?.prefetch) continue;
    provider.prefetch(createExec());
    started = true;
  }
  if (started) await new Promise<void>((r) => setImmediate(r)); // one turn: the commands are handed to the system
}

/**
 * What the other objects of this node hold, from their recorded states (cached per state file: a
 * plan does not parse every other object's whole state); one that cannot be read is skipped (its
 * own commands report it).
 */
async function otherHeld(store: StateStore, object: string): Promise<{ object: string; held: HeldClaims }[]> {
  const out: { object: string; held: HeldClaims }[] = [];
  for (const o of await store.listObjects().catch(() => [])) {
    if (o === object) continue;
    const held = await store.readDerived(o, `claims-${HELD_CLAIMS_FORMAT}`, heldClaims).catch(() => null);
    if (held) out.push({ object: o, held });
  }
  return out;
}

/**
 * What another object of this node holds too (a backing file, a mount point...): planning to
 * create or keep it is an error naming both objects; destroying leaves it on the host for the
 * other object (forgotten here, with a warning).
 */
async function checkClaims(plan: Plan, store: StateStore, object: string, destroy: boolean): Promise<Plan> {
  const mine = plan.changes.map((ch) => ({ rid: ch.rid, driver: ch.driver, inputs: ch.inputs, deferred: [...Object.keys(ch.deferredInputs), ...ch.unknownInputs] }));
  const conflicts = crossClaims(mine, await otherHeld(store, object));
  if (!conflicts.length) return plan;
  if (!destroy) return { ...plan, diagnostics: [...plan.diagnostics, ...conflicts.map((c) => claimDiagnostic(object, c))] };
  const held = new Map(conflicts.map((c) => [c.rid, c]));
  const diagnostics: Diagnostic[] = [];
  const changes = plan.changes.map((ch) => {
    const c = held.get(ch.rid);
    if (!c || ch.action !== "unprovision" || ch.stateOnly) return ch;
    diagnostics.push({
      code: "W3012",
      severity: "warning",
      summary: `${ch.rid} of ${object}: the ${c.claim.what} is held by ${c.otherRid} of the object ${c.otherObject} too: left on the host, forgotten here`,
      hint: `Destroy ${c.otherObject} to remove it.`,
    });
    return { ...ch, stateOnly: true, stopFirst: false, reason: `held by ${c.otherObject} too: left on the host, forgotten here` };
  });
  return { ...plan, changes, diagnostics: [...plan.diagnostics, ...diagnostics] };
}

/** An earlier apply that died mid-step left intents without outcomes: say so; probing resolves them. */
async function reportInterrupted(ctx: EngineContext, object: string): Promise<Set<string>> {
  const { store } = ctx;
  const pending = await store.pendingIntents(object).catch(() => []);
  const provisioning = new Set(pending.flatMap((r) => r.intents.filter((i) => i.action === "provision" || i.action === "replace").map((i) => i.rid)));
  if (!pending.length) return provisioning;
  const steps = pending.flatMap((r) => r.intents.map((i) => `${i.rid} ${i.action}`));
  const live = await liveHolder(store, object);
  if (live) {
    ctx.notify(
      `note: ${live.command} (pid ${live.pid}) is running on ${object} now: ${steps.join(", ")} in progress.\n  The plan comes from probing the host at this moment; plan again when that run ends.\n`,
    );
    return provisioning;
  }
  ctx.notify(`warning: an earlier apply of ${object} stopped during: ${steps.join(", ")}.\n  The plan comes from probing the host, so it accounts for whatever those steps did.\n`);
  return provisioning;
}

/** The holder of the object's lock when it is another process still alive (a run in progress), else undefined. */
async function liveHolder(store: StateStore, object: string): Promise<LockHolder | undefined> {
  const holder = parseHolder(await readFile(join(store.objectDir(object), LOCK_FILE), "utf8").catch(() => ""));
  if (!holder || (holder.pid === process.pid && holder.host === hostname())) return undefined;
  return (await isHolderDead(holder)) ? undefined : holder;
}

function emptyEvaluated(path: ObjectPath, node: string): EvaluatedTemplate {
  return { path, nodename: node, defaults: new Map(), env: new Map(), resources: [], others: new Map(), diagnostics: [] };
}

/** `osvc destroy`: the removal of everything the state records, in reverse order (no template needed). */
export interface DestroyRequest extends PlanSelection {
  readonly path: ObjectPath;
  /** The node acted as (default: the one the state recorded, else this host). */
  readonly node?: string;
}

/** The destroy plan of what the state records; undefined when nothing is recorded. Call it under the object's lock. */
export async function destroyPlan(ctx: EngineContext, req: DestroyRequest): Promise<Plan | undefined> {
  const { store } = ctx;
  const object = formatObjectPath(req.path);
  const state = await store.readState(object);
  if (!state || Object.keys(state.resources).length === 0) return undefined;
  const order = Object.keys(state.resources);
  return makePlan({
    interrupted: await reportInterrupted(ctx, object),
    evaluated: emptyEvaluated(req.path, req.node ?? state.node ?? hostname()),
    graph: { order, deps: () => [], slot: () => 0, closure: (r) => r },
    state,
    registry: ctx.registry,
    probe: probeContext(store, object, state.node),
    options: planOptions(req, true),
    templateHash: state.templateHash ?? "",
    osvcVersion: ctx.osvcVersion,
  }).then((pl) => checkClaims(pl, store, object, true));
}

/**
 * Post-provision rollback (reference §9.5): after a successful provision on a non-leader of a
 * multi-node object, the instance goes back to standby unless --leader or --disable-rollback.
 * The stop plan to apply, or undefined when there is nothing to stop.
 */
export async function standbyPlan(ctx: EngineContext, p: Prepared, req: PlanRequest, provisioned: Plan, disableRollback: boolean): Promise<Plan | undefined> {
  if (provisioned.role !== "follower" || disableRollback || (req.mode ?? "converge") !== "converge") return undefined;
  const stop = await computePlan(ctx, p, { ...req, mode: "stop" });
  return hasChanges(stop) ? stop : undefined;
}
