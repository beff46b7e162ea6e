// The object's lock around an action, the backup-state check under it, and force-unlock.
import { readFile, rm } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { isHolderDead, LOCK_FILE, LockTimeoutError, type LockHolder } from "../state/lock.js";
import { OBJECT_FILES, type StateStore } from "../state/store.js";
import { EngineError, type EngineContext } from "./context.js";
import type { LockRequest } from "./requests.js";

export async function withLock<T>(ctx: EngineContext, req: LockRequest, fn: () => Promise<T>): Promise<T> {
  const { store } = ctx;
  const { object } = req;
  let lock;
  try {
    lock = await store.lock(object, {
      timeoutMs: req.timeoutMs,
      command: req.command,
      onWait: (h) => (req.onWait ?? ctx.notify)(`waiting for the lock of ${object}: held by pid ${h.pid} (${h.command}) since ${h.startedAt}\n`),
    });
  } catch (e) {
    if (e instanceof LockTimeoutError) throw new EngineError(e.message);
    throw e;
  }
  try {
    await confirmBackupState(ctx, req);
    return await fn();
  } finally {
    await lock.release();
  }
}

/**
 * A command that acts on an object whose state.json is missing or corrupt would work from
 * state.json.backup: say so (both files named) and go on only when confirmed or forced.
 */
async function confirmBackupState(ctx: EngineContext, req: LockRequest): Promise<void> {
  const { store } = ctx;
  const { object } = req;
  const load = await store.loadState(object);
  if (load.source !== "backup") return;
  for (const w of load.warnings) ctx.notify(`warning: ${w}\n`);
  const backup = join(store.objectDir(object), OBJECT_FILES.backup);
  if (req.force) {
    ctx.notify(`warning: acting on ${backup} (--force)\n`);
    return;
  }
  if (req.confirmBackup) {
    if (await req.confirmBackup(`Act on ${object} from its backup state ${backup}?`)) return;
    throw new EngineError("cancelled: the backup state was not confirmed");
  }
  throw new EngineError(
    `the state of ${object} would come from its backup, ${backup}`,
    `Check it (osvc ${object} print status), then re-run with --force to act on it; or move it aside, and the next plan probes the host.`,
  );
}

/** Who holds an object's lock: none (not locked), an unreadable lock file, or the holder and whether it is alive on this host. */
export type LockInfo =
  | { readonly kind: "unlocked" }
  | { readonly kind: "unreadable"; readonly file: string }
  | { readonly kind: "held"; readonly file: string; readonly holder: LockHolder; readonly dead: boolean; readonly local: boolean };

export async function lockInfo(store: StateStore, object: string): Promise<LockInfo> {
  const file = join(store.objectDir(object), LOCK_FILE);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return { kind: "unlocked" };
  }
  let holder: LockHolder | undefined;
  try {
    holder = JSON.parse(text) as LockHolder;
  } catch {
    holder = undefined;
  }
  if (!holder) return { kind: "unreadable", file };
  return { kind: "held", file, holder, dead: await isHolderDead(holder), local: holder.host === hostname() };
}

/** Removes an object's lock file (force-unlock, once the user confirmed). */
export async function removeLock(store: StateStore, object: string): Promise<void> {
  await rm(join(store.objectDir(object), LOCK_FILE), { force: true });
}
