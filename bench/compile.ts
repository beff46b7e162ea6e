// Compile benchmark: parse + evaluate synthetic templates of growing size, CLI start-up
// cost (bare, and `osvc validate` of a small example), and an end-to-end `osvc validate` of the
// largest template.
//
//   npm run build && node dist/bench/compile.js        (or: npm run bench:compile)
//
// Always exits 0 (it is a report); prints PASS/FAIL against the targets:
//   - 10,000 resources parse + evaluate in < 1 s
//   - linear growth: µs per resource at 10,000 <= 2x that at 100
//   - `osvc --version` wall time < 1.5x `node -e 0`
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { BUILTIN_DRIVER_SPECS, DEFAULT_DRIVER_TYPES } from "../providers/catalog.js";
import { compileTexts, KeywordCatalog, type CompileResult } from "../src/config/index.js";
import { parseObjectPath } from "../src/core/path.js";
import { generateTemplate } from "./lib/templates.js";
import { fmtMs, median, pad, timeMedian } from "./lib/stats.js";
import { projectRoot } from "./lib/host.js";

const SIZES = [10, 100, 1_000, 10_000];
/** BENCH_BEFORE=<dir>: also validate at scale with another build (its bin/, dist/, package.json), interleaved. */
const BEFORE = process.env.BENCH_BEFORE || undefined;
const RUNS = 5;
const SPAWN_RUNS = 15;
const VALIDATE_RUNS = 3;

const TARGET_10K_MS = 1000;
const TARGET_LINEARITY = 2.0;
const TARGET_VERSION_RATIO = 1.5;


const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

