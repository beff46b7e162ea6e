// app.*: turning the start/stop/check/info keywords into argument vectors (opensvc-semantics §11.11).
//
// A command keyword is one of:
//   unset, "" or "false"   → no command
//   "true" or an integer   → `<script> <action>` (an integer is upstream's legacy sequence number)
//   a line with shell operators ("|", "||", "&&", ";", redirections, $(...)) → `/bin/sh -c <line>`,
//                            as upstream runs it (its test templates use `echo One && echo Two`)
//   anything else          → a command line, split into words with shlexSplit and run WITHOUT a shell.
//
// Only the template as written reaches the shell: validation refuses a value substituted into a
// command (reference, [env], --env, environment) that holds shell syntax (E2028, src/core/command.ts).
// (The other /bin/sh osvc runs for apps is REDIRECT_SCRIPT below: a constant script that receives
// its values as positional arguments and never parses them.)
import path from "node:path";
import { access, constants } from "node:fs/promises";
import { isShell, shellArgv, usesShellOperators } from "../../src/core/command.js";
import { shlexSplit } from "../../src/core/convert.js";
import { ACCOUNT_HINT, accountProblem, ENV_WORDS_HINT, envWordProblem, RETCODE_STATUSES, RETCODES_HINT, retcodesWordProblem } from "../../src/core/formats.js";
import type { KwValue } from "../../src/core/value.js";
import { ProviderError } from "../../src/provider/api.js";
import type { ResourceSpec } from "../../src/provider/api.js";

export type AppAction = "start" | "stop" | "check" | "info";
/** The word given to `script` for each action keyword. */
export const SCRIPT_ARG: Readonly<Record<AppAction, string>> = { start: "start", stop: "stop", check: "status", info: "info" };

export interface AppCommand {
  /** The argument vector to run (argv[0] may be a bare name, looked up in PATH). */
  readonly argv: readonly string[];
  /** The command runs through a shell: written as sh -c '...', or holding shell operators. */
  readonly shell: boolean;
  /** For logs: the command as the user wrote it. */
  readonly display: string;
}

/** Lines run through /bin/sh -c, as upstream (see src/core/command.ts). */
export const needsShell = usesShellOperators;

function str(v: KwValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return v.join(" ");
}

/** The script for "true" actions: absolute (osvc has no per-object init directory to resolve a relative one). */
export function scriptOf(r: ResourceSpec): string {
  const s = str(r.kw.script)?.trim();
  if (!s) throw new ProviderError(`${r.rid}: an action is set to true but keyword "script" is not set`, "set script = /path/to/launcher, or give the action a command line");
  if (!path.isAbsolute(s)) {
    throw new ProviderError(`${r.rid}: script must be an absolute path, got ${JSON.stringify(s)}`, "osvc has no init directory to resolve a relative script in; use an absolute path");
  }
  return s;
}

/** Resolves one action keyword; undefined when the action does nothing. */
export function commandOf(r: ResourceSpec, action: AppAction): AppCommand | undefined {
  const raw = str(r.kw[action]);
  if (raw === undefined) return undefined;
  const line = raw.trim();
  const lower = line.toLowerCase();
  if (line === "" || lower === "false") return undefined;
  if (lower === "true" || /^[+-]?\d+$/.test(line)) {
    const script = scriptOf(r);
    return { argv: [script, SCRIPT_ARG[action]], shell: false, display: `${script} ${SCRIPT_ARG[action]}` };
  }
  const words = shlexSplit(line);
  if (!words.ok) throw new ProviderError(`${r.rid}: ${action}: ${words.error}`, words.hint);
  if (words.value.length === 0) return undefined;
  const explicitShell = isShell(words.value[0]);
  if (needsShell(line) && !explicitShell) return { argv: shellArgv(line), shell: true, display: line };
  return { argv: words.value, shell: explicitShell, display: line };
}

// ---------------------------------------------------------------------------------------------
// retcodes

export type AppStatus = (typeof RETCODE_STATUSES)[number];

/** Parses "0:up 1:down 3:warn" (the rules `validate` checks, src/core/formats.ts). */
export function parseRetcodes(text: string): Map<number, AppStatus> {
  const m = new Map<number, AppStatus>();
  for (const word of text.trim().split(/\s+/).filter(Boolean)) {
    const problem = retcodesWordProblem(word);
    if (problem) throw new ProviderError(problem, RETCODES_HINT);
    const i = word.lastIndexOf(":");
    m.set(Number(word.slice(0, i)), word.slice(i + 1).toLowerCase() as AppStatus);
  }
  return m;
}

