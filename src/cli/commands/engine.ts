// osvc plan | apply | destroy | status | graph: argv options -> engine requests (src/engine/) -> views.
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { createInterface } from "node:readline/promises";
import { BUILTIN_PROVIDERS } from "../../../providers/index.js";
import type { CompileResult } from "../../config/index.js";
import { parseReserved } from "../../core/alloc.js";
import { parseDuration } from "../../core/convert.js";
import { hasErrors, type Diagnostic } from "../../core/diagnostics.js";
import { formatObjectPath, parseObjectPath, pathFromFileName, type ObjectPath } from "../../core/path.js";
import { toDot } from "../../graph/index.js";
import { hasChanges, type Plan } from "../../plan/model.js";
import { checkStale, isPlanFile, loadPlan, savePlan } from "../../plan/planfile.js";
import { planJson, renderPlanText } from "../../plan/render.js";
import type { ObjectStatus } from "../../plan/status.js";
import { createExec, prestartHelper } from "../../provider/exec.js";
import { ProviderRegistry } from "../../provider/registry.js";
import { defaultRoot, StateStore } from "../../state/store.js";
import {
  apply,
  applyExitCode,
  computePlan,
  destroyPlan,
  lockInfo,
  objectStatus,
  prefetchProbes,
  prepare,
  probeUnrecorded,
  removeLock,
  resourceInfo,
  selectSyncs,
  statusObjects,
  syncUpdate,
  withLock as engineWithLock,
  type ApplyEvent,
  type EngineContext,
  type LockRequest,
  type PlanRequest,
  type Prepared,
  type RecordedRead,
} from "../../engine/index.js";
import { configWriter, recordedEdits } from "../writeback.js";
import { builtinCatalog, compileFromOptions, parseEnvOverrides, requireRoot, sourcesOf, UsageError, type TemplateOptions } from "../common.js";
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
  /** The orchestrator's reservations in the cluster store for <allocate> resources: rid=a,b (provision --local). */
  allocated?: string[];
}

export function storeFor(opts: EngineOptions): StateStore {
  return new StateStore(opts.root ?? defaultRoot());
}

/** The engine's context for a command: the built-in providers and catalog, the store of --root, notes on stderr. */
export function engineContext(opts: EngineOptions, store: StateStore = storeFor(opts)): EngineContext {
  return { store, registry: new ProviderRegistry(BUILTIN_PROVIDERS), catalog: builtinCatalog(), osvcVersion: osvcVersion(), notify: (text) => process.stderr.write(text) };
}

export function lockTimeoutMs(opts: EngineOptions): number {
  if (opts.lockTimeout === undefined) return 0;
  const r = parseDuration(opts.lockTimeout);
  if (!r.ok) throw new UsageError(`--lock-timeout ${opts.lockTimeout}: ${r.error}`, "Example: --lock-timeout 30s");
  if (r.value < 0) throw new UsageError(`--lock-timeout ${opts.lockTimeout}: a wait cannot be negative`, "Example: --lock-timeout 30s");
  return Math.round(r.value * 1000);
}

/** The plan request of the options (--refresh, --target, --allow-*, --leader, --force, --node, --env). */
export function planRequest(opts: EngineOptions): PlanRequest {
  return {
    refresh: opts.refresh === undefined ? true : !/^(false|no|0|off)$/i.test(opts.refresh),
    targets: opts.target ?? [],
    excludes: opts.exclude ?? [],
    allowReplace: opts.allowReplace ?? [],
    allowFormat: opts.allowFormat ?? [],
    allowDestroy: opts.allowDestroy ?? [],
    leader: opts.leader ?? false,
    ...(opts.force !== undefined ? { force: opts.force } : {}),
    nodeNamed: opts.node !== undefined,
    env: parseEnvOverrides(opts.env),
  };
}

/** The lock request of a command: --lock-timeout, --force (backup state), a prompt on a terminal. */
export function lockRequest(object: string, command: string, opts: EngineOptions): LockRequest {
  return { object, command, timeoutMs: lockTimeoutMs(opts), force: opts.force ?? false, ...(process.stdin.isTTY && process.stdout.isTTY ? { confirmBackup: askOnTerminal } : {}) };
}

export function printDiagnostics(ds: readonly Diagnostic[], c: CompileResult | undefined, color: ColorMode | undefined): void {
  const text = renderDiagnostics(ds, c ? sourcesOf(c.sources) : new Map(), colorsFor(color, process.stderr));
  if (text) process.stderr.write(text);
}

/** Graph and diagnostics of a compiled template; prints diagnostics and returns 1 on errors. */
export function prepareCompiled(compiled: CompileResult, opts: EngineOptions): Prepared | number {
  const p = prepare(compiled);
  if (p.ok) return p.prepared;
  printDiagnostics(p.diagnostics, compiled, opts.color);
  return 1;
}

