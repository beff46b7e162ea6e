// CLI golden cases: fixtures/cli/<case>/{args,stdin?} -> stdout.txt, stderr.txt, exit-code.
// `args` holds one argument per line. Regenerate with `npm run golden:accept`, review the diff.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, it } from "vitest";
import { golden } from "./helpers/golden.js";
import { ROOT, runCli } from "./helpers/cli.js";

const dir = join(ROOT, "fixtures/cli");
const cases = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
// An empty state root: no node.conf of this machine's /var/lib/osvc can leak into the outputs.
const root = mkdtempSync(join(tmpdir(), "osvc-golden-root-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("CLI golden outputs", () => {
  for (const name of cases) {
    it(name, () => {
      const c = join(dir, name);
      const args = readFileSync(join(c, "args"), "utf8").split("\n").filter((l) => l.length > 0);
      const input = existsSync(join(c, "stdin")) ? readFileSync(join(c, "stdin"), "utf8") : undefined;
      const r = runCli(args, { input, env: { OSVC_ROOT: root } });
      golden(join(c, "stdout.txt"), r.stdout);
      golden(join(c, "stderr.txt"), r.stderr);
      golden(join(c, "exit-code"), `${r.code}\n`);
    });
  }
});
