// app.forking and app.simple (opensvc-semantics §11.11, host-environment §6).
//
// Commands: see command.ts (no shell, except the user's own command line when it uses |, || , &&
// or a word ending in ";", exactly as upstream). Every command gets `environment` (on top of osvc's
// own environment), `cwd` (default /), `umask`, `user`/`group` (a `setpriv` prefix) and the
// `limit_*` keywords (a `prlimit` prefix) as argument vectors.
//
// app.forking — the start command daemonizes and returns (an init script):
//   start : skipped when check says up; else runs start (start_timeout). Its stdout/stderr go to
//           <varDir>/<rid>.log, so a daemon that keeps them open cannot hold osvc. Exit != 0 → error.
//   stop  : skipped when check says down; else runs stop (stop_timeout).
//   probe : check's exit code through retcodes (default "0:up 1:down"): up → up; warn → up with a
//           warning; down → down; undef or an unmapped code → down with a warning; n/a → as if
//           there were no check. Without a check osvc cannot see the app (upstream reports n/a):
//           up then means "the last start by osvc succeeded, since boot, and no stop followed"
//           (a marker file <varDir>/<rid>.started), so an apply is idempotent.
// app.simple — osvc starts the long-running process itself, detached:
//   start : `start-stop-daemon --start --background --make-pidfile --pidfile <varDir>/<rid>.pid
//           --output <varDir>/<rid>.log --chdir CWD [--umask M] --startas /abs/argv0 -- args...`
//           (no shell; argv0 is looked up in PATH first, since start-stop-daemon does not).
//           Outputs {pid, starttime, pidfile, log}: starttime is /proc/PID/stat field 22.
//   probe : alive = /proc/PID exists, state is not Z/X (zombies are dead: PID 1 reaps lazily here),
//           and its start time matches (pid reuse guard). A check command, when set, decides instead.
//   stop  : the stop command when set; then, if the process still runs (or without a stop command),
//           SIGTERM — to the pid (kill = parent, the default) or to the process, its descendants and
//           its process group (kill = tree) — wait up to stop_timeout, then SIGKILL.
// Both: provisioned is null (apps have no provisioner: provision = start, unprovision = stop and
// delete the pid, marker and log files). Not data-bearing, nothing updatable in place: a changed
// command restarts the app. `info` and `status_log` are accepted but not used (no info hook yet);
// configs_environment and secrets_environment: read from the namespace's cfg/sec objects at each run.
import { readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { Outputs } from "../../src/core/value.js";
import { ProviderError } from "../../src/provider/api.js";
import type { Observed, ProbeContext, Provider, ProviderContext, ResourceInfo, ResourceSpec, StatusLogLine, ProbeProblem } from "../../src/provider/api.js";
import { exitText, type Exec, type ExecResult } from "../../src/provider/exec.js";
import { dataEnvironment } from "../../src/provider/data-env.js";
import { removeFile } from "../../src/provider/files.js";
import {
  commandOf,
  cwdOf,
  environmentOf,
  identityOf,
  identityPrefix,
  limitsPrefix,
  redirectPrefix,
  resolveExecutable,
  retcodesOf,
  ridFileBase,
  timeoutMs,
  umaskOf,
} from "./command.js";
import type { AppAction, AppCommand, AppStatus } from "./command.js";
import { allProcs, bootTime, liveness, processTree, readPidFile, readProcStat } from "./proc.js";
import type { ProcStat } from "./proc.js";
import { appForkingSpec, appSimpleSpec } from "./spec.js";

type Problem = ProbeProblem;
type Kind = "forking" | "simple";

const sleep = (ms: number) => new Promise<void>((res) => setTimeout(res, ms));

// ---------------------------------------------------------------------------------------------
// Files in the object's var dir

export interface AppFiles {
  readonly pidfile: string;
  readonly log: string;
  readonly marker: string;
}

export function appFiles(varDir: string, rid: string): AppFiles {
  const base = path.join(varDir, ridFileBase(rid));
  return { pidfile: `${base}.pid`, log: `${base}.log`, marker: `${base}.started` };
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch {
    return false;
  }
}

async function fileSize(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return 0;
  }
}

