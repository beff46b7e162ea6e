// The spawn helper: a small resident python3 process that starts host commands on osvc's behalf.
//
// Why: Node forks its whole process for each command (libuv's fork + exec; ~2 ms of osvc's CPU
// per command from an 80-190 MB process, see bench/spawn), where python starts a command with
// vfork from a ~10 MB process (os.posix_spawn; subprocess.Popen for a command with a working
// directory, which posix_spawn cannot set). The helper keeps every guarantee of the one Exec:
// commands are argument arrays (no shell), each in its own session and process group (setsid),
// signal dispositions restored (SIGPIPE and SIGXFSZ, which python ignores), no file descriptor
// leaked (the helper closes what it inherited at its start, its own are close-on-exec), stdin fed
// or /dev/null, stdout and stderr captured apart as they come, and the command's exit seen
// through a pidfd (no SIGCHLD race). The helper imports neither subprocess nor signal up front:
// their imports (locale, re, enum) were two thirds of its start, which delays osvc's first
// probe (bench/README.md, seventh pass). Timeouts, aborts
// and endRunning() stay with the Exec: it signals the command's group itself, by the pid the
// helper reports when the command started; when osvc exits, its exit hook SIGKILLs the groups
// still running, as before. When osvc dies without it (SIGKILL, a crash), the helper reads EOF on
// its stdin and lets the commands in flight finish, as they did when osvc forked them itself: a
// step's command killed halfway (a mkfs) would leave a device the next run must refuse to touch,
// where a finished one leaves a result the next run's probe finds. It keeps reading their output
// (no SIGPIPE for them), still ends each one at its timeout (SIGTERM, then SIGKILL 5 s later),
// and exits when the last one has ended.
//
// The helper's code is fixed (below) and runs with `python3 -I -S`: isolated from PYTHON*
// variables, the user's site directory and the working directory. Template values only travel as
// data in the frames: argv elements, environment entries, the working directory, stdin bytes.
//
// Protocol, both ways: frames of an 8-hex-digit byte length and a payload of NUL-separated fields.
//   osvc -> helper: run <id> <cwd|""> <timeout ms> <n env> <n argv> <0|1 has input> <env...> <path> <argv0> <args...> <input bytes>
//   helper -> osvc: ready 0 | start <id> <pid> | out <id> <1|2> <bytes> | exit <id> <wait status> | err <id> <errno>
//                   | bad <id> <why Popen refused the request>
// No field but the input may hold a NUL byte (argv and environ cannot): the Exec refuses such a
// command before it reaches the helper, as Node's own spawn does.
// `exit` comes after the command has ended and both of its output pipes reached EOF.
//
// The python is the system's, at a fixed path (/usr/bin/python3, or RHEL's platform-python), not
// whatever `python3` is first on PATH (a virtualenv, or a pyenv shim that costs 100 ms of bash per
// start); OSVC_SPAWN_PYTHON=<absolute path> names another one. Where it is missing or too old
// (>= 3.9 for pidfd_open, Linux >= 5.3), or with OSVC_SPAWN=direct, the Exec starts commands itself
// through nano-spawn, as before (src/provider/exec.ts).
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { accessSync, constants as fsConstants } from "node:fs";
import { isAbsolute } from "node:path";
import { constants } from "node:os";
import { StringDecoder } from "node:string_decoder";
import type { Socket } from "node:net";
import type { Readable, Writable } from "node:stream";

/** Between SIGTERM and SIGKILL when a command's group is ended (by osvc, or by the helper once osvc is gone). */
export const KILL_GRACE_MS = 5_000;