function main(): void {
  const root = projectRoot();
  const osvc = resolve(root, "bin/osvc.js");
  const catalog = new KeywordCatalog(BUILTIN_DRIVER_SPECS, DEFAULT_DRIVER_TYPES);
  const p = parseObjectPath("bench");
  if (!p.ok) throw new Error(p.error);
  const ctx = { path: p.path, nodename: "n1", catalog };
  const compileOnce = (text: string): CompileResult => compileTexts([{ name: "bench.conf", text }], ctx);

  console.log(`osvc compile benchmark — node ${process.version}, ${process.platform}/${process.arch}`);
  console.log(`parse + evaluate (compileTexts, builtin catalog): 1 warm-up, median of ${RUNS} runs\n`);

  // ------------------------------------------------ parse + evaluate
  const header = `${pad("resources", 10)} ${pad("lines", 8)} ${pad("total ms", 10)} ${pad("µs/resource", 12)} ${pad("diagnostics", 12)}`;
  console.log(header);
  console.log("-".repeat(header.length));
  const perRes = new Map<number, number>();
  const totals = new Map<number, number>();
  let bigText = "";
  for (const n of SIZES) {
    const t = generateTemplate(n);
    if (n === SIZES[SIZES.length - 1]) bigText = t.text;
    const first = compileOnce(t.text); // also the warm-up run
    const errors = first.diagnostics.filter((d) => d.severity === "error");
    if (errors.length) {
      console.log(`  note: the ${n}-resource template has ${errors.length} error(s), first: ${errors[0].code} ${errors[0].summary}`);
    }
    if (first.evaluated.resources.length !== n) {
      console.log(`  note: expected ${n} evaluated resources, got ${first.evaluated.resources.length}`);
    }
    const { median: ms } = timeMedian(() => void compileOnce(t.text), RUNS, 0);
    totals.set(n, ms);
    perRes.set(n, (ms * 1000) / n);
    console.log(
      `${pad(n.toLocaleString("en-US"), 10)} ${pad(String(t.lines), 8)} ${pad(fmtMs(ms), 10)} ${pad(((ms * 1000) / n).toFixed(1), 12)} ${pad(String(first.diagnostics.length), 12)}`,
    );
  }
  const big = SIZES[SIZES.length - 1];
  const ratio = perRes.get(big)! / perRes.get(100)!;
  const bigMs = totals.get(big)!;

  // ------------------------------------------------ CLI start-up
  const spawnMedian = (args: string[], runs: number): { ms: number; status: number | null; stderr: string } => {
    let status: number | null = null;
    let stderr = "";
    const samples: number[] = [];
    spawnSync(process.execPath, args, { cwd: root, encoding: "utf8" }); // warm-up (file cache)
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      const r = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
      samples.push(performance.now() - t0);
      status = r.status;
      stderr = r.stderr ?? "";
    }
    return { ms: median(samples), status, stderr };
  };
  const nodeBase = spawnMedian(["-e", "0"], SPAWN_RUNS);
  const version = spawnMedian([osvc, "--version"], SPAWN_RUNS);
  const vratio = version.ms / nodeBase.ms;
  // A small template end to end: start-up (bundle load with its V8 code cache) dominates.
  const small = spawnMedian([osvc, "validate", resolve(root, "examples/quickstart.conf")], SPAWN_RUNS);

  console.log(`\nCLI start-up (median of ${SPAWN_RUNS} spawns, wall time)`);
  console.log(`  node -e 0                ${pad(fmtMs(nodeBase.ms), 8)} ms`);
  console.log(`  node bin/osvc.js --version ${pad(fmtMs(version.ms), 6)} ms   (exit ${version.status})`);
  console.log(`  ratio                    ${pad(vratio.toFixed(2), 8)} x`);
  console.log(`  node bin/osvc.js validate examples/quickstart.conf ${pad(fmtMs(small.ms), 6)} ms   (exit ${small.status})`);

  // ------------------------------------------------ validate end-to-end
  const dir = mkdtempSync(join(tmpdir(), "osvc-bench-"));
  const file = join(dir, "bench10k.conf");
  writeFileSync(file, bigText);
  const val = spawnMedian([osvc, "validate", "--node", "n1", file], VALIDATE_RUNS);
  rmSync(dir, { recursive: true, force: true });
  console.log(`\nnode bin/osvc.js validate <${big.toLocaleString("en-US")}-resource file> (median of ${VALIDATE_RUNS}, wall time)`);
  console.log(`  ${fmtMs(val.ms)} ms   (exit ${val.status}; ${fmtMs(val.ms - nodeBase.ms)} ms above bare node start-up)`);
  if (val.status !== 0 && val.stderr) console.log(`  stderr: ${val.stderr.split("\n").slice(0, 3).join(" | ")}`);

  // ------------------------------------------------ validate at scale
  const scale = validateAtScale(osvc, nodeBase.ms);

  // ------------------------------------------------ verdicts
  console.log("\ntargets");
  console.log(`  ${verdict(bigMs < TARGET_10K_MS)}  ${big.toLocaleString("en-US")} resources parse + evaluate < ${TARGET_10K_MS} ms: ${fmtMs(bigMs)} ms`);
  console.log(
    `  ${verdict(ratio <= TARGET_LINEARITY)}  linear growth (µs/resource at ${big.toLocaleString("en-US")} / at 100 <= ${TARGET_LINEARITY}): ${ratio.toFixed(2)} (${perRes.get(big)!.toFixed(1)} / ${perRes.get(100)!.toFixed(1)} µs)`,
  );
  console.log(`  ${verdict(vratio < TARGET_VERSION_RATIO)}  --version < ${TARGET_VERSION_RATIO}x node -e 0: ${vratio.toFixed(2)}x`);
  if (scale.length > 1) {
    const crashed = scale.filter((r) => r.status !== 0);
    console.log(`  ${verdict(crashed.length === 0)}  validate of ${scale.map((r) => r.n.toLocaleString("en-US")).join(", ")} resources: no crash${crashed.length ? ` (${crashed.map((r) => `${r.n}: exit ${r.status}`).join(", ")})` : ""}`);
    const a = scale[0];
    const b = scale[scale.length - 1];
    const lin = (b.ms - nodeBase.ms) / b.n / ((a.ms - nodeBase.ms) / a.n);
    console.log(`  ${verdict(lin <= TARGET_LINEARITY)}  validate linear (ms above node start-up per resource at ${b.n.toLocaleString("en-US")} / at ${a.n.toLocaleString("en-US")} <= ${TARGET_LINEARITY}): ${lin.toFixed(2)}`);
  }
}