/** The last lines written to the log since `offset`. */
async function logTail(file: string, offset: number, lines = 10): Promise<string> {
  try {
    const buf = await readFile(file);
    return buf.subarray(Math.min(offset, buf.length)).toString("utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "";
  }
}

/** The forking marker: written after a successful start, removed at stop; ignored when older than the boot. */
async function markerValid(marker: string): Promise<boolean> {
  try {
    const st = await stat(marker);
    return st.mtimeMs >= (await bootTime()) * 1000;
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Running commands

interface RunEnv {
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly umask?: string;
  /** prlimit + setpriv prefixes. */
  readonly prefix: readonly string[];
}

/** How the app's commands run; configs_/secrets_environment are read now from their cfg/sec objects (never logged). */
async function runEnv(ctx: ProbeContext, r: ResourceSpec): Promise<RunEnv> {
  const exec = ctx.exec;
  const data = await dataEnvironment(ctx, r);
  const id = identityOf(r);
  let primaryGid: string | undefined;
  if (id.user && !id.group) {
    const g = await exec("id", ["-g", "--", id.user]);
    if (g.exitCode !== 0) throw new ProviderError(`${r.rid}: user ${id.user} does not exist on this node`, (g.stderr || g.stdout).trim() || undefined);
    primaryGid = g.stdout.trim();
  }
  const umask = umaskOf(r);
  return {
    env: { ...environmentOf(r), ...data },
    cwd: cwdOf(r),
    ...(umask ? { umask } : {}),
    prefix: [...limitsPrefix(r), ...identityPrefix(id, primaryGid)],
  };
}

/** Runs one action command; `log` sends its output to that file (forking start/stop). */
async function runCommand(
  exec: Exec,
  r: ResourceSpec,
  action: AppAction,
  cmd: AppCommand,
  re: RunEnv,
  opts: { log?: string; signal?: AbortSignal } = {},
): Promise<ExecResult> {
  const argv = [...redirectPrefix(opts.log, re.umask), ...re.prefix, ...cmd.argv];
  // The log shows the command as written: the redirection and identity wrappers are osvc's own
  // (a start/stop with a log file is announced by its caller, "start: <command>").
  return exec(argv[0], argv.slice(1), { env: re.env, cwd: re.cwd, timeoutMs: timeoutMs(r, action), display: cmd.display, quiet: opts.log !== undefined, ...(opts.signal ? { signal: opts.signal } : {}) });
}

interface CheckResult {
  readonly status: AppStatus;
  readonly exitCode: number;
  readonly problem?: Problem;
  /** The check's output lines when status_log is set: stdout as info, stderr as warning. */
  readonly log?: readonly StatusLogLine[];
}

const STATUS_LOG_LINES = 20;

/** status_log: the check's output as status log lines (the last ones of each stream). */
function statusLog(r: ResourceSpec, stdout: string, stderr: string): StatusLogLine[] {
  if (r.kw.status_log !== true) return [];
  const lines = (text: string) => text.split("\n").map((l) => l.trimEnd()).filter(Boolean).slice(-STATUS_LOG_LINES);
  return [...lines(stdout).map((message) => ({ level: "info" as const, message })), ...lines(stderr).map((message) => ({ level: "warning" as const, message }))];
}

async function runCheck(exec: Exec, r: ResourceSpec, cmd: AppCommand, re: RunEnv): Promise<CheckResult> {
  const res = await runCommand(exec, r, "check", cmd, re);
  const lines = statusLog(r, res.stdout, res.stderr);
  const log = lines.length ? { log: lines } : {};
  if (res.timedOut) {
    return { status: "undef", exitCode: -1, problem: { level: "warning", message: `check timed out after ${timeoutMs(r, "check") / 1000}s: ${cmd.display}`, hint: "raise check_timeout" }, ...log };
  }
  const mapped = retcodesOf(r).get(res.exitCode);
  if (mapped === undefined) {
    return {
      status: "undef",
      exitCode: res.exitCode,
      problem: { level: "warning", message: `check exited with code ${res.exitCode}, which retcodes does not map: ${cmd.display}`, hint: 'map it in retcodes, e.g. "0:up 1:down 3:down"' },
      ...log,
    };
  }
  if (mapped === "warn") return { status: mapped, exitCode: res.exitCode, problem: { level: "warning", message: `check reports warn (exit code ${res.exitCode})` }, ...log };
  if (mapped === "undef") return { status: mapped, exitCode: res.exitCode, problem: { level: "warning", message: `check reports undef (exit code ${res.exitCode})` }, ...log };
  return { status: mapped, exitCode: res.exitCode, ...log };
}

/** up / down from a check status; undefined for n/a (fall back to osvc's own tracking). */
function upOf(status: AppStatus): boolean | undefined {
  if (status === "n/a") return undefined;
  return status === "up" || status === "warn";
}

// ---------------------------------------------------------------------------------------------
// app.simple process tracking

interface Tracked {
  readonly pid?: number;
  readonly stat?: ProcStat;
  readonly alive: boolean;
  readonly pidfileExists: boolean;
}

async function tracked(r: ResourceSpec, files: AppFiles): Promise<Tracked> {
  const pf = await readPidFile(files.pidfile);
  if (!pf) return { alive: false, pidfileExists: await exists(files.pidfile) };
  const rec = r.recorded;
  const guard =
    rec && rec.pid === pf.pid && typeof rec.starttime === "number" ? { starttime: rec.starttime } : { notAfterEpochMs: pf.mtimeMs };
  const l = await liveness(pf.pid, guard);
  return l.alive ? { pid: pf.pid, stat: l.stat, alive: true, pidfileExists: true } : { pid: pf.pid, alive: false, pidfileExists: true };
}

function simpleOutputs(files: AppFiles, st: ProcStat): Outputs {
  return { pid: st.pid, starttime: st.starttime, pidfile: files.pidfile, log: files.log };
}

// ---------------------------------------------------------------------------------------------
// probe

function probeFor(kind: Kind) {
  return async (ctx: ProbeContext, resources: readonly ResourceSpec[]): Promise<Observed[]> =>
    Promise.all(
      resources.map(async (r): Promise<Observed> => {
        const problems: Problem[] = [];
        const files = appFiles(ctx.varDir, r.rid);
        try {
          const check = commandOf(r, "check");
          let checkUp: boolean | undefined;
          let log: readonly StatusLogLine[] | undefined;
          if (check) {
            const c = await runCheck(ctx.exec, r, check, await runEnv(ctx, r));
            if (c.problem) problems.push(c.problem);
            checkUp = upOf(c.status);
            log = c.log;
          }
          let own: boolean;
          let outputs: Outputs | undefined;
          if (kind === "simple") {
            const t = await tracked(r, files);
            own = t.alive;
            if (t.alive && t.stat) outputs = simpleOutputs(files, t.stat);
          } else {
            own = await markerValid(files.marker);
          }
          return { provisioned: null, up: checkUp ?? own, ...(outputs ? { outputs } : {}), ...(problems.length ? { problems } : {}), ...(log ? { log } : {}) };
        } catch (e) {
          if (!(e instanceof ProviderError)) throw e;
          problems.push({ level: "error", message: e.message, ...(e.hint ? { hint: e.hint } : {}) });
          return { provisioned: null, up: false, problems };
        }
      }),
    );
}

// ---------------------------------------------------------------------------------------------
// app.forking

async function touchMarker(ctx: ProviderContext, marker: string): Promise<void> {
  const t = await ctx.exec("touch", ["--", marker], { quiet: true }); // osvc's own bookkeeping, not the app's
  if (t.exitCode !== 0) throw new ProviderError(`cannot record the start in ${marker}: ${(t.stderr || t.stdout).trim()}`);
}

async function forkingStart(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const files = appFiles(ctx.varDir, r.rid);
  const re = await runEnv(ctx, r);
  const check = commandOf(r, "check");
  if (check) {
    const c = await runCheck(ctx.exec, r, check, re);
    if (c.status === "up") {
      ctx.log("info", `already up (check exit code ${c.exitCode}): start skipped`);
      await touchMarker(ctx, files.marker);
      return { log: files.log };
    }
  }
  const cmd = commandOf(r, "start");
  if (!cmd) {
    ctx.log("info", "no start command: nothing to start");
  } else {
    const offset = await fileSize(files.log);
    ctx.log("info", `start: ${cmd.display}${cmd.shell ? " (through /bin/sh: the command line uses shell operators)" : ""}`);
    const res = await runCommand(ctx.exec, r, "start", cmd, re, { log: files.log, signal: ctx.signal });
    const tail = await logTail(files.log, offset);
    if (res.timedOut) {
      throw new ProviderError(`start command timed out after ${timeoutMs(r, "start") / 1000}s: ${cmd.display}${tail ? `\n${tail}` : ""}`, "a forking start command must return once the daemon runs; raise start_timeout if it needs longer");
    }
    if (res.exitCode !== 0) {
      throw new ProviderError(`start command failed (${exitText(res)}): ${cmd.display}${tail ? `\n${tail}` : ""}`, `its output is in ${files.log}`);
    }
    for (const line of tail.split("\n").filter(Boolean)) ctx.log("info", `start: ${line}`);
  }
  await touchMarker(ctx, files.marker);
  return { log: files.log };
}

async function forkingStop(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  const files = appFiles(ctx.varDir, r.rid);
  const re = await runEnv(ctx, r);
  const check = commandOf(r, "check");
  const cmd = commandOf(r, "stop");
  let skip = false;
  if (check) {
    const c = await runCheck(ctx.exec, r, check, re);
    if (c.status === "down") {
      ctx.log("info", `already down (check exit code ${c.exitCode}): stop skipped`);
      skip = true;
    }
  }
  if (!skip && !cmd) ctx.log("warning", "no stop command: osvc cannot stop a forking app by itself");
  if (!skip && cmd) {
    const offset = await fileSize(files.log);
    ctx.log("info", `stop: ${cmd.display}${cmd.shell ? " (through /bin/sh: the command line uses shell operators)" : ""}`);
    const res = await runCommand(ctx.exec, r, "stop", cmd, re, { log: files.log, signal: ctx.signal });
    const tail = await logTail(files.log, offset);
    if (res.timedOut) throw new ProviderError(`stop command timed out after ${timeoutMs(r, "stop") / 1000}s: ${cmd.display}${tail ? `\n${tail}` : ""}`, "raise stop_timeout");
    if (res.exitCode !== 0) throw new ProviderError(`stop command failed (${exitText(res)}): ${cmd.display}${tail ? `\n${tail}` : ""}`, `its output is in ${files.log}`);
    for (const line of tail.split("\n").filter(Boolean)) ctx.log("info", `stop: ${line}`);
  }
  await removeFile(files.marker);
}

// ---------------------------------------------------------------------------------------------
// app.simple

async function simpleStart(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const files = appFiles(ctx.varDir, r.rid);
  const re = await runEnv(ctx, r);
  const t = await tracked(r, files);
  if (t.alive && t.stat) {
    ctx.log("info", `already running as pid ${t.stat.pid}`);
    return simpleOutputs(files, t.stat);
  }
  const check = commandOf(r, "check");
  if (check) {
    const c = await runCheck(ctx.exec, r, check, re);
    if (c.status === "up") {
      ctx.log("info", `already up (check exit code ${c.exitCode}): start skipped`);
      return { pidfile: files.pidfile, log: files.log };
    }
  }
  const cmd = commandOf(r, "start");
  if (!cmd) throw new ProviderError(`${r.rid}: app.simple needs a start command`, "set start = the command line of the long-running process");
  const envPath = re.env.PATH ?? process.env.PATH;
  const argv = [...re.prefix, ...cmd.argv];
  const exe = await resolveExecutable(argv[0], envPath);
  if (!exe) throw new ProviderError(`${r.rid}: command not found: ${argv[0]}`, "use an absolute path or a command in PATH");
  if (re.prefix.length && !cmd.shell && !(await resolveExecutable(cmd.argv[0], envPath))) {
    throw new ProviderError(`${r.rid}: command not found: ${cmd.argv[0]}`, "use an absolute path or a command in PATH");
  }
  if (t.pidfileExists) await removeFile(files.pidfile); // stale: its process is gone
  const offset = await fileSize(files.log);
  const ssd = ["--start", "--background", "--make-pidfile", "--pidfile", files.pidfile, "--output", files.log, "--chdir", re.cwd];
  if (re.umask) ssd.push("--umask", re.umask);
  ssd.push("--startas", exe, "--", ...argv.slice(1));
  ctx.log("info", `start: ${cmd.display}${cmd.shell ? " (through /bin/sh: the command line uses shell operators)" : ""}`);
  // Logged above as the user's command: start-stop-daemon is osvc's wrapper.
  const res = await ctx.exec("start-stop-daemon", ssd, { env: re.env, timeoutMs: timeoutMs(r, "start"), signal: ctx.signal, quiet: true });
  if (res.exitCode !== 0 || res.timedOut) {
    throw new ProviderError(`cannot start ${cmd.display}: start-stop-daemon ${exitText(res)}: ${(res.stderr || res.stdout).trim()}`);
  }
  const pf = await readPidFile(files.pidfile);
  if (!pf) throw new ProviderError(`start-stop-daemon wrote no pid to ${files.pidfile}`);
  let st = await readProcStat(pf.pid);
  // An exec failure after the fork (setpriv, prlimit) ends the process at once: look again shortly.
  if (st && st.state !== "Z") {
    await sleep(100);
    const again = await liveness(pf.pid, { starttime: st.starttime });
    st = again.alive ? again.stat : undefined;
  } else st = undefined;
  if (!st) {
    const tail = await logTail(files.log, offset);
    throw new ProviderError(`${cmd.display} exited right after it started${tail ? `:\n${tail}` : ""}`, `its output is in ${files.log}`);
  }
  ctx.log("info", `started as pid ${st.pid}, output in ${files.log}`);
  return simpleOutputs(files, st);
}

/** Waits until none of these processes lives (gone, zombie, or pid reused). Returns the survivors. */
async function waitGone(procs: readonly ProcStat[], ms: number): Promise<ProcStat[]> {
  const deadline = Date.now() + ms;
  let left = [...procs];
  for (;;) {
    const states = await Promise.all(left.map((p) => liveness(p.pid, { starttime: p.starttime })));
    left = left.filter((_, i) => states[i].alive);
    if (left.length === 0 || Date.now() >= deadline) return left;
    await sleep(Math.min(100, Math.max(10, deadline - Date.now())));
  }
}

async function signal(ctx: ProviderContext, sig: "TERM" | "KILL", procs: readonly ProcStat[]): Promise<void> {
  if (procs.length === 0) return;
  // The exit code is not meaningful (a process may end meanwhile): the caller verifies through /proc.
  await ctx.exec("kill", ["-s", sig, "--", ...procs.map((p) => String(p.pid))]);
}

async function simpleStop(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  const files = appFiles(ctx.varDir, r.rid);
  const t = await tracked(r, files);
  const cmd = commandOf(r, "stop");
  const stopMs = timeoutMs(r, "stop");
  if (!t.alive || !t.stat) {
    ctx.log("info", "not running");
    if (t.pidfileExists) await removeFile(files.pidfile);
    return;
  }
  const root = t.stat;
  const tree = r.kw.kill === "tree";
  const targets = async (): Promise<ProcStat[]> => {
    if (!tree) return [root];
    const all = await allProcs();
    const pids = new Set(processTree(root, all).filter((pid) => pid !== process.pid));
    return all.filter((p) => pids.has(p.pid));
  };
  let procs = await targets();
  const t0 = Date.now();
  if (cmd) {
    // Read here, not before: a process that is not running needs no environment to be left alone.
    const re = await runEnv(ctx, r);
    const offset = await fileSize(files.log);
    ctx.log("info", `stop: ${cmd.display}${cmd.shell ? " (through /bin/sh: the command line uses shell operators)" : ""}`);
    const res = await runCommand(ctx.exec, r, "stop", cmd, re, { log: files.log, signal: ctx.signal });
    const tail = await logTail(files.log, offset);
    if (res.exitCode !== 0 || res.timedOut) {
      throw new ProviderError(`stop command ${res.timedOut ? "timed out" : `failed (${exitText(res)})`}: ${cmd.display}${tail ? `\n${tail}` : ""}`, `its output is in ${files.log}`);
    }
    procs = await waitGone(procs, Math.max(0, stopMs - (Date.now() - t0)));
    if (procs.length) ctx.log("warning", `the stop command returned but pid ${procs.map((p) => p.pid).join(", ")} still runs: sending SIGTERM`);
  }
  if (procs.length) {
    await signal(ctx, "TERM", procs);
    procs = await waitGone(procs, Math.max(1000, stopMs - (Date.now() - t0)));
  }
  if (procs.length) {
    ctx.log("warning", `pid ${procs.map((p) => p.pid).join(", ")} still running after SIGTERM: sending SIGKILL`);
    await signal(ctx, "KILL", procs);
    procs = await waitGone(procs, 5000);
    if (procs.length) throw new ProviderError(`pid ${procs.map((p) => p.pid).join(", ")} survived SIGKILL`, "the process may be stuck in the kernel (state D)");
  }
  await removeFile(files.pidfile);
  ctx.log("info", `stopped pid ${root.pid}`);
}

// ---------------------------------------------------------------------------------------------

async function removeFiles(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  const f = appFiles(ctx.varDir, r.rid);
  for (const file of [f.pidfile, f.marker, f.log]) await removeFile(file);
}

/** `key: value` lines of an info command's output (other lines are ignored). */
export function parseInfo(stdout: string): ResourceInfo[] {
  const out: ResourceInfo[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^\s*([^:\s][^:]*?)\s*:\s?(.*)$/.exec(line);
    if (m) out.push({ key: m[1], value: m[2].trimEnd() });
  }
  return out;
}

/** Runs the info command (nothing without one) and returns its key: value lines. */
async function info(ctx: ProbeContext, r: ResourceSpec): Promise<readonly ResourceInfo[]> {
  const cmd = commandOf(r, "info");
  if (!cmd) return [];
  const res = await runCommand(ctx.exec, r, "info", cmd, await runEnv(ctx, r));
  if (res.timedOut) throw new ProviderError(`info timed out after ${timeoutMs(r, "info") / 1000}s: ${cmd.display}`, "raise info_timeout");
  if (res.exitCode !== 0) {
    const tail = (res.stderr || res.stdout).trim().split("\n").slice(-3).join("\n");
    throw new ProviderError(`info exited with code ${res.exitCode}: ${cmd.display}${tail ? `: ${tail}` : ""}`);
  }
  return parseInfo(res.stdout);
}

export const appForkingProvider: Provider = {
  type: "app.forking",
  spec: appForkingSpec,
  updatable: [],
  dataBearing: false,
  probe: probeFor("forking"),
  provision: forkingStart,
  async unprovision(ctx, r) {
    await forkingStop(ctx, r);
    await removeFiles(ctx, r);
  },
  start: forkingStart,
  stop: forkingStop,
  info,
};

export const appSimpleProvider: Provider = {
  type: "app.simple",
  spec: appSimpleSpec,
  updatable: [],
  dataBearing: false,
  probe: probeFor("simple"),
  provision: simpleStart,
  async unprovision(ctx, r) {
    await simpleStop(ctx, r);
    await removeFiles(ctx, r);
  },
  start: simpleStart,
  stop: simpleStop,
  info,
};

export const appProviders: readonly Provider[] = [appForkingProvider, appSimpleProvider];
