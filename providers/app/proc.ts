// Read-only process inspection through /proc (host-environment §6).
//
// PID 1 on these machines reaps orphaned zombies lazily (seconds): after a kill, /proc/PID still
// exists with state Z and `kill -0 PID` succeeds. Liveness therefore reads /proc/PID/stat field 3
// and treats Z (zombie) and X (dead) as dead. PID reuse is guarded by the start time (field 22,
// clock ticks since boot) recorded when osvc started the process.
import { readdir, readFile, stat } from "node:fs/promises";

export interface ProcStat {
  readonly pid: number;
  /** Field 3: R S D Z T t X I ... */
  readonly state: string;
  readonly ppid: number;
  readonly pgrp: number;
  readonly session: number;
  /** Field 22: start time in clock ticks after boot. */
  readonly starttime: number;
}

/** Parses /proc/PID/stat (the comm field may contain spaces and parentheses: split after the last ")"). */
export function parseProcStat(text: string): ProcStat | undefined {
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return undefined;
  const pid = Number(text.slice(0, open).trim());
  const f = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // f[0] is field 3 (state); field N is f[N - 3].
  if (f.length < 20 || !Number.isInteger(pid)) return undefined;
  const n = (i: number) => Number(f[i - 3]);
  return { pid, state: f[0], ppid: n(4), pgrp: n(5), session: n(6), starttime: n(22) };
}

export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    return parseProcStat(await readFile(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

export function isDeadState(state: string): boolean {
  return state === "Z" || state === "X" || state === "x";
}

/** USER_HZ: the unit of /proc/PID/stat times; 100 on every Linux architecture osvc runs on. */
export const CLOCK_TICKS = 100;

let bootTimeCache: number | undefined;

/** Boot time in seconds since the epoch (/proc/stat btime). */
export async function bootTime(): Promise<number> {
  if (bootTimeCache !== undefined) return bootTimeCache;
  const text = await readFile("/proc/stat", "utf8");
  const m = /^btime\s+(\d+)$/m.exec(text);
  if (!m) throw new Error("no btime in /proc/stat");
  bootTimeCache = Number(m[1]);
  return bootTimeCache;
}

export type Liveness = { alive: true; stat: ProcStat } | { alive: false; why: "gone" | "zombie" | "reused" };

/**
 * Is this pid the process osvc started? `starttime` (exact, from the outputs recorded at start) or,
 * failing that, `notAfterEpochMs` (the pidfile's mtime: the process was forked before its pidfile was
 * written, so a process started well after it is another one that reuses the pid).
 */
export async function liveness(pid: number, guard: { starttime?: number; notAfterEpochMs?: number }): Promise<Liveness> {
  const st = await readProcStat(pid);
  if (!st) return { alive: false, why: "gone" };
  if (isDeadState(st.state)) return { alive: false, why: "zombie" };
  if (guard.starttime !== undefined) {
    if (st.starttime !== guard.starttime) return { alive: false, why: "reused" };
  } else if (guard.notAfterEpochMs !== undefined) {
    const startedMs = ((await bootTime()) + st.starttime / CLOCK_TICKS) * 1000;
    // btime is whole seconds: allow 2 s of slack.
    if (startedMs > guard.notAfterEpochMs + 2000) return { alive: false, why: "reused" };
  }
  return { alive: true, stat: st };
}

export interface PidFile {
  readonly pid: number;
  readonly mtimeMs: number;
}

export async function readPidFile(file: string): Promise<PidFile | undefined> {
  try {
    const [text, st] = await Promise.all([readFile(file, "utf8"), stat(file)]);
    const t = text.trim();
    if (!/^\d+$/.test(t)) return undefined;
    return { pid: Number(t), mtimeMs: st.mtimeMs };
  } catch {
    return undefined;
  }
}

/** Every live (non-zombie) process: one /proc scan, for killing a process tree. */
export async function allProcs(): Promise<ProcStat[]> {
  const out: ProcStat[] = [];
  let names: string[];
  try {
    names = await readdir("/proc");
  } catch {
    return out;
  }
  await Promise.all(
    names
      .filter((n) => /^\d+$/.test(n))
      .map(async (n) => {
        const st = await readProcStat(Number(n));
        if (st && !isDeadState(st.state)) out.push(st);
      }),
  );
  return out;
}

/** The process, its descendants (by ppid) and the members of its process group. */
export function processTree(root: ProcStat, procs: readonly ProcStat[]): number[] {
  const children = new Map<number, number[]>();
  for (const p of procs) {
    const l = children.get(p.ppid) ?? [];
    l.push(p.pid);
    children.set(p.ppid, l);
  }
  const seen = new Set<number>([root.pid]);
  const stack = [root.pid];
  while (stack.length) {
    const pid = stack.pop()!;
    for (const c of children.get(pid) ?? []) {
      if (!seen.has(c)) {
        seen.add(c);
        stack.push(c);
      }
    }
  }
  for (const p of procs) if (p.pgrp === root.pgrp && p.pgrp > 1) seen.add(p.pid);
  return [...seen];
}
