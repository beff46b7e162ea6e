// Start-up benchmark: compares the wall time of CLI commands across builds, side by side.
//
//   node scripts/startup-bench.mjs [--runs N] [--snapshot] [DIR ...]
//
// --snapshot adds a column: the first DIR's bundle in a V8 user-land start-up snapshot
// (`node --build-snapshot`, run as `node --snapshot-blob BLOB ...`), the alternative to the code
// cache bin/osvc.js uses. It would need a shell launcher (a snapshot is a node flag, not a file
// node can be pointed at), so it is only kept if it wins here.
//
// Each DIR is a tree holding bin/osvc.js + dist/ + package.json (default: this checkout). To
// compare with an older build, copy bin/, dist/ and package.json to a temporary directory first.
// Runs are interleaved (one of each variant in turn) so that machine noise hits all variants
// alike; the median of N runs (default 21) is printed. `plan` runs against a fresh --root.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";

const here = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
let runs = 21;
let snapshot = false;
const dirs = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--runs") runs = Number(args[++i]);
  else if (args[i] === "--snapshot") snapshot = true;
  else dirs.push(resolve(args[i]));
}
if (dirs.length === 0) dirs.push(here);

const example = join(here, "examples/quickstart.conf");
const root = mkdtempSync(join(tmpdir(), "osvc-startup-"));
const SNAPSHOT = "snapshot";
const blob = join(root, "osvc.blob");
/** The CLI of a variant: bin/osvc.js of a tree, or the snapshot of the first tree's bundle. */
const cli = (d) => (d === SNAPSHOT ? ["--snapshot-blob", blob] : [join(d, "bin/osvc.js")]);
const commands = [
  { name: "node -e 0", argv: () => ["-e", "0"], bare: true },
  { name: "--version", argv: (d) => [...cli(d), "--version"] },
  { name: "validate quickstart", argv: (d) => [...cli(d), "validate", example] },
  { name: "plan quickstart", argv: (d) => [...cli(d), "plan", example, "--root", root] },
];

/** Builds the snapshot: the bundle loaded and its main() set as the snapshot's entry point. */
function buildSnapshot(dir) {
  const entry = join(root, "snapshot-entry.cjs");
  const bundle = join(dir, "dist/osvc.cjs");
  writeFileSync(
    entry,
    `const fs = require("node:fs"), vm = require("node:vm"), path = require("node:path"), v8 = require("node:v8");
const filename = ${JSON.stringify(bundle)};
const module = { exports: {} };
vm.runInThisContext(fs.readFileSync(filename, "latin1"), { filename })(module.exports, require, module, filename, path.dirname(filename));
v8.startupSnapshot.setDeserializeMainFunction(() => {
  const argv = process.argv.slice(1);
  if (argv.length === 1 && argv[0] === "--version") return void process.stdout.write("osvc (snapshot)\\n");
  module.exports.main(argv).then((c) => { process.exitCode = c; });
});
`,
  );
  const r = spawnSync(process.execPath, ["--snapshot-blob", blob, "--build-snapshot", entry], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building the snapshot failed: ${r.stderr}`);
}
if (snapshot) {
  buildSnapshot(dirs[0]);
  dirs.push(SNAPSHOT);
}

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
