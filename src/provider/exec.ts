// The one way osvc runs host commands: an argument array, never a shell string.
//
// Every command runs in its own session (so its own process group): a terminal's Ctrl-C, which
// the kernel sends to the whole foreground process group, reaches osvc only, and osvc decides
// (let running steps finish; a second Ctrl-C ends them). A timeout, an abort signal or
// endRunning() end the command's whole group: SIGTERM, then SIGKILL after a grace period. When
// osvc exits with commands still running, their groups get SIGKILL; when it is killed (SIGKILL),
// the commands in flight finish (see src/provider/spawn-helper.ts).
//
// Commands start through the spawn helper (src/provider/spawn-helper.ts: a resident python3 that
// starts them with vfork, about a fifth of a fork's main-thread cost, see bench/spawn), or through
// nano-spawn where it is not usable (the execa maintainers' light sibling: about half of execa 9's
// main-thread cost per command). Each command's absolute path is found once per
// PATH (resolveCommand), so a spawn does not try each PATH directory with its own execve.
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { constants } from "node:os";
import { isAbsolute, join } from "node:path";
import spawn from "nano-spawn";
import { KILL_GRACE_MS, runWithHelper } from "./spawn-helper.js";

export { prestartHelper } from "./spawn-helper.js";

export interface ExecOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
  /** Added to osvc's environment; a variable given as undefined is left out of it. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  /** Ends the command's process group (SIGTERM, then SIGKILL) when aborted. */
  readonly signal?: AbortSignal;
  /** Do not log the command line (contains secrets). */
  readonly quiet?: boolean;
  /** The command as logs and messages show it, when the argument array wraps it (redirection, setpriv): the user's own command. */
  readonly display?: string;
  /**
   * Called with each line of the command's output as it arrives (without its newline; a last
   * line without one when the command ends), stdout and stderr apart. The result still holds the
   * whole output.
   */
  readonly onLine?: (stream: "stdout" | "stderr", line: string) => void;
}

export interface ExecResult {
  readonly command: string; // for logs and messages only
  /** The exit code; 128 + the signal number when a signal ended the command (as a shell reports it). */
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly durationMs: number;
  /** The signal that ended the command ("SIGINT"), when one did. */
  readonly signal?: string;
}

export type ExecLogger = (event: { command: string; result?: ExecResult }) => void;

