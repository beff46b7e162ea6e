// disk.loop: a loop device over a sparse backing file (opensvc-semantics §11.2, host-environment §1).
//
// provision  : adopt an existing file as is, or create the missing parent directories and a new
//              sparse file of `size` (rounded down to 512 bytes; O_EXCL, mode 0600, in-process:
//              src/provider/files.ts), recorded at once as a fact (created_file, created_dirs): an
//              interrupted run never takes a file it found for its own;
//              then start.
// probe      : an existing file that is not attached is looked at (blkid -p, zeros sampled
//              in-process), so that the plan of a filesystem on it knows whether mkfs would destroy data.
// start      : `losetup -j FILE` first (idempotent), else `losetup -f --show FILE` (atomic find+attach),
//              one at a time on the host (the per-host lock "losetup").
// stop       : detach every loop device backing the file; a mounted device is refused (the kernel
//              would otherwise accept `losetup -d` silently and only set autoclear).
// unprovision: stop, then delete the file only when osvc created it (recorded created_file === true).
import { readdirSync, realpathSync, statSync } from "node:fs";
import { readdir, readFile, readlink, stat } from "node:fs/promises";
import path from "node:path";
import { noteCreated, ProviderError } from "../../src/provider/api.js";
import type { ProbeContext, ProbeProblem, Provider, ProviderContext, ResourceSpec, Observed } from "../../src/provider/api.js";
import { ExecError, run } from "../../src/provider/exec.js";
import { withHostLock } from "../../src/provider/hostlock.js";
import { createSparseFileNoted, dirsNote, fileNote, makeDirsNoted, notedBlank, PathResolver, sizeFile, recordedDirs, removeCreatedDirs, removeFile, removeNotedDirs } from "../../src/provider/files.js";
import type { Exec } from "../../src/provider/exec.js";
import type { Outputs } from "../../src/core/value.js";
import { readMounts } from "../fs/mountinfo.js";
import { parseBlkid } from "../fs/provider.js";
import { sampleBlank } from "../../src/provider/content.js";
import type { DeviceContent } from "../../src/provider/api.js";
import { diskLoopSpec } from "./spec.js";
import { DELETED_SUFFIX, listLoops, noteFreshAttach, noteLoopChange, noteLoopDetached, prefetchLoops, sysfsBackingRaw, type LoopDevice } from "./loops.js";

export { listLoops, parseLosetupJson, type LoopDevice } from "./loops.js";

/** Parses `losetup -j FILE` lines: "/dev/loop0: [65024]:2146526 (/tmp/x/d1.img)". */
export function parseLosetupAssoc(stdout: string): string[] {
  const devs: string[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^(\/dev\/[^:\s]+):/.exec(line.trim());
    if (m) devs.push(m[1]);
  }
  return devs;
}

function fileOf(r: ResourceSpec): string {
  const f = r.kw.file;
  if (typeof f !== "string" || f === "") throw new ProviderError(`${r.rid}: keyword "file" is required`);
  if (!path.isAbsolute(f)) throw new ProviderError(`${r.rid}: file must be an absolute path, got ${JSON.stringify(f)}`);
  return path.resolve(f);
}

function sizeOf(r: ResourceSpec): number {
  const s = r.kw.size;
  let n: number | undefined;
  if (typeof s === "number") n = s;
  else if (typeof s === "string" && /^\d+$/.test(s.trim())) n = Number(s.trim());
  if (n === undefined || !Number.isFinite(n)) {
    throw new ProviderError(`${r.rid}: keyword "size" is required to create ${fileOf(r)}`, "set size, e.g. size = 512m");
  }
  const rounded = Math.floor(n / 512) * 512;
  if (rounded <= 0) throw new ProviderError(`${r.rid}: size ${n} is smaller than 512 bytes`);
  return rounded;
}

interface FileInfo {
  readonly exists: boolean;
  readonly isFile: boolean;
  readonly ino?: number;
  /** realpath of the file when it exists, else the resolved path. */
  readonly real: string;
  readonly size?: number;
}

