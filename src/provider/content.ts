// Read-only looks at data a provider is about to destroy: is a device blank (sampled in-process,
// no process per block), what does a directory hold (files, bytes). A failure to look is an
// error, never "blank" or "empty".
import { lstat, open, readdir, readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import { ProviderError } from "./api.js";

/** Bytes read at the head and at the tail of a device. */
const EDGE = 1024 * 1024;
/** Evenly spaced regions sampled between head and tail, and their size. */
const SAMPLES = 256;
const SAMPLE = 64 * 1024;

export interface BlankSample {
  /** Every sampled byte is zero. */
  readonly blank: boolean;
  readonly size: number;
  /** Regions read, and how many of them hold a non-zero byte. */
  readonly regions: number;
  readonly dataRegions: number;
  /** Offset of the first non-zero byte found. */
  readonly firstData?: number;
  readonly detail: string;
}

export function humanBytes(n: number): string {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${n} bytes` : `${v < 10 && !Number.isInteger(v) ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

/** Size in bytes of a block device (sysfs) or a regular file. */
async function deviceSize(dev: string): Promise<number> {
  const st = await stat(dev);
  if (st.isFile()) return st.size;
  if (!st.isBlockDevice()) throw new ProviderError(`${dev} is neither a block device nor a regular file`);
  const name = path.basename(await realpath(dev));
  const sectors = Number((await readFile(`/sys/class/block/${name}/size`, "utf8")).trim());
  if (!Number.isFinite(sectors)) throw new ProviderError(`cannot read the size of ${dev} from /sys/class/block/${name}/size`);
  return sectors * 512;
}

/** Offsets and lengths read: the head, the tail, and evenly spaced regions in between. */
function regionsOf(size: number): [number, number][] {
  if (size <= 2 * EDGE + SAMPLES * SAMPLE) return [[0, size]];
  const out: [number, number][] = [[0, EDGE]];
  const span = size - 2 * EDGE - SAMPLE;
  for (let i = 0; i < SAMPLES; i++) out.push([EDGE + Math.floor((span * (i + 0.5)) / SAMPLES / 4096) * 4096, SAMPLE]);
  out.push([size - EDGE, EDGE]);
  return out;
}

/**
 * Whether a device looks blank where a format would write: the head, the tail and 256 evenly
 * spaced 64 KiB regions (the whole device when it is small). Read in-process, read-only.
 * Throws a ProviderError when the device cannot be read (permission denied...).
 */
export async function sampleBlank(dev: string): Promise<BlankSample> {
  let size: number;
  let fh;
  try {
    size = await deviceSize(dev);
    fh = await open(dev, "r");
  } catch (e) {
    if (e instanceof ProviderError) throw e;
    throw new ProviderError(`cannot read ${dev} to check that it is blank: ${(e as Error).message}`, "run as root; osvc never formats a device it could not check");
  }
  try {
    const regions = regionsOf(size);
    const buf = Buffer.alloc(Math.max(EDGE, SAMPLE));
    const zeros = Buffer.alloc(buf.length);
    let dataRegions = 0;
    let firstData: number | undefined;
    let read = 0;
    for (const [off, len] of regions) {
      for (let pos = off; pos < off + len; ) {
        const want = Math.min(buf.length, off + len - pos);
        const { bytesRead } = await fh.read(buf, 0, want, pos);
        if (bytesRead === 0) break;
        read += bytesRead;
        // memcmp against zeros (native); the byte-by-byte search only where a chunk holds data
        const chunk = buf.subarray(0, bytesRead);
        const i = chunk.equals(zeros.subarray(0, bytesRead)) ? -1 : chunk.findIndex((b) => b !== 0);
        if (i >= 0) {
          dataRegions++;
          if (firstData === undefined) firstData = pos + i;
          break;
        }
        pos += bytesRead;
      }
    }
    const blank = dataRegions === 0;
    const detail = blank
      ? `no signature, only zeros in ${regions.length === 1 ? `all of its ${humanBytes(size)}` : `the ${regions.length} regions sampled (${humanBytes(read)} of ${humanBytes(size)})`}`
      : `no filesystem signature, but data: a non-zero byte at offset ${firstData}, ${dataRegions} of ${regions.length} sampled region${regions.length === 1 ? "" : "s"} hold data`;
    return { blank, size, regions: regions.length, dataRegions, ...(firstData !== undefined ? { firstData } : {}), detail };
  } catch (e) {
    throw new ProviderError(`cannot read ${dev} to check that it is blank: ${(e as Error).message}`);
  } finally {
    await fh.close();
  }
}

export interface DirUsage {
  /** Entries that are not directories (files, links, sockets...). */
  readonly files: number;
  readonly dirs: number;
  readonly bytes: number;
  /** The walk stopped at the limit: the numbers are a lower bound. */
  readonly truncated: boolean;
  /** Mount points below it (other filesystems are not walked). */
  readonly mountPoints: readonly string[];
}

/** What a directory holds, not crossing filesystems (like rm --one-file-system). Missing: undefined. */
export async function dirUsage(dir: string, limit = 100_000): Promise<DirUsage | undefined> {
  let top;
  try {
    top = await lstat(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ProviderError(`cannot look into ${dir}: ${(e as Error).message}`);
  }
  let files = 0;
  let dirs = 0;
  let bytes = 0;
  let seen = 0;
  const mountPoints: string[] = [];
  const stack = [dir];
  try {
    while (stack.length) {
      const d = stack.pop()!;
      for (const name of await readdir(d)) {
        if (++seen > limit) return { files, dirs, bytes, truncated: true, mountPoints };
        const p = path.join(d, name);
        const st = await lstat(p);
        if (st.isDirectory()) {
          if (st.dev !== top.dev) {
            mountPoints.push(p);
            continue;
          }
          dirs++;
          stack.push(p);
        } else {
          files++;
          bytes += st.size;
        }
      }
    }
  } catch (e) {
    throw new ProviderError(`cannot look into ${dir}: ${(e as Error).message}`, "osvc deletes nothing it could not look at");
  }
  return { files, dirs, bytes, truncated: false, mountPoints };
}

/** "3 files (12 KiB)", "at least 100000 files (...)". */
export function describeUsage(u: DirUsage): string {
  const n = `${u.truncated ? "at least " : ""}${u.files} file${u.files === 1 ? "" : "s"}`;
  return `${n} (${humanBytes(u.bytes)})${u.dirs ? ` in ${u.dirs} subdirector${u.dirs === 1 ? "y" : "ies"}` : ""}`;
}
