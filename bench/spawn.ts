// Spawn benchmark: what starting one host command costs osvc's main thread, per spawn path.
//
//   npm run build && node dist/bench/spawn.js          (or: npm run bench:spawn)
//
// Every path runs the same commands with the guarantees the one Exec needs: an argument array, the
// child in its own process group (detached: a terminal's Ctrl-C reaches osvc only), output captured
// as text, stdin closed (or fed). Paths:
//   execa 9 (osvc's options)   execa(file, args, { reject: false, stdin: "ignore", timeout, ... })
//   execa 9 (lighter)          the same without execa's timeout/cancelSignal plumbing and with
//                              `lines: false, buffer: true` only (osvc would time out itself)
//   nano-spawn 2               the execa maintainers' light sibling
//   child_process.spawn        Node's own call: the floor of a fork of this process, for reference
//   osvc Exec (spawn helper)   osvc's one Exec as it runs by default: through the resident python3
//                              helper (src/provider/spawn-helper.ts), which starts commands with
//                              vfork from a ~10 MB process; its own CPU is reported apart
//   osvc Exec (direct)         osvc's one Exec with OSVC_SPAWN=direct (nano-spawn, its fallback)
// execa 10 is not a row: it needs Node >= 22 (on Node 20 it fails at import with
// "TEXT_ENCODINGS.union is not a function"; these machines have Node 20).
//
// Each path runs `true` and `printf x` N times one after the other, and N times two at a time
// (osvc runs its steps two-wide on these 2-core machines), by absolute path and by bare name (PATH
// search: ~7 failed execve per spawn). Rounds interleave the paths; the table shows medians over
// rounds of: wall time per command, and osvc's main-thread CPU per command (process.cpuUsage,
// user+system of this process, which is what delays the rest of an apply).
//
// BENCH_ROUNDS=N (default 5), BENCH_SPAWNS=N (default 200), BENCH_HEAP_MB=N (default 0): live
// objects held by this process during the bench, as osvc holds its compiled object and plan (a
// fork costs more from a bigger process: an apply of 20 stacks peaks at ~80 MB RSS, 500 at ~190).
import { spawn } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { performance } from "node:perf_hooks";
import { execa } from "execa";
import nanoSpawn from "nano-spawn";
import { readFileSync } from "node:fs";
import { createExec } from "../src/provider/exec.js";
import { helperPid } from "../src/provider/spawn-helper.js";
import { fmtMs, median } from "./lib/stats.js";

type Run = (file: string, args: readonly string[]) => Promise<{ code: number; stdout: string }>;

const osvcExec = createExec();
function viaOsvcExec(mode: "helper" | "direct"): Run {
  return async (file, args) => {
    if (mode === "direct") process.env.OSVC_SPAWN = "direct";
    else delete process.env.OSVC_SPAWN;
    const r = await osvcExec(file, args);
    return { code: r.exitCode, stdout: r.stdout };
  };
}

