// End-to-end helpers over the compiled CLI: a private sandbox (temp dir + --root) per test,
// state/journal readers, JSON plan helpers, independent host checks, and a killable async CLI run.
// Tests may run concurrently (describe.concurrent): every CLI run is asynchronous, and each sandbox is
// force-cleaned by its own test's onTestFinished hook (even when the test failed), never by a shared list.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestContext } from "vitest";
import { BIN, ROOT, type CliResult } from "./cli.js";
import { allMounts, forceCleanup, losetupJ, sh } from "./host.js";

/** Force-cleans `dir` (unmount, detach, remove) when the test finishes, pass or fail; a leftover fails the test. */
export function cleanAfter(ctx: Pick<TestContext, "onTestFinished">, dir: string): void {
  ctx.onTestFinished(() => {
    const problems = forceCleanup([dir]);
    if (problems.length) throw new Error(`cleanup of ${dir} failed:\n${problems.join("\n")}`);
  });
}

export interface PlanChange {
  rid: string;
  driver: string;
  action: string;
  symbol: string;
  reason: string;
  refused?: string;
  depends_on: string[];
  change: { before: Record<string, unknown>; after: Record<string, unknown>; after_unknown: string[]; replace_keys: string[] };
}

export interface PlanJson {
  object: string;
  node: string;
  lineage: string | null;
  serial: number;
  options: { refresh: boolean; targets: string[]; excludes: string[]; allow_replace: string[]; destroy: boolean };
  resource_changes: PlanChange[];
  summary: Record<string, number>;
  diagnostics: { code: string; severity: string; summary: string }[];
}

export interface StateJson {
  lineage: string;
  serial: number;
  node: string;
  resources: Record<string, { rid: string; driver: string; provisioned: boolean | null; inputs: Record<string, unknown>; outputs: Record<string, unknown>; lastError?: string; createdByOsvc?: boolean }>;
}

export interface JournalLine {
  ts: string;
  run: string;
  op: "intent" | "outcome";
  rid: string;
  action: string;
  ok?: boolean;
  error?: string;
}

/** The changes that are not noop, as "rid:action". */
export function actionsOf(p: PlanJson): string[] {
  return p.resource_changes.filter((c) => c.action !== "noop").map((c) => `${c.rid}:${c.action}`);
}

/** rid -> action for every resource of the plan. */
export function actionMap(p: PlanJson): Record<string, string> {
  return Object.fromEntries(p.resource_changes.map((c) => [c.rid, c.action]));
}

export interface Sandbox {
  /** The temp dir (templates, images, mount points live below it). */
  readonly dir: string;
  /** The private state root (--root). */
  readonly root: string;
  /** Absolute path of a name below the sandbox. */
  at(rel: string): string;
  /** Writes a template (or any file) below the sandbox; returns its absolute path. */
  write(rel: string, text: string): string;
  /** Runs the CLI with --root <root> appended. */
  osvc(args: readonly string[]): Promise<CliResult>;
  /** Runs `plan <template> --json` (plus extra args); parses the JSON plan from stdout. */
  planJson(template: string, extra?: readonly string[]): Promise<{ code: number; plan: PlanJson; stderr: string }>;
  /** The object's directory in the state root. */
  objectDir(object: string): string;
  /** The parsed state.json (JSON.parse throws when it is not readable JSON), or null when absent. */
  state(object: string): StateJson | null;
  /** The parsed journal.ndjson lines (each must be valid JSON). */
  journal(object: string): JournalLine[];
}

