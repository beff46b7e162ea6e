// Plan benchmark: a no-op plan of provisioned loop+ext4 stacks on the real host.
//
//   npm run build && node dist/bench/plan.js        (or: npm run bench:plan)      — as root
//
// It provisions three objects of N = 10, 25 and 50 disk.loop (32m) + fs.ext4 stacks with
// `osvc apply --auto-approve --root <private root>` (files and mount points under a fresh
// /tmp/osvc-bench-plan-* directory), then for each N:
//   - in-process: makePlan() as the CLI wires it, counting the host commands it runs
//     (execStats.byFile deltas, and per driver by wrapping each provider's probe exec);
//   - end to end: wall time of `bin/osvc.js plan --detailed-exitcode` run as a command (1 warm-up, median of 5),
//     which must exit 0 (no changes).
// Then `osvc destroy --auto-approve` of each object, and a check that no loop device backed by a
// bench file and no mount under the bench directory is left (the cleanup routine runs anyway).
//
// Also, per N, in interleaved rounds (the order rotates each round): `osvc validate` of the same
// template (no host), `osvc plan`, and with BENCH_BEFORE=<dir> the plan of another build (a copy
// of its bin/, dist/, package.json with node_modules); and once per build, the file-system calls
// of the CLI plan (strace -f -c: readlink, statx/stat/lstat), when strace is installed.
// BENCH_PLAN_SIZES=10,25,50 (default 50,500); BENCH_ROUNDS=N (default 5).
//
// Always exits 0 (it is a report; 130 when interrupted); prints PASS/FAIL against the targets:
//   - host commands at the largest N == at the smallest (constant per driver, not growing per resource)
//   - `osvc plan` of the 50 stacks < 1 s (wall time, node start-up included)
//   - `osvc plan` <= 1.5x `osvc validate` of the same template at every N (medians)
import { spawnSync } from "node:child_process";
import { hostname, loadavg } from "node:os";
import { readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { BUILTIN_DRIVER_SPECS, DEFAULT_DRIVER_TYPES } from "../providers/catalog.js";
import { setListingReuseMs } from "../providers/disk-loop/loops.js";
import { BUILTIN_PROVIDERS } from "../providers/index.js";
import { osvcVersion } from "../src/cli/version.js";
import { compileTexts, KeywordCatalog } from "../src/config/index.js";
import { formatObjectPath, parseObjectPath } from "../src/core/path.js";
import { buildGraph, closure, topoOrder, type ResourceGraph } from "../src/graph/index.js";
import { hasChanges, type Plan } from "../src/plan/model.js";
import { makePlan, type DependencyView } from "../src/plan/planner.js";
import type { Provider } from "../src/provider/api.js";
import { createExec, execStats, type Exec } from "../src/provider/exec.js";
import { ProviderRegistry } from "../src/provider/registry.js";
import { StateStore } from "../src/state/store.js";
import { benchDir, CleanupRegistry, commandExists, Interrupted, isClean, leftovers, osvc, osvcBin, stacksTemplate, stacksUp, tail } from "./lib/host.js";
import { fmtMs, median, pad } from "./lib/stats.js";

const SIZES = (process.env.BENCH_PLAN_SIZES ?? "50,500").split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0);
const CLI_RUNS = /^[1-9]\d*$/.test(process.env.BENCH_ROUNDS ?? "") ? Number(process.env.BENCH_ROUNDS) : 5;
const BEFORE = process.env.BENCH_BEFORE || undefined;
const TARGET_PLAN_VS_VALIDATE = 1.5;
const INPROC_RUNS = 5;
const TARGET_PLAN_MS = 1000;
const PLAN_MS_AT = 50;

const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

interface Obj {
  readonly n: number;
  readonly name: string;
  readonly template: string;
  readonly filesDir: string;
}

interface Counts {
  readonly total: number;
  readonly byFile: Map<string, number>;
  readonly byDriver: Map<string, number>;
  readonly byDriverFile: Map<string, number>; // "disk.loop losetup"
}

interface Row {
  readonly n: number;
  readonly counts: Counts;
  readonly inprocMs: number;
  readonly changes: boolean;
  readonly cliMs: number;
  readonly cliRange: [number, number];
  readonly cliStatuses: (number | null)[];
  readonly validateMs: number;
  readonly validateRange: [number, number];
  readonly beforeMs?: number;
  readonly beforeRange?: [number, number];
  /** The before build's own validate (its start-up may differ: compare each build with itself). */
  readonly beforeValidateMs?: number;
  readonly sys: { after?: FsCalls; before?: FsCalls };
}

