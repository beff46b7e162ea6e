// Build step (run by scripts/bundle.mjs as `node --snapshot-blob dist/osvc.blob --build-snapshot
// scripts/snapshot-entry.cjs`): a V8 start-up snapshot of the CLI with its modules initialized.
//
// The bundle is loaded and commands that read nothing but the repository run in it (`validate` of
// the quickstart example, `plan --refresh false` on an empty state directory, their output
// discarded): its modules are then initialized and the functions they ran compiled, and node saves
// that heap. `osvc` run as a command (bin/osvc.js's shell line) starts node from this snapshot when
// it was made by the very node on the PATH, and skips loading the bundle and initializing its
// modules (~40 ms of every start).
//
// What that warm-up leaves in the heap is kept: it must leave only what any start builds the same
// way (parsers, keyword catalogs, caches of pure functions), never anything read from the host or
// the environment, and no process listener (node keeps those too): checked below.
//
// The commands that act (apply, destroy) and a plan that probes the host run too, but in a second
// instance of the bundle, made from the same compiled script: the two share every function's
// compiled code (V8 keeps it per function of the script, not per instance), so those functions
// start compiled; the second instance's module state (the host facts it read, its spawn helper,
// its caches) is thrown away with it: its helper is ended, the listeners it left on the process
// and its output streams removed, and no handle may be left open. They act only inside a
// temporary directory, and only in a build as root (they refuse to run otherwise).
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
// Each call of it makes one instance of the bundle (its own module state, the same functions).
const source = fs.readFileSync(filename, "latin1");
const factory = (0, eval)(`${source}\n//# sourceURL=${filename}`);
const instance = () => {
  const m = { exports: {} };
  factory(m.exports, bundleRequire, m, filename, dist);
  return m.exports;
};

// Listeners on the process and its output streams, per emitter and event.
const EMITTERS = { process, stdout: process.stdout, stderr: process.stderr };
const listening = () => {
  const all = new Map();
  for (const [name, em] of Object.entries(EMITTERS)) for (const e of em.eventNames()) all.set(`${name} ${String(e)}`, { em, e, fns: em.rawListeners(e) });
  return all;
};
const listenerText = (all, only = "") => [...all].filter(([k]) => k.startsWith(only)).map(([k, v]) => `${k}:${v.fns.length}`).join(" ");
/** Removes the listeners added since `before` (a `listening()`). */
const dropAdded = (before) => {
  for (const [k, { em, e, fns }] of listening()) {
    const had = before.get(k)?.fns ?? [];
    for (const fn of fns) if (!had.includes(fn)) em.removeListener(e, fn);
  }
};

const baseline = listening();
const bundle = instance();
if (listenerText(listening()) !== listenerText(baseline)) throw new Error(`loading the bundle added listeners (${listenerText(baseline)} -> ${listenerText(listening())}): they would run in every osvc`);

/** Runs `osvc ARGV` in `cli` with its output discarded; throws unless it exits 0. */
async function quietly(cli, argv) {
  const out = process.stdout.write;
  const err = process.stderr.write;
  process.stdout.write = () => true;
  process.stderr.write = () => true;
  try {
    const code = await cli.main(argv);
    if (code !== 0) throw new Error(`snapshot warm-up: osvc ${argv.join(" ")} exited ${code}`);
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

async function warmUp() {
  const tmp = fs.mkdtempSync(path.join(require("node:os").tmpdir(), "osvc-snapshot-"));
  const env = JSON.stringify(process.env);
  // apply and destroy look at process.stdin (a terminal?): node makes its stream then, and drops
  // it when it writes the snapshot (stdio is made again in every process). Made first, so that
  // the handles left are compared with those.
  void process.stdin;
  const resources = process.getActiveResourcesInfo().join(" ");
  try {
    // In the kept instance: no host probe (--refresh false), an empty state directory; reads
    // nothing else, writes nothing.
    const before = listening();
    for (const argv of [["validate", example], ["plan", example, "--refresh", "false", "--root", path.join(tmp, "empty")]]) await quietly(bundle, argv);
    const after = listening();
    if (listenerText(after, "process ") !== listenerText(before, "process ")) throw new Error(`snapshot warm-up left process listeners (${listenerText(before, "process ")} -> ${listenerText(after, "process ")}): they would run in every osvc`);
    dropAdded(before); // main()'s guards on stdout and stderr: each run adds its own

    // In a throw-away instance: commands that act and probe, on files of the temporary directory
    // (they need root: a build by another user skips them, and its osvc compiles them at first use).
    if (process.getuid() === 0) await warmScratch(tmp);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  if (JSON.stringify(process.env) !== env) throw new Error("snapshot warm-up changed the environment");
  if (process.exitCode !== undefined) throw new Error(`snapshot warm-up set the exit code (${process.exitCode})`);
  // A handle closed during the warm-up (the helper's process) leaves node's list a few turns of
  // the event loop later.
  for (let i = 0; i < 200 && process.getActiveResourcesInfo().join(" ") !== resources; i++) await new Promise((r) => setTimeout(r, 10));
  const left = process.getActiveResourcesInfo().join(" ");
  if (left !== resources) throw new Error(`snapshot warm-up left handles open (${resources} -> ${left})`);
}

/**
 * Runs commands that act and probe in a throw-away instance of the bundle (see the top of this
 * file), on files under `tmp`: their functions are compiled for the kept instance too.
 */
async function warmScratch(tmp) {
  const scratch = instance();
  const kept = listening();
  // A loop disk, its ext4 and a directory are probed (their files do not exist: nothing is
  // attached or mounted); a directory and an app running /bin/true are applied and destroyed.
  const probed = path.join(tmp, "probed.conf");
  const acted = path.join(tmp, "acted.conf");
  const lines = (...l) => `${l.join("\n")}\n`;
  fs.writeFileSync(probed, lines("[disk#0]", "type = loop", `file = ${tmp}/none/disk.img`, "size = 8m", "[fs#0]", "type = ext4", "dev = {disk#0.exposed_devs[0]}", `mnt = ${tmp}/none/mnt`, "[fs#1]", "type = directory", `path = ${tmp}/none/dir`));
  fs.writeFileSync(acted, lines("[fs#0]", "type = directory", `path = ${tmp}/dir`, "perm = 0755", "[app#0]", "type = forking", "start = /bin/true", "stop = /bin/true"));
  const root = ["--root", path.join(tmp, "root")];
  try {
    await quietly(scratch, ["plan", probed, ...root]);
    await quietly(scratch, ["apply", acted, "--auto-approve", ...root]);
    await quietly(scratch, ["plan", acted, "--detailed-exitcode", ...root]);
    await quietly(scratch, ["destroy", acted, "--auto-approve", ...root]);
  } finally {
    await scratch.endHelper();
    dropAdded(kept); // its listeners (an exit hook for its commands, its output guards) go with it
  }
  if (listenerText(listening()) !== listenerText(kept)) throw new Error(`snapshot warm-up: listeners left (${listenerText(kept)} -> ${listenerText(listening())})`);
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
  bundle.runProcess(process.argv.slice(2));
}

warmUp().then(
  () => v8.startupSnapshot.setDeserializeMainFunction(run),
  (e) => {
    process.stderr.write(`${e && e.stack ? e.stack : e}\n`);
    process.exitCode = 1;
  },
);
