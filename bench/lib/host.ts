// Host helpers for the benchmarks that touch the real host (bench/plan.ts, bench/apply.ts):
// project paths, timed CLI runs, loop+ext4 stack templates, and a cleanup routine that only
// ever touches mounts and loop devices backed by files under the bench's own temp directory.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { StringDecoder } from "node:string_decoder";
import { fileURLToPath } from "node:url";

/** The project root: the nearest ancestor holding package.json and bin/osvc.js (works from bench/ and dist/bench/). */
export function projectRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(d, "package.json")) && existsSync(join(d, "bin", "osvc.js"))) return d;
    const up = dirname(d);
    if (up === d) throw new Error("project root not found");
    d = up;
  }
}

export const osvcBin = (): string => resolve(projectRoot(), "bin/osvc.js");

export interface Timed {
  readonly ms: number;
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The stdout lines with the time (ms since spawn) each one arrived: where a run spent its time. */
  readonly lines: readonly TimedLine[];
}

export interface TimedLine {
  readonly ms: number;
  readonly text: string;
}

/** The command `timed()` is running now (a signal handler may stop it). */
let running: ChildProcess | undefined;

/**
 * Runs a command to completion (no shell) and measures its wall time, from spawn to the end of
 * its output. Asynchronous, so that SIGINT/SIGTERM handlers get to run while it waits.
 */
