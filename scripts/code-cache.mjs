// Build step (run by scripts/bundle.mjs): writes dist/osvc.cache, the V8 code cache of
// dist/osvc.cjs. The bundle is loaded as bin/osvc.js loads it, then exercised with commands that
// read nothing but the repository (the output is discarded), and only then is the cache made: it
// then also holds the functions V8 compiled lazily while they ran, not just the top level.
// Finally a fresh process checks that V8 accepts the cache.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const filename = resolve(root, "dist/osvc.cjs");
const cacheFile = resolve(root, "dist/osvc.cache");
const example = resolve(root, "examples/quickstart.conf");
const emptyRoot = mkdtempSync(join(tmpdir(), "osvc-code-cache-"));
const WARM_UP = [
  ["validate", example],
  // No host probe (--refresh false) and an empty state directory: reads nothing else, writes nothing.
  ["plan", example, "--refresh", "false", "--root", emptyRoot],
];

const source = readFileSync(filename, "latin1"); // as bin/osvc.js reads it
const header = source.slice(0, source.indexOf("\n") + 1);
if (!header.startsWith("// osvc bundle ")) throw new Error(`${filename}: no "// osvc bundle <hash>" first line`);
const script = new Script(source, { filename });
const module = { exports: {} };
script.runInThisContext()(module.exports, createRequire(filename), module, filename, dirname(filename));

// The commands print: keep their output out of the build log.
const write = process.stdout.write;
process.stdout.write = () => true;
try {
  for (const argv of WARM_UP) {
    const code = await module.exports.main(argv);
    if (code !== 0) throw new Error(`code cache warm-up: osvc ${argv.join(" ")} exited ${code}`);
  }
} finally {
  process.stdout.write = write;
  rmSync(emptyRoot, { recursive: true, force: true });
}
process.exitCode = 0;

writeFileSync(cacheFile, Buffer.concat([Buffer.from(header, "latin1"), script.createCachedData()]));

const check = spawnSync(
  process.execPath,
  [
    "--input-type=module",
    "-e",
    `import { readFileSync } from "node:fs";
     import { Script } from "node:vm";
     const cache = readFileSync(${JSON.stringify(cacheFile)});
     const s = new Script(readFileSync(${JSON.stringify(filename)}, "latin1"), { filename: ${JSON.stringify(filename)}, cachedData: cache.subarray(cache.indexOf(10) + 1) });
     process.exit(s.cachedDataRejected ? 3 : 0);`,
  ],
  { encoding: "utf8" },
);
if (check.status !== 0) throw new Error(`V8 rejects the code cache it just made (exit ${check.status}) ${check.stderr}`);
