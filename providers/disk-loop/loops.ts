// The host's loop devices, as `losetup -l -J` lists them, for the disk.loop and fs drivers.
//
// Callers asking at the same moment share one listing: a call joins the `losetup -l` in flight
// when no loop device was attached or detached by this process since that listing started (so
// every caller sees at least what this process did before it asked); else it starts its own. A
// listing that ended less than a second ago serves too, with the devices this process detached
// since then taken out of it (stops one after another, the second wave of a destroy): any other
// change this process makes (an attach, a mount or unmount, a failed detach) ends its use. A stop
// checks in sysfs, right before it detaches a device, that the device still backs its file.
import { closeSync, openSync, readFileSync, realpathSync, statSync } from "node:fs";
import path from "node:path";
import { fsyncFd } from "../../src/core/sync-io.js";
import { ProviderError } from "../../src/provider/api.js";
import { humanBytes } from "../../src/provider/content.js";
import { run } from "../../src/provider/exec.js";
import type { Exec } from "../../src/provider/exec.js";

export const DELETED_SUFFIX = " (deleted)";

/** One row of `losetup -l -J -O NAME,BACK-FILE,BACK-INO`. */
export interface LoopDevice {
  readonly name: string;
  /** Backing file path as the kernel reports it, without the " (deleted)" suffix. */
  readonly backFile: string;
  /** The backing file was deleted (or replaced) while attached. */
  readonly deleted: boolean;
  readonly backIno?: number;
}

/** Parses `losetup -l -J` output (an empty output or an empty list both mean "no loop device"). */
export function parseLosetupJson(stdout: string): LoopDevice[] {
  if (!stdout.trim()) return [];
  const data = JSON.parse(stdout) as { loopdevices?: Record<string, unknown>[] };
  const out: LoopDevice[] = [];
  for (const d of data.loopdevices ?? []) {
    const name = typeof d.name === "string" ? d.name : "";
    let back = typeof d["back-file"] === "string" ? (d["back-file"] as string) : "";
    if (!name || !back) continue;
    const deleted = back.endsWith(DELETED_SUFFIX);
    if (deleted) back = back.slice(0, -DELETED_SUFFIX.length);
    const ino = d["back-ino"];
    const backIno = typeof ino === "number" ? ino : typeof ino === "string" && /^\d+$/.test(ino) ? Number(ino) : undefined;
    out.push(backIno === undefined ? { name, backFile: back, deleted } : { name, backFile: back, deleted, backIno });
  }
  return out;
}

async function listLoopsNow(exec: Exec): Promise<LoopDevice[]> {
  const r = await run(exec, "losetup", ["-l", "-J", "-O", "NAME,BACK-FILE,BACK-INO"]);
  try {
    return parseLosetupJson(r.stdout);
  } catch (e) {
    throw new ProviderError(`cannot parse losetup -l -J output: ${(e as Error).message}`);
  }
}

/** Bumped after each attach or detach this process makes (see the top of this file). */
let changes = 0;
let inFlight: { readonly changes: number; readonly listing: Promise<LoopDevice[]> } | undefined;

/** How long an ended listing serves (see the top of this file). */
let reuseMs = 1000;
/** Tests: a longer (or no) window, so that what they count does not depend on the machine's speed; the window it replaces. */
export function setListingReuseMs(ms: number): number {
  const was = reuseMs;
  reuseMs = ms;
  return was;
}
/** The last listing that ended, while no change of this process but its own detaches came after it. */
let last: { readonly changes: number; readonly endedAt: number; readonly devices: readonly LoopDevice[] } | undefined;

/** Tells the shared listing that this process attached or detached a loop device (call it once the command ended). */
export function noteLoopChange(): void {
  changes++;
}

/**
 * Tells the shared listing that this process detached `name` (its `losetup -d` succeeded): the
 * listings started before no longer serve, but the last ended one does, without that device.
 */
