// osvc plan | apply | destroy | status | graph: load -> graph -> plan -> (apply) -> view.
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { hostname } from "node:os";
import { createInterface } from "node:readline/promises";
import { BUILTIN_PROVIDERS } from "../../../providers/index.js";
import { configWriter, recordedEdits } from "../writeback.js";
import { applyPlan, type ApplyEvent, type ApplyResult } from "../../apply/applier.js";
import { compileTexts, type CompileResult, type EvaluatedTemplate } from "../../config/index.js";
import { parseDuration } from "../../core/convert.js";
import { hasErrors, type Diagnostic } from "../../core/diagnostics.js";
import { DATA_KINDS, formatObjectPath, parseObjectPath, pathFromFileName, type ObjectPath } from "../../core/path.js";
import { buildGraph, closure, topoOrder, toDot, type ResourceGraph } from "../../graph/index.js";
import { hasChanges, type Plan, type PlanMode } from "../../plan/model.js";
import { checkStale, isPlanFile, loadPlan, savePlan } from "../../plan/planfile.js";
import { makePlan, type DependencyView, type PlanOptions } from "../../plan/planner.js";
import { claimDiagnostic, crossClaims } from "../../plan/claims.js";
import { planJson, renderPlanText } from "../../plan/render.js";
import { planStatus, type ObjectStatus } from "../../plan/status.js";
import type { ProviderContext, SyncPeer } from "../../provider/api.js";
import { parseDataWord } from "../../provider/data-env.js";
import { createExec, endRunning, noteInterrupt, runningCommands } from "../../provider/exec.js";
import { ProviderRegistry } from "../../provider/registry.js";
import { isHolderDead, LOCK_FILE, LockTimeoutError, parseHolder, type LockHolder } from "../../state/lock.js";
import { dataReader } from "../../apply/data-reader.js";
import { dataEntries } from "../../state/data.js";
import type { StateFile } from "../../state/model.js";
import { defaultRoot, OBJECT_FILES, StateStore } from "../../state/store.js";
import { builtinCatalog, compileFromOptions, nodeEval, parseEnvOverrides, requireRoot, sourcesOf, UsageError, type TemplateOptions } from "../common.js";
import { colorsFor, type ColorMode } from "../views/color.js";
import { renderDiagnostics } from "../views/diagnostics.js";
import { STATUS_LEGEND } from "../views/status-legend.js";
import { jsonView, textView, versionLine, type ApplyView } from "../views/apply-log.js";
import { osvcVersion } from "../version.js";

export interface EngineOptions extends TemplateOptions {
  root?: string;
  out?: string;
  json?: boolean;
  detailedExitcode?: boolean;
  refresh?: string;
  target?: string[];
  exclude?: string[];
  allowReplace?: string[];
  allowFormat?: string[];
  allowDestroy?: string[];
  leader?: boolean;
  autoApprove?: boolean;
  disableRollback?: boolean;
  parallelism?: string;
  lockTimeout?: string;
  format?: string;
  color?: ColorMode;
  /** Act on state.json.backup when state.json is missing or corrupt (object actions: also stop standby resources). */
  force?: boolean;
  /** status: explain the flags under the status. */
  verbose?: boolean;
  /** The apply summary's verb ("Destroy complete: 3 unprovisioned"); default: from the plan's mode. */
  verb?: string;
}

const registry = () => new ProviderRegistry(BUILTIN_PROVIDERS);

export function storeFor(opts: EngineOptions): StateStore {
  return new StateStore(opts.root ?? defaultRoot());
}

export function lockTimeoutMs(opts: EngineOptions): number {
  if (opts.lockTimeout === undefined) return 0;
  const r = parseDuration(opts.lockTimeout);
  if (!r.ok) throw new UsageError(`--lock-timeout ${opts.lockTimeout}: ${r.error}`, "Example: --lock-timeout 30s");
  if (r.value < 0) throw new UsageError(`--lock-timeout ${opts.lockTimeout}: a wait cannot be negative`, "Example: --lock-timeout 30s");
  return Math.round(r.value * 1000);
}

function planOptions(opts: EngineOptions, destroy = false): PlanOptions {
  const refresh = opts.refresh === undefined ? true : !/^(false|no|0|off)$/i.test(opts.refresh);
  return {
    refresh,
    targets: opts.target ?? [],
    excludes: opts.exclude ?? [],
    allowReplace: opts.allowReplace ?? [],
    allowFormat: opts.allowFormat ?? [],
    allowDestroy: opts.allowDestroy ?? [],
    destroy,
    leader: opts.leader ?? false,
  };
}

export function dependencyView(graph: ResourceGraph): DependencyView {
  const order = topoOrder(graph);
  return {
    order,
    deps: (rid) => graph.dependencies(rid),
    slot: (rid) => graph.slotIndex(rid),
    closure: (rids, dir) => closure(graph, rids, dir),
  };
}