/** `seen`: the recorded state, read before the template compiles. */
async function prepareTemplate(template: string | undefined, opts: EngineOptions, seen?: (read: RecordedRead) => void | Promise<void>): Promise<Prepared | number> {
  // write-back: the values recorded as written back are replayed over the template file.
  return prepareCompiled(await compileFromOptions(template, opts, recordedEdits(storeFor(opts), seen)), opts);
}

export function showPlan(plan: Plan, opts: EngineOptions): void {
  const c = colorsFor(opts.color, process.stdout);
  process.stdout.write(renderPlanText(plan, { color: c }));
}

// ---------------------------------------------------------------- plan

export async function planCommand(template: string | undefined, opts: EngineOptions): Promise<number> {
  const req = planRequest(opts);
  if (req.refresh) requireRoot("osvc plan", " Or plan from the recorded state alone: --refresh false.");
  const ctx = engineContext(opts);
  // A plan takes no lock: the state it compiled the template with (recorded write-backs) is the
  // state it plans from, read once (a 500-stack state: ~15 ms to parse).
  let recorded: RecordedRead | undefined;
  const p = await prepareTemplate(template, opts, async (read) => {
    recorded = read;
    if (req.refresh) await prefetchProbes(ctx.registry, read.state);
  });
  if (typeof p === "number") return p;
  const plan = await computePlan(ctx, p, req, false, recorded);
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

/** A question on the terminal (no --auto-approve fallback): "yes" or not. */
async function askOnTerminal(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const a = await rl.question(`\n${question}\n  Only 'yes' will be accepted: `);
    return a.trim() === "yes";
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

/** Applies a plan (under the object's lock) with the apply log or NDJSON view; the exit code. */
export async function runApply(plan: Plan, opts: EngineOptions, store: StateStore, configText: string | undefined): Promise<number> {
  const name = plan.object;
  const c = colorsFor(opts.color, process.stdout);
  const total = plan.changes.filter((x) => x.action !== "noop").length;
  // log-update (and its string-width) costs ~10 ms to load: only for a live progress line on a terminal.
  const progress = !opts.json && process.stdout.isTTY ? (await import("log-update")).createLogUpdate : undefined;
  const verb = opts.verb ?? (plan.options.destroy ? "Destroy" : plan.options.mode === "stop" ? "Stop" : plan.options.mode === "start" ? "Start" : "Apply");
  const view: ApplyView = opts.json ? jsonView(process.stdout, name) : textView({ name, out: process.stdout, c, progress, total, verb });
  const parallelism = parallelismOf(opts);
  const reserved = opts.allocated?.length ? parseReserved(opts.allocated) : undefined;
  if (reserved && "error" in reserved) throw new UsageError(String(reserved.error));
  let r;
  try {
    r = await apply(engineContext(opts, store), {
      plan,
      ...(configText !== undefined ? { configText } : {}),
      parallelism,
      disableRollback: opts.disableRollback ?? false,
      emit: (e) => view.event(e),
      onExit: () => view.close(),
      writeBack: configWriter(store, plan.object, plan.node, opts),
      ...(reserved ? { reserved } : {}),
    });
  } finally {
    view.close();
  }
  view.done(r);
  return applyExitCode(r);
}

/** The engine's object lock, with the command's --lock-timeout and --force. */
export async function withLock<T>(store: StateStore, object: string, opts: EngineOptions, command: string, fn: () => Promise<T>): Promise<T> {
  return engineWithLock(engineContext(opts, store), lockRequest(object, command, opts), fn);
}

export async function applyCommand(target: string | undefined, opts: EngineOptions): Promise<number> {
  requireRoot("osvc apply");
  prestartHelper();
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
  const p = await prepareTemplate(target, opts);
  if (typeof p === "number") return p;
  const object = formatObjectPath(p.compiled.evaluated.path);
  const req = planRequest(opts);
  return withLock(store, object, opts, cmdline, async () => {
    const plan = await computePlan(engineContext(opts, store), p, req);
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

export async function destroyCommand(arg: string, opts: EngineOptions): Promise<number> {
  requireRoot("osvc destroy");
  prestartHelper();
  const store = storeFor(opts);
  const path = objectPathOf(arg, opts);
  const object = formatObjectPath(path);
  const ctx = engineContext(opts, store);
  return withLock(store, object, opts, `osvc destroy ${arg}`, async () => {
    const plan = await destroyPlan(ctx, { ...planRequest(opts), path, ...(opts.node !== undefined ? { node: opts.node } : {}) });
    if (!plan) return reportUnrecorded(store, path, opts, "destroy");
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
  const u = await probeUnrecorded(engineContext(opts, store), path, { ...planRequest(opts), ...(opts.node !== undefined ? { node: opts.node } : {}), ...(opts.nodeConfig !== undefined ? { nodeConfig: opts.nodeConfig } : {}) });
  switch (u.kind) {
    case "nothing":
      process.stdout.write(`${object}: nothing recorded, nothing to ${verb}.\n`);
      return 0;
    case "no-config":
      process.stderr.write(
        `error: ${object}: nothing is recorded in ${u.stateFile}, but ${u.journalFile} names ${u.named.join(", ")}, and there is no installed config to probe them with.\n` +
          `  hint: check the host for them by hand; osvc ${verb === "destroy" ? "destroys" : "unprovisions"} only what it recorded.\n`,
      );
      return 1;
    case "invalid":
      printDiagnostics(u.diagnostics, u.compiled, opts.color);
      return 1;
    case "absent":
      process.stdout.write(`${object}: nothing recorded; ${u.journalFile} names ${u.named.join(", ")}, none of which is on the host: nothing to ${verb}.\n`);
      return 0;
    case "held":
      process.stderr.write(
        `error: ${object}: nothing is recorded in ${u.stateFile}, but ${u.journalFile} names ${u.named.join(", ")}, and the host holds ${u.held.join(", ")}.\n` +
          `  hint: osvc ${verb === "destroy" ? "destroys" : "unprovisions"} only what it recorded: adopt them first (osvc ${object} provision), then ${verb}; or remove them by hand.\n`,
      );
      return 1;
  }
}

// ---------------------------------------------------------------- force-unlock

/** Shows who holds an object's lock and removes it: for a holder on another host, or a stuck one. */
export async function forceUnlockCommand(arg: string, opts: EngineOptions & { force?: boolean }): Promise<number> {
  const store = storeFor(opts);
  const object = formatObjectPath(objectPathOf(arg, opts));
  const info = await lockInfo(store, object);
  if (info.kind === "unlocked") {
    process.stdout.write(`${object} is not locked.\n`);
    return 0;
  }
  if (info.kind === "held") {
    const { holder } = info;
    process.stdout.write(`${object} is locked by pid ${holder.pid} on host ${holder.host} (${holder.command}) since ${holder.startedAt}.\n`);
    if (!info.dead && info.local && !opts.force) {
      throw new UsageError(`pid ${holder.pid} is alive on this host: it holds the lock for a reason`, `Let it finish, or stop it (kill ${holder.pid}); --force removes the lock anyway.`);
    }
  } else process.stdout.write(`${object}: the lock file is unreadable.\n`);
  if (!(await confirm(`Remove the lock of ${object}?`, opts))) {
    process.stdout.write("Cancelled.\n");
    return 1;
  }
  await removeLock(store, object);
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

/** --node and --node-config: the node an installed object is read for. */
function nodeTarget(opts: EngineOptions) {
  return { ...(opts.node !== undefined ? { node: opts.node } : {}), ...(opts.nodeConfig !== undefined ? { nodeConfig: opts.nodeConfig } : {}) };
}

export async function statusCommand(arg: string | undefined, opts: EngineOptions): Promise<number> {
  const ctx = engineContext(opts);
  // Every object: the services and volumes (cfg/sec objects hold keys, not resources).
  const objects = arg ? [formatObjectPath(objectPathOf(arg, opts))] : await statusObjects(ctx);
  if (objects.length === 0) {
    process.stdout.write("No objects recorded on this node.\n");
    return 0;
  }
  const c = colorsFor(opts.color, process.stdout);
  const results: ObjectStatus[] = [];
  for (const object of objects) results.push(await objectStatus(ctx, object, nodeTarget(opts)));
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
  const r = await resourceInfo(engineContext(opts), object, nodeTarget(opts));
  if ("invalid" in r) {
    printDiagnostics(r.invalid.diagnostics, r.invalid, opts.color);
    return 1;
  }
  const { info: rows, errors } = r;
  if (opts.format === "json") {
    process.stdout.write(JSON.stringify({ object, node: r.node, info: rows, errors }, null, 2) + "\n");
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
  const ctx = engineContext(opts);
  const req = { object, ...nodeTarget(opts), rids: opts.rid ? opts.rid.split(",").map((x) => x.trim()).filter(Boolean) : [], ...(opts.syncTarget ? { syncTarget: opts.syncTarget } : {}) };
  const sel = await selectSyncs(ctx, req);
  if ("invalid" in sel) {
    printDiagnostics(sel.invalid.diagnostics, sel.invalid, opts.color);
    return 1;
  }
  if (sel.syncs.length === 0) {
    process.stdout.write(`No sync resource to run in ${object}.\n`);
    return 0;
  }
  const c = colorsFor(opts.color, process.stdout);
  const view = textView({ name: object, out: process.stdout, c, total: sel.syncs.length });
  const emit = (e: ApplyEvent) => view.event(e);
  const { object: _, ...lock } = lockRequest(object, "sync update", opts);
  const failed = await syncUpdate(ctx, req, sel, lock, emit);
  view.close();
  return failed ? 1 : 0;
}

// ---------------------------------------------------------------- graph

export async function graphCommand(template: string | undefined, opts: EngineOptions): Promise<number> {
  const format = opts.format ?? "dot";
  if (format !== "dot" && format !== "svg") throw new UsageError(`unknown format "${format}"`, "Use --format dot or svg.");
  const p = await prepareTemplate(template, opts);
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