/** CPU time (ms) the spawn helper process has used so far (0 without one). */
function helperCpuMs(): number {
  const pid = helperPid();
  if (pid === undefined) return 0;
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime, in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

const TIMEOUT_MS = 120_000;

const PATHS: Record<string, Run> = {
  "execa 9 (osvc's options)": async (file, args) => {
    const r = await execa(file, [...args], { reject: false, stdin: "ignore", timeout: TIMEOUT_MS, cancelSignal: new AbortController().signal, stripFinalNewline: false, encoding: "utf8", detached: true });
    return { code: r.exitCode ?? -1, stdout: String(r.stdout) };
  },
  "execa 9 (lighter)": async (file, args) => {
    const r = await execa(file, [...args], { reject: false, stdin: "ignore", stripFinalNewline: false, detached: true, lines: false });
    return { code: r.exitCode ?? -1, stdout: String(r.stdout) };
  },
  "nano-spawn 2": async (file, args) => {
    try {
      const r = await nanoSpawn(file, [...args], { stdin: "ignore", detached: true });
      return { code: 0, stdout: r.stdout };
    } catch (e) {
      const err = e as { exitCode?: number; stdout?: string };
      return { code: err.exitCode ?? -1, stdout: err.stdout ?? "" };
    }
  },
  "child_process.spawn (floor)": (file, args) =>
    new Promise((resolve, reject) => {
      const c = spawn(file, args, { stdio: ["ignore", "pipe", "pipe"], detached: true });
      let out = "";
      c.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
      c.stderr.resume();
      c.on("error", reject);
      c.on("close", (code) => resolve({ code: code ?? -1, stdout: out }));
    }),
  "osvc Exec (spawn helper)": viaOsvcExec("helper"),
  "osvc Exec (direct)": viaOsvcExec("direct"),
};

const COMMANDS: Array<[string, string, string[]]> = [
  ["true, absolute", "/bin/true", []],
  ["true, PATH", "true", []],
  ["printf x, absolute", "/usr/bin/printf", ["x"]],
];

async function measure(run: Run, file: string, args: string[], n: number, width: number): Promise<{ wall: number; cpu: number; helper: number }> {
  const h0 = helperCpuMs();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const r = await run(file, args);
      if (r.code !== 0) throw new Error(`${file} exited ${r.code}`);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall: wall / n, cpu: (c.user + c.system) / 1000 / n, helper: (helperCpuMs() - h0) / n };
}

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
  const heapMb = Number(process.env.BENCH_HEAP_MB ?? 0);
  const ballast: object[] = [];
  while (process.memoryUsage().rss < heapMb * 1e6) for (let i = 0; i < 10_000; i++) ballast.push({ i, s: `x${i}`, a: [i] });
  const n = Number(process.env.BENCH_SPAWNS ?? 200);
  console.log(`spawn bench: ${rounds} rounds x ${n} spawns per cell; Node ${process.version}; ${cpus().length} CPUs; load ${loadavg().map((x) => x.toFixed(2)).join(" ")}; RSS ${Math.round(process.memoryUsage().rss / 1e6)} MB (BENCH_HEAP_MB=${heapMb}, ${ballast.length} objects)`);
  const names = Object.keys(PATHS);
  const samples = new Map<string, { wall: number[]; cpu: number[]; helper: number[] }>();
  for (const name of names) await measure(PATHS[name], "/bin/true", [], 20, 1); // warm-up
  for (let round = 0; round < rounds; round++) {
    const order = names.map((_, i) => names[(i + round) % names.length]);
    for (const [label, file, args] of COMMANDS) {
      for (const width of [1, 2]) {
        for (const name of order) {
          const m = await measure(PATHS[name], file, args, n, width);
          const key = `${label}|${width}|${name}`;
          const s = samples.get(key) ?? { wall: [], cpu: [], helper: [] };
          s.wall.push(m.wall);
          s.cpu.push(m.cpu);
          s.helper.push(m.helper);
          samples.set(key, s);
        }
      }
    }
  }
  const w = Math.max(...names.map((x) => x.length));
  for (const [label] of COMMANDS) {
    for (const width of [1, 2]) {
      console.log(`\n${label}, ${width === 1 ? "one at a time" : "two at a time"}: ms per command (median of ${rounds} rounds; min–max)`);
      console.log(`${"path".padEnd(w)}  ${"wall".padStart(6)}  ${"main-thread CPU".padStart(15)}  ${"vs execa 9".padStart(10)}  ${"helper CPU".padStart(10)}`);
      const ref = median(samples.get(`${label}|${width}|${names[0]}`)!.cpu);
      for (const name of names) {
        const s = samples.get(`${label}|${width}|${name}`)!;
        const cpu = median(s.cpu);
        const range = `${fmtMs(Math.min(...s.cpu))}–${fmtMs(Math.max(...s.cpu))}`;
        const helper = median(s.helper);
        console.log(`${name.padEnd(w)}  ${fmtMs(median(s.wall)).padStart(6)}  ${`${fmtMs(cpu)} (${range})`.padStart(15)}  ${`${(cpu / ref).toFixed(2)}x`.padStart(10)}  ${(helper ? fmtMs(helper) : "-").padStart(10)}`);
      }
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