function templateHash(c: CompileResult, env: Record<string, string>): string {
  const h = createHash("sha256");
  for (const s of c.sources) h.update(s.name).update("\0").update(s.text).update("\0");
  h.update(JSON.stringify(env));
  return h.digest("hex").slice(0, 16);
}

function probeContext(store: StateStore, object: string, node: string) {
  const p = parseObjectPath(object);
  return { exec: createExec(), objectName: object, nodename: node, varDir: store.varDir(object), readData: dataReader(store, p.ok ? p.path.namespace : "root") };
}

export function printDiagnostics(ds: readonly Diagnostic[], c: CompileResult | undefined, color: ColorMode | undefined): void {
  const text = renderDiagnostics(ds, c ? sourcesOf(c.sources) : new Map(), colorsFor(color, process.stderr));
  if (text) process.stderr.write(text);
}

export interface Prepared {
  compiled: CompileResult;
  graph: ResourceGraph;
  view: DependencyView;
  diagnostics: Diagnostic[];
}

async function prepare(template: string | undefined, opts: EngineOptions): Promise<Prepared | number> {
  // write-back (issue 11): the values recorded as written back are replayed over the template file.
  return prepareCompiled(await compileFromOptions(template, opts, recordedEdits(storeFor(opts))), opts);
}

