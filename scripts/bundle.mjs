// Bundles the compiled CLI (dist/src/cli/main.js) and its dependencies into one ESM file,
// dist/osvc.mjs: loading one file is much faster than resolving hundreds (chevrotain alone pulls
// in lodash-es). bin/osvc.js runs it.
import { build } from "esbuild";

await build({
  entryPoints: ["dist/src/cli/main.js"],
  outfile: "dist/osvc.mjs",
  bundle: true,
  platform: "node",
  target: "node20",
  format: "esm",
  legalComments: "none",
  logLevel: "warning",
  // Some dependencies are CommonJS and call require(): give the ESM bundle one.
  banner: { js: "import { createRequire as __osvcCreateRequire } from 'node:module'; const require = __osvcCreateRequire(import.meta.url);" },
});