export function noteLoopDetached(name: string): void {
  const keep = last?.changes === changes ? last : undefined;
  changes++;
  if (keep) last = { changes, endedAt: keep.endedAt, devices: Object.freeze(keep.devices.filter((d) => d.name !== name)) };
}

/**
 * A listing started ahead of the probe (prefetchLoops), kept for the first caller after it: used
 * once, and only when this process attached or detached nothing since it started.
 */
let prefetched: { readonly changes: number; readonly listing: Promise<LoopDevice[]> } | undefined;

/** Starts the listing the next listLoops() call will use (`osvc plan`: while the template compiles). */
export function prefetchLoops(exec: Exec): void {
  if (prefetched || inFlight) return;
  const listing = listLoops(exec);
  listing.catch(() => undefined); // the probe that takes it reports the error
  prefetched = { changes, listing };
}

/** The host's loop devices; one `losetup -l -J` shared by the callers asking at the same moment. */
export function listLoops(exec: Exec): Promise<LoopDevice[]> {
  const ahead = prefetched;
  prefetched = undefined;
  if (ahead && ahead.changes === changes) return ahead.listing;
  if (inFlight && inFlight.changes === changes) return inFlight.listing;
  if (last && last.changes === changes && performance.now() - last.endedAt <= reuseMs) return Promise.resolve([...last.devices]);
  const mine = { changes, listing: listLoopsNow(exec) };
  inFlight = mine;
  const done = () => {
    if (inFlight === mine) inFlight = undefined;
  };
  mine.listing.then((devices) => {
    done();
    if (mine.changes === changes) last = { changes, endedAt: performance.now(), devices: Object.freeze([...devices]) };
  }, done);
  return mine.listing;
}

/** The loop device's backing file as sysfs shows it (with a " (deleted)" suffix when so), or undefined once it is detached. */
export async function sysfsBackingRaw(dev: string): Promise<string | undefined> {
  try {
    return readFileSync(`/sys/block/${path.basename(dev)}/loop/backing_file`, "utf8").replace(/\n$/, "");
  } catch {
    return undefined; // gone: detached
  }
}

/**
 * Loop devices this process attached to a backing file it had just created (O_EXCL, sparse: see
 * createSparseFile): the device → that file's real path and identity.
 */
const freshAttaches = new Map<string, { readonly file: string; readonly dev: number; readonly ino: number }>();

/** Notes that `loopDev` was attached to `file`, which osvc created a moment ago in this run. */
export async function noteFreshAttach(loopDev: string, file: string): Promise<void> {
  try {
    const real = realpathSync.native(file);
    const st = statSync(real);
    freshAttaches.set(loopDev, { file: real, dev: st.dev, ino: st.ino });
  } catch {
    freshAttaches.delete(loopDev); // not noted: the device is sampled as any other
  }
}

/**
 * Why `loopDev` is blank by construction, or undefined (then the caller samples it). Blank when the
 * device still backs (sysfs, not deleted) the very file (same st_dev and st_ino) this process
 * created sparse in this run, and that file has no allocated block: nothing was ever written to it
 * (ext4, xfs and btrfs count delayed-allocation blocks, tmpfs its pages). The device is synced
 * first (fsync: its dirty buffers written to the file, then flushed), so writes made through the
 * device count too.
 */
export async function blankByConstruction(loopDev: string): Promise<string | undefined> {
  const f = freshAttaches.get(loopDev);
  if (!f || (await sysfsBackingRaw(loopDev)) !== f.file) return undefined;
  try {
    const fd = openSync(loopDev, "r");
    try {
      await fsyncFd(fd);
    } finally {
      closeSync(fd);
    }
    const st = statSync(f.file);
    if (!st.isFile() || st.dev !== f.dev || st.ino !== f.ino || st.blocks !== 0) return undefined;
    return `no block written: osvc created ${f.file} sparse in this run and it holds no allocated block (${humanBytes(st.size)})`;
  } catch {
    return undefined;
  }
}