export interface Exec {
  (file: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

/** How a command ended, for messages: "exit code 2", "killed by SIGINT", "timed out after 5000 ms". */
export function exitText(r: ExecResult): string {
  if (r.timedOut) return `timed out after ${r.durationMs} ms`;
  if (r.signal) return `killed by ${r.signal}`;
  return `exit code ${r.exitCode}`;
}

export class ExecError extends Error {
  constructor(readonly result: ExecResult) {
    const tail = (result.stderr || result.stdout).trim().split("\n").slice(-5).join("\n");
    super(result.timedOut ? `${result.command}: ${exitText(result)}` : `${result.command}: ${exitText(result)}${tail ? `: ${tail}` : ""}`);
    this.name = "ExecError";
  }
}

/** Quote one word for display (logs only; never executed). */
export function displayWord(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

export function displayCommand(file: string, args: readonly string[]): string {
  return [file, ...args].map(displayWord).join(" ");
}

const DEFAULT_TIMEOUT_MS = 120_000;

/** Process-wide counter of host commands, for benchmarks (bench/plan counts commands). */
export const execStats = { count: 0, byFile: new Map<string, number>() };

/** Commands running now: pid (= their process group id) -> command line. */
const running = new Map<number, string>();
let exitHook = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

/** When osvc last got a terminal signal it handles (SIGINT, SIGQUIT, SIGHUP): see noteInterrupt. */
let lastInterruptAt = -Infinity;

/**
 * Tells the Exec that osvc got a terminal interrupt (its handler calls this). A command spawned
 * just then can get it too: between fork and its setsid the child is still in osvc's process
 * group. It then dies before its program runs; the Exec runs it again, once.
 */
export function noteInterrupt(): void {
  lastInterruptAt = performance.now();
}

/**
 * How many times endRunning() was called: a command asked for before a call but started after it
 * (its pid was not known yet: queued in the spawn helper, or between spawn and its pid) is ended
 * as soon as it starts.
 */
let endings = 0;

/** The command lines running now (for messages). */
export function runningCommands(): string[] {
  return [...running.values()];
}

/**
 * Ends every command running now ("abort now"): SIGTERM to each one's process group, SIGKILL to
 * those still running after `graceMs`. Resolves once they are gone (or SIGKILLed); returns the
 * command lines it ended.
 */
export async function endRunning(graceMs = 2_000): Promise<string[]> {
  endings++;
  const ended = [...running];
  for (const [pid] of ended) killGroup(pid, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (ended.some(([pid]) => running.has(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  for (const [pid] of ended) if (running.has(pid)) killGroup(pid, "SIGKILL");
  return ended.map(([, command]) => command);
}

export function createExec(logger?: ExecLogger): Exec {
  return async (file, args, opts = {}) => {
    const command = opts.display ?? displayCommand(file, args);
    if (logger && !opts.quiet) logger({ command });
    const t0 = performance.now();
    const r = await spawnOnce(file, args, opts, command);
    // Caught by a terminal's interrupt before it could leave osvc's process group: run it again.
    const caught = (r.signal === "SIGINT" || r.signal === "SIGQUIT" || r.signal === "SIGHUP") && lastInterruptAt >= t0 && !opts.signal?.aborted;
    const result = caught ? await spawnOnce(file, args, opts, command) : r;
    if (logger && !opts.quiet) logger({ command, result });
    return result;
  };
}

let environment: NodeJS.ProcessEnv | undefined;

/**
 * osvc's environment, as a plain object read once, at the first command: osvc does not change its
 * own environment once started (runProcess puts NODE_EXTRA_CA_CERTS back before anything runs),
 * and reading process.env costs ~90 µs per command in a fresh process (each variable is a call
 * into Node's C++ side), ~5 ms of an apply's main thread.
 */
function osvcEnvironment(): NodeJS.ProcessEnv {
  environment ??= Object.freeze({ ...process.env });
  return environment;
}

/** Absolute paths of commands found on PATH: `${PATH}\0${file}` -> path. Only hits are kept. */
const resolved = new Map<string, string>();

/**
 * The absolute path execvp would run for `file`, found once per (PATH, file): the first regular,
 * executable file in an absolute PATH directory. undefined (the caller spawns the bare name, so
 * the kernel reports ENOENT or EACCES as before) when it is not found, when `file` has a slash,
 * or when a relative PATH entry comes first (it depends on the cwd).
 */
export function resolveCommand(file: string, path = process.env.PATH ?? ""): string | undefined {
  if (file.includes("/") || file === "") return undefined;
  const key = `${path}\0${file}`;
  const hit = resolved.get(key);
  if (hit !== undefined) return hit;
  for (const dir of path.split(":")) {
    if (!isAbsolute(dir)) return undefined;
    const candidate = join(dir, file);
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, fsConstants.X_OK);
    } catch {
      continue;
    }
    resolved.set(key, candidate);
    return candidate;
  }
  return undefined;
}

interface Spawned {
  readonly exitCode?: number;
  readonly signal?: string;
  /** Why it could not start (ENOENT, EACCES, ...). */
  readonly startError?: string;
  readonly stdout: string;
  readonly stderr: string;
}

/** Splits chunks of one stream into lines for `onLine`; `end` hands over an unterminated last line. */
function lineSplitter(stream: "stdout" | "stderr", onLine: NonNullable<ExecOptions["onLine"]>): { push(chunk: string): void; end(): void } {
  let partial = "";
  return {
    push(chunk) {
      const lines = (partial + chunk).split("\n");
      partial = lines.pop()!;
      for (const l of lines) onLine(stream, l);
    },
    end() {
      if (partial) onLine(stream, partial);
      partial = "";
    },
  };
}

/**
 * Starts `file` in its own session (detached) and waits for it to end; never rejects. Through the
 * spawn helper (src/provider/spawn-helper.ts) unless OSVC_SPAWN=direct or it is not usable here.
 */
async function spawnDetached(file: string, args: readonly string[], opts: ExecOptions, onStart: (pid: number) => void): Promise<Spawned> {
  const env = opts.env ? { ...osvcEnvironment(), ...opts.env } : osvcEnvironment();
  const path = resolveCommand(file, env.PATH ?? "");
  let r: Spawned | undefined;
  if (process.env.OSVC_SPAWN !== "direct") {
    const lines = opts.onLine ? { stdout: lineSplitter("stdout", opts.onLine), stderr: lineSplitter("stderr", opts.onLine) } : undefined;
    const helped = runWithHelper({
      path: path ?? file,
      argv0: file,
      args,
      env,
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      timeoutMs: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      onStart,
      ...(lines ? { onData: (stream: "stdout" | "stderr", text: string) => lines[stream].push(text) } : {}),
    });
    const o = helped && (await helped);
    if (o) {
      lines?.stdout.end();
      lines?.stderr.end();
    }
    r = o;
  }
  r ??= await spawnDirect(file, path, args, opts, env, onStart);
  // A path found earlier is gone (the program was removed): look it up again next time.
  if (r.startError === "ENOENT" && path !== undefined) resolved.delete(`${env.PATH ?? ""}\0${file}`);
  return r;
}

/** Starts `file` through nano-spawn (a fork of this process). */
async function spawnDirect(file: string, path: string | undefined, args: readonly string[], opts: ExecOptions, env: NodeJS.ProcessEnv, onStart: (pid: number) => void): Promise<Spawned> {
  const sub = spawn(path ?? file, [...args], {
    stdin: opts.input === undefined ? "ignore" : { string: opts.input },
    env: opts.env,
    cwd: opts.cwd,
    detached: true, // its own session and process group: a terminal's Ctrl-C does not reach it
    argv0: file, // the program sees the name it was called by, as with a PATH search
  });
  sub.catch(() => {}); // a command that cannot start rejects both promises; the first one says why
  // The output as the command wrote it (nano-spawn's own result strips the final newline).
  let stdout = "";
  let stderr = "";
  const lines = opts.onLine ? { stdout: lineSplitter("stdout", opts.onLine), stderr: lineSplitter("stderr", opts.onLine) } : undefined;
  const flush = () => {
    lines?.stdout.end();
    lines?.stderr.end();
  };
  try {
    const child = await sub.nodeChildProcess;
    // Still in the microtasks of the 'spawn' event: no output chunk can have been read yet.
    child.stdout?.on("data", (d: string) => ((stdout += d), lines?.stdout.push(d)));
    child.stderr?.on("data", (d: string) => ((stderr += d), lines?.stderr.push(d)));
    if (child.pid !== undefined) onStart(child.pid);
  } catch (e) {
    const code = (e as { cause?: { code?: string } }).cause?.code;
    return { startError: code ?? String((e as Error).message), stdout: "", stderr: "" };
  }
  try {
    await sub;
    flush();
    return { exitCode: 0, stdout, stderr };
  } catch (e) {
    flush();
    const err = e as { exitCode?: number; signalName?: string; message?: string };
    if (err.exitCode === undefined && err.signalName === undefined) {
      // A stream error after the start: the command's own end is unknown; say so as a failure.
      return { exitCode: -1, stdout, stderr: stderr || String(err.message) };
    }
    return { ...(err.exitCode !== undefined ? { exitCode: err.exitCode } : {}), ...(err.signalName ? { signal: err.signalName } : {}), stdout, stderr };
  }
}

/** One spawn of a command in its own session (see the top of this file). */
async function spawnOnce(file: string, args: readonly string[], opts: ExecOptions, command: string): Promise<ExecResult> {
  execStats.count++;
  execStats.byFile.set(file, (execStats.byFile.get(file) ?? 0) + 1);
  if (!exitHook) {
    exitHook = true;
    process.on("exit", () => {
      for (const pid of running.keys()) killGroup(pid, "SIGKILL");
    });
  }
  const started = performance.now();
  let pid: number | undefined;
  let timedOut = false;
  let graceTimer: NodeJS.Timeout | undefined;
  const end = () => {
    if (pid === undefined || graceTimer) return;
    const group = pid;
    killGroup(group, "SIGTERM");
    graceTimer = setTimeout(() => killGroup(group, "SIGKILL"), KILL_GRACE_MS);
  };
  const timer = setTimeout(() => {
    timedOut = true;
    end();
  }, opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const onAbort = () => end();
  let r: Spawned;
  try {
    const endingsBefore = endings;
    r = await spawnDetached(file, args, opts, (p) => {
      pid = p;
      running.set(p, command);
      // Timed out, aborted or ended by endRunning() before its pid was known: end it now.
      if (timedOut || opts.signal?.aborted || endings !== endingsBefore) end();
      opts.signal?.addEventListener("abort", onAbort);
    });
  } finally {
    clearTimeout(timer);
    if (graceTimer) clearTimeout(graceTimer);
    opts.signal?.removeEventListener("abort", onAbort);
    if (pid !== undefined) running.delete(pid);
  }
  const signo = r.signal ? (constants.signals as Record<string, number>)[r.signal] : undefined;
  const result: ExecResult = {
    command,
    exitCode: r.exitCode ?? (signo !== undefined ? 128 + signo : -1),
    stdout: r.stdout,
    stderr: r.stderr,
    timedOut,
    durationMs: Math.round(performance.now() - started),
    ...(r.signal ? { signal: r.signal } : {}),
  };
  if (r.startError !== undefined) {
    // It did not start: say why, with the shell's codes (127 not found, 126 not executable).
    if (r.startError === "ENOENT") return { ...result, exitCode: 127, stderr: `${file}: command not found` };
    if (r.startError === "EACCES") return { ...result, exitCode: 126, stderr: `${file}: permission denied` };
    return { ...result, exitCode: 126, stderr: `${file}: cannot run it: ${r.startError}` };
  }
  return result;
}

/** Runs a program attached to the terminal (an editor): the user interacts with it directly. */
export async function execInteractive(file: string, args: readonly string[]): Promise<number> {
  execStats.count++;
  try {
    await spawn(file, [...args], { stdio: "inherit" });
    return 0;
  } catch (e) {
    const code = (e as { exitCode?: number }).exitCode;
    return typeof code === "number" ? code : 1;
  }
}

/** Runs and throws ExecError on a non-zero exit code. */
export async function run(exec: Exec, file: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
  const r = await exec(file, args, opts);
  if (r.exitCode !== 0 || r.timedOut) throw new ExecError(r);
  return r;
}