async function fileInfo(file: string, resolver?: PathResolver): Promise<FileInfo> {
  if (resolver) {
    // The probe: one lstat per file, each directory resolved once (no readlink per component).
    const r = await resolver.resolve(file);
    return r ? { exists: true, isFile: r.stat.isFile(), ino: r.stat.ino, real: r.real, size: r.stat.size } : { exists: false, isFile: false, real: file };
  }
  try {
    const st = statSync(file); // follows symlinks: the loop is attached to the target
    let real = file;
    try {
      real = realpathSync.native(file);
    } catch {
      /* raced with a delete */
    }
    return { exists: true, isFile: st.isFile(), ino: st.ino, real, size: st.size };
  } catch {
    return { exists: false, isFile: false, real: file };
  }
}

/** Loop devices attached to the current file (same path, same inode, not deleted). */
function attachedTo(loops: readonly LoopDevice[], info: FileInfo, file: string): string[] {
  if (!info.exists) return [];
  return backingPath(loops, info, file)
    .filter((l) => !l.deleted && (l.backIno === undefined || l.backIno === info.ino))
    .map((l) => l.name);
}

/** A listing by backing path (with each device's place in it), built once per listing: the probe asks per resource. */
const loopIndexes = new WeakMap<readonly LoopDevice[], Map<string, LoopDevice[]>>();

function loopsByBackFile(loops: readonly LoopDevice[]): Map<string, LoopDevice[]> {
  let idx = loopIndexes.get(loops);
  if (!idx) {
    idx = new Map();
    for (const l of loops) {
      const list = idx.get(l.backFile);
      if (list) list.push(l);
      else idx.set(l.backFile, [l]);
    }
    loopIndexes.set(loops, idx);
  }
  return idx;
}

/** Every loop device whose backing path is this file, including deleted or replaced copies (in listing order). */
function backingPath(loops: readonly LoopDevice[], info: FileInfo, file: string): LoopDevice[] {
  const idx = loopsByBackFile(loops);
  const real = idx.get(info.real) ?? [];
  if (file === info.real) return [...real];
  const named = idx.get(file) ?? [];
  return named.length === 0 ? [...real] : loops.filter((l) => real.includes(l) || named.includes(l));
}

function preserved(r: ResourceSpec): Record<string, boolean | readonly string[]> {
  const c = r.recorded?.created_file;
  const dirs = r.recorded?.created_dirs;
  return { ...(typeof c === "boolean" ? { created_file: c } : {}), ...(Array.isArray(dirs) ? { created_dirs: dirs as readonly string[] } : {}) };
}

async function mountsOf(_exec: Exec, dev: string): Promise<string[]> {
  return (await readMounts()).filter((m) => m.dev === dev).map((m) => m.target);
}

async function holdersOf(dev: string): Promise<string[]> {
  try {
    return readdirSync(`/sys/block/${path.basename(dev)}/holders`);
  } catch {
    return [];
  }
}

/**
 * Processes whose mount namespace still mounts `dev` (a copy made while it was mounted here: a
 * namespace created then, e.g. by `unshare -m` or `ip netns exec`): what keeps a deferred detach
 * from completing. Read from /proc (no command); one pid per namespace.
 */