/** Graph and diagnostics of a compiled template; prints diagnostics and returns 1 on errors. */
export function prepareCompiled(compiled: CompileResult, opts: EngineOptions): Prepared | number {
  const diagnostics = [...compiled.diagnostics];
  if (!compiled.ok) {
    printDiagnostics(diagnostics, compiled, opts.color);
    return 1;
  }
  const { graph, diagnostics: gd } = buildGraph(compiled.evaluated);
  for (const d of gd) diagnostics.push(d);
  if (hasErrors(gd)) {
    printDiagnostics(diagnostics, compiled, opts.color);
    return 1;
  }
  return { compiled, graph, view: dependencyView(graph), diagnostics };
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

export async function computePlan(p: Prepared, opts: EngineOptions & { mode?: PlanMode; force?: boolean }, store: StateStore, destroy = false): Promise<Plan> {
  const object = formatObjectPath(p.compiled.evaluated.path);
  const state = await store.readState(object, (w) => process.stderr.write(`warning: ${w}\n`));
  const interrupted = await reportInterrupted(store, object);
  const dataDiagnostics = destroy || opts.mode === "stop" ? [] : await checkDataRefs(p.compiled.evaluated, store);
  const plan = await makePlan({
    interrupted,
    evaluated: p.compiled.evaluated,
    graph: p.view,
    state,
    registry: registry(),
    probe: probeContext(store, object, p.compiled.evaluated.nodename),
    options: { ...planOptions(opts, destroy), mode: opts.mode ?? (destroy ? "destroy" : "converge"), force: opts.force },
    templateHash: templateHash(p.compiled, parseEnvOverrides(opts.env)),
    osvcVersion: osvcVersion(),
  });
  const checked = opts.mode === "start" || opts.mode === "stop" ? plan : await checkClaims(plan, store, object, destroy);
  const extra = [...dataDiagnostics, ...(destroy ? [] : foreignNode(p.compiled.evaluated, opts))];
  return extra.length ? { ...checked, diagnostics: [...checked.diagnostics, ...extra] } : checked;
}

/**
 * This node is not one of the object's `nodes`/`drpnodes`: planning here is an error (E3008) unless
 * the node is named on purpose (--node) or --force says so; tearing down (destroy) is always allowed.
 */
function foreignNode(ev: EvaluatedTemplate, opts: EngineOptions): Diagnostic[] {
  if (opts.node !== undefined || opts.force) return [];
  const listed = (k: string): string[] => {
    const v = ev.defaults.get(k)?.value;
    return Array.isArray(v) ? v.map(String) : typeof v === "string" && v.trim() ? v.trim().split(/\s+/) : [];
  };
  const nodes = listed("nodes");
  const drp = listed("drpnodes");
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

/** Other objects' recorded states on this node; one that cannot be read is skipped (its own commands report it). */
async function otherStates(store: StateStore, object: string): Promise<{ object: string; state: StateFile }[]> {
  const out: { object: string; state: StateFile }[] = [];
  for (const o of await store.listObjects().catch(() => [])) {
    if (o === object) continue;
    const state = await store.readState(o).catch(() => null);
    if (state) out.push({ object: o, state });
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
  const conflicts = crossClaims(mine, await otherStates(store, object));
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
async function reportInterrupted(store: StateStore, object: string): Promise<Set<string>> {
  const pending = await store.pendingIntents(object).catch(() => []);
  const provisioning = new Set(pending.flatMap((r) => r.intents.filter((i) => i.action === "provision" || i.action === "replace").map((i) => i.rid)));
  if (!pending.length) return provisioning;
  const steps = pending.flatMap((r) => r.intents.map((i) => `${i.rid} ${i.action}`));
  const live = await liveHolder(store, object);
  if (live) {
    process.stderr.write(
      `note: ${live.command} (pid ${live.pid}) is running on ${object} now: ${steps.join(", ")} in progress.\n  The plan comes from probing the host at this moment; plan again when that run ends.\n`,
    );
    return provisioning;
  }
  process.stderr.write(
    `warning: an earlier apply of ${object} stopped during: ${steps.join(", ")}.\n  The plan comes from probing the host, so it accounts for whatever those steps did.\n`,
  );
  return provisioning;
}

/** The holder of the object's lock when it is another process still alive (a run in progress), else undefined. */
async function liveHolder(store: StateStore, object: string): Promise<LockHolder | undefined> {
  const holder = parseHolder(await readFile(join(store.objectDir(object), LOCK_FILE), "utf8").catch(() => ""));
  if (!holder || (holder.pid === process.pid && holder.host === hostname())) return undefined;
  return (await isHolderDead(holder)) ? undefined : holder;
}

/** After a successful apply, earlier interrupted steps are resolved: record it and compact the journal. */
async function resolveInterrupted(store: StateStore, object: string): Promise<void> {
  const pending = await store.pendingIntents(object).catch(() => []);
  for (const r of pending) {
    for (const i of r.intents) {
      await store.appendJournal(object, { run: r.run, op: "outcome", rid: i.rid, action: i.action, ok: false, error: "interrupted; resolved by probing on a later apply" });
    }
  }
  await store.compactJournal(object).catch(() => 0);
}

export function showPlan(plan: Plan, opts: EngineOptions): void {
  const c = colorsFor(opts.color, process.stdout);
  process.stdout.write(renderPlanText(plan, { color: c }));
}

// ---------------------------------------------------------------- plan

export async function planCommand(template: string | undefined, opts: EngineOptions): Promise<number> {
  if (planOptions(opts).refresh) requireRoot("osvc plan", " Or plan from the recorded state alone: --refresh false.");
  const p = await prepare(template, opts);
  if (typeof p === "number") return p;
  const store = storeFor(opts);
  const plan = await computePlan(p, opts, store);
  const all = [...p.diagnostics, ...plan.diagnostics];
  printDiagnostics(all, p.compiled, opts.color);
  if (opts.json) process.stdout.write(JSON.stringify(planJson(plan), null, 2) + "\n");
  else showPlan(plan, opts);
  if (hasErrors(plan.diagnostics)) return 1;
  if (opts.out) {
    await savePlan(opts.out, { plan, sources: p.compiled.sources.map((s) => ({ name: s.name, text: s.text })), path: plan.object, root: opts.root ?? defaultRoot() });
    if (!opts.json) process.stdout.write(`\nSaved the plan to ${opts.out}. Apply exactly this plan with: osvc apply ${opts.out}\n`);
  }
  return opts.detailedExitcode && hasChanges(plan) ? 2 : 0;
}

// ---------------------------------------------------------------- apply / destroy

async function confirm(question: string, opts: EngineOptions): Promise<boolean> {
  if (opts.autoApprove) return true;
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    // As Terraform: without a terminal, the answer is the first line of stdin (`echo yes | osvc apply t.conf`).
    process.stdout.write(`\n${question}\n  Only 'yes' will be accepted: `);
    const answer = await firstLine(process.stdin);
    process.stdout.write("\n");
    if (answer === undefined) throw new UsageError("no terminal to confirm on, and no answer on stdin", "Review the plan, then pass --auto-approve (or pipe 'yes', or apply a saved plan file).");
    return answer.trim() === "yes";
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const a = await rl.question(`\n${question}\n  Only 'yes' will be accepted: `);
    return a.trim() === "yes";
  } catch (e) {
    // Ctrl-C (or the end of the input) at the prompt is a "no".
    if ((e as Error).name === "AbortError") {
      process.stdout.write("\n");
      return false;
    }
    throw e;
  } finally {
    rl.close();
  }
}

/** The first line of a stream, or undefined when it ends without one. */
async function firstLine(input: NodeJS.ReadableStream): Promise<string | undefined> {
  const rl = createInterface({ input, terminal: false });
  try {
    for await (const line of rl) return line;
    return undefined;
  } finally {
    rl.close();
  }
}

function parallelismOf(opts: EngineOptions): number {
  if (opts.parallelism === undefined) return 10;
  const n = Number(opts.parallelism);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--parallelism ${opts.parallelism}: expected a positive integer`);
  return n;
}

/** After an "abort now", the steps get this long to record their failure before osvc exits. */
const ABORT_EXIT_MS = 10_000;

export async function runApply(plan: Plan, opts: EngineOptions, store: StateStore, configText: string | undefined): Promise<number> {
  const name = plan.object;
  const c = colorsFor(opts.color, process.stdout);
  const total = plan.changes.filter((x) => x.action !== "noop").length;
  // log-update (and its string-width) costs ~10 ms to load: only for a live progress line on a terminal.
  const progress = !opts.json && process.stdout.isTTY ? (await import("log-update")).createLogUpdate : undefined;
  const verb = opts.verb ?? (plan.options.destroy ? "Destroy" : plan.options.mode === "stop" ? "Stop" : plan.options.mode === "start" ? "Start" : "Apply");
  const view: ApplyView = opts.json ? jsonView(process.stdout, name) : textView({ name, out: process.stdout, c, progress, total, verb });
  const ac = new AbortController();
  const abortNow = new AbortController();
  let interrupts = 0;
  // Host commands run in their own process groups: a terminal's Ctrl-C reaches osvc only. The
  // first one starts nothing new and lets the running steps finish; the second one ends the
  // running commands (their steps fail and are recorded as such) and records the abort; a third
  // one, or commands that do not end, exit at once: the journal holds the steps in flight.
  const onSigint = (sig: NodeJS.Signals) => {
    noteInterrupt();
    interrupts++;
    if (interrupts === 1) return ac.abort();
    if (interrupts === 2) {
      const commands = runningCommands();
      process.stderr.write(`\n${sig === "SIGINT" ? "second interrupt" : `second ${sig}`}: aborting now${commands.length ? `, ending ${commands.join("; ")}` : ""}\n`);
      abortNow.abort();
      void store
        .appendJournal(name, { run: `abort-${process.pid}`, op: "outcome", rid: "*", action: "abort", ok: false, error: `aborted by a second ${sig}${commands.length ? `; ended: ${commands.join("; ")}` : ""}` })
        .catch(() => undefined);
      void endRunning();
      setTimeout(() => process.exit(130), ABORT_EXIT_MS).unref();
      return;
    }
    view.close();
    process.exit(130);
  };
  // A hangup (a dropped ssh session) ends the output, not the work: the apply runs to its end.
  const onSighup = () => noteInterrupt(); // a command caught between its fork and setsid is run again
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  process.on("SIGHUP", onSighup);
  let r: ApplyResult;
  try {
    r = await applyPlan({
      plan,
      registry: registry(),
      store,
      node: plan.node,
      parallelism: parallelismOf(opts),
      disableRollback: opts.disableRollback ?? false,
      signal: ac.signal,
      abort: abortNow.signal,
      emit: (e) => view.event(e),
      configText,
      osvcVersion: osvcVersion(),
      writeBack: configWriter(store, plan.object, plan.node, opts), // write-back (issue 11)
    });
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
    process.off("SIGHUP", onSighup);
    view.close();
  }
  view.done(r);
  if (r.interrupted) return 130;
  if (r.ok) await resolveInterrupted(store, plan.object);
  return r.ok ? 0 : 1;
}

export async function withLock<T>(store: StateStore, object: string, opts: EngineOptions, command: string, fn: () => Promise<T>): Promise<T> {
  let lock;
  try {
    lock = await store.lock(object, {
      timeoutMs: lockTimeoutMs(opts),
      command,
      onWait: (h) => process.stderr.write(`waiting for the lock of ${object}: held by pid ${h.pid} (${h.command}) since ${h.startedAt}\n`),
    });
  } catch (e) {
    if (e instanceof LockTimeoutError) throw new UsageError(e.message);
    throw e;
  }
  try {
    await confirmBackupState(store, object, opts);
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * A command that acts on an object whose state.json is missing or corrupt would work from
 * state.json.backup: say so (both files named) and go on only when confirmed or --force.
 */
async function confirmBackupState(store: StateStore, object: string, opts: EngineOptions): Promise<void> {
  const load = await store.loadState(object);
  if (load.source !== "backup") return;
  for (const w of load.warnings) process.stderr.write(`warning: ${w}
`);
  const backup = join(store.objectDir(object), OBJECT_FILES.backup);
  if (opts.force) {
    process.stderr.write(`warning: acting on ${backup} (--force)\n`);
    return;
  }
  if (process.stdin.isTTY && process.stdout.isTTY) {
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    try {
      const a = await rl.question(`\nAct on ${object} from its backup state ${backup}?\n  Only 'yes' will be accepted: `);
      if (a.trim() === "yes") return;
    } finally {
      rl.close();
    }
    throw new UsageError("cancelled: the backup state was not confirmed");
  }
  throw new UsageError(
    `the state of ${object} would come from its backup, ${backup}`,
    `Check it (osvc ${object} print status), then re-run with --force to act on it; or move it aside, and the next plan probes the host.`,
  );
}

export async function applyCommand(target: string | undefined, opts: EngineOptions): Promise<number> {
  requireRoot("osvc apply");
  const store = storeFor(opts);
  const cmdline = `osvc apply ${target ?? ""}`.trim();
  if (target && (await isPlanFile(target))) {
    const saved = await loadPlan(target);
    const plan = saved.plan;
    const planStore = opts.root ? store : new StateStore(saved.root);
    return withLock(planStore, plan.object, opts, cmdline, async () => {
      const state = await planStore.readState(plan.object);
      checkStale(saved, { lineage: state?.lineage ?? null, serial: state?.serial ?? 0, osvcVersion: osvcVersion() });
      if (hasErrors(plan.diagnostics)) throw new UsageError("the saved plan has errors: it cannot be applied");
      if (opts.json) versionLine(process.stdout, osvcVersion());
      else showPlan(plan, opts);
      if (!hasChanges(plan)) return 0;
      return runApply(plan, opts, planStore, saved.sources.map((s) => s.text).join("\n"));
    });
  }
  const p = await prepare(target, opts);
  if (typeof p === "number") return p;
  const object = formatObjectPath(p.compiled.evaluated.path);
  return withLock(store, object, opts, cmdline, async () => {
    const plan = await computePlan(p, opts, store);
    printDiagnostics([...p.diagnostics, ...plan.diagnostics], p.compiled, opts.color);
    if (opts.json) {
      versionLine(process.stdout, osvcVersion());
      jsonView(process.stdout, object).plan(plan);
    } else showPlan(plan, opts);
    if (hasErrors(plan.diagnostics)) return 1;
    if (!hasChanges(plan)) {
      // Record the config even when nothing changes on the host.
      await store.installConfig(object, p.compiled.sources.map((s) => s.text).join("\n"));
      return 0;
    }
    if (!(await confirm("Do you want to perform these actions?", opts))) {
      process.stdout.write("Apply cancelled.\n");
      return 1;
    }
    return runApply(plan, opts, store, p.compiled.sources.map((s) => s.text).join("\n"));
  });
}

/** The object path of a destroy/status argument: a path, or a template file whose name gives it. */
function objectPathOf(arg: string, opts: EngineOptions): ObjectPath {
  const text = opts.path ?? (existsSync(arg) ? pathFromFileName(arg) : arg);
  const p = parseObjectPath(text);
  if (!p.ok) throw new UsageError(p.error);
  return p.path;
}

function emptyEvaluated(path: ObjectPath, node: string): EvaluatedTemplate {
  return { path, nodename: node, defaults: new Map(), env: new Map(), resources: [], others: new Map(), diagnostics: [] };
}

export async function destroyCommand(arg: string, opts: EngineOptions): Promise<number> {
  requireRoot("osvc destroy");
  const store = storeFor(opts);
  const path = objectPathOf(arg, opts);
  const object = formatObjectPath(path);
  return withLock(store, object, opts, `osvc destroy ${arg}`, async () => {
    const state = await store.readState(object);
    if (!state || Object.keys(state.resources).length === 0) return reportUnrecorded(store, path, opts, "destroy");
    const order = Object.keys(state.resources);
    const plan = await makePlan({
      interrupted: await reportInterrupted(store, object),
      evaluated: emptyEvaluated(path, opts.node ?? state.node ?? hostname()),
      graph: { order, deps: () => [], slot: () => 0, closure: (r) => r },
      state,
      registry: registry(),
      probe: probeContext(store, object, state.node),
      options: planOptions(opts, true),
      templateHash: state.templateHash ?? "",
      osvcVersion: osvcVersion(),
    }).then((pl) => checkClaims(pl, store, object, true));
    printDiagnostics(plan.diagnostics, undefined, opts.color);
    if (opts.json) {
      versionLine(process.stdout, osvcVersion());
      jsonView(process.stdout, object).plan(plan);
    } else showPlan(plan, opts);
    if (hasErrors(plan.diagnostics)) return 1;
    if (!(await confirm(`Destroy ${object}? This deletes what osvc created for it, data included. There is no undo.`, opts))) {
      process.stdout.write("Destroy cancelled.\n");
      return 1;
    }
    return runApply(plan, opts, store, undefined);
  });
}

/**
 * destroy (unprovision) with nothing recorded: what the journal names (an interrupted or failed run) is probed
 * with the installed config, and reported when the host holds it, never "nothing recorded" then.
 */
export async function reportUnrecorded(store: StateStore, path: ObjectPath, opts: EngineOptions, verb: "destroy" | "unprovision"): Promise<number> {
  const object = formatObjectPath(path);
  const stateFile = join(store.objectDir(object), OBJECT_FILES.state);
  const journalFile = join(store.objectDir(object), OBJECT_FILES.journal);
  const named = [...new Set((await store.readJournal(object)).map((e) => e.rid))].sort();
  if (!named.length) {
    process.stdout.write(`${object}: nothing recorded, nothing to ${verb}.\n`);
    return 0;
  }
  const text = await store.readConfig(object);
  if (text === null) {
    process.stderr.write(
      `error: ${object}: nothing is recorded in ${stateFile}, but ${journalFile} names ${named.join(", ")}, and there is no installed config to probe them with.\n` +
        `  hint: check the host for them by hand; osvc ${verb === "destroy" ? "destroys" : "unprovisions"} only what it recorded.\n`,
    );
    return 1;
  }
  const p = prepareCompiled(compileTexts([{ name: `${object}.conf`, text }], { path, ...nodeEval(opts), catalog: builtinCatalog() }), opts);
  if (typeof p === "number") return p;
  const known = named.filter((rid) => p.compiled.evaluated.resources.some((r) => r.rid.toString() === rid));
  const plan = known.length ? await computePlan(p, { ...opts, target: known, mode: "converge" }, store) : undefined;
  const held = (plan?.changes ?? []).filter((ch) => known.includes(ch.rid) && (ch.observed?.provisioned === true || ch.observed?.up === true)).map((ch) => ch.rid);
  if (!held.length) {
    process.stdout.write(`${object}: nothing recorded; ${journalFile} names ${named.join(", ")}, none of which is on the host: nothing to ${verb}.\n`);
    return 0;
  }
  process.stderr.write(
    `error: ${object}: nothing is recorded in ${stateFile}, but ${journalFile} names ${named.join(", ")}, and the host holds ${held.join(", ")}.\n` +
      `  hint: osvc ${verb === "destroy" ? "destroys" : "unprovisions"} only what it recorded: adopt them first (osvc ${object} provision), then ${verb}; or remove them by hand.\n`,
  );
  return 1;
}

// ---------------------------------------------------------------- force-unlock

/** Shows who holds an object's lock and removes it: for a holder on another host, or a stuck one. */
export async function forceUnlockCommand(arg: string, opts: EngineOptions & { force?: boolean }): Promise<number> {
  const store = storeFor(opts);
  const object = formatObjectPath(objectPathOf(arg, opts));
  const file = join(store.objectDir(object), LOCK_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    process.stdout.write(`${object} is not locked.\n`);
    return 0;
  }
  let holder: LockHolder | undefined;
  try {
    holder = JSON.parse(text) as LockHolder;
  } catch {
    holder = undefined;
  }
  if (holder) {
    process.stdout.write(`${object} is locked by pid ${holder.pid} on host ${holder.host} (${holder.command}) since ${holder.startedAt}.\n`);
    const dead = await isHolderDead(holder);
    if (!dead && holder.host === hostname() && !opts.force) {
      throw new UsageError(`pid ${holder.pid} is alive on this host: it holds the lock for a reason`, `Let it finish, or stop it (kill ${holder.pid}); --force removes the lock anyway.`);
    }
  } else process.stdout.write(`${object}: the lock file is unreadable.\n`);
  if (!(await confirm(`Remove the lock of ${object}?`, opts))) {
    process.stdout.write("Cancelled.\n");
    return 1;
  }
  await rm(file, { force: true });
  process.stdout.write(`${object}: lock removed.\n`);
  return 0;
}

// ---------------------------------------------------------------- status

function statusText(s: ObjectStatus, c: ReturnType<typeof colorsFor>): string {
  const col = (st: string) => (st === "up" ? c.green(st) : st === "down" ? c.red(st) : st === "warn" ? c.yellow(st) : st.startsWith("stdby") ? c.cyan(st) : c.dim(st));
  const out = [`${c.bold(s.object)}${" ".repeat(Math.max(1, 40 - s.object.length))}${col(s.avail)}`];
  out.push(`\`- instances`);
  out.push(`   \`- ${s.node}${" ".repeat(Math.max(1, 34 - s.node.length))}${col(s.avail).padEnd(8)}  avail ${col(s.avail)}, overall ${col(s.overall)}, provisioned ${s.provisioned}`);
  s.resources.forEach((r, i) => {
    const last = i === s.resources.length - 1;
    const branch = last ? "`-" : "|-";
    out.push(`      ${branch} ${r.rid.padEnd(14)} ${r.flags}  ${col(r.status).padEnd(10 + (col(r.status).length - r.status.length))} ${r.label}${r.note ? c.yellow(` (${r.note})`) : ""}`);
    for (const l of r.log ?? []) out.push(`      ${last ? " " : "|"}  ${" ".repeat(14)} ${l.level === "error" ? c.red("error:") : l.level === "warning" ? c.yellow("warn:") : c.dim("info:")} ${l.message}`);
  });
  return out.join("\n") + "\n";
}

/** An installed object: its config compiled for this node (and the node config), and its recorded state. */
async function loadInstalled(store: StateStore, object: string, opts: EngineOptions) {
  const config = await store.readConfig(object);
  if (config === null) throw new UsageError(`object ${object} does not exist on this node`, `Create it: osvc ${object} create --config <file>, or apply a template`);
  const parsed = parseObjectPath(object);
  if (!parsed.ok) throw new UsageError(parsed.error);
  const state = await store.readState(object, (w) => process.stderr.write(`warning: ${w}\n`));
  const node = nodeEval(opts, state?.node);
  const compiled = compileTexts([{ name: `${object} (installed config)`, text: config }], { path: parsed.path, ...node, catalog: builtinCatalog() });
  return { state, node, compiled };
}

export async function statusCommand(arg: string | undefined, opts: EngineOptions): Promise<number> {
  const store = storeFor(opts);
  // Every object: the services and volumes (cfg/sec objects hold keys, not resources).
  const objects = arg ? [formatObjectPath(objectPathOf(arg, opts))] : (await store.listObjects()).filter((o) => !DATA_KINDS.includes(o.split("/").length === 3 ? o.split("/")[1] : "svc"));
  if (objects.length === 0) {
    process.stdout.write("No objects recorded on this node.\n");
    return 0;
  }
  const c = colorsFor(opts.color, process.stdout);
  const results: ObjectStatus[] = [];
  for (const object of objects) {
    const { state, compiled } = await loadInstalled(store, object, opts);
    const { graph } = buildGraph(compiled.evaluated);
    const plan = await makePlan({
      evaluated: compiled.evaluated,
      graph: dependencyView(graph),
      state,
      registry: registry(),
      probe: probeContext(store, object, compiled.evaluated.nodename),
      options: planOptions({ ...opts, leader: true }),
      templateHash: state?.templateHash ?? "",
      osvcVersion: osvcVersion(),
    });
    const byRid = new Map(compiled.evaluated.resources.map((r) => [r.rid.toString(), r]));
    const st = planStatus(plan, (rid) => {
      const r = byRid.get(rid);
      const kw = (k: string) => r?.keywords.get(k)?.value;
      const rec = state?.resources[rid];
      const label = describe(rid, (k) => kw(k) ?? rec?.inputs[k], rec?.outputs);
      return { disabled: kw("disable") === true, monitor: kw("monitor") === true, encap: kw("encap") === true, restart: Number(kw("restart") ?? 0), label, recorded: rec ? rec.provisioned : undefined };
    });
    results.push(st);
  }
  if (opts.format === "json") process.stdout.write(JSON.stringify(arg ? results[0] : results, null, 2) + "\n");
  else for (const s of results) process.stdout.write(statusText(s, c));
  if (opts.verbose && opts.format !== "json") process.stdout.write(`\n${STATUS_LEGEND}`);
  return 0;
}

/**
 * `print resinfo`: the key/value facts resources report (an app's info command), read-only.
 * Disabled resources and drivers without an info hook are skipped; a failing info command is
 * reported on its row and makes the exit code 1.
 */
export async function resinfoCommand(object: string, opts: EngineOptions): Promise<number> {
  const store = storeFor(opts);
  const { state, compiled } = await loadInstalled(store, object, opts);
  if (!compiled.ok) {
    printDiagnostics(compiled.diagnostics, compiled, opts.color);
    return 1;
  }
  const { graph } = buildGraph(compiled.evaluated);
  const reg = registry();
  const plan = await makePlan({
    evaluated: compiled.evaluated,
    graph: dependencyView(graph),
    state,
    registry: reg,
    probe: probeContext(store, object, compiled.evaluated.nodename),
    options: planOptions({ ...opts, leader: true, refresh: "false" }),
    templateHash: state?.templateHash ?? "",
    osvcVersion: osvcVersion(),
  });
  const ctx = probeContext(store, object, compiled.evaluated.nodename);
  const rows: { rid: string; key: string; value: string }[] = [];
  const errors: { rid: string; error: string }[] = [];
  for (const ch of plan.changes) {
    const provider = reg.get(ch.driver);
    if (!provider?.info || ch.reason === "disabled") continue;
    try {
      for (const i of await provider.info(ctx, { rid: ch.rid, driver: ch.driver, kw: ch.inputs, ...(ch.priorOutputs ? { recorded: ch.priorOutputs } : {}) })) rows.push({ rid: ch.rid, ...i });
    } catch (e) {
      errors.push({ rid: ch.rid, error: e instanceof Error ? e.message : String(e) });
    }
  }
  if (opts.format === "json") {
    process.stdout.write(JSON.stringify({ object, node: plan.node, info: rows, errors }, null, 2) + "\n");
  } else {
    const c = colorsFor(opts.color, process.stdout);
    const w = Math.max(3, ...rows.map((r) => r.rid.length));
    const k = Math.max(3, ...rows.map((r) => r.key.length));
    if (rows.length) process.stdout.write(`${c.bold("rid".padEnd(w))}  ${c.bold("key".padEnd(k))}  ${c.bold("value")}\n`);
    for (const r of rows) process.stdout.write(`${r.rid.padEnd(w)}  ${r.key.padEnd(k)}  ${r.value}\n`);
    if (!rows.length && !errors.length) process.stdout.write("No resource info (no resource of this object has an info command).\n");
    for (const e of errors) process.stderr.write(`${c.red("error")}: ${e.rid}: ${e.error}\n`);
  }
  return errors.length ? 1 : 0;
}

/**
 * `osvc <path> sync update`: run the sync resources (status-only providers with syncUpdate) to
 * their peers: "local", and the nodes/drpnodes of the object other than this one, over ssh.
 */
export async function syncUpdateCommand(object: string, opts: EngineOptions & { rid?: string; syncTarget?: string }): Promise<number> {
  const store = storeFor(opts);
  const { node, compiled } = await loadInstalled(store, object, opts);
  if (!compiled.ok) {
    printDiagnostics(compiled.diagnostics, compiled, opts.color);
    return 1;
  }
  const reg = registry();
  const wanted = opts.rid ? opts.rid.split(",").map((x) => x.trim()).filter(Boolean) : [];
  const ev = compiled.evaluated;
  const known = ev.resources.map((r) => r.rid.toString());
  for (const w of wanted) if (!known.includes(w)) throw new UsageError(`${w}: no such resource in ${object}`, `Resources: ${known.join(", ")}`);
  const syncs = ev.resources.filter((r) => {
    const p = r.driver ? reg.get(r.driver.id) : undefined;
    return p?.syncUpdate && r.keywords.get("disable")?.value !== true && (wanted.length === 0 || wanted.includes(r.rid.toString()));
  });
  if (syncs.length === 0) {
    process.stdout.write(`No sync resource to run in ${object}.\n`);
    return 0;
  }
  const listKw = (k: string): string[] => {
    const v = ev.defaults.get(k)?.value;
    return Array.isArray(v) ? v.map(String) : typeof v === "string" && v ? v.split(/\s+/) : [];
  };
  const me = ev.nodename.toLowerCase();
  const sshConfig = node.nodeConfig.node.ssh_config;
  const c = colorsFor(opts.color, process.stdout);
  const view = textView({ name: object, out: process.stdout, c, total: syncs.length });
  const emit = (e: ApplyEvent) => view.event(e);
  let failed = 0;
  await withLock(store, object, opts, "sync update", async () => {
    for (const r of syncs) {
      const rid = r.rid.toString();
      const provider = reg.get(r.driver!.id)!;
      const targets = opts.syncTarget ? [opts.syncTarget] : (() => {
        const v = r.keywords.get("target")?.value;
        return Array.isArray(v) ? v.map(String) : [];
      })();
      const peers: SyncPeer[] = [];
      for (const t of targets) {
        if (t === "local") peers.push({ node: ev.nodename, local: true });
        else if (t === "nodes" || t === "drpnodes") {
          for (const n of listKw(t)) if (n.toLowerCase() !== me && !peers.some((p) => p.node === n)) peers.push({ node: n, local: false, ...(sshConfig ? { sshConfig } : {}) });
        } else throw new UsageError(`${rid}: unknown target ${t}`, "Targets are nodes, drpnodes and local.");
      }
      const inputs = Object.fromEntries([...r.keywords].filter(([, k]) => k.value !== undefined).map(([name, k]) => [name, k.value!]));
      const ctx: ProviderContext = {
        exec: createExec(({ command, result }) => {
          if (!result) emit({ type: "log", rid, level: "info", message: command });
        }),
        log: (level, message) => emit({ type: "log", rid, level, message }),
        signal: new AbortController().signal,
        role: "solo",
        objectName: object,
        nodename: ev.nodename,
        varDir: store.varDir(object),
      };
      try {
        await provider.syncUpdate!(ctx, { rid, driver: r.driver!.id, kw: inputs }, peers);
      } catch (e) {
        failed++;
        emit({ type: "log", rid, level: "error", message: e instanceof Error ? e.message : String(e) });
      }
    }
  });
  view.close();
  return failed ? 1 : 0;
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
  if (group === "sync") {
    const src = [kw("src") ?? []].flat().join(" ");
    const dst = String(kw("dst") ?? "");
    const to = [kw("target") ?? []].flat().join(" ");
    return [src || dst ? `${src} -> ${dst}` : "", to ? `to ${to}` : ""].filter(Boolean).join(" ");
  }
  return "";
}

// ---------------------------------------------------------------- graph

export async function graphCommand(template: string | undefined, opts: EngineOptions): Promise<number> {
  const format = opts.format ?? "dot";
  if (format !== "dot" && format !== "svg") throw new UsageError(`unknown format "${format}"`, "Use --format dot or svg.");
  const p = await prepare(template, opts);
  if (typeof p === "number") return p;
  printDiagnostics(p.diagnostics, p.compiled, opts.color);
  const dot = toDot(p.graph, { name: p.compiled.evaluated.path.name });
  if (format === "dot") {
    process.stdout.write(dot);
    return 0;
  }
  const r = await createExec()("dot", ["-Tsvg"], { input: dot, timeoutMs: 30_000 });
  if (r.exitCode === 127) throw new UsageError("graphviz is not installed: svg output needs its `dot` command", "Install it (apt-get install graphviz), or use --format dot.");
  if (r.exitCode !== 0) throw new UsageError(`dot -Tsvg failed: ${r.stderr.trim()}`);
  if (opts.out) await writeFile(opts.out, r.stdout);
  else process.stdout.write(r.stdout);
  return 0;
}
