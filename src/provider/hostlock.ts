// Per-host locks for host commands that must not run concurrently, in this osvc process and
// across osvc processes: `losetup -f --show` (two parallel finds of a free loop device collide in
// the kernel with EBUSY, and util-linux then sleeps 200 ms before retrying; the OpenSVC agent
// serializes this call too).
//
// Within a process, callers queue on a promise chain (no polling). Across processes, the holder
// of the queue's head also takes the file lock `/run/lock/osvc/<name>/lock` (src/core/filelock.ts:
// exclusive create holding the pid, reclaimed when its holder is dead). Where that directory
// cannot be made (not root), only the in-process queue serializes.
import { acquireLock, type Lock } from "../core/filelock.js";

/** Where the per-host lock files live (tests point it elsewhere). */
export let hostLockRoot = "/run/lock/osvc";
export function setHostLockRoot(dir: string): void {
  hostLockRoot = dir;
}

const queues = new Map<string, Promise<unknown>>();
const WAIT_MS = 120_000;

async function fileLock(name: string): Promise<Lock | undefined> {
  try {
    return await acquireLock(`${hostLockRoot}/${name}`, { timeoutMs: WAIT_MS, command: `osvc (${name})`, label: `host lock ${name}` });
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "EACCES" || code === "EPERM" || code === "EROFS") return undefined;
    throw e;
  }
}

/** Per lock name: this process's callers queued or running, and the file lock they share. */
const bursts = new Map<string, { callers: number; lock?: Promise<Lock | undefined> }>();

/**
 * Runs `fn` holding the host lock `name`: one holder at a time on this host. The file lock is
 * taken by the first of this process's callers and handed from one queued caller to the next,
 * then released by the last: a burst of attaches pays for it once (another osvc process waits
 * for the burst to end, as it would wait for each call).
 */
export async function withHostLock<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const before = queues.get(name) ?? Promise.resolve();
  let done!: () => void;
  const mine = new Promise<void>((r) => (done = r));
  const tail = before.then(() => mine);
  queues.set(name, tail);
  const burst = bursts.get(name) ?? { callers: 0 };
  bursts.set(name, burst);
  burst.callers++;
  try {
    await before;
    // A failed acquire (timeout) fails this caller; the next one tries again.
    burst.lock ??= fileLock(name).catch((e: unknown) => {
      burst.lock = undefined;
      throw e;
    });
    await burst.lock;
    return await fn();
  } finally {
    if (--burst.callers === 0) {
      bursts.delete(name);
      const lock = burst.lock;
      burst.lock = undefined;
      await lock?.then((l) => l?.release()).catch(() => undefined);
    }
    done();
    if (queues.get(name) === tail) queues.delete(name);
  }
}
