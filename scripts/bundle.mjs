// Bundles the compiled CLI (dist/src/cli/main.js) and its dependencies into one file: loading
// one file is much faster than resolving hundreds (chevrotain alone pulls in lodash-es). Then
// records a V8 code cache for it. bin/osvc.js runs the bundle with that cache.
//
//   dist/osvc.cjs    the bundle, CommonJS wrapped in a function expression:
//                    (function (exports, require, module, __filename, __dirname) { ... })
//                    bin/osvc.js compiles it with vm.Script (which accepts a code cache; Node 20
//                    has no compile cache for ES modules) and calls it.
//   dist/osvc.cache  the bundle's first line ("// osvc bundle <sha256>\n") + V8 code cache, made by
//                    scripts/code-cache.mjs. Optional: without it (or when V8 rejects it, e.g.
//                    another Node version) the bundle is compiled from source, ~40 ms slower.
//   dist/osvc.blob   a V8 start-up snapshot of the CLI, its modules initialized
//                    (scripts/snapshot-entry.cjs), and dist/osvc.blob.node, an empty file with
//                    the modification time of the node that made it. bin/osvc.js, run as a
//                    command, starts node from the snapshot when the node on the PATH has that
//                    time (node refuses a snapshot made by another version, and exits); else, and
//                    without them, it runs the bundle with the code cache, ~40 ms slower.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { build } from "esbuild";

const OUT = "dist/osvc.cjs";
const CACHE = "dist/osvc.cache";
const BLOB = "dist/osvc.blob";
const BLOB_NODE = "dist/osvc.blob.node";

// A stale cache must never meet a new bundle: drop it first (and the former ESM bundle).
rmSync(CACHE, { force: true });
rmSync(BLOB, { force: true });
rmSync(BLOB_NODE, { force: true });
rmSync("dist/osvc.mjs", { force: true });

const result = await build({
  entryPoints: ["dist/src/cli/main.js"],
  outfile: OUT,
  bundle: true,
  platform: "node",
  target: "node20",
  format: "cjs",
  legalComments: "none",
  logLevel: "warning",
  metafile: true,
  write: false,
  // The etcd client (and its gRPC stack) loads only when a cluster config names an etcd store
  // (src/cluster/store/index.ts): required from node_modules then, kept out of every other start.
  external: ["etcd3", "etcd3/*"],
  define: { "import.meta.url": "__osvcImportMetaUrl" },
  // The wrapper bin/osvc.js calls. Strict mode as in the ES modules (esbuild's own "use strict"
  // comes after a statement here, so it would not count); import.meta.url is this file's URL.
  banner: {
    js: [
      "(function (exports, require, module, __filename, __dirname) {",
      '"use strict";',
      'const __osvcImportMetaUrl = require("node:url").pathToFileURL(__filename).href;',
    ].join(" "),
  },
  footer: { js: "})" },
});

// vm.Script is compiled without an importModuleDynamically callback: a dynamic import() of an
// external module would throw at run time. Every import() must have been bundled.
for (const o of Object.values(result.metafile.outputs)) {
  const dyn = o.imports.filter((i) => i.external && i.kind === "dynamic-import");
  if (dyn.length) throw new Error(`bundle.mjs: external dynamic import() in the bundle: ${dyn.map((i) => i.path).join(", ")}`);
}
// bin/osvc.js reads the bundle as latin1, which is faster than UTF-8: esbuild escapes any other
// character (its default charset is ASCII), and this checks it.
const nonAscii = result.outputFiles[0].text.search(/[^\x00-\x7f]/);
if (nonAscii >= 0) throw new Error(`bundle.mjs: non-ASCII character at offset ${nonAscii} of ${OUT}`);
// The first line ties the cache to this exact text (V8 itself only checks the source length).
const body = result.outputFiles[0].text;
const text = `// osvc bundle ${createHash("sha256").update(body).digest("hex")}\n${body}`;
writeFileSync(OUT, text);

// The code cache: in a child process with the same node and no NODE_OPTIONS (V8 rejects a cache
// made with other V8 flags). Not fatal: the CLI works without it.
const env = { ...process.env };
delete env.NODE_OPTIONS;
const r = spawnSync(process.execPath, ["scripts/code-cache.mjs"], { env, encoding: "utf8" });
if (r.status !== 0) {
  rmSync(CACHE, { force: true });
  console.warn(`bundle.mjs: warning: no code cache (${OUT} is compiled at each start):\n${r.stderr}${r.stdout}`);
}

// The start-up snapshot, by the same node, without NODE_OPTIONS and NODE_EXTRA_CA_CERTS (the
// launcher starts node without them). Checked by starting it; not fatal either.
delete env.NODE_EXTRA_CA_CERTS;
// Written aside, then renamed: an osvc starting meanwhile never reads a partly written snapshot.
const blobTmp = `${BLOB}.tmp-${process.pid}`;
const snap = spawnSync(process.execPath, ["--snapshot-blob", blobTmp, "--build-snapshot", "scripts/snapshot-entry.cjs"], { env, encoding: "utf8" });
const check = snap.status === 0 ? spawnSync(process.execPath, ["--snapshot-blob", blobTmp, "--", "--version"], { env, encoding: "utf8" }) : undefined;
const version = JSON.parse(readFileSync("package.json", "utf8")).version;
if (check?.status === 0 && check.stdout === `osvc ${version}\n`) {
  renameSync(blobTmp, BLOB);
  // The launcher compares this file's time with the node on the PATH (a shell test, no process).
  writeFileSync(BLOB_NODE, "");
  const touch = spawnSync("touch", ["-r", realpathSync(process.execPath), BLOB_NODE], { encoding: "utf8" }); // the exact time, nanoseconds included
  if (touch.status !== 0) {
    rmSync(BLOB_NODE, { force: true });
    console.warn(`bundle.mjs: warning: start-up snapshot unused (cannot copy node's time: ${touch.stderr.trim()})`);
  }
} else {
  rmSync(blobTmp, { force: true });
  console.warn(`bundle.mjs: warning: no start-up snapshot (osvc starts from the bundle and its code cache):\n${snap.stderr}${snap.stdout}${check ? check.stderr + check.stdout : ""}`);
}