export const HELPER_SOURCE = String.raw`
import os, sys, select, time

# Signal numbers from osvc (node's os.constants.signals): no "signal" module, whose import (enum)
# costs as much as the rest of this start. A command starts with os.posix_spawn (vfork): no
# "subprocess" import either, except for a command with a working directory (posix_spawn cannot
# change it), imported at its first use.
SIGTERM, SIGKILL, SIGPIPE, SIGXFSZ = (int(a) for a in sys.argv[1:5])
KILL_GRACE = ${KILL_GRACE_MS / 1000}  # seconds between SIGTERM and SIGKILL, as osvc's own timeouts

# What osvc itself inherited open (not close-on-exec) is no command's business: closed here, once,
# so that a command gets only its own stdin, stdout and stderr.
for fd in [int(n) for n in os.listdir("/proc/self/fd")]:
    if fd > 2:
        try:
            os.close(fd)
        except OSError:
            pass  # the directory listing's own
ep = select.epoll()
watched = {}  # fd -> None (osvc's requests) | (id, kind): b"1"/b"2" output, b"x" exit (pidfd), b"w" input
kids = {}
inbuf = bytearray()
out = bytearray()
orphaned = False  # osvc is gone: its commands run to their end (or their timeout), output dropped
subprocess = None

def watch(fd, events, data):
    ep.register(fd, events)
    watched[fd] = data

def unwatch(fd):
    ep.unregister(fd)
    del watched[fd]

def frame(*fields):
    if orphaned:
        return
    p = b"\0".join(fields)
    out.extend(b"%08x" % len(p))
    out.extend(p)

def flush():
    try:
        while out:
            n = os.write(1, out)
            del out[:n]
    except OSError:
        orphan()

def orphan():
    global orphaned
    orphaned = True
    out.clear()
    if 0 in watched:
        unwatch(0)
    for i in list(kids):
        finish(i)

def close_output(k, fd):
    unwatch(fd)
    os.close(fd)
    k["open"].remove(fd)

def finish(i):
    k = kids[i]
    if k["status"] is None or (k["open"] and not orphaned):
        return
    # Once osvc is gone, a command that has ended is not waited for any more: a daemon it left
    # may hold its output pipes open for as long as it runs.
    for fd in list(k["open"]):
        close_output(k, fd)
    if k.get("w") is not None:  # input it never read
        unwatch(k["w"])
        os.close(k["w"])
    frame(b"exit", i, b"%d" % k["status"])
    os.close(k["pidfd"])
    del kids[i]

def spawn(cwd, env, path, argv, data):
    # -> (pid, stdout fd, stderr fd, stdin fd or None, the Popen to tell of the reaping or None)
    global subprocess
    if cwd:
        if subprocess is None:
            import subprocess
        p = subprocess.Popen(argv, executable=path, cwd=cwd, env=env,
                             stdin=subprocess.DEVNULL if data is None else subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             start_new_session=True, restore_signals=True, close_fds=True, bufsize=0)
        fds = [os.dup(f.fileno()) for f in (p.stdout, p.stderr, p.stdin) if f is not None]
        for f in (p.stdout, p.stderr, p.stdin):
            if f is not None:
                f.close()
        return p.pid, fds[0], fds[1], fds[2] if data is not None else None, p
    # The pipes are close-on-exec (PEP 446): the command gets only its own stdin, stdout and stderr.
    made = []
    try:
        r1, w1 = os.pipe()
        made += [r1, w1]
        r2, w2 = os.pipe()
        made += [r2, w2]
        if data is None:
            acts = [(os.POSIX_SPAWN_OPEN, 0, "/dev/null", os.O_RDONLY, 0)]
        else:
            r0, w0 = os.pipe()
            made += [r0, w0]
            acts = [(os.POSIX_SPAWN_DUP2, r0, 0)]
        acts += [(os.POSIX_SPAWN_DUP2, w1, 1), (os.POSIX_SPAWN_DUP2, w2, 2)]
        pid = os.posix_spawn(path, argv, env, file_actions=acts, setsid=True, setsigdef=(SIGPIPE, SIGXFSZ))
    except BaseException:
        for fd in made:
            os.close(fd)
        raise
    os.close(w1)
    os.close(w2)
    if data is None:
        return pid, r1, r2, None, None
    os.close(r0)
    return pid, r1, r2, w0, None

def start(i, cwd, env, path, argv, data, timeout):
    try:
        pid, o, e, w, popen = spawn(cwd, env, path, argv, data)
    except OSError as ex:
        frame(b"err", i, b"%d" % (ex.errno or 0))
        return
    except Exception as ex:  # a request the spawn refuses: that command only
        frame(b"bad", i, repr(ex).encode("utf-8", "replace"))
        return
    k = {"pid": pid, "popen": popen, "status": None, "open": [o, e], "pidfd": os.pidfd_open(pid),
         "deadline": time.monotonic() + timeout, "signal": SIGTERM}
    kids[i] = k
    frame(b"start", i, b"%d" % pid)
    flush()
    for fd in (o, e):
        os.set_blocking(fd, False)  # a read never waits: the loop goes on with the other commands
    watch(o, select.EPOLLIN, (i, b"1"))
    watch(e, select.EPOLLIN, (i, b"2"))
    watch(k["pidfd"], select.EPOLLIN, (i, b"x"))
    if w is not None:
        if data:
            k["input"] = memoryview(data)
            k["w"] = w
            os.set_blocking(w, False)
            watch(w, select.EPOLLOUT, (i, b"w"))
        else:
            os.close(w)

def request(p):
    op, i, rest = p.split(b"\0", 2)
    if op != b"run":
        raise ValueError("unknown request %r" % op)
    cwd, timeout, nenv, nargv, has_input, body = rest.split(b"\0", 5)
    nenv, nargv = int(nenv), int(nargv)
    f = body.split(b"\0", nenv + nargv)
    env = dict(e.split(b"=", 1) for e in f[:nenv])
    argv = f[nenv:nenv + nargv]
    start(i, cwd, env, argv[0], argv[1:], f[nenv + nargv] if has_input == b"1" else None, int(timeout) / 1000)

def expire():
    # Only once osvc is gone (it times its commands out itself while it runs): SIGTERM at the
    # command's timeout, SIGKILL after the grace period; the time until the next deadline.
    now = time.monotonic()
    wait = None
    for k in kids.values():
        if k["status"] is not None:
            continue
        if now >= k["deadline"]:
            try:
                os.killpg(k["pid"], k["signal"])
            except OSError:
                pass
            k["deadline"] = now + KILL_GRACE
            k["signal"] = SIGKILL
        left = k["deadline"] - now
        wait = left if wait is None else min(wait, left)
    return wait

os.close(os.pidfd_open(os.getpid()))
frame(b"ready", b"0")
flush()
watch(0, select.EPOLLIN, None)
while True:
    if orphaned and not kids:
        sys.exit(0)
    wait = expire() if orphaned else None
    # Each event with the registration it was for: a descriptor closed earlier in this batch may
    # be reused by a command started in it (its event then is not the new one's).
    for fd, data in [(fd, watched.get(fd, False)) for fd, _ in ep.poll(-1 if wait is None else wait)]:
        if data is False or watched.get(fd, False) is not data:
            continue  # dropped earlier in this batch (osvc gone, the command ended)
        if data is None:
            d = os.read(0, 262144)
            if not d:
                orphan()  # osvc ended (even by SIGKILL): let its commands finish, as steps do
                continue
            inbuf.extend(d)
            while len(inbuf) >= 8:
                n = int(inbuf[:8], 16)
                if len(inbuf) < 8 + n:
                    break
                p = bytes(inbuf[8:8 + n])
                del inbuf[:8 + n]
                request(p)
            continue
        i, kind = data
        k = kids.get(i)
        if k is None:
            continue
        if kind == b"x":
            pid, status = os.waitpid(k["pid"], os.WNOHANG)
            if pid:
                k["status"] = status
                if k["popen"] is not None:
                    k["popen"].returncode = status  # reaped here: Popen must not wait for it again
                unwatch(fd)
                finish(i)
        elif kind == b"w":
            try:
                n = os.write(fd, k["input"])
                k["input"] = k["input"][n:]
            except BlockingIOError:
                continue
            except OSError:
                k["input"] = b""  # the command closed its stdin: the rest is not read
            if not k["input"]:
                unwatch(fd)
                os.close(fd)
                k["w"] = None
        else:
            try:
                d = os.read(fd, 65536)
            except BlockingIOError:
                continue
            if d:
                frame(b"out", i, kind, d)
            else:
                close_output(k, fd)
                finish(i)
    flush()
`;