function dependencyView(graph: ResourceGraph): DependencyView {
  const order = topoOrder(graph);
  return { order, deps: (rid) => graph.dependencies(rid), slot: (rid) => graph.slotIndex(rid), closure: (rids, dir) => closure(graph, rids, dir) };
}

const bump = (m: Map<string, number>, k: string, by = 1) => m.set(k, (m.get(k) ?? 0) + by);

/** A no-op plan computed in-process exactly as `osvc plan` wires it, with its host commands counted. */
async function inProcessPlan(obj: Obj, root: string, catalog: KeywordCatalog): Promise<{ plan: Plan; counts: Counts; ms: number }> {
  // Each plan lists the loop devices itself, as `osvc plan` (a process of its own) does: in one
  // process, a listing less than a second old would serve the next plan.
  setListingReuseMs(0);
  const byDriver = new Map<string, number>();
  const byDriverFile = new Map<string, number>();
  // Each provider's probe gets an exec that tags its commands with the driver id.
  const tagged = (driver: string, exec: Exec): Exec => (file, args, opts) => {
    bump(byDriver, driver);
    bump(byDriverFile, `${driver} ${file}`);
    return exec(file, args, opts);
  };
  const providers = BUILTIN_PROVIDERS.map((p): Provider => {
    const w = Object.create(p) as Provider & { probe: Provider["probe"] };
    w.probe = (ctx, resources) => p.probe.call(p, { ...ctx, exec: tagged(p.type, ctx.exec) }, resources);
    return w;
  });

  const t0 = performance.now();
  const parsed = parseObjectPath(obj.name);
  if (!parsed.ok) throw new Error(parsed.error);
  const compiled = compileTexts([{ name: `${obj.name}.conf`, text: obj.template }], { path: parsed.path, nodename: hostname(), catalog });
  if (!compiled.ok) throw new Error(`${obj.name}: the template does not compile: ${compiled.diagnostics[0]?.summary}`);
  const { graph } = buildGraph(compiled.evaluated);
  const store = new StateStore(root);
  const object = formatObjectPath(compiled.evaluated.path);
  const state = await store.readState(object);

  const before = { count: execStats.count, byFile: new Map(execStats.byFile) };
  const plan = await makePlan({
    evaluated: compiled.evaluated,
    graph: dependencyView(graph),
    state,
    registry: new ProviderRegistry(providers),
    probe: { exec: createExec(), objectName: object, nodename: compiled.evaluated.nodename, varDir: store.varDir(object) },
    options: { refresh: true, targets: [], excludes: [], allowReplace: [], destroy: false, leader: false },
    templateHash: state?.templateHash ?? "",
    osvcVersion: osvcVersion(),
  });
  const ms = performance.now() - t0;
  const byFile = new Map<string, number>();
  for (const [f, c] of execStats.byFile) if (c - (before.byFile.get(f) ?? 0) > 0) byFile.set(f, c - (before.byFile.get(f) ?? 0));
  return { plan, counts: { total: execStats.count - before.count, byFile, byDriver, byDriverFile }, ms };
}

interface FsCalls {
  readlink: number;
  statx: number;
  stat: number;
}

/**
 * The file-system calls of osvc itself in one CLI run: its main thread and node's thread pool,
 * not the commands it runs (blkid, losetup: processes that exec). strace -f; undefined without strace.
 */