/** A fresh sandbox: a unique temp dir cleaned when the test finishes, with a private state root in it. */
export function sandbox(ctx: Pick<TestContext, "onTestFinished">, prefix = "osvc-e2e-"): Sandbox {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), prefix)));
  cleanAfter(ctx, dir);
  const root = path.join(dir, "state");
  const sb: Sandbox = {
    dir,
    root,
    at: (rel) => path.join(dir, rel),
    write(rel, text) {
      const f = path.join(dir, rel);
      writeFileSync(f, text);
      return f;
    },
    osvc: (args) => runCliAsync([...args, "--root", root]),
    async planJson(template, extra = []) {
      const r = await sb.osvc(["plan", template, "--json", ...extra]);
      let plan: PlanJson;
      try {
        plan = JSON.parse(r.stdout) as PlanJson;
      } catch (e) {
        throw new Error(`plan --json printed no JSON (exit ${r.code}): ${(e as Error).message}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      }
      return { code: r.code, plan, stderr: r.stderr };
    },
    objectDir: (object) => path.join(root, "objects", "root", "svc", object),
    state(object) {
      const f = path.join(sb.objectDir(object), "state.json");
      if (!existsSync(f)) return null;
      return JSON.parse(readFileSync(f, "utf8")) as StateJson;
    },
    journal(object) {
      const f = path.join(sb.objectDir(object), "journal.ndjson");
      if (!existsSync(f)) return [];
      return readFileSync(f, "utf8")
        .split("\n")
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as JournalLine);
    },
  };
  return sb;
}

/** A short, readable description of a CLI run for assertion messages. */
export function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

// ---------------------------------------------------------------- independent host checks

/** Loop devices whose backing file is `file` (including deleted copies), from `losetup -l -J`. */
export function loopsBackedBy(file: string): string[] {
  return losetupJ()
    .filter((l) => l["back-file"].replace(/ \(deleted\)$/, "") === file)
    .map((l) => l.name);
}

/** Everything mounted at or below `dir`. */
export function mountsUnder(dir: string): string[] {
  return allMounts()
    .map((m) => m.target)
    .filter((t) => t === dir || t.startsWith(`${dir}/`));
}

/** Loop devices whose backing file lives at or below `dir`. */
export function loopsUnder(dir: string): string[] {
  return losetupJ()
    .filter((l) => {
      const f = l["back-file"].replace(/ \(deleted\)$/, "");
      return f === dir || f.startsWith(`${dir}/`);
    })
    .map((l) => l.name);
}

/** `stat -c %a`: the octal mode of a path, as stat prints it ("755"). */
export function modeOf(p: string): string {
  const r = sh("stat", ["-c", "%a", p]);
  if (r.rc !== 0) throw new Error(`stat ${p}: ${r.stderr}`);
  return r.stdout.trim();
}

/** `stat -c %s`: the size of a file in bytes. */
export function sizeOf(p: string): number {
  const r = sh("stat", ["-c", "%s", p]);
  if (r.rc !== 0) throw new Error(`stat ${p}: ${r.stderr}`);
  return Number(r.stdout.trim());
}

/** Runs a command and fails the test with its output when it does not exit 0. */
export function must(file: string, args: readonly string[]): string {
  const r = sh(file, args);
  if (r.rc !== 0) throw new Error(`${file} ${args.join(" ")} failed (${r.rc}): ${r.stderr}`);
  return r.stdout;
}

// ---------------------------------------------------------------- a killable CLI run

export interface KilledRun {
  /** True when the run was killed because the line appeared (false: it ended first). */
  killed: boolean;
  /** The line that triggered the kill. */
  line?: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  pid: number;
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Live (not zombie) process ids with their parent, from /proc. */
function procParents(): Map<number, number> {
  const out = new Map<number, number>();
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = readFileSync(`/proc/${e}/stat`, "utf8");
      const m = /\) (\S) (\d+) /.exec(st);
      if (m && m[1] !== "Z" && m[1] !== "X") out.set(Number(e), Number(m[2]));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** The live descendants of a process (osvc's host commands run in their own process groups). */
/** Waits (at most 2 s, busy) until the process is stopped or gone: a SIGSTOP takes effect asynchronously. */
function waitStopped(pid: number): void {
  const deadline = Date.now() + 2_000;
  while (Date.now() < deadline) {
    try {
      if (/\) [TtZX] /.test(readFileSync(`/proc/${pid}/stat`, "utf8"))) return;
    } catch {
      return;
    }
  }
}

export function descendantsOf(pid: number): number[] {
  const parents = procParents();
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [c, pp] of parents) {
      if (pp === p && !out.includes(c)) {
        out.push(c);
        walk(c);
      }
    }
  };
  walk(pid);
  return out;
}

/** Waits until none of these processes lives (at most `ms`); returns the survivors. */
export async function waitGone(pids: readonly number[], ms = 15_000): Promise<number[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const live = procParents();
    const left = pids.filter((p) => live.has(p));
    if (left.length === 0 || Date.now() >= deadline) return left;
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface StartedCli {
  readonly pid: number;
  stdout(): string;
  stderr(): string;
  /** Resolves with the first stdout line matching `re` (rejects when osvc ends first). */
  line(re: RegExp): Promise<string>;
  /** Sends a signal to osvc's whole process group, as a terminal's Ctrl-C does. */
  group(signal: NodeJS.Signals): void;
  /** Sends a signal to the osvc process only. */
  self(signal: NodeJS.Signals): void;
  /** Closes the reading ends of osvc's stdout and stderr (a dropped session). */
  closeOutput(): void;
  /** osvc's end; then its descendants (commands it left running) are waited for, at most 15 s. */
  readonly done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; leftovers: number[] }>;
}

/**
 * Spawns `bin/osvc.js <args>` (a command, as a user runs it) as the leader of its own process group (as a shell does for a
 * foreground job): `group("SIGINT")` then emulates a terminal's Ctrl-C. Killed after `timeoutMs`.
 */
export function startCli(args: readonly string[], opts: { timeoutMs?: number } = {}): StartedCli {
  const child = spawn(BIN, [...args], {
    cwd: ROOT,
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const pid = child.pid!;
  let stdout = "";
  let stderr = "";
  let known: number[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void; reject: (e: Error) => void }[] = [];
  const check = () => {
    const lines = stdout.split("\n").slice(0, -1);
    for (const w of [...waiters]) {
      const l = lines.find((x) => w.re.test(x));
      if (l !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(l);
      }
    }
  };
  const send = (target: number, signal: NodeJS.Signals) => {
    known = [...new Set([...known, ...descendantsOf(pid)])];
    try {
      process.kill(target, signal);
    } catch {
      // gone
    }
  };
  const timer = setTimeout(() => send(-pid, "SIGKILL"), opts.timeoutMs ?? 60_000);
  child.stdout.setEncoding("utf8");
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d: string) => (stderr += d));
  child.stdout.on("data", (d: string) => {
    stdout += d;
    check();
  });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; leftovers: number[] }>((resolve) => {
    child.on("close", async (code, signal) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) w.reject(new Error(`osvc ended (${code ?? signal}) before a line matched ${w.re}:\n${stdout}\n${stderr}`));
      const leftovers = await waitGone(known);
      resolve({ code, signal, stdout, stderr, leftovers });
    });
  });
  return {
    pid,
    stdout: () => stdout,
    stderr: () => stderr,
    line: (re) =>
      new Promise((resolve, reject) => {
        waiters.push({ re, resolve, reject });
        check();
      }),
    group: (signal) => send(-pid, signal),
    self: (signal) => send(pid, signal),
    closeOutput: () => {
      child.stdout.destroy();
      child.stderr.destroy();
    },
    done,
  };
}

/**
 * Spawns `bin/osvc.js <args>` (a command) in its own process group, watches its stdout line by line and
 * sends SIGKILL to the osvc process only (not its children) as soon as a line matches `when`.
 * Then waits until the children it left (a mkfs in flight) are gone too, so the host is quiet.
 */
export function runAndKill(args: readonly string[], when: RegExp, opts: { timeoutMs?: number; env?: Record<string, string> } = {}): Promise<KilledRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, [...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
      detached: true,
    });
    const pid = child.pid!;
    let stdout = "";
    let stderr = "";
    let pending = "";
    let killed = false;
    let line: string | undefined;
    let orphans: number[] = [];
    const timer = setTimeout(() => {
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        /* gone */
      }
      reject(new Error(`runAndKill: timeout; stdout so far:\n${stdout}`));
    }, opts.timeoutMs ?? 30_000);
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (stderr += d));
    child.stdout.on("data", (d: string) => {
      stdout += d;
      pending += d;
      let i: number;
      while (!killed && (i = pending.indexOf("\n")) >= 0) {
        const l = pending.slice(0, i);
        pending = pending.slice(i + 1);
        if (when.test(l)) {
          killed = true;
          line = l;
          // Stopped first, so that no command it is starting escapes the list of what it leaves.
          try {
            process.kill(pid, "SIGSTOP");
          } catch {
            /* already gone */
          }
          waitStopped(pid);
          orphans = descendantsOf(pid);
          try {
            process.kill(pid, "SIGKILL");
          } catch {
            /* already gone */
          }
        }
      }
    });
    child.on("error", reject);
    child.on("close", async (code, signal) => {
      clearTimeout(timer);
      // Children of the killed process (same process group) finish on their own: wait for them.
      const deadline = Date.now() + 15_000;
      while (groupAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      // Its host commands run in their own process groups: wait for them too.
      await waitGone(orphans, Math.max(0, deadline - Date.now()));
      resolve({ killed: killed && signal === "SIGKILL", line, code, signal, stdout, stderr, pid });
    });
  });
}

/** Spawns a node script (ESM source text) in the background; resolves once it printed `ready`. */
export function spawnScript(source: string, ready: RegExp): Promise<{ pid: number; stdout: () => string; exited: Promise<number | null>; kill: () => void }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", source], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let done = false;
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (err += d));
    child.stdout.on("data", (d: string) => {
      out += d;
      if (!done && ready.test(out)) {
        done = true;
        resolve({
          pid: child.pid!,
          stdout: () => out,
          exited,
          kill: () => {
            if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
          },
        });
      }
    });
    void exited.then((code) => {
      if (!done) reject(new Error(`script exited (${code}) before it was ready:\n${out}\n${err}`));
    });
  });
}

/** Runs the compiled CLI asynchronously (NO_COLOR), so that concurrent tests do not block each other. */
export function runCliAsync(args: readonly string[]): Promise<CliResult & { elapsedMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const child = spawn(BIN, [...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined }, stdio: ["ignore", "pipe", "pipe"], timeout: 60_000, killSignal: "SIGKILL" });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (d: string) => (stdout += d));
    child.stderr.on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr, elapsedMs: Date.now() - t0 }));
  });
}