/** How a command ended, as the helper saw it. */
export interface HelperOutcome {
  readonly exitCode?: number;
  readonly signal?: string;
  /** errno code (ENOENT, EACCES, ...) when it could not start. */
  readonly startError?: string;
  readonly stdout: string;
  readonly stderr: string;
}

export interface HelperRequest {
  readonly path: string;
  readonly argv0: string;
  readonly args: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly input?: string;
  /** The command's timeout: osvc enforces it while it runs; the helper only once osvc is gone. */
  readonly timeoutMs: number;
  readonly onStart: (pid: number) => void;
  readonly onData?: (stream: "stdout" | "stderr", text: string) => void;
}

interface Call {
  readonly req: HelperRequest;
  readonly resolve: (o: HelperOutcome | undefined) => void;
  readonly out: StringDecoder;
  readonly err: StringDecoder;
  stdout: string;
  stderr: string;
  pid?: number;
}

const SIGNAL_NAMES = new Map(Object.entries(constants.signals).map(([name, n]) => [n as number, name]));
const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, n]) => [n as number, name]));

/** Decodes a wait status as waitpid reports it. */
export function waitStatus(status: number): { exitCode?: number; signal?: string } {
  const sig = status & 0x7f;
  if (sig === 0) return { exitCode: (status >> 8) & 0xff };
  return { signal: SIGNAL_NAMES.get(sig) ?? `signal ${sig}` };
}

