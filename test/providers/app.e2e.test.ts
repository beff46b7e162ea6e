// app.simple and app.forking against the real host: detached processes tracked by pid + start
// time, zombies counted as dead, forking commands with check/retcodes, /bin/sh -c for shell operators (as upstream).
import { existsSync, readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { commandOf, environmentOf, identityPrefix, limitsPrefix, needsShell, parseRetcodes } from "../../providers/app/command.js";
import { appForkingProvider as F, appSimpleProvider as S, appFiles } from "../../providers/app/provider.js";
import { parseProcStat, processTree } from "../../providers/app/proc.js";
import { ProviderError } from "../../src/provider/api.js";
import type { KwValue } from "../../src/core/value.js";
import { cleanup, makeTempDir, probeOne, res, testContext } from "../helpers/host.js";

// ------------------------------------------------------------------ independent /proc readers

interface Stat {
  state: string;
  ppid: number;
  pgrp: number;
  starttime: number;
}

function procStat(pid: number): Stat | undefined {
  try {
    const t = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = t.slice(t.lastIndexOf(")") + 2).split(" ");
    return { state: f[0], ppid: Number(f[1]), pgrp: Number(f[2]), starttime: Number(f[19]) };
  } catch {
    return undefined;
  }
}

/** Running = /proc/PID exists and is not a zombie. */
function running(pid: number): boolean {
  const s = procStat(pid);
  return s !== undefined && s.state !== "Z" && s.state !== "X";
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return [];
  }
}

