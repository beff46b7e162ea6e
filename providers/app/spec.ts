import type { DriverSpec, KeywordSpec, ResourceProblem } from "../../src/core/schema.js";
import type { KwValue } from "../../src/core/value.js";

const LIMITS: ReadonlyArray<[string, KeywordSpec["type"], string]> = [
  ["as", "size", "address space (virtual memory) size"],
  ["core", "size", "core dump file size"],
  ["cpu", "duration", "CPU time"],
  ["data", "size", "data segment size"],
  ["fsize", "size", "size of files the process may create"],
  ["memlock", "size", "locked-in-memory size"],
  ["nofile", "int", "number of open files"],
  ["nproc", "int", "number of processes of the user"],
  ["rss", "size", "resident set size"],
  ["stack", "size", "stack size"],
  ["vmem", "size", "virtual memory size"],
];

const ACTION_TEXT =
  "false or unset: nothing; true: run <script> ACTION; an integer: legacy sequence number, runs <script> ACTION; otherwise a command line: run through /bin/sh -c when it holds shell operators as written (|, ||, &&, ;, a redirection, $$(...), backquotes), else as words without a shell. A value substituted into it (a reference, [env], --env) may not hold shell syntax (E2028).";

/** Keywords shared by app.forking and app.simple. */
export const appKeywords: KeywordSpec[] = [
  { name: "script", type: "string", format: "abs-path", scopable: true, text: "The launcher script run with start/stop/status/info as argument when an action keyword is true; a relative path is taken in the object's init directory.", example: "/srv/{name}/bin/launcher" },
  { name: "start", type: "string", scopable: true, text: ACTION_TEXT.replaceAll("ACTION", "start"), example: "/srv/{name}/bin/server --daemon" },
  { name: "stop", type: "string", scopable: true, text: ACTION_TEXT.replaceAll("ACTION", "stop"), example: "true" },
  { name: "check", type: "string", scopable: true, text: ACTION_TEXT.replaceAll("ACTION", "status") + " Its exit code maps to a status through retcodes.", example: "true" },
  { name: "info", type: "string", scopable: true, text: ACTION_TEXT.replaceAll("ACTION", "info") + " Its key: value output lines are reported as resource info.", example: "true" },
  { name: "timeout", type: "duration", scopable: true, text: "Time allowed for any action, unless the action has its own timeout.", example: "1m" },
  { name: "start_timeout", type: "duration", scopable: true, text: "Time allowed for start (overrides timeout).", example: "2m" },
  { name: "stop_timeout", type: "duration", scopable: true, text: "Time allowed for stop (overrides timeout).", example: "30s" },
  { name: "check_timeout", type: "duration", scopable: true, text: "Time allowed for check (overrides timeout).", example: "10s" },
  { name: "info_timeout", type: "duration", scopable: true, text: "Time allowed for info (overrides timeout).", example: "10s" },
  { name: "retcodes", type: "string", format: "retcodes", scopable: true, default: "0:up 1:down", text: "How check exit codes map to statuses, as <code>:<status> words (statuses up down warn n/a undef).", example: "0:up 1:down 3:warn" },
  { name: "status_log", type: "bool", scopable: true, default: "false", text: "Report the check command's stdout/stderr lines in the resource status log." },
  { name: "environment", type: "shlex", format: "env-words", scopable: true, text: "Environment variables as KEY=VALUE words.", example: "FOO=bar LANG=C" },
  { name: "configs_environment", type: "shlex", scopable: true, text: "Environment variables whose values come from config objects, as KEY=<cfg>/<key> words.", example: "CONF=app/app.conf" },
  { name: "secrets_environment", type: "shlex", scopable: true, sensitive: true, text: "Environment variables whose values come from secret objects, as KEY=<sec>/<key> words (values masked).", example: "PASSWORD=db/password" },
  { name: "user", type: "string", format: "account", scopable: true, text: "User the commands run as (name or uid).", example: "www-data" },
  { name: "group", type: "string", format: "account", scopable: true, text: "Group the commands run as (name or gid).", example: "www-data" },
  { name: "cwd", type: "string", format: "abs-path", scopable: true, text: "Working directory of the commands.", example: "/srv/{name}" },
  { name: "umask", type: "octal", scopable: true, text: "The umask of the commands.", example: "022" },
  ...LIMITS.map(
    ([name, type, what]): KeywordSpec => ({
      name: `limit_${name}`,
      type,
      scopable: true,
      text: `Resource limit (ulimit) of the commands: ${what}.`,
      example: type === "size" ? "1g" : type === "duration" ? "1h" : "4096",
    }),
  ),
];

const ACTIONS = ["start", "stop", "check", "info"] as const;

/** "true" or a legacy sequence number: the action runs <script> <action>. */
function runsScript(v: KwValue | undefined): boolean {
  if (v === true || typeof v === "number") return true;
  return typeof v === "string" && (/^true$/i.test(v.trim()) || /^[+-]?\d+$/.test(v.trim()));
}

/** An app whose actions need its script, or a script no action runs. */
function checkApp(get: (name: string) => KwValue | undefined): ResourceProblem[] {
  const script = get("script");
  const scriptText = typeof script === "string" ? script.trim() : "";
  const scripted = ACTIONS.filter((a) => runsScript(get(a)));
  const out: ResourceProblem[] = [];
  if (scripted.length && !scriptText) {
    out.push({ severity: "error", keyword: scripted[0], message: `${scripted.join(", ")} ${scripted.length > 1 ? "are" : "is"} true, which runs <script> ${scripted[0] === "check" ? "status" : scripted[0]}, but script is not set`, hint: "Set script = /path/to/launcher, or give the action a command line." });
  }
  if (scriptText && !scripted.length && ACTIONS.every((a) => get(a) === undefined || String(get(a)).trim() === "" || /^false$/i.test(String(get(a)).trim()))) {
    out.push({ severity: "warning", keyword: "script", message: "script is set but no action keyword runs it: this app never starts, stops or checks anything", hint: "Set start = true (and stop = true, check = true) to run the script, as upstream templates do." });
  }
  return out;
}

export const appForkingSpec: DriverSpec = {
  group: "app",
  type: "forking",
  text: "An application whose start command forks a daemon and returns; check tells whether it runs.",
  keywords: appKeywords,
  check: checkApp,
};

export const appSimpleSpec: DriverSpec = {
  group: "app",
  type: "simple",
  text: "An application whose start command is the long-running process itself; osvc keeps its pid and kills it at stop.",
  keywords: [
    ...appKeywords,
    { name: "kill", type: "string", scopable: true, default: "parent", candidates: ["parent", "tree"], text: "At stop without a stop command, kill only the started process (parent) or its whole process tree (tree)." },
  ],
  check: checkApp,
};

export const appSpecs: DriverSpec[] = [appForkingSpec, appSimpleSpec];
