// osvc's own file steps run on the main thread; only their fsyncs go through Node's thread pool.
//
// Those steps (state and journal writes, notes, sparse files, `mkdir -p`, the stat of a device or
// a path) are metadata calls and writes of a few KB: microseconds in the kernel. Through the
// thread pool, each cost the main thread more: a request, the wake-up of a pool thread (on a busy
// host the scheduler then often runs that thread and leaves osvc's main thread waiting), a
// callback. A CPU profile of a 20-stack apply beside its ten mkfs measured 0.2-0.4 ms of the main
// thread per call, ~45 ms in all (bench/README.md, seventh pass). An fsync can take long on a busy
// disk: it alone stays asynchronous.
import { fsync, unlinkSync } from "node:fs";
import { promisify } from "node:util";

/** fsync(2) of an open file descriptor, in the thread pool. */
export const fsyncFd: (fd: number) => Promise<void> = promisify(fsync);

/** Removes a file a failed step left (a temp file, a file half made), if it is there. */
export function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // never made, or already gone
  }
}