function uidOf(pid: number): string | undefined {
  try {
    return /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

/** Live pids whose command line contains this word. */
function pidsWith(word: string): number[] {
  return readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => running(pid) && cmdline(pid).includes(word));
}

// ------------------------------------------------------------------ process cleanup, by pid

const spawned: { pid: number; starttime: number }[] = [];
function track(pid: number): void {
  const s = procStat(pid);
  if (s) spawned.push({ pid, starttime: s.starttime });
}

afterEach(() => {
  // processes carrying a token of this test, even ones a failing test did not get to track
  for (const t of tokens.splice(0)) for (const pid of pidsWith(t)) track(pid);
  for (const p of spawned.splice(0)) {
    const s = procStat(p.pid);
    if (s && s.starttime === p.starttime && s.state !== "Z") {
      try {
        process.kill(p.pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
  expect(cleanup.run()).toEqual([]);
});

async function until(pred: () => boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pred();
}

/** A sleep argument unique to this test run (sleep adds up its arguments), to find its processes. */
let seq = 0;
const tokens: string[] = [];
function token(): string {
  const t = `0.${process.pid}${++seq}`;
  tokens.push(t);
  return t;
}

function app(rid: string, driver: "app.simple" | "app.forking", kw: Record<string, KwValue>, recorded?: Record<string, string | number>) {
  const withDefaults: Record<string, KwValue> = { retcodes: "0:up 1:down", ...(driver === "app.simple" ? { kill: "parent" } : {}), ...kw };
  return res(rid, driver, withDefaults, recorded);
}

// ------------------------------------------------------------------ pure parts

describe("app commands", () => {
  const r = (kw: Record<string, KwValue>) => res("app#0", "app.forking", kw);

  it("maps false/unset/true/integer/command lines like upstream", () => {
    expect(commandOf(r({}), "start")).toBeUndefined();
    expect(commandOf(r({ start: "" }), "start")).toBeUndefined();
    expect(commandOf(r({ start: "False" }), "start")).toBeUndefined();
    expect(commandOf(r({ script: "/srv/launch", start: "true" }), "start")?.argv).toEqual(["/srv/launch", "start"]);
    expect(commandOf(r({ script: "/srv/launch", check: "true" }), "check")?.argv).toEqual(["/srv/launch", "status"]);
    expect(commandOf(r({ script: "/srv/launch", start: "10" }), "start")?.argv).toEqual(["/srv/launch", "start"]);
    expect(() => commandOf(r({ start: "true" }), "start")).toThrow(/script/);
    expect(() => commandOf(r({ script: "rel/launch", start: "true" }), "start")).toThrow(/absolute/);
    expect(commandOf(r({ start: `/bin/echo "a b" 'c$d' e\\ f` }), "start")).toEqual({ argv: ["/bin/echo", "a b", "c$d", "e f"], shell: false, display: `/bin/echo "a b" 'c$d' e\\ f` });
    // As upstream, a line holding shell operators runs through /bin/sh -c (om3 util/command: |, && or ; anywhere).
    const sh = (line: string) => ({ argv: ["/bin/sh", "-c", line], shell: true, display: line });
    for (const line of ["a && b", "a || b", "a | b", "a; b", "echo a;b", "echo $(id) > x", "echo `id`", "a > x", "a 2>&1"]) expect(commandOf(r({ start: line }), "start"), line).toEqual(sh(line));
    // a word with > inside is not a redirection; an explicit sh -c is kept as written
    expect(commandOf(r({ start: "echo a>b" }), "start")).toMatchObject({ argv: ["echo", "a>b"], shell: false });
    expect(commandOf(r({ start: "sh -c 'a && b'" }), "start")).toEqual({ argv: ["sh", "-c", "a && b"], shell: true, display: "sh -c 'a && b'" });
    expect(needsShell("echo a b")).toBe(false);
    expect(() => commandOf(r({ start: "echo 'unterminated" }), "start")).toThrow(ProviderError);
  });

  it("parses retcodes", () => {
    expect([...parseRetcodes("0:up 1:down 3:warn 4:n/a")]).toEqual([
      [0, "up"],
      [1, "down"],
      [3, "warn"],
      [4, "n/a"],
    ]);
    expect(() => parseRetcodes("0:running")).toThrow(/retcodes/);
    expect(() => parseRetcodes("up")).toThrow(/retcodes/);
  });

  it("builds environment, limits and identity prefixes as argument vectors", () => {
    expect(environmentOf(r({ environment: ["FOO=bar", "MSG=hello world", "EMPTY="] }))).toEqual({ FOO: "bar", MSG: "hello world", EMPTY: "" });
    expect(() => environmentOf(r({ environment: ["1X=a"] }))).toThrow(/KEY=VALUE/);
    expect(limitsPrefix(r({ limit_nofile: 1024, limit_core: 0 }))).toEqual(["prlimit", "--core=0:0", "--nofile=1024:1024", "--"]);
    expect(limitsPrefix(r({}))).toEqual([]);
    expect(identityPrefix({ user: "nobody" }, "65534")).toEqual(["setpriv", "--reuid=nobody", "--regid=65534", "--init-groups", "--"]);
    expect(identityPrefix({ group: "adm" })).toEqual(["setpriv", "--regid=adm", "--clear-groups", "--"]);
  });

  it("parses /proc/PID/stat with a command name holding spaces and parentheses", () => {
    const line = "4279 (we(i) rd) S 1 4278 4278 0 -1 4194560 98 0 0 0 0 0 0 0 20 0 1 0 193908 5632000 128 18446744073709551615";
    expect(parseProcStat(line)).toEqual({ pid: 4279, state: "S", ppid: 1, pgrp: 4278, session: 4278, starttime: 193908 });
    const root = { pid: 10, state: "S", ppid: 1, pgrp: 9, session: 9, starttime: 1 };
    const procs = [root, { ...root, pid: 11, ppid: 10 }, { ...root, pid: 12, ppid: 11, pgrp: 12 }, { ...root, pid: 13, ppid: 1 }, { ...root, pid: 14, ppid: 1, pgrp: 99 }];
    expect(processTree(root, procs).sort()).toEqual([10, 11, 12, 13]);
  });
});

// ------------------------------------------------------------------ app.simple

describe("app.simple on the host", () => {
  it("starts sleep detached, tracks pid + start time, stops it (zombie = dead), restarts, unprovisions", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const tok = token();
    const r = app("app#0", "app.simple", { start: `sleep 300 ${tok}` });

    expect(await probeOne(S, ctx, r)).toEqual({ provisioned: null, up: false });

    const t0 = performance.now();
    const out = await S.provision(ctx, r);
    const startMs = performance.now() - t0;
    const pid = out.pid as number;
    track(pid);
    // independent: /proc says it is our sleep, running, detached (reparented), in its own session
    // (start-stop-daemon returns once the pid is known; the exec may follow a moment later)
    expect(await until(() => cmdline(pid).includes(tok))).toBe(true);
    expect(cmdline(pid)).toEqual([expect.stringMatching(/sleep$/), "300", tok]);
    expect(running(pid)).toBe(true);
    const st = procStat(pid)!;
    expect(out).toEqual({ pid, starttime: st.starttime, pidfile: path.join(dir, "app_0.pid"), log: path.join(dir, "app_0.log") });
    expect(st.pgrp).not.toBe(process.pid);
    expect(readFileSync(path.join(dir, "app_0.pid"), "utf8").trim()).toBe(String(pid));
    // The log names the command as written; start-stop-daemon (osvc's detaching wrapper) is not logged.
    expect(ctx.logs.some((l) => l.message === `start: sleep 300 ${tok}`)).toBe(true);
    expect(ctx.commands.some((c) => /start-stop-daemon|(^|\s)(\/bin\/)?sh\s/.test(c))).toBe(false); // no shell, no wrapper in the log
    expect(startMs).toBeLessThan(3000);

    const rec = app("app#0", "app.simple", r.kw, out as Record<string, number | string>);
    expect(await probeOne(S, ctx, rec)).toEqual({ provisioned: null, up: true, outputs: out });
    // without the recorded start time, the pidfile's mtime guards against pid reuse
    expect(await probeOne(S, ctx, r)).toMatchObject({ up: true, outputs: { pid } });
    // a recorded start time that does not match: another process holds that pid now
    expect(await probeOne(S, ctx, app("app#0", "app.simple", r.kw, { ...out, starttime: st.starttime - 1 } as Record<string, number | string>))).toMatchObject({ up: false });

    // start again: no-op, same pid
    ctx.reset();
    expect(await S.start(ctx, rec)).toEqual(out);
    expect(ctx.commands.some((c) => c.startsWith("start-stop-daemon"))).toBe(false);

    // stop: SIGTERM; the orphan may linger as a zombie (PID 1 reaps lazily) but counts as dead
    const s0 = performance.now();
    await S.stop(ctx, rec);
    const stopMs = performance.now() - s0;
    expect(running(pid)).toBe(false);
    expect(stopMs).toBeLessThan(3000);
    expect(existsSync(path.join(dir, "app_0.pid"))).toBe(false);
    expect(await probeOne(S, ctx, rec)).toEqual({ provisioned: null, up: false });
    await S.stop(ctx, rec); // idempotent

    // start again: new pid
    const out2 = await S.start(ctx, rec);
    track(out2.pid as number);
    expect(out2.pid).not.toBe(pid);
    expect(running(out2.pid as number)).toBe(true);
    const rec2 = app("app#0", "app.simple", r.kw, out2 as Record<string, number | string>);
    expect(await probeOne(S, ctx, rec2)).toMatchObject({ up: true });

    await S.unprovision(ctx, rec2);
    expect(running(out2.pid as number)).toBe(false);
    expect(pidsWith(tok)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]); // pidfile and log removed
    expect(await probeOne(S, ctx, rec2)).toMatchObject({ up: false });
  });

  it("runs a command line with && through sh, with environment, cwd and umask", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const tok = token();
    const r = app("app#1", "app.simple", {
      start: `sh -c 'pwd > out.txt && echo "$FOO" >> out.txt && umask >> out.txt && exec sleep 300 ${tok}'`,
      environment: ["FOO=hello world"],
      cwd: dir,
      umask: "0027",
    });
    const out = await S.start(ctx, r);
    track(out.pid as number);
    expect(ctx.logs.some((l) => /through \/bin\/sh/.test(l.message))).toBe(true);
    expect(await until(() => cmdline(out.pid as number).includes(tok))).toBe(true);
    expect(readFileSync(path.join(dir, "out.txt"), "utf8")).toBe(`${dir}\nhello world\n0027\n`);
    // sh exec'd sleep: the tracked pid is the sleep
    expect(cmdline(out.pid as number).slice(-2)).toEqual(["300", tok]);
    await S.stop(ctx, app("app#1", "app.simple", r.kw, out as Record<string, number | string>));
    expect(pidsWith(tok)).toEqual([]);
  });

  it("kill = tree ends the process's children too; kill = parent only the process", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const tok = token();
    const r = app("app#2", "app.simple", { start: `sh -c 'sleep 300 ${tok} | sleep 301 ${tok}'`, kill: "tree" });
    const out = await S.start(ctx, r);
    track(out.pid as number);
    expect(await until(() => pidsWith(tok).length === 2)).toBe(true);
    for (const p of pidsWith(tok)) track(p);
    await S.stop(ctx, app("app#2", "app.simple", r.kw, out as Record<string, number | string>));
    expect(pidsWith(tok)).toEqual([]);
    expect(running(out.pid as number)).toBe(false);

    const tok2 = token();
    const r2 = app("app#3", "app.simple", { start: `sh -c 'sleep 300 ${tok2} | sleep 301 ${tok2}'` }); // kill = parent
    const o2 = await S.start(ctx, r2);
    track(o2.pid as number);
    expect(await until(() => pidsWith(tok2).length === 2)).toBe(true);
    for (const p of pidsWith(tok2)) track(p);
    await S.stop(ctx, app("app#3", "app.simple", r2.kw, o2 as Record<string, number | string>));
    expect(running(o2.pid as number)).toBe(false);
    expect(pidsWith(tok2).length).toBeGreaterThan(0); // upstream semantics: children are left alone
  });

  it("escalates to SIGKILL after stop_timeout for a process that ignores SIGTERM", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const tok = token();
    // "TERM;" makes it a shell command line: /bin/sh -c 'trap "" TERM; exec sleep ...' (sleep inherits the ignored TERM)
    const r = app("app#4", "app.simple", { start: `sh -c 'trap "" TERM; exec sleep 300 ${tok}'`, stop_timeout: 1 });
    const out = await S.start(ctx, r);
    track(out.pid as number);
    const t0 = performance.now();
    await S.stop(ctx, app("app#4", "app.simple", r.kw, out as Record<string, number | string>));
    const ms = performance.now() - t0;
    expect(running(out.pid as number)).toBe(false);
    expect(ms).toBeGreaterThanOrEqual(900);
    expect(ms).toBeLessThan(4000);
    expect(ctx.logs.some((l) => l.level === "warning" && /SIGKILL/.test(l.message))).toBe(true);
  });

  it("uses the stop command when set instead of signals", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const tok = token();
    const pidfile = appFiles(dir, "app#5").pidfile;
    const r = app("app#5", "app.simple", { start: `sleep 300 ${tok}`, stop: `start-stop-daemon --stop --retry TERM/5/KILL/2 --pidfile ${pidfile}` });
    const out = await S.start(ctx, r);
    const pid = out.pid as number;
    track(pid);
    ctx.reset();
    await S.stop(ctx, app("app#5", "app.simple", r.kw, out as Record<string, number | string>));
    expect(running(pid)).toBe(false);
    expect(ctx.logs.some((l) => l.message.startsWith("stop: start-stop-daemon --stop"))).toBe(true);
    expect(ctx.commands.some((c) => c.startsWith("kill"))).toBe(false);
  });

  it("runs as user, with limits", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const tok = token();
    const r = app("app#5", "app.simple", { start: `sleep 300 ${tok}`, user: "nobody", limit_nofile: 123 });
    const out = await S.start(ctx, r);
    const pid = out.pid as number;
    track(pid);
    expect(await until(() => cmdline(pid).includes(tok))).toBe(true);
    expect(uidOf(pid)).toBe("65534");
    expect(readFileSync(`/proc/${pid}/limits`, "utf8")).toMatch(/Max open files\s+123\s+123/);
    await S.stop(ctx, app("app#5", "app.simple", r.kw, out as Record<string, number | string>));
    expect(running(pid)).toBe(false);
  });

  it("reports a process that exits at once, and a missing command, clearly", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    await expect(S.start(ctx, app("app#6", "app.simple", { start: "sh -c 'echo cannot bind >&2; exit 3'" }))).rejects.toThrow(/exited right after it started:\ncannot bind/);
    await expect(S.start(ctx, app("app#7", "app.simple", { start: "/no/such/daemon --flag" }))).rejects.toThrow(/command not found: \/no\/such\/daemon/);
    await expect(S.start(ctx, app("app#8", "app.simple", {}))).rejects.toThrow(/needs a start command/);
    await expect(S.start(ctx, app("app#9", "app.simple", { start: "sleep 1", user: "no-such-user-osvc" }))).rejects.toThrow(/does not exist/);
  });
});

