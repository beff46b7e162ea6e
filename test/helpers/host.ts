// Helpers for end-to-end tests against the real host (root, loop devices, mkfs, mount).
// Everything a test creates lives under a temp dir from makeTempDir(); forceCleanup() unmounts,
// detaches and removes whatever is left below it, so a failing test never leaks host state.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, existsSync, realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ProbeContext, ProviderContext, LogLevel, Provider, ResourceSpec } from "../../src/provider/api.js";
import { createExec, type Exec } from "../../src/provider/exec.js";
import type { Outputs, KwValue } from "../../src/core/value.js";

/** Runs a command synchronously (tests only); returns rc and output, never throws on rc != 0. */
export function sh(file: string, args: readonly string[]): { rc: number; stdout: string; stderr: string } {
  const r = spawnSync(file, [...args], { encoding: "utf8" });
  return { rc: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** A fresh, uniquely named directory under os.tmpdir(), registered for cleanup. */
export function makeTempDir(prefix = "osvc-e2e-"): string {
  const d = realpathSync(mkdtempSync(path.join(os.tmpdir(), prefix)));
  cleanup.register(d);
  return d;
}

/** Registry of temp dirs to force-clean in afterEach. */
export const cleanup = {
  paths: [] as string[],
  register(p: string): void {
    this.paths.push(p);
  },
  /** Cleans every registered path; returns the problems met (empty when all went well). */
  run(): string[] {
    const paths = this.paths.splice(0);
    return forceCleanup(paths);
  },
};

export interface LoopRow {
  name: string;
  "back-file": string;
}

/**
 * `losetup -l -J` rows (empty list when no loop device is attached). A device another process is
 * attaching or detaching right now has no backing file yet (`null`): it gets "" here, so callers
 * can match on the string without caring about that race.
 */
export function losetupJ(): LoopRow[] {
  const out = execFileSync("losetup", ["-l", "-J", "-O", "NAME,BACK-FILE"], { encoding: "utf8" });
  if (!out.trim()) return [];
  const rows = (JSON.parse(out) as { loopdevices?: { name?: unknown; "back-file"?: unknown }[] }).loopdevices ?? [];
  return rows
    .filter((r) => typeof r.name === "string")
    .map((r) => ({ name: r.name as string, "back-file": typeof r["back-file"] === "string" ? r["back-file"] : "" }));
}

/** Loop devices `losetup -j FILE` reports for a file (inode-based). */
export function loopsOf(file: string): string[] {
  const r = sh("losetup", ["-j", file]);
  return r.stdout
    .split("\n")
    .map((l) => /^(\/dev\/[^:]+):/.exec(l)?.[1])
    .filter((x): x is string => Boolean(x));
}

export interface FindmntRow {
  target: string;
  source: string;
  fstype: string;
  options: string;
}

/** `findmnt -J MNT`: the mount at exactly that target, or undefined when it is not a mount point. */
export function findmnt(target: string): FindmntRow | undefined {
  const r = sh("findmnt", ["-J", "-n", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS", "--mountpoint", target]);
  if (r.rc !== 0 || !r.stdout.trim()) return undefined;
  const rows = (JSON.parse(r.stdout) as { filesystems: FindmntRow[] }).filesystems;
  return rows[rows.length - 1];
}

/** All mounts (list form). */
export function allMounts(): FindmntRow[] {
  const out = execFileSync("findmnt", ["-J", "-l", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"], { encoding: "utf8" });
  return (JSON.parse(out) as { filesystems: FindmntRow[] }).filesystems;
}

/** `blkid -p -o value -s TYPE DEV`: the filesystem type, or undefined for no signature. */
export function blkidType(dev: string): string | undefined {
  const r = sh("blkid", ["-p", "-o", "value", "-s", "TYPE", dev]);
  return r.rc === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

export interface LogLine {
  level: LogLevel;
  message: string;
}

export interface TestContext extends ProviderContext, ProbeContext {
  /** Messages from ctx.log. */
  readonly logs: LogLine[];
  /** Every command line run through ctx.exec, in order. */
  readonly commands: string[];
  /** Forget logs and commands (between steps). */
  reset(): void;
}

/** A ProviderContext/ProbeContext over the real createExec, recording logs and commands in memory. */
export function testContext(opts: { varDir?: string; objectName?: string; exec?: (record: (command: string) => void) => Exec } = {}): TestContext {
  const logs: LogLine[] = [];
  const commands: string[] = [];
  const record = (c: string) => commands.push(c);
  const exec = opts.exec
    ? opts.exec(record)
    : createExec((ev) => {
        if (!ev.result) record(ev.command);
      });
  const ac = new AbortController();
  return {
    exec,
    log(level, message) {
      logs.push({ level, message });
    },
    signal: ac.signal,
    role: "solo",
    objectName: opts.objectName ?? "e2e",
    nodename: os.hostname(),
    varDir: opts.varDir ?? os.tmpdir(),
    logs,
    commands,
    reset() {
      logs.length = 0;
      commands.length = 0;
    },
  };
}

/** A ResourceSpec for tests. */
export function res(rid: string, driver: string, kw: Record<string, KwValue>, recorded?: Outputs): ResourceSpec {
  return recorded ? { rid, driver, kw, recorded } : { rid, driver, kw };
}

/** Probes one resource. */
export async function probeOne(p: Provider, ctx: ProbeContext, r: ResourceSpec) {
  const [o] = await p.probe(ctx, [r]);
  return o;
}

function under(p: string, roots: readonly string[]): boolean {
  return roots.some((r) => p === r || p.startsWith(r.endsWith("/") ? r : `${r}/`));
}

/**
 * Unmounts everything mounted under the given dirs (deepest first, lazily as a last resort),
 * unmounts whatever a loop backed by a file under them carries, detaches those loops, and removes the
 * dirs. Only touches what lives under `paths`. Returns the problems met.
 */
export function forceCleanup(paths: readonly string[]): string[] {
  const roots = paths.map((p) => path.resolve(p));
  if (roots.length === 0) return [];
  const problems: string[] = [];
  for (const r of roots) if (r === "/" || r.split("/").length < 3) throw new Error(`forceCleanup refuses ${r}`);
  const loops = losetupJ().filter((l) => under(l["back-file"].replace(/ \(deleted\)$/, ""), roots));
  const loopNames = new Set(loops.map((l) => l.name));
  for (let round = 0; round < 3; round++) {
    const mounts = allMounts()
      .filter((m) => under(m.target, roots) || loopNames.has(m.source.replace(/\[.*\]$/, "")))
      .sort((a, b) => b.target.length - a.target.length);
    if (mounts.length === 0) break;
    for (const m of mounts) {
      const u = sh("umount", [m.target]);
      if (u.rc !== 0 && round === 2) {
        const l = sh("umount", ["-l", m.target]);
        if (l.rc !== 0) problems.push(`umount ${m.target}: ${u.stderr.trim()}`);
      }
    }
  }
  for (const l of loops) {
    const d = sh("losetup", ["-d", l.name]);
    if (d.rc !== 0) problems.push(`losetup -d ${l.name}: ${d.stderr.trim()}`);
  }
  for (const r of roots) {
    if (!existsSync(r)) continue;
    try {
      rmSync(r, { recursive: true, force: true });
    } catch (e) {
      problems.push(`rm ${r}: ${(e as Error).message}`);
    }
  }
  return problems;
}

/** Processes a test started (through osvc): SIGKILLed by pid, then forgotten, by `end()` in afterEach. */
export const testPids = {
  pids: [] as number[],
  add(pid: number): void {
    this.pids.push(pid);
  },
  end(): void {
    for (const pid of this.pids.splice(0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
  },
};