/** The request's frame; undefined when a field holds a NUL byte (it would shift the fields after it). */
function encodeRun(id: number, req: HelperRequest): Buffer | undefined {
  const env: string[] = [];
  for (const k in req.env) {
    const v = req.env[k];
    if (v !== undefined) env.push(`${k}=${v}`);
  }
  const fields = ["run", String(id), req.cwd ?? "", String(Math.max(0, Math.round(req.timeoutMs))), String(env.length), String(req.args.length + 2), req.input === undefined ? "0" : "1", ...env, req.path, req.argv0, ...req.args];
  if (fields.some((f) => f.includes("\0"))) return undefined;
  const payload = Buffer.from(`${fields.join("\0")}\0${req.input ?? ""}`, "utf8");
  return Buffer.concat([Buffer.from(payload.length.toString(16).padStart(8, "0"), "latin1"), payload]);
}

/** One helper process and the commands it runs. */
class Helper {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  private buf: Buffer = Buffer.alloc(0);
  private ready = false;
  private ended = false;
  private stderrTail = "";

  constructor(
    python: string,
    private readonly onEnd: (why: string, usable: boolean) => void,
  ) {
    // Its own session too: a terminal's Ctrl-C reaches osvc only (osvc decides, see exec.ts).
    const sig = constants.signals;
    const numbers = [sig.SIGTERM, sig.SIGKILL, sig.SIGPIPE, sig.SIGXFSZ].map(String);
    this.child = spawn(python, ["-I", "-S", "-c", HELPER_SOURCE, ...numbers], { stdio: ["pipe", "pipe", "pipe"], detached: true });
    this.child.unref();
    this.pipe("stdout").unref();
    this.pipe("stderr").unref();
    this.child.stdin.on("error", () => {}); // a dead helper: 'exit' below says so
    this.child.stdout.on("data", (d: Buffer) => this.read(d));
    this.child.stderr.setEncoding("utf8").on("data", (d: string) => (this.stderrTail = (this.stderrTail + d).slice(-2000)));
    this.child.on("error", (e) => this.end(`cannot start ${python}: ${e.message}`));
    this.child.on("close", (code, signal) => this.end(`${python} ended (${signal ?? `exit code ${code}`})${this.stderrTail.trim() ? `: ${this.stderrTail.trim().split("\n").slice(-3).join(" | ")}` : ""}`));
  }