// ------------------------------------------------------------------ app.forking

describe("app.forking on the host", () => {
  it("runs a daemonizing start, maps check exit codes through retcodes, stops with the stop command", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const P = path.join(dir, "daemon.pid");
    const tok = token();
    const r = app("app#0", "app.forking", {
      start: `start-stop-daemon --start --background --make-pidfile --pidfile ${P} --exec /bin/sleep -- 300 ${tok}`,
      check: `start-stop-daemon --status --pidfile ${P}`,
      stop: `start-stop-daemon --stop --retry TERM/5/KILL/2 --pidfile ${P} --remove-pidfile`,
      retcodes: "0:up 1:down 3:down",
    });
    expect(await probeOne(F, ctx, r)).toEqual({ provisioned: null, up: false });

    const out = await F.provision(ctx, r);
    const pid = Number(readFileSync(P, "utf8").trim());
    track(pid);
    expect(out).toEqual({ log: path.join(dir, "app_0.log") });
    expect(running(pid)).toBe(true);
    expect(await until(() => cmdline(pid)[0] === "/bin/sleep")).toBe(true); // the pidfile may precede the exec
    expect(cmdline(pid)).toEqual(["/bin/sleep", "300", tok]);
    expect(await probeOne(F, ctx, r)).toEqual({ provisioned: null, up: true });

    // start again: check says up, the start command does not run
    ctx.reset();
    await F.start(ctx, r);
    expect(ctx.commands.filter((c) => c.includes("--start"))).toEqual([]);
    expect(ctx.logs.some((l) => /already up/.test(l.message))).toBe(true);

    await F.stop(ctx, r);
    expect(running(pid)).toBe(false);
    expect(existsSync(P)).toBe(false);
    expect(await probeOne(F, ctx, r)).toEqual({ provisioned: null, up: false });

    // stop again: check says down, the stop command does not run
    ctx.reset();
    await F.stop(ctx, r);
    expect(ctx.commands.filter((c) => c.includes("--stop"))).toEqual([]);

    await F.start(ctx, r);
    const pid2 = Number(readFileSync(P, "utf8").trim());
    track(pid2);
    expect(pid2).not.toBe(pid);
    await F.unprovision(ctx, r);
    expect(running(pid2)).toBe(false);
    expect(pidsWith(tok)).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("maps warn, unmapped and n/a check codes", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const base = { retcodes: "0:up 1:down 2:warn 4:n/a" };
    const warn = await probeOne(F, ctx, app("app#0", "app.forking", { ...base, check: "sh -c 'exit 2'" }));
    expect(warn).toMatchObject({ up: true, problems: [{ level: "warning", message: expect.stringMatching(/warn/) }] });
    const unmapped = await probeOne(F, ctx, app("app#0", "app.forking", { ...base, check: "sh -c 'exit 7'" }));
    expect(unmapped).toMatchObject({ up: false, problems: [{ level: "warning", message: expect.stringMatching(/code 7/) }] });
    const na = await probeOne(F, ctx, app("app#0", "app.forking", { ...base, check: "sh -c 'exit 4'" }));
    expect(na).toEqual({ provisioned: null, up: false }); // n/a → no start recorded by osvc → down
    const timeout = await probeOne(F, ctx, app("app#0", "app.forking", { ...base, check: "sleep 5", check_timeout: 0.3 }));
    expect(timeout).toMatchObject({ up: false, problems: [{ level: "warning", message: expect.stringMatching(/timed out/) }] });
  });

  it("does not hang on a daemon that keeps the start command's output open; without check, tracks its own start", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const tok = token();
    const r = app("app#1", "app.forking", { start: `setsid -f sleep 300 ${tok}` });
    const t0 = performance.now();
    await F.start(ctx, r);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(await until(() => pidsWith(tok).length === 1)).toBe(true);
    for (const p of pidsWith(tok)) track(p);
    // no check: up means "osvc's last start succeeded and no stop followed"
    expect(await probeOne(F, ctx, r)).toEqual({ provisioned: null, up: true });
    await F.stop(ctx, r);
    expect(ctx.logs.some((l) => l.level === "warning" && /no stop command/.test(l.message))).toBe(true);
    expect(await probeOne(F, ctx, r)).toEqual({ provisioned: null, up: false });
  });

  it("fails a start that exits 1 with its output in the error, and stays down", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const r = app("app#2", "app.forking", { start: "sh -c 'echo port 80 in use >&2; exit 1'" });
    const err = await F.start(ctx, r).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toMatch(/start command failed \(exit code 1\): sh -c .*\nport 80 in use/);
    expect(await probeOne(F, ctx, r)).toEqual({ provisioned: null, up: false });
  });

  it("honours environment, cwd, umask and user; operators run through /bin/sh", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const r = app("app#3", "app.forking", {
      start: `sh -c 'pwd > out.txt && echo "$FOO" >> out.txt && umask >> out.txt'`,
      check: "/usr/bin/test -f out.txt",
      environment: ["FOO=a b $c"],
      cwd: dir,
      umask: "077",
    });
    expect(await probeOne(F, ctx, r)).toMatchObject({ up: false });
    await F.start(ctx, r);
    expect(readFileSync(path.join(dir, "out.txt"), "utf8")).toBe(`${dir}\na b $c\n0077\n`);
    expect(await probeOne(F, ctx, r)).toMatchObject({ up: true });

    // a plain command line runs without a shell: $FOO is a literal argument; with an operator, /bin/sh runs it
    const lit = app("app#4", "app.forking", { start: 'printf "%s:" $FOO x', cwd: dir, environment: ["FOO=no"] });
    await F.start(ctx, lit);
    expect(readFileSync(path.join(dir, "app_4.log"), "utf8")).toBe("$FOO:x:");
    await F.start(ctx, app("app#6", "app.forking", { start: 'printf "%s:" "$FOO" > x', cwd: dir, environment: ["FOO=yes"] }));
    expect(readFileSync(path.join(dir, "x"), "utf8")).toBe("yes:");

    // user/group and limits apply to check commands too
    const asNobody = app("app#5", "app.forking", { check: `sh -c 'test "$(id -u):$(id -g)" = 65534:65534'`, user: "nobody" });
    expect(await probeOne(F, ctx, asNobody)).toMatchObject({ up: true });
    const lim = app("app#6", "app.forking", { check: `sh -c 'test "$(ulimit -n)" = 77'`, limit_nofile: 77 });
    expect(await probeOne(F, ctx, lim)).toMatchObject({ up: true });
  });

  it("reads configs_/secrets_environment from cfg/sec objects at each command, and says why it cannot", async () => {
    const dir = makeTempDir();
    const base = testContext({ varDir: dir });
    const ctx = { ...base, readData: async (kind: "cfg" | "sec", name: string, key: string) => Buffer.from(kind === "sec" ? "hunter2" : `${name}.${key}`) };
    const r = app("app#0", "app.forking", { check: `sh -c 'test "$(printf %s "$PW" | md5sum | cut -c1-8):$MODE" = 2ab96390:app.mode'`, secrets_environment: ["PW=db/pw"], configs_environment: ["MODE=app/mode"] });
    expect(await probeOne(F, ctx, r)).toMatchObject({ up: true });
    expect(base.commands.join("\n")).not.toContain("hunter2");
    // without cfg/sec objects in the context, and with a malformed word: an error, not a silent empty value
    expect((await probeOne(F, base, r)).problems?.[0]).toMatchObject({ level: "error", message: expect.stringMatching(/configs_environment needs cfg objects/) });
    await expect(F.start(ctx, app("app#0", "app.forking", { secrets_environment: ["PW"] }))).rejects.toThrow(/secrets_environment: "PW" is not VAR=<sec>\/<key>/);
  });

});