export function retcodesOf(r: ResourceSpec): Map<number, AppStatus> {
  const t = str(r.kw.retcodes);
  try {
    return parseRetcodes(t === undefined || t.trim() === "" ? "0:up 1:down" : t);
  } catch (e) {
    if (e instanceof ProviderError) throw new ProviderError(`${r.rid}: ${e.message}`, e.hint);
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// timeouts (seconds in the keywords, milliseconds for Exec)

const DEFAULT_TIMEOUT_S: Readonly<Record<AppAction, number>> = { start: 120, stop: 120, check: 30, info: 30 };

export function timeoutMs(r: ResourceSpec, action: AppAction): number {
  for (const k of [`${action}_timeout`, "timeout"]) {
    const v = r.kw[k];
    if (typeof v === "number" && Number.isFinite(v) && v > 0) return Math.round(v * 1000);
  }
  return DEFAULT_TIMEOUT_S[action] * 1000;
}

// ---------------------------------------------------------------------------------------------
// environment, user/group, limits, umask, cwd

/** `environment` KEY=VALUE words. */
export function environmentOf(r: ResourceSpec): Record<string, string> {
  const v = r.kw.environment;
  let words: readonly string[] = [];
  if (Array.isArray(v)) words = v;
  else if (typeof v === "string") {
    const w = shlexSplit(v);
    if (!w.ok) throw new ProviderError(`${r.rid}: environment: ${w.error}`, w.hint);
    words = w.value;
  }
  const env: Record<string, string> = {};
  for (const w of words) {
    const problem = envWordProblem(w);
    if (problem) throw new ProviderError(`${r.rid}: environment: ${problem}`, ENV_WORDS_HINT);
    const i = w.indexOf("=");
    env[w.slice(0, i)] = w.slice(i + 1);
  }
  return env;
}


export function cwdOf(r: ResourceSpec): string {
  const c = str(r.kw.cwd)?.trim();
  if (!c) return "/";
  if (!path.isAbsolute(c)) throw new ProviderError(`${r.rid}: cwd must be an absolute path, got ${JSON.stringify(c)}`);
  return c;
}

/** The umask as 4 octal digits, or undefined. */
export function umaskOf(r: ResourceSpec): string | undefined {
  const u = str(r.kw.umask)?.trim();
  if (!u) return undefined;
  const m = /^0?([0-7]{1,4})$/.exec(u);
  if (!m) throw new ProviderError(`${r.rid}: invalid umask ${JSON.stringify(u)}`, "use octal digits, e.g. 022");
  return m[1].padStart(4, "0");
}

const PRLIMIT_OPTION: Readonly<Record<string, string>> = {
  limit_as: "--as",
  limit_vmem: "--as",
  limit_core: "--core",
  limit_cpu: "--cpu",
  limit_data: "--data",
  limit_fsize: "--fsize",
  limit_memlock: "--memlock",
  limit_nofile: "--nofile",
  limit_nproc: "--nproc",
  limit_rss: "--rss",
  limit_stack: "--stack",
};

/** `prlimit --nofile=N:N ... --` prefix for the limit_* keywords (soft = hard = value), or []. */
export function limitsPrefix(r: ResourceSpec): string[] {
  const opts: string[] = [];
  for (const [k, opt] of Object.entries(PRLIMIT_OPTION)) {
    const v = r.kw[k];
    if (v === undefined || v === null || v === "") continue;
    const n = typeof v === "number" ? v : typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v.trim()) : NaN;
    if (!Number.isFinite(n) || n < 0) throw new ProviderError(`${r.rid}: invalid ${k} ${JSON.stringify(v)}`);
    const val = String(Math.floor(n));
    opts.push(`${opt}=${val}:${val}`);
  }
  return opts.length ? ["prlimit", ...opts, "--"] : [];
}

export interface Identity {
  readonly user?: string;
  readonly group?: string;
}

export function identityOf(r: ResourceSpec): Identity {
  const user = str(r.kw.user)?.trim() || undefined;
  const group = str(r.kw.group)?.trim() || undefined;
  for (const [k, v] of [
    ["user", user],
    ["group", group],
  ] as const) {
    const problem = v === undefined ? undefined : accountProblem(v);
    if (problem) throw new ProviderError(`${r.rid}: invalid ${k}: ${problem}`, ACCOUNT_HINT);
  }
  return { ...(user ? { user } : {}), ...(group ? { group } : {}) };
}

/**
 * `setpriv` prefix running the command as user/group. `primaryGid` is the user's primary group,
 * used when `group` is not set (resolved by the caller with `id -g USER`).
 */
export function identityPrefix(id: Identity, primaryGid?: string): string[] {
  if (id.user) {
    const gid = id.group ?? primaryGid;
    if (!gid) throw new ProviderError(`cannot determine the primary group of user ${id.user}`);
    // --init-groups sets the user's supplementary groups; it needs the user to exist in NSS.
    return ["setpriv", `--reuid=${id.user}`, `--regid=${gid}`, "--init-groups", "--"];
  }
  if (id.group) return ["setpriv", `--regid=${id.group}`, "--clear-groups", "--"];
  return [];
}

/**
 * A constant /bin/sh script (no template value is ever part of it): sets the umask given as $2 when
 * not empty, sends stdout/stderr to the file $1 when not empty (stdin from /dev/null), then execs
 * the rest of its arguments as they are. The redirection matters for forking start commands: a
 * daemon that keeps the command's stdout open would otherwise hold osvc until start_timeout.
 */
export const REDIRECT_SCRIPT =
  'log=$1; mask=$2; shift 2; if [ -n "$mask" ]; then umask "$mask" || exit 126; fi; if [ -n "$log" ]; then exec >>"$log" 2>&1 </dev/null || exit 126; fi; exec "$@"';

export function redirectPrefix(log: string | undefined, umask: string | undefined): string[] {
  if (!log && !umask) return [];
  return ["/bin/sh", "-c", REDIRECT_SCRIPT, "osvc-app", log ?? "", umask ?? ""];
}

/** PATH lookup for a bare command name (start-stop-daemon execs without searching PATH). */
export async function resolveExecutable(file: string, envPath: string | undefined): Promise<string | undefined> {
  const candidates = file.includes("/") ? [file] : (envPath ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":").filter(Boolean).map((d) => path.join(d, file));
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return path.resolve(c);
    } catch {
      /* next */
    }
  }
  return undefined;
}

/** A file name for this resource's files in the object's var dir ("app#1" → "app_1"). */
export function ridFileBase(rid: string): string {
  return rid.replace(/[^A-Za-z0-9._-]/g, "_");
}
