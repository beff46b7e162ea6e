// File-system steps providers do in-process instead of spawning `truncate`, `mkdir -p`, `rm -f`
// or `rmdir`: the same system calls those tools make, without a fork+exec each (a spawn costs
// 1.5-2.5 ms of the main thread, see bench/README.md). Every step is logged by the caller, like a
// command. Creation never overwrites: a sparse file is created with O_EXCL.
import { open, mkdir, rmdir, stat, unlink } from "node:fs/promises";
import path from "node:path";
import { ProviderError } from "./api.js";

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/** Directories between `dir` and its first existing ancestor, deepest first (what `mkdir -p` would create). */
export async function missingDirs(dir: string): Promise<string[]> {
  const out: string[] = [];
  let d = path.resolve(dir);
  while (d !== path.dirname(d)) {
    try {
      await stat(d);
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
    await mkdir(dir, { recursive: true });
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
  let fh;
  try {
    fh = await open(file, "wx", 0o600);
  } catch (e) {
    if (errno(e) === "EEXIST") throw new ProviderError(`${file} appeared while osvc was creating it; refusing to overwrite it`);
    throw new ProviderError(`cannot create ${file}: ${(e as Error).message}`);
  }
  try {
    await fh.truncate(size);
    await fh.close();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await unlink(file).catch(() => undefined);
    throw new ProviderError(`cannot size ${file} to ${size} bytes: ${(e as Error).message}`);
  }
}

/** `rm -f file`: true when a file was removed, false when there was none. */
export async function removeFile(file: string): Promise<boolean> {
  try {
    await unlink(file);
    return true;
  } catch (e) {
    if (errno(e) === "ENOENT") return false;
    throw new ProviderError(`cannot delete ${file}: ${(e as Error).message}`);
  }
}

/** `rmdir dir`: true when removed; false when it is not empty, gone or not a directory (left as is). */
export async function removeEmptyDir(dir: string): Promise<boolean> {
  try {
    await rmdir(dir);
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

