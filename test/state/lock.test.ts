import { spawn } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LockTimeoutError, acquireLock, isHolderDead, type LockHolder } from "../../src/state/lock.js";
import { StateStore } from "../../src/state/store.js";

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "osvc-lock-"));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function procStart(pid: number): Promise<number> {
  const t = await readFile(`/proc/${pid}/stat`, "utf8");
  return Number(t.slice(t.lastIndexOf(")") + 2).split(" ")[19]);
}

function holder(over: Partial<LockHolder>): LockHolder {
  return {
    pid: process.pid,
    host: hostname(),
    startedAt: "2024-05-01T10:00:00.000Z",
    command: "osvc apply web.conf",
    procStart: null,
    bootId: null,
    token: "t",
    ...over,
  };
}

/** Pid of a process that has exited and been reaped. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", "0"], { stdio: "ignore" });
  const pid = child.pid!;
  await new Promise((r) => child.on("exit", r));
  for (let i = 0; i < 50 && existsSync(`/proc/${pid}`); i++) await sleep(20);
  return pid;
}

describe("acquireLock", () => {
  it("writes the holder info and releases only its own lock", async () => {
    const lock = await acquireLock(dir, { timeoutMs: 0, command: "osvc apply web.conf" });
    const h = JSON.parse(await readFile(join(dir, "lock"), "utf8")) as LockHolder;
    expect(h).toMatchObject({ pid: process.pid, host: hostname(), command: "osvc apply web.conf" });
    expect(h.procStart).toBe(await procStart(process.pid));
    expect(new Date(h.startedAt).toISOString()).toBe(h.startedAt);
    expect(await readdir(dir)).toEqual(["lock"]); // temp file gone

    // someone else's lock at the same path is left alone
    await writeFile(join(dir, "lock"), JSON.stringify(holder({ token: "other" })));
    await lock.release();
    expect(existsSync(join(dir, "lock"))).toBe(true);
    await rm(join(dir, "lock"));

    const again = await acquireLock(dir, { timeoutMs: 0, command: "x" });
    await again.release();
    await again.release(); // idempotent
    expect(existsSync(join(dir, "lock"))).toBe(false);
  });

  it("a second acquire times out, naming the holder's pid, host and command", async () => {
    const store = new StateStore(dir);
    const first = await store.lock("web", { timeoutMs: 0, command: "osvc apply web.conf" });
    const t0 = Date.now();
    const err = await store.lock("web", { timeoutMs: 300, command: "osvc plan web.conf" }).catch((e: unknown) => e);
    const waited = Date.now() - t0;
    expect(err).toBeInstanceOf(LockTimeoutError);
    const msg = (err as Error).message;
    expect(msg).toContain(`object web is locked by pid ${process.pid} on host ${hostname()} (osvc apply web.conf) since ${first.holder.startedAt}`);
    expect(msg).toContain("wait, or check that process");
    expect(waited).toBeGreaterThanOrEqual(280);
    expect(waited).toBeLessThan(2000);
    await first.release();
  });

  it("timeoutMs 0 fails at once", async () => {
    const first = await acquireLock(dir, { timeoutMs: 0, command: "a" });
    const t0 = Date.now();
    await expect(acquireLock(dir, { timeoutMs: 0, command: "b" })).rejects.toThrow(LockTimeoutError);
    expect(Date.now() - t0).toBeLessThan(1000); // no wait loop (a loaded CI machine can take tens of ms)
    await first.release();
  });

  it("a waiting acquire succeeds when the holder releases", async () => {
    const first = await acquireLock(dir, { timeoutMs: 0, command: "a" });
    const waits: LockHolder[] = [];
    const second = acquireLock(dir, { timeoutMs: 5000, command: "b", onWait: (h) => waits.push(h) });
    await sleep(250);
    await first.release();
    const lock = await second;
    expect(lock.holder.command).toBe("b");
    expect(waits).toHaveLength(1);
    expect(waits[0].command).toBe("a");
    await lock.release();
  });

  it("reclaims a lock left by a dead process", async () => {
    const pid = await deadPid();
    await writeFile(join(dir, "lock"), JSON.stringify(holder({ pid, procStart: 12345 })));
    expect(await isHolderDead(holder({ pid }))).toBe(true);
    const lock = await acquireLock(dir, { timeoutMs: 0, command: "b" });
    expect(JSON.parse(await readFile(join(dir, "lock"), "utf8")).pid).toBe(process.pid);
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it("reclaims a lock whose pid was reused (start time differs) or from another boot", async () => {
    const start = await procStart(process.pid);
    expect(await isHolderDead(holder({ procStart: start }))).toBe(false);
    await writeFile(join(dir, "lock"), JSON.stringify(holder({ procStart: start + 1 })));
    await (await acquireLock(dir, { timeoutMs: 0, command: "b" })).release();
    await writeFile(join(dir, "lock"), JSON.stringify(holder({ procStart: start, bootId: "not-this-boot" })));
    await (await acquireLock(dir, { timeoutMs: 0, command: "b" })).release();
  });

  it("reclaims an unreadable lock file", async () => {
    await writeFile(join(dir, "lock"), "");
    await (await acquireLock(dir, { timeoutMs: 0, command: "b" })).release();
  });

  it("never reclaims a lock held on another host", async () => {
    const pid = await deadPid();
    await writeFile(join(dir, "lock"), JSON.stringify(holder({ pid, host: "other-host" })));
    const err = await acquireLock(dir, { timeoutMs: 0, command: "b", label: "web" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LockTimeoutError);
    expect((err as Error).message).toMatch(new RegExp(`locked by pid ${pid} on host other-host .*check that process on host other-host; if it is gone, remove`));
  });

  it("reclaims the lock of a zombie", async () => {
    // The forked child exits at once and its parent never reaps it (perl does not, unlike a shell
    // that may reap a job before it execs): a zombie, whatever the machine's load.
    const parent = spawn("perl", ["-e", '$| = 1; my $p = fork(); if (!$p) { exit 0 } print "$p\\n"; sleep 3'], { stdio: ["ignore", "pipe", "ignore"] });
    try {
      const pid = Number(await new Promise<string>((r) => parent.stdout.once("data", (d: Buffer) => r(d.toString()))));
      let state = "";
      for (let i = 0; i < 100 && state !== "Z"; i++) {
        await sleep(20);
        const t = await readFile(`/proc/${pid}/stat`, "utf8");
        state = t.slice(t.lastIndexOf(")") + 2).split(" ")[0];
      }
      expect(state).toBe("Z");
      await writeFile(join(dir, "lock"), JSON.stringify(holder({ pid, procStart: await procStart(pid) })));
      await (await acquireLock(dir, { timeoutMs: 0, command: "b" })).release();
    } finally {
      parent.kill();
    }
  });

  it("parallel contenders never hold the lock at the same time", async () => {
    let inside = 0;
    let max = 0;
    let done = 0;
    const contender = async (i: number): Promise<void> => {
      const lock = await acquireLock(dir, { timeoutMs: 20_000, command: `c${i}` });
      inside++;
      max = Math.max(max, inside);
      await sleep(5);
      inside--;
      done++;
      await lock.release();
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => contender(i)));
    expect(done).toBe(8);
    expect(max).toBe(1);
  });

  it("contenders racing to reclaim a dead holder's lock stay mutually exclusive", async () => {
    const pid = await deadPid();
    for (let round = 0; round < 5; round++) {
      await writeFile(join(dir, "lock"), JSON.stringify(holder({ pid })));
      let inside = 0;
      let max = 0;
      const contender = async (): Promise<void> => {
        const lock = await acquireLock(dir, { timeoutMs: 20_000, command: "c" });
        inside++;
        max = Math.max(max, inside);
        await sleep(2);
        inside--;
        await lock.release();
      };
      await Promise.all(Array.from({ length: 6 }, contender));
      expect(max).toBe(1);
      expect(await readdir(dir)).toEqual([]);
    }
  });
});

// Real processes run the compiled module: `npm test` builds dist/ before running the suite.
const COMPILED_LOCK = new URL("../../dist/src/state/lock.js", import.meta.url).href;

const CONTENDER = `
import { appendFileSync } from "node:fs";
import { acquireLock } from "${COMPILED_LOCK}";
const [dir, log, rounds] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
for (let i = 0; i < Number(rounds); i++) {
  const lock = await acquireLock(dir, { timeoutMs: 30000, command: "contender " + process.pid });
  appendFileSync(log, "enter " + process.pid + "\\n");
  await sleep(3);
  appendFileSync(log, "exit " + process.pid + "\\n");
  await lock.release();
}
`;

describe("acquireLock across processes", () => {
  it("4 processes never hold the lock at the same time", async () => {
    await writeFile(join(dir, "contender.mjs"), CONTENDER);
    const lockDir = join(dir, "obj");
    const log = join(dir, "log");
    const rounds = 8;
    const codes = await Promise.all(
      Array.from({ length: 4 }, () => {
        const child = spawn(process.execPath, [join(dir, "contender.mjs"), lockDir, log, String(rounds)], { stdio: ["ignore", "ignore", "inherit"] });
        return new Promise<number | null>((r) => child.on("exit", r));
      }),
    );
    expect(codes).toEqual([0, 0, 0, 0]);
    const lines = (await readFile(log, "utf8")).trim().split("\n");
    expect(lines).toHaveLength(4 * rounds * 2);
    for (let i = 0; i < lines.length; i += 2) {
      const [op1, pid1] = lines[i].split(" ");
      const [op2, pid2] = lines[i + 1].split(" ");
      expect([op1, op2, pid1]).toEqual(["enter", "exit", pid2]);
    }
    expect(await readdir(lockDir)).toEqual([]);
  });
});
