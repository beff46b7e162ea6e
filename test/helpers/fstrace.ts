// Which files a host command changes, seen by strace: an Exec for testContext() that runs one
// binary (podman, docker) under `strace -f -b execve` and records every file system call it makes
// that can change something (an open for writing or creating, mkdir, rename, unlink, chmod...).
// Per process, so other tests running meanwhile cannot blur the picture, and independent of what
// the host already holds: an open(O_CREAT) of /etc/containers/networks/netavark.lock is reported
// whether that file exists already or not (on a fresh host it creates the directory and the file).
//
// `-b execve` detaches from the programs the traced binary executes (conmon, runc, the container's
// own processes): strace would otherwise wait for the container to exit. Their writes are not seen.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Exec } from "../../src/provider/exec.js";
import { createExec, displayCommand } from "../../src/provider/exec.js";

/** The calls traced: every open (to see reads too, so an empty result is not blindness), and those that change the tree. */
const SYSCALLS = [
  "?open", "openat", "?openat2", "?creat", "?mkdir", "mkdirat", "?rename", "renameat", "?renameat2", "?unlink", "unlinkat", "?rmdir",
  "?symlink", "symlinkat", "?link", "linkat", "?chmod", "fchmodat", "?chown", "fchownat", "?lchown", "truncate", "utimensat",
  "setxattr", "lsetxattr", "removexattr", "lremovexattr",
].join(",");

/** One traced call on a path. */
export interface FsCall {
  readonly pid: number;
  readonly syscall: string;
  /** Absolute when strace could resolve it (-y prints the directory of a dirfd). */
  readonly path: string;
  /** The call can change the file system (open for writing/creating, mkdir, rename, ...). */
  readonly write: boolean;
  /** The trace line, for messages. */
  readonly line: string;
}

const OPEN_WRITE = /\bO_(WRONLY|RDWR|CREAT|TRUNC|APPEND)\b/;
// A quoted argument, with the directory of its dirfd when -y printed one: `3</etc>, "x"`.
const ARG = /(?:(?:-?\d+|AT_FDCWD)<((?:[^>\\]|\\.)*)>,\s*)?"((?:[^"\\]|\\.)*)"/g;

function unescape(s: string): string {
  return s.replace(/\\x([0-9a-f]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16))).replace(/\\(.)/g, "$1");
}

/** Parses an `strace -f -y` output file into path calls (signals and exits are skipped). */
export function parseFsTrace(text: string): FsCall[] {
  const calls: FsCall[] = [];
  for (const line of text.split("\n")) {
    const m = /^(\d+)\s+(\w+)\((.*)$/.exec(line);
    if (!m) continue;
    const [, pid, syscall, rest] = m;
    const isOpen = /^(open|openat|openat2|creat)$/.test(syscall);
    const write = !isOpen || syscall === "creat" || OPEN_WRITE.test(rest);
    // Only the arguments: the return value may carry a path too (`= 7</etc/x>`).
    const args = rest.replace(/\)\s+=\s+.*$/, "");
    for (const a of args.matchAll(ARG)) {
      const dir = a[1] === undefined ? undefined : unescape(a[1]);
      const p = unescape(a[2]);
      calls.push({ pid: Number(pid), syscall, path: path.isAbsolute(p) || dir === undefined ? p : path.join(dir, p), write, line });
    }
  }
  return calls;
}

/** Calls of `calls` that may change something at or below one of `roots`. */
export function writesUnder(calls: readonly FsCall[], roots: readonly string[]): FsCall[] {
  return calls.filter((c) => c.write && roots.some((r) => c.path === r || c.path.startsWith(r.endsWith("/") ? r : `${r}/`)));
}

export interface TracedExec {
  /** For testContext({ exec }): `bin` runs under strace; every other command as usual. */
  exec(record: (command: string) => void): Exec;
  /** How many `bin` calls were traced. */
  count(): number;
  /** Every path call of every traced run. */
  calls(): FsCall[];
}

/** Traces every run of `bin`, writing one trace file a call into `dir` (a test's temp dir). */
export function tracedExec(bin: string, dir: string): TracedExec {
  if (!existsSync("/usr/bin/strace") && !existsSync("/bin/strace")) throw new Error("strace not found: apt-get install strace");
  const base = createExec();
  let n = 0;
  return {
    exec: (record) => async (file, args, opts = {}) => {
      const command = displayCommand(file, args);
      if (!opts.quiet) record(command);
      if (file !== bin) return base(file, args, opts);
      const out = path.join(dir, `${String(++n).padStart(4, "0")}.trace`);
      const r = await base("strace", ["-f", "-b", "execve", "-qq", "-y", "-e", `trace=${SYSCALLS}`, "-e", "signal=none", "-o", out, "--", file, ...args], opts);
      return { ...r, command };
    },
    count: () => n,
    calls: () =>
      readdirSync(dir)
        .filter((f) => f.endsWith(".trace"))
        .sort()
        .flatMap((f) => parseFsTrace(readFileSync(path.join(dir, f), "utf8"))),
  };
}
