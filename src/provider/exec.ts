// The one way osvc runs host commands: an argument array, never a shell string.
import { execa } from "execa";

export interface ExecOptions {
  readonly input?: string;
  readonly timeoutMs?: number;
  readonly env?: Readonly<Record<string, string>>;
  readonly cwd?: string;
  readonly signal?: AbortSignal;
  /** Do not log the command line (contains secrets). */
  readonly quiet?: boolean;
  /** The command as logs and messages show it, when the argument array wraps it (redirection, setpriv): the user's own command. */
  readonly display?: string;
}

export interface ExecResult {
  readonly command: string; // for logs and messages only
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly durationMs: number;
}

export type ExecLogger = (event: { command: string; result?: ExecResult }) => void;

export interface Exec {
  (file: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult>;
}

export class ExecError extends Error {
  constructor(readonly result: ExecResult) {
    const tail = (result.stderr || result.stdout).trim().split("\n").slice(-5).join("\n");
    super(
      result.timedOut
        ? `${result.command}: timed out after ${result.durationMs} ms`
        : `${result.command}: exit code ${result.exitCode}${tail ? `: ${tail}` : ""}`,
    );
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

export function createExec(logger?: ExecLogger): Exec {
  return async (file, args, opts = {}) => {
    const command = opts.display ?? displayCommand(file, args);
    if (logger && !opts.quiet) logger({ command });
    execStats.count++;
    execStats.byFile.set(file, (execStats.byFile.get(file) ?? 0) + 1);
    const t0 = performance.now();
    const r = await execa(file, [...args], {
      reject: false,
      input: opts.input,
      stdin: opts.input === undefined ? "ignore" : undefined,
      timeout: opts.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      env: opts.env ? { ...process.env, ...opts.env } : undefined,
      cwd: opts.cwd,
      cancelSignal: opts.signal,
      stripFinalNewline: false,
      encoding: "utf8",
    });
    const result: ExecResult = {
      command,
      exitCode: typeof r.exitCode === "number" ? r.exitCode : -1,
      stdout: String(r.stdout ?? ""),
      stderr: String(r.stderr ?? ""),
      timedOut: Boolean(r.timedOut),
      durationMs: Math.round(performance.now() - t0),
    };
    if (r.failed && r.exitCode === undefined && !r.timedOut && r.code === "ENOENT") {
      return { ...result, exitCode: 127, stderr: `${file}: command not found` };
    }
    if (logger && !opts.quiet) logger({ command, result });
    return result;
  };
}

/** Runs a program attached to the terminal (an editor): the user interacts with it directly. */
export async function execInteractive(file: string, args: readonly string[]): Promise<number> {
  execStats.count++;
  const r = await execa(file, [...args], { reject: false, stdio: "inherit" });
  return typeof r.exitCode === "number" ? r.exitCode : 1;
}

/** Runs and throws ExecError on a non-zero exit code. */
export async function run(exec: Exec, file: string, args: readonly string[], opts?: ExecOptions): Promise<ExecResult> {
  const r = await exec(file, args, opts);
  if (r.exitCode !== 0 || r.timedOut) throw new ExecError(r);
  return r;
}
