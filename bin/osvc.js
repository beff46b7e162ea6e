#!/bin/sh
":" //; if [ "${NODE_EXTRA_CA_CERTS+set}" ]; then export OSVC_SAVED_NODE_EXTRA_CA_CERTS="$NODE_EXTRA_CA_CERTS"; unset NODE_EXTRA_CA_CERTS; fi; b=$0; if [ -L "$b" ]; then b=$(readlink -f -- "$b"); fi; d=${b%/*}/../dist; if [ "$d/osvc.blob" -nt "$d/osvc.cjs" ] && [ -f "$d/osvc.blob.node" ] && n=$(command -v node) && ! [ "$n" -nt "$d/osvc.blob.node" ] && ! [ "$n" -ot "$d/osvc.blob.node" ]; then OSVC_SNAPSHOT_BIN=$b exec node --snapshot-blob "$d/osvc.blob" -- "$@"; fi; exec node "$0" "$@"
// Runs the bundled CLI (dist/osvc.cjs, built by `npm run build`). `--version` answers before the
// bundle is even loaded: start-up must stay close to a bare `node -e 0`. This file is CommonJS
// (bin/package.json): that spares loading Node's ES module loader at every start.
//
// The line above is read by /bin/sh when this file is run as a command (`osvc`, the npm link, a
// cluster node's `osvc`), and is a string and a comment for node. It starts node without
// NODE_EXTRA_CA_CERTS: Node 20 parses its whole root store plus that file before running any
// JavaScript when the variable is set (~90 ms of a ~120 ms start on a host where it names the
// system bundle), and osvc itself makes no TLS connection except to etcd, which gets the same
// roots from etcdRoots(). The value is handed over in OSVC_SAVED_NODE_EXTRA_CA_CERTS and put back
// by the bundle's runProcess (src/cli/main.ts), before anything runs: the commands osvc starts (apps, scripts) see the environment the
// user had. `node bin/osvc.js` skips the line and works as well, paying node's full start.
//
// The line also starts node from the build's start-up snapshot (dist/osvc.blob: the CLI with its
// modules initialized, scripts/snapshot-entry.cjs) when the snapshot is newer than the bundle and
// the node on the PATH is the one that made it (same modification time as dist/osvc.blob.node:
// node refuses a snapshot of another version, and exits). Arguments follow `--`, so that node
// never reads one as its own option. Otherwise, this file runs.
"use strict";
const path = require("node:path");

const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V" || argv[0] === "version")) {
  const pkg = JSON.parse(require("node:fs").readFileSync(path.join(__dirname, "..", "package.json"), "utf8"));
  process.stdout.write(`osvc ${pkg.version}\n`);
} else {
  loadBundle().runProcess(argv); // NODE_EXTRA_CA_CERTS put back first (src/cli/main.ts)
}

// dist/osvc.cjs is CommonJS code wrapped in a function expression (see scripts/bundle.mjs). It is
// compiled with vm.Script so that V8 can use the code cache made at build time (dist/osvc.cache):
// that skips parsing 1.6 MB of JavaScript and compiling the functions a command runs. The cache
// is only read, never written here. Its first line names the bundle it belongs to: a cache for
// another bundle is ignored, and V8 itself rejects one made by another V8 version or with other
// V8 flags. Then the bundle is compiled from source, which is only slower.
function loadBundle() {
  const { readFileSync } = require("node:fs");
  const { createRequire } = require("node:module");
  const { Script } = require("node:vm");
  const filename = path.join(__dirname, "..", "dist", "osvc.cjs");
  const source = readFileSync(filename, "latin1"); // ASCII only (checked at build): no UTF-8 decoding
  let cachedData;
  try {
    const cache = readFileSync(path.join(__dirname, "..", "dist", "osvc.cache"));
    const nl = cache.indexOf(10);
    if (nl > 0 && cache.toString("latin1", 0, nl) === source.slice(0, source.indexOf("\n"))) cachedData = cache.subarray(nl + 1);
  } catch {
    // no cache: compile from source
  }
  const script = new Script(source, { filename, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(filename), module, filename, path.dirname(filename));
  return module.exports;
}