export function timed(file: string, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<Timed> {
  return new Promise((done) => {
    const t0 = performance.now();
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const lines: TimedLine[] = [];
    const decoder = new StringDecoder("utf8");
    let partial = "";
    let settled = false;
    const finish = (status: number | null, extra = "") => {
      if (settled) return;
      settled = true;
      const ms = performance.now() - t0;
      if (running === child) running = undefined;
      partial += decoder.end();
      if (partial) lines.push({ ms, text: partial });
      done({ ms, status, stdout: Buffer.concat(out).toString("utf8"), stderr: Buffer.concat(err).toString("utf8") + extra, lines });
    };
    // Own process group: a Ctrl-C on the terminal reaches the bench only, which decides (see CleanupRegistry).
    const child = spawn(file, [...args], { cwd: opts.cwd ?? projectRoot(), env: opts.env ?? process.env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    running = child;
    child.stdout.on("data", (d: Buffer) => {
      const ms = performance.now() - t0;
      out.push(d);
      const parts = (partial + decoder.write(d)).split("\n");
      partial = parts.pop() ?? "";
      for (const text of parts) lines.push({ ms, text });
    });
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => finish(null, String(e)));
    child.on("close", (code, signal) => finish(code ?? null, signal ? `killed by ${signal}` : ""));
  });
}

/**
 * Runs `bin/osvc.js ARGS` of this tree, or of another build (`build`: a directory with its bin/,
 * dist/, package.json), as a command, the way `osvc` on the PATH runs (its #! line, not `node
 * bin/osvc.js`): timed end to end, node start-up included. NO_COLOR keeps the output plain.
 */
export function osvc(args: readonly string[], build?: string): Promise<Timed> {
  const bin = build ? resolve(build, "bin/osvc.js") : osvcBin();
  return timed(bin, args, { env: { ...process.env, NO_COLOR: "1" } });
}

/**
 * What a bare Node start costs here: `node -e 0` in this environment and, when the environment
 * sets NODE_EXTRA_CA_CERTS (Node 20 then parses its root store at start), without it: what
 * `osvc` run as a command pays since its launcher leaves that variable out of node's start.
 */
export async function nodeStart(): Promise<{ asIs: number; withoutExtraCa?: number }> {
  const asIs = (await timed(process.execPath, ["-e", "0"])).ms;
  if (!process.env.NODE_EXTRA_CA_CERTS) return { asIs };
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return { asIs, withoutExtraCa: (await timed(process.execPath, ["-e", "0"], { env })).ms };
}

/** The first lines of a failed command's output, for a one-line note. */
export function tail(t: Timed, lines = 4): string {
  return (t.stderr.trim() || t.stdout.trim()).split("\n").slice(-lines).join(" | ");
}

export function commandExists(cmd: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" }).status === 0;
}

// ------------------------------------------------------------------ templates

export interface Stack {
  readonly i: number;
  readonly file: string;
  readonly mnt: string;
}

export function stacksIn(dir: string, n: number): Stack[] {
  return Array.from({ length: n }, (_, i) => ({ i, file: join(dir, `d${i}.img`), mnt: join(dir, `m${i}`) }));
}

/** An osvc template of `n` disk.loop (`size`) + fs.ext4 stacks with files and mount points under `dir`. */
export function stacksTemplate(dir: string, n: number, size = "32m"): string {
  const out = [`# generated by bench/lib/host.ts: ${n} loop+ext4 stacks under ${dir}`, ""];
  for (const s of stacksIn(dir, n)) {
    out.push(`[disk#${s.i}]`, "type = loop", `file = ${s.file}`, `size = ${size}`, "");
    out.push(`[fs#${s.i}]`, "type = ext4", `dev = {disk#${s.i}.exposed_devs[0]}`, `mnt = ${s.mnt}`, "");
  }
  return out.join("\n");
}

// ------------------------------------------------------------------ what is on the host

const BENCH_PREFIX = "osvc-bench-";

/** A fresh, uniquely named directory /tmp/osvc-bench-<what>-XXXXXX. */
export function benchDir(what: string): string {
  return mkdtempSync(join("/tmp", `${BENCH_PREFIX}${what}-`));
}

/** `p` is inside `dir`; with `raw`, `p` merely starts with `dir` (a name prefix such as /tmp/osvc-bench-apply-). */
function under(dir: string, p: string, raw = false): boolean {
  const prefix = raw || dir.endsWith("/") ? dir : `${dir}/`;
  return p.startsWith(prefix);
}

export interface MountRow {
  readonly target: string;
  readonly source: string;
  readonly fstype: string;
}

/** Mounts whose target is under `dir` (one `findmnt`). */
export function mountsUnder(dir: string, raw = false): MountRow[] {
  const r = spawnSync("findmnt", ["-J", "-l", "-o", "TARGET,SOURCE,FSTYPE"], { encoding: "utf8" });
  if (r.status !== 0 || !r.stdout.trim()) return [];
  const data = JSON.parse(r.stdout) as { filesystems?: { target?: string; source?: string; fstype?: string }[] };
  return (data.filesystems ?? [])
    .map((f) => ({ target: String(f.target ?? ""), source: String(f.source ?? ""), fstype: String(f.fstype ?? "") }))
    .filter((m) => under(dir, m.target, raw));
}

export interface LoopRow {
  readonly name: string;
  readonly backFile: string;
}

/** Loop devices whose backing file is under `dir` (one `losetup -l -J`), deleted backing files included. */
export function loopsUnder(dir: string, raw = false): LoopRow[] {
  const r = spawnSync("losetup", ["-l", "-J", "-O", "NAME,BACK-FILE"], { encoding: "utf8" });
  if (r.status !== 0 || !r.stdout.trim()) return [];
  const data = JSON.parse(r.stdout) as { loopdevices?: { name?: string; "back-file"?: string }[] };
  return (data.loopdevices ?? [])
    .map((l) => ({ name: String(l.name ?? ""), backFile: String(l["back-file"] ?? "").replace(/ \(deleted\)$/, "") }))
    .filter((l) => l.name && under(dir, l.backFile, raw));
}

/** How many of the stacks under `dir` are really up: ext4 mounted on a loop device backed by the stack's file. */
export function stacksUp(dir: string, n: number): number {
  const mounts = new Map(mountsUnder(dir).map((m) => [m.target, m]));
  const loops = new Map(loopsUnder(dir).map((l) => [l.name, l.backFile]));
  let up = 0;
  for (const s of stacksIn(dir, n)) {
    const m = mounts.get(s.mnt);
    if (m && m.fstype === "ext4" && loops.get(m.source) === s.file) up++;
  }
  return up;
}

export interface Leftovers {
  readonly mounts: string[];
  readonly loops: string[];
}

/** Mounts and loop devices of bench files under `dir` (or, with `raw`, under any path starting with `dir`). */
export function leftovers(dir: string, raw = false): Leftovers {
  return { mounts: mountsUnder(dir, raw).map((m) => m.target), loops: loopsUnder(dir, raw).map((l) => `${l.name} (${l.backFile})`) };
}

export const isClean = (l: Leftovers): boolean => l.mounts.length === 0 && l.loops.length === 0;

/**
 * The cleanup routine: unmount everything mounted under `dir` (deepest first), detach every loop
 * device backed by a file under `dir`, then delete `dir` (only when nothing is left mounted).
 * Refuses any directory that is not one of ours (/tmp/osvc-bench-*). Returns what it had to do.
 */
export function cleanupDir(dir: string, opts: { keepDir?: boolean } = {}): { unmounted: number; detached: number; errors: string[] } {
  const abs = resolve(dir);
  if (dirname(abs) !== "/tmp" || !abs.slice(5).startsWith(BENCH_PREFIX)) {
    return { unmounted: 0, detached: 0, errors: [`refusing to clean ${abs}: not a /tmp/${BENCH_PREFIX}* directory`] };
  }
  const errors: string[] = [];
  let unmounted = 0;
  let detached = 0;
  const targets = mountsUnder(abs)
    .map((m) => m.target)
    .sort((a, b) => b.length - a.length);
  for (const t of targets) {
    const r = spawnSync("umount", [t], { encoding: "utf8" });
    if (r.status === 0) unmounted++;
    else errors.push(`umount ${t}: ${(r.stderr ?? "").trim()}`);
  }
  for (const l of loopsUnder(abs)) {
    const r = spawnSync("losetup", ["-d", l.name], { encoding: "utf8" });
    if (r.status === 0) detached++;
    else errors.push(`losetup -d ${l.name}: ${(r.stderr ?? "").trim()}`);
  }
  if (!opts.keepDir) {
    if (mountsUnder(abs).length === 0) rmSync(abs, { recursive: true, force: true });
    else errors.push(`${abs} kept: something is still mounted under it`);
  }
  return { unmounted, detached, errors };
}

export class Interrupted extends Error {
  constructor(readonly signal: NodeJS.Signals) {
    super(`interrupted by ${signal}`);
    this.name = "Interrupted";
  }
}

/**
 * The bench directories to clean. On a first SIGINT/SIGTERM, the bench stops after the command
 * that runs (check() throws Interrupted) and the caller's `finally` runs cleanAll(); on a second
 * one, the running command's process group is killed and everything is cleaned at once.
 */
export class CleanupRegistry {
  private readonly dirs = new Set<string>();
  /** Other cleanups (containers, processes, network namespaces, images), run before the directories, newest first. */
  private readonly hooks = new Map<string, () => string[]>();
  interrupted: NodeJS.Signals | null = null;
  private readonly onSignal = (sig: NodeJS.Signals) => {
    if (this.interrupted) {
      process.stdout.write(
        `\n${sig} again: stopping the running command and cleaning up ${this.dirs.size} bench director${this.dirs.size === 1 ? "y" : "ies"}${this.hooks.size ? ` and ${[...this.hooks.keys()].join(", ")}` : ""}\n`,
      );
      if (running?.pid) {
        try {
          process.kill(-running.pid, "SIGKILL"); // the command and its children (mkfs, mount, ansible workers)
        } catch {
          // already gone
        }
        spawnSync("sleep", ["0.5"]);
      }
      for (const e of this.cleanAll()) process.stdout.write(`cleanup: ${e}\n`);
      process.exit(130);
    }
    this.interrupted = sig;
    process.stdout.write(`\n${sig}: stopping after the running command, then cleaning up (send it again to stop at once)\n`);
  };

  constructor() {
    process.on("SIGINT", this.onSignal);
    process.on("SIGTERM", this.onSignal);
  }

  /** Throws Interrupted once a signal came. */
  check(): void {
    if (this.interrupted) throw new Interrupted(this.interrupted);
  }

  add(dir: string): string {
    this.dirs.add(dir);
    return dir;
  }

  /** Cleans one directory now and forgets it. */
  clean(dir: string): ReturnType<typeof cleanupDir> {
    this.dirs.delete(dir);
    return cleanupDir(dir);
  }

  /** Registers (or replaces) a cleanup under `key`; it returns its errors and must not throw. */
  hook(key: string, fn: () => string[]): void {
    this.hooks.delete(key);
    this.hooks.set(key, fn);
  }

  /** Forgets the hook `key` without running it (the caller cleans up itself). */
  unhook(key: string): void {
    this.hooks.delete(key);
  }

  /** Runs the hook `key` now (if registered) and forgets it. */
  runHook(key: string): string[] {
    const fn = this.hooks.get(key);
    if (!fn) return [];
    this.hooks.delete(key);
    try {
      return fn();
    } catch (e) {
      return [`${key}: ${(e as Error)?.message ?? String(e)}`];
    }
  }

  cleanAll(): string[] {
    const errors: string[] = [];
    for (const k of [...this.hooks.keys()].reverse()) errors.push(...this.runHook(k));
    for (const d of [...this.dirs]) errors.push(...this.clean(d).errors);
    return errors;
  }

  dispose(): void {
    process.off("SIGINT", this.onSignal);
    process.off("SIGTERM", this.onSignal);
  }
}
