#!/usr/bin/env node
// Runs the bundled CLI (dist/osvc.mjs, built by `npm run build`). `--version` answers before the
// bundle is even loaded: start-up must stay close to a bare `node -e 0`.
const argv = process.argv.slice(2);
if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V" || argv[0] === "version")) {
  const { readFileSync } = await import("node:fs");
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8"));
  process.stdout.write(`osvc ${pkg.version}\n`);
} else {
  const { main } = await import("../dist/osvc.mjs");
  process.exitCode = await main(argv);
}
