// A lock file `<dir>/lock` holding JSON about its holder: one per object (src/state/lock.ts), and
// the per-host locks of host commands that must not run concurrently (src/provider/hostlock.ts).
//
// Acquisition is exclusive-create: the holder info is written to a private temp
// file which is then hard-linked to `lock` (link(2) fails with EEXIST like
// open(O_CREAT|O_EXCL), and the lock never exists half-written).
// A lock whose holder ran on this host and is dead (no /proc/<pid>, a zombie, or
// a pid reused by another process, detected by its start time) is reclaimed.
// Reclaiming is serialized by a short-lived `lock.reclaim` mutex, so two
// reclaimers can never remove a lock that a third one just took.

import { randomUUID } from "node:crypto";
import { link, mkdir, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";

export interface LockHolder {
  pid: number;
  host: string;
  /** ISO 8601, when the lock was taken. */
  startedAt: string;
  /** The command line holding the lock, e.g. "osvc apply web.conf". */
  command: string;
  /** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); null without procfs. */
  procStart: number | null;
  /** /proc/sys/kernel/random/boot_id; a lock from a previous boot is stale. */
  bootId: string | null;
  /** Unique per acquisition, so a holder only ever removes its own lock. */
  token: string;
}

export interface LockOptions {
  /** How long to wait for another holder; 0 = fail at once. */
  timeoutMs: number;
  command: string;
  /** Called when the lock is busy and we start waiting (again for each new holder). */
  onWait?: (holder: LockHolder) => void;
  /** Name used in messages (the object path); defaults to the directory. */
  label?: string;
}

export interface Lock {
  readonly file: string;
  readonly holder: LockHolder;
  /** Removes the lock file if it still holds our own content. Idempotent. */
  release(): Promise<void>;
}

export const LOCK_FILE = "lock";
const RECLAIM_FILE = "lock.reclaim";
/** A reclaim mutex older than this was left by a crashed reclaimer. */
const RECLAIM_ABANDONED_MS = 10_000;
const POLL_MIN_MS = 100;
const POLL_MAX_MS = 1000;

export class LockTimeoutError extends Error {
  constructor(
    readonly label: string,
    readonly file: string,
    readonly holder: LockHolder,
    readonly waitedMs: number,
  ) {
    super(describeBusy(label, file, holder));
    this.name = "LockTimeoutError";
  }
}

function describeBusy(label: string, file: string, h: LockHolder): string {
  const what = `object ${label} is locked by pid ${h.pid} on host ${h.host} (${h.command}) since ${h.startedAt}`;
  const hint =
    h.host === hostname()
      ? `wait, or check that process (ps -fp ${h.pid})`
      : `wait, or check that process on host ${h.host}; if it is gone, remove ${file}`;
  return `${what}; ${hint}`;
}

function errCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface ProcStat {
  state: string;
  start: number;
}

async function readProcStat(pid: number): Promise<ProcStat | null> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
  // "pid (comm) state ppid ..."; comm may contain spaces and parentheses.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state), so field 22 (starttime) is rest[19].
  return { state: rest[0], start: Number(rest[19]) };
}

let procfs: Promise<boolean> | undefined;
const hasProcfs = (): Promise<boolean> =>
  (procfs ??= stat("/proc/self/stat").then(
    () => true,
    () => false,
  ));

let bootId: Promise<string | null> | undefined;
const currentBootId = (): Promise<string | null> =>
  (bootId ??= readFile("/proc/sys/kernel/random/boot_id", "utf8").then(
    (t) => t.trim() || null,
    () => null,
  ));

/** True only when the holder certainly is gone: ran on this host and its process no longer exists. */
export async function isHolderDead(h: LockHolder): Promise<boolean> {
  if (h.host !== hostname()) return false;
  const boot = await currentBootId();
  if (h.bootId && boot && h.bootId !== boot) return true;
  if (!(await hasProcfs())) {
    try {
      process.kill(h.pid, 0);
      return false;
    } catch (e) {
      return errCode(e) === "ESRCH";
    }
  }
  const st = await readProcStat(h.pid);
  if (!st) return true;
  if (st.state === "Z" || st.state === "X") return true;
  return h.procStart !== null && st.start !== h.procStart;
}