async function mountNamespaceHolders(dev: string): Promise<string[]> {
  let rdev: number;
  try {
    rdev = (await stat(dev)).rdev;
  } catch {
    return [];
  }
  const devno = `${Math.floor(rdev / 256) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}`;
  const seen = new Set<string>();
  const out: string[] = [];
  for (const pid of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const ns = await readlink(`/proc/${pid}/ns/mnt`);
      if (seen.has(ns)) continue;
      seen.add(ns);
      const info = await readFile(`/proc/${pid}/mountinfo`, "utf8");
      const hit = info.split("\n").find((l) => l.split(" ")[2] === devno);
      if (!hit) continue;
      const comm = (await readFile(`/proc/${pid}/comm`, "utf8").catch(() => "?")).trim();
      out.push(`pid ${pid} (${comm}) mounts it on ${hit.split(" ")[4]}`);
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

async function probe(ctx: ProbeContext, resources: readonly ResourceSpec[]): Promise<Observed[]> {
  if (resources.length === 0) return [];
  const loops = await listLoops(ctx.exec);
  const resolver = new PathResolver();
  return Promise.all(
    resources.map(async (r): Promise<Observed> => {
      const file = fileOf(r);
      const info = await fileInfo(file, resolver);
      const problems: ProbeProblem[] = [];
      if (info.exists && !info.isFile) {
        problems.push({
          level: "error",
          keyword: "file",
          message: `${file} exists and is not a regular file`,
          hint: "choose another path for the loop backing file",
        });
      }
      const devs = info.isFile ? attachedTo(loops, info, file) : [];
      const stale = backingPath(loops, info, file).filter((l) => !devs.includes(l.name));
      for (const l of stale) {
        problems.push({
          level: "warning",
          keyword: "file",
          message: `${l.name} is attached to a deleted or replaced copy of ${file}`,
          hint: `detach it with losetup -d ${l.name} once nothing uses it`,
        });
      }
      const outputs: Outputs | undefined = devs.length > 0 ? { exposed_devs: devs, ...preserved(r) } : undefined;
      let content: DeviceContent | undefined;
      if (info.isFile && devs.length === 0) {
        try {
          content = await fileContent(ctx.exec, info.real);
        } catch (e) {
          const err = e as ProviderError;
          problems.push({ level: "error", keyword: "file", message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
        }
      }
      const actual = info.isFile && info.size !== undefined ? { size: actualSize(r, info.size) } : undefined;
      return {
        provisioned: info.exists && info.isFile,
        up: devs.length > 0,
        ...(actual ? { actual } : {}),
        ...(outputs ? { outputs } : {}),
        ...(problems.length ? { problems } : {}),
        ...(content ? { content } : {}),
      };
    }),
  );
}

/**
 * The file's size as the plan compares it with `size`: the template's value when the file has the
 * size osvc would have made (rounded down to 512 bytes), else the real size (shown as drift: an
 * adopted or resized image is never resized by osvc).
 */
function actualSize(r: ResourceSpec, bytes: number): number {
  const want = r.kw.size;
  return typeof want === "number" && Math.floor(want / 512) * 512 === bytes ? want : bytes;
}

/** What an existing backing file holds: a signature, else whether it is blank (sampled). */
async function fileContent(exec: Exec, file: string): Promise<DeviceContent> {
  const b = await exec("blkid", ["-p", "-o", "export", "--", file]);
  const sig = parseBlkid(b.exitCode, b.stdout, b.stderr);
  if (sig.kind === "error") throw new ProviderError(`cannot probe ${file} for a signature: ${sig.message}`);
  if (sig.kind === "fs") return { device: file, signature: sig.type, blank: false, detail: `a ${sig.type} signature` };
  if (sig.kind === "other") return { device: file, signature: sig.what, blank: false, detail: sig.what };
  const s = await sampleBlank(file);
  return { device: file, blank: s.blank, detail: s.detail };
}

/** Attaches the file, reusing a loop device already backed by it; `fresh`: osvc just created the file, nothing can hold it. */
async function attach(ctx: ProviderContext, file: string, fresh = false): Promise<string> {
  if (!fresh) {
    const j = await run(ctx.exec, "losetup", ["-j", file]);
    const devs = parseLosetupAssoc(j.stdout);
    if (devs.length > 0) {
      if (devs.length > 1) ctx.log("warning", `${file} is attached to several loop devices (${devs.join(", ")}); using ${devs[0]}`);
      return devs[0];
    }
  }
  let r;
  try {
    // One find+attach at a time on this host (src/provider/hostlock.ts): concurrent ones collide
    // in the kernel (EBUSY) and losetup then sleeps 200 ms before it retries.
    r = await withHostLock("losetup", () => run(ctx.exec, "losetup", ["-f", "--show", file]).finally(noteLoopChange));
  } catch (e) {
    if (e instanceof ExecError) throw new ProviderError(`cannot attach ${file} to a loop device: ${e.message}`);
    throw e;
  }
  const dev = r.stdout.trim().split("\n").pop() ?? "";
  if (!dev.startsWith("/dev/")) throw new ProviderError(`losetup -f --show ${file} printed no device: ${JSON.stringify(r.stdout)}`);
  ctx.log("info", `${file} attached to ${dev}`);
  return dev;
}

/** The loop device's backing file as sysfs shows it (" (deleted)" suffix removed), or undefined once it is detached. */
async function sysfsBacking(dev: string): Promise<string | undefined> {
  const text = await sysfsBackingRaw(dev);
  return text?.endsWith(" (deleted)") ? text.slice(0, -" (deleted)".length) : text;
}

/**
 * Waits until the loop device no longer has `backFile` behind it (sysfs, no command), at most
 * `ms`; true when it is detached (or already reused for another file by someone else).
 */
async function detachSettled(dev: string, backFile: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    const now = await sysfsBacking(dev);
    if (now === undefined || now !== backFile) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((done) => setTimeout(done, 50));
  }
}

/**
 * A file osvc was creating when it was killed, before the state recorded it: osvc noted it first
 * (fileNote), and it is still blank (noted size, no block written), so it is osvc's own again
 * (recorded as created: deleted with the resource). Anything else found on the host stays the user's.
 */
async function reclaimed(ctx: ProviderContext, r: ResourceSpec, file: string): Promise<boolean> {
  if (r.recorded?.created_file !== undefined) return false;
  const note = fileNote(ctx.varDir, r.rid);
  const size = await notedBlank(file, note);
  if (size === undefined) return false;
  await sizeFile(file, size);
  await noteCreated(ctx, { created_file: true });
  await removeFile(note).catch(() => false);
  ctx.log("info", `${file} was being created by an interrupted run of osvc (noted, still blank): osvc's own again`);
  return true;
}

async function start(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const file = fileOf(r);
  const info = await fileInfo(file);
  if (!info.exists) throw new ProviderError(`backing file ${file} does not exist`, "provision the resource first");
  if (!info.isFile) throw new ProviderError(`${file} is not a regular file`);
  const mine = await reclaimed(ctx, r, file);
  const dev = await attach(ctx, file);
  return { exposed_devs: [dev], ...preserved(r), ...(mine ? { created_file: true } : {}) };
}

async function stop(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  const file = fileOf(r);
  const info = await fileInfo(file);
  const loops = backingPath(await listLoops(ctx.exec), info, file);
  for (const l of loops) {
    if (info.exists && !l.deleted && l.backIno !== undefined && info.ino !== undefined && l.backIno !== info.ino) continue;
    const mounts = await mountsOf(ctx.exec, l.name);
    if (mounts.length > 0) {
      throw new ProviderError(
        `loop device ${l.name} (${file}) is busy: mounted on ${mounts.join(", ")}`,
        "stop the resources using it first (unmount the filesystems on it)",
      );
    }
    const holders = await holdersOf(l.name);
    if (holders.length > 0) {
      throw new ProviderError(`loop device ${l.name} (${file}) is busy: held by ${holders.join(", ")}`, "stop the resources using it first");
    }
    // The listing may be up to a second old (loops.ts): the device must still back this very
    // file now, as sysfs says, or it is not this resource's to detach.
    const now = await sysfsBackingRaw(l.name);
    if (now !== (l.deleted ? `${l.backFile}${DELETED_SUFFIX}` : l.backFile)) {
      ctx.log("info", now === undefined ? `${l.name} is already detached from ${file}` : `${l.name} no longer backs ${file} (now ${now}): left as is`);
      continue;
    }
    try {
      await run(ctx.exec, "losetup", ["-d", l.name]);
      noteLoopDetached(l.name);
    } catch (e) {
      noteLoopChange();
      if (e instanceof ExecError) {
        // Already gone (detached concurrently): fine. Anything else is a real failure.
        const again = await listLoops(ctx.exec);
        if (!again.some((x) => x.name === l.name && x.backFile === l.backFile)) continue;
        throw new ProviderError(`cannot detach ${l.name} (${file}): ${e.message}`);
      }
      throw e;
    }
    // The kernel accepts LOOP_CLR_FD on a busy device and only defers it (autoclear) until the
    // last opener closes it. A passing prober (udev, a blkid scanning every device) holds it for a
    // moment (longer on a loaded host): give such a holder up to 10 s, then check (sysfs: no command, no new listing).
    if (!(await detachSettled(l.name, l.backFile, 10_000))) {
      throw new ProviderError(
        `loop device ${l.name} (${file}) is still in use; its detach is deferred until the last user closes it`,
        await mountNamespaceHolders(l.name).then((h) =>
          h.length ? `another mount namespace still mounts it: ${h.join("; ")} — unmount it there (nsenter -t PID -m umount ...) or end that process` : "stop whatever holds the device open",
        ),
      );
    }
    ctx.log("info", `${l.name} detached from ${file}${l.deleted ? " (deleted copy)" : ""}`);
  }
}

async function provision(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const file = fileOf(r);
  const info = await fileInfo(file);
  let created: boolean;
  let createdDirs: string[] = Array.isArray(r.recorded?.created_dirs) ? [...(r.recorded!.created_dirs as string[])] : [];
  const note = fileNote(ctx.varDir, r.rid);
  if (info.exists) {
    if (!info.isFile) throw new ProviderError(`${file} exists and is not a regular file; refusing to use it as a loop backing file`);
    created = r.recorded?.created_file === true || (await reclaimed(ctx, r, file));
    if (!created) ctx.log("info", `${file} already exists, adopted (kept as is: not truncated nor resized)`);
  } else {
    const size = sizeOf(r);
    createdDirs = await makeDirsNoted(path.dirname(file), dirsNote(ctx.varDir, r.rid));
    for (const d of [...createdDirs].reverse()) ctx.log("info", `created directory ${d}`);
    await createSparseFileNoted(file, size, note);
    ctx.log("info", `created sparse file ${file} of ${size} bytes`);
    created = true;
    try {
      await noteCreated(ctx, { created_file: true, created_dirs: createdDirs });
      await removeFile(note).catch(() => false); // recorded in the state now
    } catch (e) {
      // Not recorded: never leave behind what no later run would know osvc created.
      if (await removeFile(file)) ctx.log("info", `deleted ${file}`);
      await removeEmptyDirs(ctx, createdDirs);
      throw e;
    }
  }
  let dev: string;
  try {
    dev = await attach(ctx, file, !info.exists);
  } catch (e) {
    if (created && !info.exists) {
      // A losetup ended by a signal may have attached the file already: detach before deleting it.
      await detachLeftovers(ctx, file);
      if (await removeFile(file)) {
        ctx.log("info", `deleted ${file}`);
        await noteCreated(ctx, { created_file: false }).catch(() => undefined); // no fact claiming what is gone
      }
      await removeEmptyDirs(ctx, createdDirs);
    }
    throw e;
  }
  if (!info.exists) await noteFreshAttach(dev, file); // the fs on it needs no sampling while the file holds no block
  return { exposed_devs: [dev], created_file: created, created_dirs: createdDirs };
}

/** Detaches the loop devices backed by a file osvc just created (a failed or killed attach). */
async function detachLeftovers(ctx: ProviderContext, file: string): Promise<void> {
  const j = await ctx.exec("losetup", ["-j", file]);
  for (const dev of parseLosetupAssoc(j.stdout)) {
    const d = await ctx.exec("losetup", ["-d", dev]).finally(noteLoopChange);
    if (d.exitCode === 0) ctx.log("info", `${dev} detached from ${file}`);
    else ctx.log("warning", `cannot detach ${dev} from ${file}: ${(d.stderr || d.stdout).trim()}`);
  }
}

/** Removes directories osvc created for the backing file, deepest first, while they are empty. */
async function removeEmptyDirs(ctx: ProviderContext, dirs: readonly string[]): Promise<void> {
  for (const d of await removeCreatedDirs(dirs)) ctx.log("info", `removed directory ${d}`);
}

async function unprovision(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  await stop(ctx, r);
  const file = fileOf(r);
  if (r.recorded?.created_file !== true) {
    ctx.log("info", `${file} kept: osvc did not create it`);
    return;
  }
  const info = await fileInfo(file);
  if (info.exists) {
    if (!info.isFile) throw new ProviderError(`${file} is not a regular file; refusing to delete it`);
    if (await removeFile(file)) ctx.log("info", `deleted ${file}`);
  }
  for (const d of await removeNotedDirs(recordedDirs(r.recorded), dirsNote(ctx.varDir, r.rid))) ctx.log("info", `removed directory ${d}`);
  await removeFile(fileNote(ctx.varDir, r.rid)).catch(() => false);
}

export const diskLoopProvider: Provider = {
  type: "disk.loop",
  spec: diskLoopSpec,
  updatable: [],
  dataBearing: true,
  probe,
  prefetch: prefetchLoops,
  provision,
  unprovision,
  start,
  stop,
};

export default diskLoopProvider;
