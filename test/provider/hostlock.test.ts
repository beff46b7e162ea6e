// Per-host locks (src/provider/hostlock.ts): one holder at a time, in one process and across
// processes (`losetup -f --show` runs under the "losetup" one).
import { spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { setHostLockRoot, withHostLock } from "../../src/provider/hostlock.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "osvc-hostlock-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Every "enter" is followed by the same holder's "exit". */
function expectNoOverlap(lines: string[]): void {
  for (let i = 0; i < lines.length; i += 2) {
    const [op1, who1] = lines[i].split(" ");
    const [op2, who2] = lines[i + 1].split(" ");
    expect([op1, op2, who1]).toEqual(["enter", "exit", who2]);
  }
}

const COMPILED = new URL("../../dist/src/provider/hostlock.js", import.meta.url).href;
const CONTENDER = `
import { appendFileSync } from "node:fs";
import { setHostLockRoot, withHostLock } from "${COMPILED}";
const [root, log, n] = process.argv.slice(2);
setHostLockRoot(root);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
await Promise.all(Array.from({ length: Number(n) }, (_, i) => withHostLock("losetup", async () => {
  const me = process.pid + "." + i;
  appendFileSync(log, "enter " + me + "\\n");
  await sleep(5);
  appendFileSync(log, "exit " + me + "\\n");
})));
`;

describe("withHostLock", () => {
  it("runs one holder at a time within a process, in call order, and a failing holder frees it", async () => {
    setHostLockRoot(path.join(dir, "locks"));
    const log: string[] = [];
    const runs = Array.from({ length: 8 }, (_, i) =>
      withHostLock("losetup", async () => {
        log.push(`enter ${i}`);
        await new Promise((r) => setTimeout(r, 5 * ((i * 7) % 3)));
        log.push(`exit ${i}`);
        if (i === 3) throw new Error("boom");
        return i;
      }),
    );
    const results = await Promise.allSettled(runs);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled", "fulfilled", "fulfilled"]);
    expectNoOverlap(log);
    expect(log.filter((l) => l.startsWith("enter"))).toEqual(Array.from({ length: 8 }, (_, i) => `enter ${i}`));
    expect(readdirSync(path.join(dir, "locks", "losetup"))).toEqual([]);
  });

  it("hands the file lock from one queued caller to the next, and releases it when none is left", async () => {
    setHostLockRoot(path.join(dir, "locks"));
    const file = path.join(dir, "locks", "losetup", "lock");
    const seen: string[] = [];
    const hold = () => withHostLock("losetup", async () => void seen.push(readFileSync(file, "utf8")));
    await Promise.all(Array.from({ length: 5 }, hold)); // a burst: queued together
    expect(seen).toHaveLength(5);
    expect(new Set(seen).size).toBe(1); // one acquire for the whole burst
    expect(readdirSync(path.join(dir, "locks", "losetup"))).toEqual([]);
    await hold(); // alone: a lock of its own
    expect(seen[5]).not.toBe(seen[0]);
    expect(readdirSync(path.join(dir, "locks", "losetup"))).toEqual([]);
  });

  it("3 processes with 4 concurrent holders each never hold it at the same time; a dead holder's lock is reclaimed", async () => {
    const root = path.join(dir, "locks");
    // A lock left by a dead process (pid of an exited child).
    const dead = spawn(process.execPath, ["-e", "0"]);
    await new Promise((r) => dead.on("exit", r));
    const stale = path.join(root, "losetup");
    mkdirSync(stale, { recursive: true });
    writeFileSync(path.join(stale, "lock"), JSON.stringify({ pid: dead.pid, host: os.hostname(), startedAt: "x", command: "dead", procStart: 1, bootId: null, token: "t" }));
    const script = path.join(dir, "contender.mjs");
    writeFileSync(script, CONTENDER);
    const log = path.join(dir, "log");
    appendFileSync(log, "");
    const codes = await Promise.all(
      Array.from({ length: 3 }, () => {
        const child = spawn(process.execPath, [script, root, log, "4"], { stdio: ["ignore", "ignore", "inherit"] });
        return new Promise<number | null>((r) => child.on("exit", r));
      }),
    );
    expect(codes).toEqual([0, 0, 0]);
    const lines = readFileSync(log, "utf8").trim().split("\n");
    expect(lines).toHaveLength(3 * 4 * 2);
    expectNoOverlap(lines);
    expect(readdirSync(stale)).toEqual([]);
  }, 60_000);
});