/** A lock file's holder, or null when the text is not one. */
export function parseHolder(raw: string): LockHolder | null {
  try {
    const v: unknown = JSON.parse(raw);
    if (typeof v !== "object" || v === null) return null;
    const h = v as Partial<LockHolder>;
    if (typeof h.pid !== "number" || typeof h.host !== "string") return null;
    return {
      pid: h.pid,
      host: h.host,
      startedAt: typeof h.startedAt === "string" ? h.startedAt : "an unknown time",
      command: typeof h.command === "string" ? h.command : "unknown command",
      procStart: typeof h.procStart === "number" ? h.procStart : null,
      bootId: typeof h.bootId === "string" ? h.bootId : null,
      token: typeof h.token === "string" ? h.token : "",
    };
  } catch {
    return null;
  }
}

async function readRaw(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    if (errCode(e) === "ENOENT") return null;
    throw e;
  }
}

/** Removes `file` if it still has the content judged stale, under the reclaim mutex. */
async function reclaim(dir: string, file: string, staleRaw: string): Promise<void> {
  const mutex = join(dir, RECLAIM_FILE);
  for (;;) {
    try {
      await writeFile(mutex, `${process.pid}\n`, { flag: "wx" });
      break;
    } catch (e) {
      if (errCode(e) !== "EEXIST") throw e;
    }
    try {
      const st = await stat(mutex);
      if (Date.now() - st.mtimeMs > RECLAIM_ABANDONED_MS) await unlink(mutex);
      else await sleep(5 + Math.random() * 10);
    } catch (e) {
      if (errCode(e) !== "ENOENT") throw e;
    }
  }
  try {
    // Only reclaimers (holding the mutex) remove someone else's lock, and a
    // lock is only created when absent: if the content is unchanged, it is
    // still the stale one.
    if ((await readRaw(file)) === staleRaw) {
      await unlink(file).catch((e: unknown) => {
        if (errCode(e) !== "ENOENT") throw e;
      });
    }
  } finally {
    await unlink(mutex).catch(() => undefined);
  }
}

async function makeHolder(command: string): Promise<LockHolder> {
  const st = (await hasProcfs()) ? await readProcStat(process.pid) : null;
  return {
    pid: process.pid,
    host: hostname(),
    startedAt: new Date().toISOString(),
    command,
    procStart: st ? st.start : null,
    bootId: await currentBootId(),
    token: randomUUID(),
  };
}

class FileLock implements Lock {
  private released = false;

  constructor(
    readonly file: string,
    readonly holder: LockHolder,
    private readonly content: string,
  ) {}

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    if ((await readRaw(this.file)) === this.content) {
      await unlink(this.file).catch((e: unknown) => {
        if (errCode(e) !== "ENOENT") throw e;
      });
    }
  }
}

/**
 * Takes the lock of an object directory (created if missing). Waits up to
 * `timeoutMs` for a live holder, then throws LockTimeoutError naming it.
 * Not reentrant: a second acquire in the same process waits like any other.
 */
export async function acquireLock(dir: string, opts: LockOptions): Promise<Lock> {
  const label = opts.label ?? dir;
  const file = join(dir, LOCK_FILE);
  await mkdir(dir, { recursive: true });
  const me = await makeHolder(opts.command);
  const content = `${JSON.stringify(me)}\n`;
  const tmp = join(dir, `${LOCK_FILE}.tmp-${process.pid}-${me.token}`);
  await writeFile(tmp, content, { flag: "wx" });
  const start = Date.now();
  const deadline = start + Math.max(0, opts.timeoutMs);
  let delay = POLL_MIN_MS;
  let lastSeen: string | undefined;
  try {
    for (;;) {
      try {
        await link(tmp, file);
        return new FileLock(file, me, content);
      } catch (e) {
        if (errCode(e) !== "EEXIST") throw e;
      }
      const raw = await readRaw(file);
      if (raw === null) continue; // released meanwhile: retry at once
      const holder = parseHolder(raw);
      if (holder === null || (await isHolderDead(holder))) {
        await reclaim(dir, file, raw);
        continue;
      }
      const now = Date.now();
      if (now >= deadline) throw new LockTimeoutError(label, file, holder, now - start);
      if (raw !== lastSeen) {
        lastSeen = raw;
        opts.onWait?.(holder);
      }
      const jitter = 0.75 + Math.random() * 0.5;
      await sleep(Math.min(delay * jitter, deadline - now));
      delay = Math.min(delay * 1.5, POLL_MAX_MS);
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