  /** The helper's output pipes are sockets: ref'd while a command is in flight, so osvc waits for it. */
  private pipe(name: "stdout" | "stderr"): Socket {
    return this.child[name] as unknown as Socket;
  }

  run(req: HelperRequest): Promise<HelperOutcome | undefined> {
    const id = this.nextId++;
    const frame = encodeRun(id, req);
    if (!frame) return Promise.resolve({ startError: "ERR_INVALID_ARG_VALUE", stdout: "", stderr: "" });
    return new Promise((resolve) => {
      if (this.calls.size === 0) this.pipe("stdout").ref(); // a command in flight keeps osvc running
      this.calls.set(id, { req, resolve, out: new StringDecoder("utf8"), err: new StringDecoder("utf8"), stdout: "", stderr: "" });
      this.child.stdin.write(frame);
    });
  }

  private settle(id: number, call: Call, o: HelperOutcome | undefined): void {
    this.calls.delete(id);
    if (this.calls.size === 0 && !this.ended) this.pipe("stdout").unref();
    call.resolve(o);
  }

  private read(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    let at = 0;
    while (this.buf.length - at >= 8) {
      const len = parseInt(this.buf.toString("latin1", at, at + 8), 16);
      if (this.buf.length - at - 8 < len) break;
      this.frame(this.buf.subarray(at + 8, at + 8 + len));
      at += 8 + len;
    }
    this.buf = at === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at);
  }

  private frame(p: Buffer): void {
    const z1 = p.indexOf(0);
    const z2 = p.indexOf(0, z1 + 1);
    const op = p.toString("latin1", 0, z1);
    const id = Number(p.toString("latin1", z1 + 1, z2 < 0 ? p.length : z2));
    if (op === "ready") {
      this.ready = true;
      return;
    }
    const call = this.calls.get(id);
    if (!call) return;
    const rest = () => (z2 < 0 ? "" : p.toString("latin1", z2 + 1));
    if (op === "out") {
      const stream = p[z2 + 1] === 0x31 ? "stdout" : "stderr";
      const text = (stream === "stdout" ? call.out : call.err).write(p.subarray(z2 + 3));
      if (stream === "stdout") call.stdout += text;
      else call.stderr += text;
      if (text) call.req.onData?.(stream, text);
    } else if (op === "start") {
      call.pid = Number(rest());
      call.req.onStart(call.pid);
    } else if (op === "exit") {
      this.flushText(call);
      this.settle(id, call, { ...waitStatus(Number(rest())), stdout: call.stdout, stderr: call.stderr });
    } else if (op === "err") {
      const errno = Number(rest());
      this.settle(id, call, { startError: ERRNO_NAMES.get(errno) ?? `errno ${errno}`, stdout: "", stderr: "" });
    } else if (op === "bad") {
      this.settle(id, call, { startError: p.toString("utf8", z2 + 1), stdout: "", stderr: "" });
    }
  }

  private flushText(call: Call): void {
    const o = call.out.end();
    const e = call.err.end();
    if (o) ((call.stdout += o), call.req.onData?.("stdout", o));
    if (e) ((call.stderr += e), call.req.onData?.("stderr", e));
  }

  /** The helper is gone. Commands it never started are handed back (undefined); started ones failed with it. */
  private end(why: string): void {
    if (this.ended) return;
    this.ended = true;
    this.onEnd(why, this.ready);
    for (const [id, call] of [...this.calls]) {
      if (!this.ready) {
        this.settle(id, call, undefined); // nothing was started before 'ready': run it another way
        continue;
      }
      if (call.pid !== undefined) {
        try {
          process.kill(-call.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      this.flushText(call);
      const lost = `osvc's spawn helper ended while this command ran (${why}); ${call.pid !== undefined ? `its process group ${call.pid} was killed` : "it may have started, its pid is unknown"}`;
      this.settle(id, call, { exitCode: -1, stdout: call.stdout, stderr: call.stderr ? `${call.stderr}\n${lost}` : lost });
    }
  }
}

let current: Helper | undefined;
/** Why the helper cannot be used in this process (it failed to start, or it ended): commands start directly. */
let unusable: string | undefined;

/** Why commands start without the helper in this process, if they do (for diagnostics and tests). */
export function helperUnusable(): string | undefined {
  return unusable;
}

const SYSTEM_PYTHONS = ["/usr/bin/python3", "/usr/libexec/platform-python"];

/** The python that runs the helper: OSVC_SPAWN_PYTHON, or the system's; a reason when there is none. */
function helperPython(): { path: string } | { why: string } {
  const named = process.env.OSVC_SPAWN_PYTHON;
  if (named) return isAbsolute(named) ? { path: named } : { why: `OSVC_SPAWN_PYTHON=${named} is not an absolute path` };
  for (const p of SYSTEM_PYTHONS) {
    try {
      accessSync(p, fsConstants.X_OK);
      return { path: p };
    } catch {
      // not this one
    }
  }
  return { why: `no python3 at ${SYSTEM_PYTHONS.join(" or ")}` };
}

/** This process's helper, started if needed; undefined when it is not usable here. */
function ensureHelper(): Helper | undefined {
  if (unusable !== undefined) return undefined;
  if (!current) {
    const python = helperPython();
    if ("why" in python) {
      unusable = python.why;
      return undefined;
    }
    const h = new Helper(python.path, (why, wasReady) => {
      // A helper that never started (no python3 >= 3.9, no pidfd) is not tried again; one that
      // ended later is replaced at the next command.
      if (current === h) current = undefined;
      if (!wasReady) unusable = why;
    });
    current = h;
  }
  return current;
}

/**
 * Commands a process starts itself before it starts the helper: starting python costs about as
 * much as forking osvc for a few commands, so a plan that runs one or two probes never pays it.
 * Commands that will run many (apply, destroy) start it at once (prestartHelper).
 */
const DIRECT_BEFORE_HELPER = 4;
let directSoFar = 0;

/**
 * Runs a command through the helper. undefined: the command was not started, the caller starts it
 * itself: the process has not run enough commands yet to start the helper, or the helper is not
 * usable here (no system python3, too old, it could not start).
 */
export function runWithHelper(req: HelperRequest): Promise<HelperOutcome | undefined> | undefined {
  if (!current && directSoFar < DIRECT_BEFORE_HELPER) {
    directSoFar++;
    return undefined;
  }
  return ensureHelper()?.run(req);
}

/**
 * Starts the helper now, so that python's start-up overlaps osvc's own (loading, compiling the
 * template) instead of delaying the first probe. For commands that will run many host commands.
 */
export function prestartHelper(): void {
  if (process.env.OSVC_SPAWN !== "direct") ensureHelper();
}

/**
 * Ends this process's helper now (it otherwise ends with the process): its input is closed and it
 * exits once its commands have ended. For the start-up snapshot's warm-up instance
 * (scripts/snapshot-entry.cjs), which must leave no child process behind.
 */
export function endHelper(): Promise<void> {
  const h = current;
  if (!h) return Promise.resolve();
  return new Promise((done) => {
    h.child.once("close", () => done());
    h.child.ref(); // its pipes and itself are unref'd: this wait must keep the process running
    for (const s of [h.child.stdout, h.child.stderr] as unknown as Socket[]) s.ref();
    h.child.stdin.end();
  });
}

/** The pid of this process's helper, when one runs (tests: what a lost helper does). */
export function helperPid(): number | undefined {
  return current?.child.pid;
}