interface ScaleRow {
  readonly n: number;
  readonly ms: number;
  readonly status: number | null;
  /** Peak resident memory of the osvc process, KiB. */
  readonly maxRssKb: number;
}

/**
 * `osvc validate` end to end of generated templates of 1k..100k resources (BENCH_VALIDATE_SIZES):
 * wall time (median of BENCH_VALIDATE_RUNS, default 3) and the child's peak memory
 * (process.resourceUsage().maxRSS, printed by a preloaded script at exit).
 */
function validateAtScale(osvc: string, nodeMs: number): ScaleRow[] {
  const sizes = (process.env.BENCH_VALIDATE_SIZES ?? "1000,10000,50000,100000").split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
  const runs = /^[1-9]\d*$/.test(process.env.BENCH_VALIDATE_RUNS ?? "") ? Number(process.env.BENCH_VALIDATE_RUNS) : 3;
  if (sizes.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), "osvc-bench-"));
  const rss = join(dir, "rss.cjs");
  writeFileSync(rss, `process.on("exit", () => require("fs").writeSync(2, "\\nosvc-bench-maxrss=" + process.resourceUsage().maxRSS + "\\n"));\n`);
  const rows: ScaleRow[] = [];
  console.log(`\nnode bin/osvc.js validate --node n1 <file> at scale (median of ${runs}, wall time; peak RSS of the osvc process)\n`);
  const head = `${pad("resources", 10)} ${pad("lines", 9)} ${pad("wall ms", 9)} ${pad("µs/resource", 12)} ${pad("peak RSS MiB", 13)} ${pad("KiB/resource", 13)}  exit`;
  console.log(head);
  console.log("-".repeat(head.length));
  try {
    for (const n of sizes) {
      const t = generateTemplate(n);
      const file = join(dir, `bench${n}.conf`);
      writeFileSync(file, t.text);
      const builds: [string, string][] = [["", osvc], ...(BEFORE ? [["(before)", resolve(BEFORE, "bin/osvc.js")] as [string, string]] : [])];
      const acc = builds.map(() => ({ ms: [] as number[], status: null as number | null, maxRssKb: 0, stderr: "" }));
      for (let i = 0; i < runs; i++) {
        for (let j = 0; j < builds.length; j++) {
          const b = (i + j) % builds.length; // interleaved, the order alternating
          const t0 = performance.now();
          const r = spawnSync(process.execPath, ["--require", rss, builds[b][1], "validate", "--node", "n1", file], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
          acc[b].ms.push(performance.now() - t0);
          acc[b].status = r.status;
          acc[b].stderr = r.stderr ?? "";
          acc[b].maxRssKb = Math.max(acc[b].maxRssKb, Number(/osvc-bench-maxrss=(\d+)/.exec(acc[b].stderr)?.[1] ?? 0));
        }
      }
      rmSync(file, { force: true });
      builds.forEach(([label], b) => {
        const { status, maxRssKb, stderr } = acc[b];
        const m = median(acc[b].ms);
        if (!label) rows.push({ n, ms: m, status, maxRssKb });
        console.log(
          `${pad(`${n.toLocaleString("en-US")}${label ? " " + label : ""}`, 10)} ${pad(String(t.lines), 9)} ${pad(fmtMs(m), 9)} ${pad((((m - nodeMs) * 1000) / n).toFixed(1), 12)} ${pad((maxRssKb / 1024).toFixed(0), 13)} ${pad((maxRssKb / n).toFixed(1), 13)}  ${status}`,
        );
        if (status !== 0) console.log(`  stderr: ${stderr.replace(/osvc-bench-maxrss=\d+/, "").trim().split("\n").slice(0, 3).join(" | ")}`);
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log("(µs/resource: wall time above bare node start-up, per resource)");
  return rows;
}

try {
  main();
} catch (e) {
  console.log(`benchmark aborted: ${(e as Error)?.stack ?? String(e)}`);
}
process.exitCode = 0;
