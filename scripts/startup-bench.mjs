// Start-up benchmark: compares the wall time of CLI commands across builds, side by side.
//
//   node scripts/startup-bench.mjs [--runs N] [DIR ...]
//
// Each DIR is a tree holding bin/osvc.js + dist/ + package.json (default: this checkout). To
// compare with an older build, copy bin/, dist/ and package.json to a temporary directory first.
// Runs are interleaved (one of each variant in turn) so that machine noise hits all variants
// alike; the median of N runs (default 21) is printed. `plan` runs against a fresh --root.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const here = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
let runs = 21;
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runs") runs = Number(args[++i]);
  else dirs.push(resolve(args[i]));
}
if (dirs.length === 0) dirs.push(here);

const example = join(here, "examples/quickstart.conf");
const root = mkdtempSync(join(tmpdir(), "osvc-startup-"));
const commands = [
  { name: "node -e 0", argv: () => ["-e", "0"], bare: true },
  { name: "--version", argv: (d) => [join(d, "bin/osvc.js"), "--version"] },
  { name: "validate quickstart", argv: (d) => [join(d, "bin/osvc.js"), "validate", example] },
  { name: "plan quickstart", argv: (d) => [join(d, "bin/osvc.js"), "plan", example, "--root", root] },
];

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const run = (argv) => {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, argv, { cwd: tmpdir(), encoding: "utf8" });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(" ")}: exit ${r.status}\n${r.stderr}`);
  return ms;
};

try {
  console.log(`node ${process.version}; median of ${runs} interleaved runs, wall time in ms`);
  console.log(`${"command".padEnd(22)}${dirs.map((d, i) => `[${i}]`.padStart(10)).join("")}`);
  for (const c of commands) {
    const variants = c.bare ? [dirs[0]] : dirs;
    const samples = variants.map(() => []);
    variants.forEach((d) => run(c.argv(d))); // warm-up (file cache)
    for (let k = 0; k < runs; k++) variants.forEach((d, i) => samples[i].push(run(c.argv(d))));
    console.log(`${c.name.padEnd(22)}${samples.map((s) => median(s).toFixed(1).padStart(10)).join("")}`);
  }
  dirs.forEach((d, i) => console.log(`[${i}] ${d}`));
} finally {
  rmSync(root, { recursive: true, force: true });
}
