// `osvc validate` over every template the project ships: the examples and fixtures that are meant
// to be valid pass (the examples even with --strict), the ones meant to be invalid fail with
// positioned diagnostics, and none prints a stack trace.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT, runCli } from "../helpers/cli.js";

const list = (dir: string) => readdirSync(join(ROOT, dir)).filter((f) => /\.(conf|template|ya?ml)$/.test(f)).map((f) => `${dir}/${f}`);
/** Fixtures written to be invalid (golden cases show their diagnostics). */
const INVALID = new Set(["fixtures/templates/bad.conf", "fixtures/templates/gate.conf"]);
/** Fixtures that need the test node config for their {node.*} references. */
const NODE_CONF = new Set(["fixtures/templates/node-refs.conf"]);

describe("validate every shipped template", () => {
  const templates = [...list("examples"), ...list("fixtures/templates"), ...list("fixtures/seed")];
  it("finds the examples and fixtures", () => {
    expect(templates.filter((t) => t.startsWith("examples/")).length).toBeGreaterThanOrEqual(4);
    for (const t of INVALID) expect(templates).toContain(t);
  });
  for (const t of templates) {
    it(t, () => {
      const strict = t.startsWith("examples/") ? ["--strict"] : [];
      const nodeConf = NODE_CONF.has(t) ? ["--node-config", "fixtures/nodes/node.conf"] : [];
      const r = runCli(["validate", t, ...strict, ...nodeConf]);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
      if (INVALID.has(t)) {
        expect(r.code).toBe(1);
        expect(r.stderr).toMatch(new RegExp(`^${t.replace(/[.]/g, "\\.")}:\\d+:\\d+: error E\\d{4}`, "m"));
      } else {
        expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.not.stringMatching(/error/) });
        expect(r.stdout).toContain("valid");
      }
    });
  }
});
