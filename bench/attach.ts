// Attach benchmark: 10 concurrent `losetup -f --show` (as root, real loop devices).
//
//   npm run build && node dist/bench/attach.js
//
// Parallel finds of a free loop device collide in the kernel (EBUSY) and util-linux then sleeps
// 200 ms before it retries. Two ways, interleaved over rounds (the order alternates):
//   concurrent   10 attaches started at once through the Exec (what osvc did before)
//   host lock    the same 10 calls, each under withHostLock("losetup") (src/provider/hostlock.ts)
// Each round: 10 fresh sparse files under /tmp/osvc-bench-attach-*, attach, check each file has
// one loop device, detach (losetup -d), remove. Reports the wall time of the 10 attaches (from the
// first start to the last end) and the slowest single attach: medians over rounds.
// BENCH_ROUNDS=N (default 7). Always exits 0.
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { createExec, run } from "../src/provider/exec.js";
import { setHostLockRoot, withHostLock } from "../src/provider/hostlock.js";
import { fmtMs, median, pad } from "./lib/stats.js";

const N = 10;
const ROUNDS = /^[1-9]\d*$/.test(process.env.BENCH_ROUNDS ?? "") ? Number(process.env.BENCH_ROUNDS) : 7;
const exec = createExec();

async function round(locked: boolean, lockRoot: string): Promise<{ wall: number; slowest: number }> {
  const dir = mkdtempSync("/tmp/osvc-bench-attach-");
  const files = Array.from({ length: N }, (_, i) => join(dir, `a${i}.img`));
  for (const f of files) await run(exec, "truncate", ["-s", "8M", f]);
  const devs: string[] = [];
  try {
    setHostLockRoot(lockRoot);
    const t0 = performance.now();
    const each = await Promise.all(
      files.map(async (f) => {
        const s = performance.now();
        const attach = () => run(exec, "losetup", ["-f", "--show", f]);
        const r = locked ? await withHostLock("losetup", attach) : await attach();
        devs.push(r.stdout.trim());
        return performance.now() - s;
      }),
    );
    const wall = performance.now() - t0;
    if (new Set(devs).size !== N) throw new Error(`expected ${N} distinct loop devices, got ${devs.join(", ")}`);
    return { wall, slowest: Math.max(...each) };
  } finally {
    for (const f of files) {
      const j = await exec("losetup", ["-j", f, "-n", "-O", "NAME"]);
      for (const d of j.stdout.split("\n").filter(Boolean)) await exec("losetup", ["-d", d.trim()]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log("bench/attach needs root (loop devices). Nothing was done.");
    return;
  }
  const lockRoot = mkdtempSync("/tmp/osvc-bench-attach-locks-");
  console.log(`osvc attach benchmark — ${N} concurrent losetup -f --show, ${ROUNDS} interleaved rounds; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  const res = { concurrent: [] as { wall: number; slowest: number }[], "host lock": [] as { wall: number; slowest: number }[] };
  try {
    for (let i = 0; i < ROUNDS; i++) {
      const order = i % 2 === 0 ? (["concurrent", "host lock"] as const) : (["host lock", "concurrent"] as const);
      for (const k of order) res[k].push(await round(k === "host lock", lockRoot));
    }
  } finally {
    rmSync(lockRoot, { recursive: true, force: true });
  }
  console.log(`\n${pad("method", 12, true)} ${pad("10 attaches ms", 15)} ${pad("min-max", 12)} ${pad("slowest one ms", 15)}`);
  console.log("-".repeat(58));
  for (const [k, rs] of Object.entries(res)) {
    const w = rs.map((r) => r.wall);
    console.log(`${pad(k, 12, true)} ${pad(fmtMs(median(w)), 15)} ${pad(`${fmtMs(Math.min(...w))}-${fmtMs(Math.max(...w))}`, 12)} ${pad(fmtMs(median(rs.map((r) => r.slowest))), 15)}`);
  }
  console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
}

try {
  await main();
} catch (e) {
  console.log(`benchmark aborted: ${(e as Error)?.stack ?? String(e)}`);
}
process.exitCode = 0;
