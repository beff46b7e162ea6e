// Build step (run by scripts/bundle.mjs as `node --snapshot-blob dist/osvc.blob --build-snapshot
// scripts/snapshot-entry.cjs`): a V8 start-up snapshot of the CLI with its modules initialized.
//
// The bundle is loaded and one command that reads nothing but the repository runs (`validate` of
// the quickstart example, its output discarded): its modules are then initialized and the
// functions it ran compiled, and node saves that heap. `osvc` run as a command (bin/osvc.js's
// shell line) starts node from this snapshot when it was made by the very node on the PATH, and
// skips loading the bundle and initializing its modules (~40 ms of every start).
//
// What the warm-up leaves in the heap is kept: it must leave only what any start builds the same
// way (parsers, keyword catalogs, caches of pure functions), never anything read from the host or
// the environment, and no process listener (node keeps those too): checked below.
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const v8 = require("node:v8");

const root = realpath(path.resolve(__dirname, ".."));
const dist = path.join(root, "dist");
const filename = path.join(dist, "osvc.cjs");
const example = path.join(root, "examples", "quickstart.conf");

// The bundle's require: node's built-in modules from this script's require (in a snapshot it loads
// only those); anything else (etcd3, kept out of the bundle) from the bundle's place, by a require
// made when first needed: node:module is not supported in snapshot builds.
let outside;
const bundleRequire = (id) => {
  try {
    return require(id);
  } catch {
    outside ??= require("node:module").createRequire(filename);
    return outside(id);
  }
};

// dist/osvc.cjs is a function expression (scripts/bundle.mjs); evaluated as bin/osvc.js does,
// without node:vm (not supported in snapshots either), under its own file name for stack traces.
const source = fs.readFileSync(filename, "latin1");
const bundle = { exports: {} };
(0, eval)(`${source}\n//# sourceURL=${filename}`)(bundle.exports, bundleRequire, bundle, filename, dist);

const EVENTS = ["exit", "beforeExit", "SIGINT", "SIGTERM", "SIGHUP", "uncaughtException", "unhandledRejection", "warning"];
const listeners = () => EVENTS.map((e) => `${e}:${process.listenerCount(e)}`).join(" ");

async function warmUp() {
  const before = listeners();
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = () => true;
  process.stderr.write = () => true;
  // No host probe (--refresh false) and an empty state directory: reads nothing else, writes nothing.
  const emptyRoot = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "osvc-snapshot-"));
  try {
    for (const argv of [["validate", example], ["plan", example, "--refresh", "false", "--root", emptyRoot]]) {
      const code = await bundle.exports.main(argv);
      if (code !== 0) throw new Error(`snapshot warm-up: osvc ${argv.join(" ")} exited ${code}`);
    }
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
    fs.rmSync(emptyRoot, { recursive: true, force: true });
  }
  const after = listeners();
  if (after !== before) throw new Error(`snapshot warm-up left process listeners (${before} -> ${after}): they would run in every osvc`);
}

function realpath(p) {
  try {
    return fs.realpathSync(p);
  } catch {
    return p;
  }
}

/** Runs the CLI as `node bin/osvc.js ARGS` would (bin/osvc.js's shell line sets OSVC_SNAPSHOT_BIN). */
function run() {
  const env = process.env;
  const bin = path.resolve(env.OSVC_SNAPSHOT_BIN || path.join(root, "bin", "osvc.js"));
  delete env.OSVC_SNAPSHOT_BIN;
  // process.argv as node gives it to a script: [node, bin/osvc.js, ...args] (a vol's action runs
  // process.argv[1] again).
  process.argv.splice(1, 0, bin);
  if (realpath(path.join(path.dirname(bin), "..")) !== root) {
    // The tree moved since the build: this heap names files under the old path. Run the tree's own.
    require("node:module").createRequire(bin)(bin);
    return;
  }
  bundle.exports.runProcess(process.argv.slice(2));
}

warmUp().then(
  () => v8.startupSnapshot.setDeserializeMainFunction(run),
  (e) => {
    process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 1;
  },
);
