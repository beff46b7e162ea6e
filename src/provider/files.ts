// File-system steps providers do in-process instead of spawning `truncate`, `mkdir -p`, `rm -f`
// or `rmdir`: the same system calls those tools make, without a fork+exec each (a spawn costs
// 1.5-2.5 ms of the main thread, see bench/README.md). Every step is logged by the caller, like a
// command. Creation never overwrites: a sparse file is created with O_EXCL. The calls are
// synchronous, their fsyncs not (src/core/sync-io.ts).
import { closeSync, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readFileSync, realpathSync, rmdirSync, statSync, writeSync, type Stats } from "node:fs";
import { unlink } from "node:fs/promises";
import path from "node:path";
import { fsyncFd, unlinkQuietly } from "../core/sync-io.js";
import { ProviderError } from "./api.js";

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/** Writes (flag "w") or appends (flag "a") `text` to `file`, then fsyncs it (src/core/sync-io.ts). */
async function writeDurably(file: string, flag: "w" | "a", text: string): Promise<void> {
  const fd = openSync(file, flag, 0o600);
  try {
    const data = Buffer.from(text, "utf8");
    for (let at = 0; at < data.length; ) at += writeSync(fd, data, at);
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}


/** Directories between `dir` and its first existing ancestor, deepest first (what `mkdir -p` would create). */
export async function missingDirs(dir: string): Promise<string[]> {
  const out: string[] = [];
  let d = path.resolve(dir);
  while (d !== path.dirname(d)) {
    try {
      statSync(d);
      break;
    } catch {
      out.push(d);
      d = path.dirname(d);
    }
  }
  return out;
}

/**
 * `mkdir -p dir` (mode 0777 & ~umask, as mkdir does). Returns the directories it created,
 * deepest first, so a caller can record them and remove exactly those later.
 */
export async function makeDirs(dir: string): Promise<string[]> {
  const missing = await missingDirs(dir);
  if (missing.length === 0) return [];
  try {
    mkdirSync(dir, { recursive: true });
  } catch (e) {
    throw new ProviderError(`cannot create directory ${dir}: ${(e as Error).message}`);
  }
  return missing;
}

/**
 * Creates `file` as a sparse file of `size` bytes (`truncate -s` on a new file). The file must
 * not exist: it is opened with O_EXCL, so a file that appeared meanwhile is never truncated.
 */
export async function createSparseFile(file: string, size: number): Promise<void> {
  let fd;
  try {
    fd = openSync(file, "wx", 0o600);
  } catch (e) {
    if (errno(e) === "EEXIST") throw new ProviderError(`${file} appeared while osvc was creating it; refusing to overwrite it`);
    throw new ProviderError(`cannot create ${file}: ${(e as Error).message}`);
  }
  try {
    try {
      ftruncateSync(fd, size);
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    unlinkQuietly(file);
    throw new ProviderError(`cannot size ${file} to ${size} bytes: ${(e as Error).message}`);
  }
}

/** The file where a resource notes the file it is about to create (in the object's var dir). */
export function fileNote(varDir: string, rid: string): string {
  return path.join(varDir, `${rid.replace(/[^A-Za-z0-9._-]/g, "_")}.created-file`);
}

/**
 * createSparseFile, after noting "file size" in `note` (fsync'd): when osvc is killed between the
 * creation and the state write that records it, the next run can take the file back as its own,
 * but only while it is still blank (see notedBlank).
 */
export async function createSparseFileNoted(file: string, size: number, note: string): Promise<void> {
  try {
    await writeDurably(note, "w", JSON.stringify({ file, size }) + "\n");
  } catch (e) {
    throw new ProviderError(`cannot note the file osvc creates in ${note}: ${(e as Error).message}`);
  }
  await createSparseFile(file, size);
}

/**
 * When `note` says osvc was creating exactly this file and the file is still what osvc made (the
 * noted size, or empty: killed between the create and the truncate; and not one block written: a
 * sparse file holds no data), the noted size; else undefined. Taking such a file back as osvc's own
 * (sized, and deleted with the resource) loses nothing; anything else stays the user's.
 */
export async function notedBlank(file: string, note: string): Promise<number | undefined> {
  try {
    const n = JSON.parse(readFileSync(note, "utf8").trim()) as { file?: string; size?: number };
    if (n.file !== file || typeof n.size !== "number") return undefined;
    const st = statSync(file);
    return st.isFile() && (st.size === n.size || st.size === 0) && st.blocks === 0 ? n.size : undefined;
  } catch {
    return undefined;
  }
}

/** Sizes a file osvc took back (notedBlank) to the size it was creating it with. */
export async function sizeFile(file: string, size: number): Promise<void> {
  const fd = openSync(file, "r+");
  try {
    if (fstatSync(fd).size !== size) ftruncateSync(fd, size);
  } finally {
    closeSync(fd);
  }
}

/** `rm -f file`: true when a file was removed, false when there was none. */
export async function removeFile(file: string): Promise<boolean> {
  try {
    await unlink(file); // in the thread pool: freeing a large file's blocks takes a while
    return true;
  } catch (e) {
    if (errno(e) === "ENOENT") return false;
    throw new ProviderError(`cannot delete ${file}: ${(e as Error).message}`);
  }
}

/** `rmdir dir`: true when removed; false when it is not empty, gone or not a directory (left as is). */
export async function removeEmptyDir(dir: string): Promise<boolean> {
  try {
    rmdirSync(dir);
    return true;
  } catch (e) {
    const c = errno(e);
    if (c === "ENOTEMPTY" || c === "EEXIST" || c === "ENOENT" || c === "ENOTDIR" || c === "EBUSY") return false;
    throw new ProviderError(`cannot remove directory ${dir}: ${(e as Error).message}`);
  }
}

/**
 * Removes directories osvc created (as makeDirs returned them: deepest first) while they are
 * empty; stops at the first one that is not. Returns the removed ones, for the caller's log.
 */
export async function removeCreatedDirs(dirs: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const d of dirs) {
    if (!(await removeEmptyDir(d))) break;
    removed.push(d);
  }
  return removed;
}

/** The directories a resource recorded as created (`created_dirs` output), or none. */
export function recordedDirs(recorded: Readonly<Record<string, unknown>> | undefined): string[] {
  const v = recorded?.created_dirs;
  return Array.isArray(v) ? v.filter((d): d is string => typeof d === "string") : [];
}

/** The file where a resource notes the directories it is about to create (in the object's var dir). */
export function dirsNote(varDir: string, rid: string): string {
  return path.join(varDir, `${rid.replace(/[^A-Za-z0-9._-]/g, "_")}.created-dirs`);
}

/**
 * makeDirs, after noting the directories it is about to create in `note` (appended and fsync'd):
 * when osvc is killed before the state records them, unprovision still finds them. Returns the
 * directories created, deepest first.
 */
export async function makeDirsNoted(dir: string, note: string): Promise<string[]> {
  const missing = await missingDirs(dir);
  if (missing.length === 0) return [];
  try {
    await writeDurably(note, "a", missing.map((d) => `${d}\n`).join(""));
  } catch (e) {
    throw new ProviderError(`cannot note the directories osvc creates in ${note}: ${(e as Error).message}`);
  }
  return makeDirs(dir);
}

/**
 * Removes the directories osvc created for a resource, while empty: those recorded
 * (`created_dirs`) and those noted by makeDirsNoted, deepest first, except `keep` (a leaf its
 * provider decides about). Then forgets the note. Returns the removed ones, for the log.
 */
export async function removeNotedDirs(recorded: readonly string[], note: string, keep?: string): Promise<string[]> {
  let noted: string[] = [];
  try {
    noted = readFileSync(note, "utf8").split("\n").filter(Boolean);
  } catch {
    // no note
  }
  const all = [...new Set([...recorded, ...noted])].filter((d) => d !== keep).sort((a, b) => b.length - a.length);
  const removed: string[] = [];
  for (const d of all) if (await removeEmptyDir(d)) removed.push(d);
  await removeFile(note).catch(() => false);
  return removed;
}


/** A path as it is on the host: its realpath and what stat(2) says of its target. */
export interface ResolvedPath {
  readonly real: string;
  readonly stat: Stats;
}

/**
 * realpath + stat of many paths for one probe, without a readlink per path component: each
 * directory is resolved once (realpath, cached for the resolver's life), and each path costs one
 * lstat (plus a realpath only when the path itself is a symbolic link). undefined when the path
 * (or a symlink's target) does not exist. Make one per probe: nothing is cached across plans.
 *
 * Synchronous, as osvc's other file steps (src/core/sync-io.ts): a probe of 500 files spent ~30 ms
 * in the thread pool, most of it with callers awaiting one path after another.
 */
export class PathResolver {
  private readonly dirs = new Map<string, string>();

  async resolve(p: string): Promise<ResolvedPath | undefined> {
    const abs = path.resolve(p);
    try {
      const l = lstatSync(abs, { throwIfNoEntry: false });
      if (!l) return undefined;
      const dir = path.dirname(abs);
      if (!l.isSymbolicLink() && dir !== abs) return { real: path.join(this.realDir(dir), path.basename(abs)), stat: l };
      const real = realpathSync.native(abs);
      return { real, stat: statSync(real) };
    } catch {
      return undefined;
    }
  }

  private realDir(dir: string): string {
    let r = this.dirs.get(dir);
    if (r === undefined) {
      r = realpathSync.native(dir);
      this.dirs.set(dir, r);
    }
    return r;
  }
}