function fsCalls(bin: string, args: readonly string[]): FsCalls | undefined {
  if (!commandExists("strace")) return undefined;
  const out = `/tmp/osvc-bench-strace-${process.pid}.txt`;
  try {
    spawnSync("strace", ["-f", "-o", out, "-e", "trace=readlink,readlinkat,statx,stat,lstat,newfstatat,execve", process.execPath, bin, ...args], { stdio: "ignore", env: { ...process.env, NO_COLOR: "1" } });
    const lines = readFileSync(out, "utf8").split("\n");
    const first = lines[0]?.split(" ")[0];
    const children = new Set(lines.filter((l) => / execve\(/.test(l)).map((l) => l.split(" ")[0]).filter((pid) => pid !== first));
    const c = { readlink: 0, statx: 0, stat: 0 };
    for (const l of lines) {
      const m = /^(\d+) +(readlink|readlinkat|statx|stat|lstat|newfstatat)\(/.exec(l);
      if (!m || children.has(m[1])) continue;
      if (m[2].startsWith("readlink")) c.readlink++;
      else if (m[2] === "statx") c.statx++;
      else c.stat++;
    }
    return c;
  } catch {
    return undefined;
  } finally {
    rmSync(out, { force: true });
  }
}

function fmtMap(m: Map<string, number>): string {
  return [...m].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`).join(" ");
}

async function main(cleanup: CleanupRegistry): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log("bench/plan needs root (loop devices, mkfs, mount): run it as root. Nothing was done.");
    return;
  }
  const dir = cleanup.add(benchDir("plan"));
  const root = join(dir, "root");
  const catalog = new KeywordCatalog(BUILTIN_DRIVER_SPECS, DEFAULT_DRIVER_TYPES);
  console.log(`osvc plan benchmark — node ${process.version}, ${process.platform}/${process.arch}, host ${hostname()}`);
  console.log(`bench directory ${dir} (state root ${root}); load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}\n`);

  // ------------------------------------------------ provision
  const objs: Obj[] = SIZES.map((n) => {
    const filesDir = join(dir, `n${n}`);
    mkdirSync(filesDir);
    const obj = { n, name: `benchplan${n}`, template: stacksTemplate(filesDir, n, "32m"), filesDir };
    writeFileSync(join(dir, `${obj.name}.conf`), obj.template);
    return obj;
  });
  const conf = (o: Obj) => join(dir, `${o.name}.conf`);
  console.log("provisioning (osvc apply --auto-approve, default parallelism)");
  for (const o of objs) {
    const a = await osvc(["apply", conf(o), "--auto-approve", "--root", root]);
    const up = stacksUp(o.filesDir, o.n);
    console.log(`  ${o.name}: ${o.n} stacks (${2 * o.n} resources) in ${fmtMs(a.ms)} ms, exit ${a.status}, ${up}/${o.n} stacks up`);
    if (a.status !== 0 || up !== o.n) throw new Error(`osvc apply ${o.name} failed: ${tail(a)}`);
    cleanup.check();
  }
  // The provisioning left the images' data (mkfs) to be written back: flushed here, so that the
  // writeback of the set-up does not run under the measured rounds (it loaded them unevenly).
  const t = performance.now();
  spawnSync("sync", { stdio: "ignore" });
  console.log(`  sync of the set-up's data: ${fmtMs(performance.now() - t)} ms; load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);

  // ------------------------------------------------ measure
  const rows: Row[] = [];
  for (const o of objs) {
    await inProcessPlan(o, root, catalog); // warm-up (JIT, file cache)
    const samples: number[] = [];
    let last: Awaited<ReturnType<typeof inProcessPlan>> | undefined;
    for (let i = 0; i < INPROC_RUNS; i++) {
      last = await inProcessPlan(o, root, catalog);
      samples.push(last.ms);
    }
    const cliArgs = ["plan", conf(o), "--detailed-exitcode", "--root", root];
    const validateArgs = ["validate", conf(o)];
    await osvc(cliArgs); // warm-up
    await osvc(validateArgs);
    if (BEFORE) await osvc(cliArgs, BEFORE);
    if (BEFORE) await osvc(validateArgs, BEFORE);
    const cli: number[] = [];
    const validate: number[] = [];
    const before: number[] = [];
    const beforeValidate: number[] = [];
    const statuses: (number | null)[] = [];
    const runs: [string, () => Promise<void>][] = [
      ["plan", async () => {
        const r = await osvc(cliArgs);
        cli.push(r.ms);
        statuses.push(r.status);
        if (r.status !== 0 && statuses.length === 1) console.log(`  note: osvc plan ${o.name} exited ${r.status}: ${tail(r)}`);
      }],
      ["validate", async () => {
        const r = await osvc(validateArgs);
        validate.push(r.ms);
        if (r.status !== 0) console.log(`  note: osvc validate ${o.name} exited ${r.status}: ${tail(r)}`);
      }],
      ...(BEFORE ? [["before", async () => {
        const r = await osvc(cliArgs, BEFORE);
        before.push(r.ms);
        if (r.status !== 0) console.log(`  note: osvc (before) plan ${o.name} exited ${r.status}: ${tail(r)}`);
      }] as [string, () => Promise<void>], ["before-validate", async () => {
        const r = await osvc(validateArgs, BEFORE);
        beforeValidate.push(r.ms);
        if (r.status !== 0) console.log(`  note: osvc (before) validate ${o.name} exited ${r.status}: ${tail(r)}`);
      }] as [string, () => Promise<void>]] : []),
    ];
    for (let i = 0; i < CLI_RUNS; i++) {
      for (let j = 0; j < runs.length; j++) await runs[(i + j) % runs.length][1]();
      cleanup.check();
    }
    const sys = { after: fsCalls(osvcBin(), cliArgs), ...(BEFORE ? { before: fsCalls(`${BEFORE}/bin/osvc.js`, cliArgs) } : {}) };
    rows.push({ n: o.n, counts: last!.counts, inprocMs: median(samples), changes: hasChanges(last!.plan), cliMs: median(cli), cliRange: [Math.min(...cli), Math.max(...cli)], cliStatuses: statuses, validateMs: median(validate), validateRange: [Math.min(...validate), Math.max(...validate)], ...(BEFORE ? { beforeMs: median(before), beforeRange: [Math.min(...before), Math.max(...before)] as [number, number], beforeValidateMs: median(beforeValidate) } : {}), sys });
  }

  const drivers = [...new Set(rows.flatMap((r) => [...r.counts.byDriver.keys()]))].sort();
  const files = [...new Set(rows.flatMap((r) => [...r.counts.byFile.keys()]))].sort();
  console.log(`\nno-op plan: host commands (in-process makePlan, execStats deltas) and wall time`);
  console.log(`  in-process ms: compile + graph + read state + probe + plan, median of ${INPROC_RUNS} after 1 warm-up`);
  console.log(`  CLI ms: bin/osvc.js plan --detailed-exitcode (run as a command), median of ${CLI_RUNS} after 1 warm-up (node start-up included)\n`);
  const head =
    `${pad("stacks", 7)} ${pad("resources", 10)} ` +
    drivers.map((d) => pad(d, 10)).join(" ") +
    ` ${pad("total", 6)}   ` +
    files.map((f) => pad(f, 8)).join(" ") +
    `   ${pad("in-proc ms", 10)} ${pad("CLI ms", 8)} ${pad("CLI min-max", 12)} ${pad("exit", 5)}`;
  console.log(head);
  console.log("-".repeat(head.length));
  for (const r of rows) {
    const exits = [...new Set(r.cliStatuses)].join(",");
    console.log(
      `${pad(String(r.n), 7)} ${pad(String(2 * r.n), 10)} ` +
        drivers.map((d) => pad(String(r.counts.byDriver.get(d) ?? 0), 10)).join(" ") +
        ` ${pad(String(r.counts.total), 6)}   ` +
        files.map((f) => pad(String(r.counts.byFile.get(f) ?? 0), 8)).join(" ") +
        `   ${pad(fmtMs(r.inprocMs), 10)} ${pad(fmtMs(r.cliMs), 8)} ${pad(`${fmtMs(r.cliRange[0])}-${fmtMs(r.cliRange[1])}`, 12)} ${pad(exits, 5)}`,
    );
  }
  console.log("\nper driver and command:");
  for (const r of rows) console.log(`  ${pad(String(r.n), 3)} stacks: ${fmtMap(r.counts.byDriverFile)}`);

  console.log(`\nno-op CLI plan vs validate of the same template: wall ms, median of ${CLI_RUNS} interleaved rounds (min-max); load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}\n`);
  const head2 = `${pad("stacks", 7)} ${pad("validate", 16)} ${pad("plan", 16)} ${pad("plan÷validate", 14)}${BEFORE ? ` ${pad("plan (before)", 16)} ${pad("validate (before)", 18)} ${pad("before÷its validate", 20)}` : ""}`;
  console.log(head2);
  console.log("-".repeat(head2.length));
  const rng = (m: number, r: [number, number]) => `${fmtMs(m)} (${fmtMs(r[0])}-${fmtMs(r[1])})`;
  for (const r of rows) {
    console.log(
      `${pad(String(r.n), 7)} ${pad(rng(r.validateMs, r.validateRange), 16)} ${pad(rng(r.cliMs, r.cliRange), 16)} ${pad(`${(r.cliMs / r.validateMs).toFixed(2)}x`, 14)}` +
        (r.beforeMs !== undefined ? ` ${pad(rng(r.beforeMs, r.beforeRange!), 16)} ${pad(fmtMs(r.beforeValidateMs!), 18)} ${pad(`${(r.beforeMs / r.beforeValidateMs!).toFixed(2)}x`, 20)}` : ""),
    );
  }
  if (rows.some((r) => r.sys.after)) {
    console.log("\nfile-system calls of osvc in one CLI plan (strace -f: its main thread and node's thread pool; not the commands it runs)\n");
    const head3 = `${pad("stacks", 7)} ${pad("build", 8, true)} ${pad("readlink", 9)} ${pad("statx", 7)} ${pad("stat/lstat", 11)}`;
    console.log(head3);
    console.log("-".repeat(head3.length));
    for (const r of rows) {
      for (const [b, c] of Object.entries(r.sys)) {
        if (!c) continue;
        console.log(`${pad(String(r.n), 7)} ${pad(b, 8, true)} ${pad(String(c.readlink), 9)} ${pad(String(c.statx), 7)} ${pad(String(c.stat), 11)}`);
      }
    }
  }

  // ------------------------------------------------ destroy and verify
  console.log("\nteardown (osvc destroy --auto-approve)");
  let clean = true;
  for (const o of objs) {
    const d = await osvc(["destroy", o.name, "--auto-approve", "--root", root]);
    const left = leftovers(o.filesDir);
    const ok = d.status === 0 && isClean(left);
    clean &&= ok;
    console.log(
      `  ${o.name}: exit ${d.status} in ${fmtMs(d.ms)} ms; left: ${left.loops.length} loop device(s), ${left.mounts.length} mount(s)` +
        (left.loops.length + left.mounts.length ? ` — ${[...left.mounts, ...left.loops].join(", ")}` : ""),
    );
    if (d.status !== 0) console.log(`    ${tail(d)}`);
  }
  const c = cleanup.clean(dir);
  if (c.unmounted || c.detached) console.log(`  the cleanup routine still had to unmount ${c.unmounted} and detach ${c.detached}`);
  for (const e of c.errors) console.log(`  cleanup: ${e}`);
  console.log(`  ${isClean(leftovers(dir)) ? "nothing left" : "LEFTOVERS REMAIN"} under ${dir}; directory removed`);

  // ------------------------------------------------ verdicts
  const first = rows[0];
  const lastRow = rows[rows.length - 1];
  const perDriverSame = drivers.every((d) => (first.counts.byDriver.get(d) ?? 0) === (lastRow.counts.byDriver.get(d) ?? 0));
  const grew = drivers
    .filter((d) => (first.counts.byDriver.get(d) ?? 0) !== (lastRow.counts.byDriver.get(d) ?? 0))
    .map((d) => `${d} ${first.counts.byDriver.get(d) ?? 0} -> ${lastRow.counts.byDriver.get(d) ?? 0}`);
  const growingFiles = files
    .filter((f) => (first.counts.byFile.get(f) ?? 0) !== (lastRow.counts.byFile.get(f) ?? 0))
    .map((f) => `${f} ${first.counts.byFile.get(f) ?? 0} -> ${lastRow.counts.byFile.get(f) ?? 0}`);
  const noop = rows.every((r) => !r.changes && r.cliStatuses.every((s) => s === 0));
  console.log("\ntargets");
  console.log(
    `  ${verdict(first.counts.total === lastRow.counts.total && perDriverSame)}  host commands at ${lastRow.n} stacks == at ${first.n}: ${lastRow.counts.total} vs ${first.counts.total}` +
      (grew.length ? ` (grows: ${grew.join(", ")}; by command: ${growingFiles.join(", ")})` : " (constant per driver)"),
  );
  const at50 = rows.find((r) => r.n === PLAN_MS_AT);
  if (at50) console.log(`  ${verdict(at50.cliMs < TARGET_PLAN_MS)}  osvc plan of ${at50.n} stacks < ${TARGET_PLAN_MS} ms: ${fmtMs(at50.cliMs)} ms (in-process ${fmtMs(at50.inprocMs)} ms)`);
  for (const r of rows) {
    const x = r.cliMs / r.validateMs;
    console.log(`  ${verdict(x <= TARGET_PLAN_VS_VALIDATE)}  osvc plan of ${r.n} stacks <= ${TARGET_PLAN_VS_VALIDATE}x validate of the same template: ${x.toFixed(2)}x (${fmtMs(r.cliMs)} vs ${fmtMs(r.validateMs)} ms)`);
  }
  console.log(`  ${verdict(noop)}  no-op: every plan had no changes and --detailed-exitcode exited 0`);
  console.log(`  ${verdict(clean)}  destroy left nothing (no loop device for the bench files, no mount)`);
}

const cleanup = new CleanupRegistry();
try {
  await main(cleanup);
} catch (e) {
  console.log(e instanceof Interrupted ? `benchmark ${e.message}` : `benchmark aborted: ${(e as Error)?.stack ?? String(e)}`);
} finally {
  const errors = cleanup.cleanAll();
  for (const e of errors) console.log(`cleanup: ${e}`);
  cleanup.dispose();
}
process.exitCode = cleanup.interrupted ? 130 : 0;
