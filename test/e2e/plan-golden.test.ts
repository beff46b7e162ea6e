// How it works: each fixtures/plan/<case>/ holds the templates (applied.conf is applied first, template.conf is planned) under a fixed /tmp/osvc-golden-<case>/; the test sets the host up, runs `plan` (text and --json, NO_COLOR, --node golden-node) and compares the scrubbed outputs with plan.txt and plan.json (UPDATE_GOLDEN=1 rewrites them).
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";
import { golden } from "../helpers/golden.js";
import { forceCleanup } from "../helpers/host.js";
import { cleanAfter, must, runCliAsync, show } from "../helpers/e2e.js";

const FIXTURES = join(ROOT, "fixtures/plan");
const NODE = "golden-node";

/** Replaces what varies between runs: loop device numbers, lineage, template hash, osvc version. */
function scrub(s: string): string {
  return s
    .replace(/\/dev\/loop\d+/g, "/dev/loopX")
    .replace(/"lineage": "[0-9a-f-]{36}"/g, '"lineage": "<lineage>"')
    .replace(/"template_hash": "[0-9a-f]+"/g, '"template_hash": "<template-hash>"')
    .replace(/"osvc_version": "[^"]*"/g, '"osvc_version": "<version>"');
}

interface Case {
  name: string;
  /** Extra plan arguments. */
  args?: string[];
  /** Host changes made by the test between the apply and the plan. */
  host?: (dir: string) => void;
  /** Before anything: host state that exists before the first apply. */
  pre?: (dir: string) => void;
  exit: number;
  /** Expected stderr (plan diagnostics); empty when absent. */
  stderr?: RegExp;
  /** Structural expectations on the JSON plan, checked before the golden comparison. */
  actions: Record<string, string>;
}

const cases: Case[] = [
  { name: "provision", exit: 0, actions: { "disk#0": "provision", "fs#0": "provision", "fs#1": "provision" } },
  { name: "noop", exit: 0, actions: { "disk#0": "noop", "fs#0": "noop", "fs#1": "noop" } },
  { name: "update", exit: 0, actions: { "disk#0": "noop", "fs#0": "update", "fs#1": "update" } },
  {
    name: "replace-refused",
    exit: 1,
    stderr: /error E3002: disk#0 must be replaced, which destroys its data[\s\S]*--allow-replace disk#0/,
    actions: { "disk#0": "replace" },
  },
  { name: "replace-allowed", args: ["--allow-replace", "disk#0"], exit: 0, actions: { "disk#0": "replace" } },
  { name: "unprovision", exit: 0, actions: { "fs#1": "unprovision", "disk#0": "noop", "fs#0": "noop" } },
  { name: "start", host: (dir) => must("umount", [join(dir, "data")]), exit: 0, actions: { "disk#0": "noop", "fs#0": "start" } },
  {
    name: "adopt",
    pre: (dir) => {
      mkdirSync(join(dir, "existing"));
      chmodSync(join(dir, "existing"), 0o700);
    },
    exit: 0,
    actions: { "fs#0": "adopt", "fs#1": "provision" },
  },
  // two nodes, not --leader: the shared disk is only recorded here (the leader creates it)
  { name: "follow", exit: 0, actions: { "disk#0": "follow", "fs#0": "provision" } },
  { name: "target", args: ["--target", "fs#0"], exit: 0, actions: { "disk#0": "provision", "fs#0": "provision" } },
  // fs#1 (a directory on fs#0's mount) depends on fs#0: --exclude leaves it out too
  { name: "exclude", args: ["--exclude", "fs#0"], exit: 0, actions: { "disk#0": "provision", "disk#1": "provision" } },
  // refresh off: the plan trusts the recorded state (fs#0 is recorded up, though unmounted by hand): only the mnt_opt diff
  {
    name: "refresh-false",
    args: ["--refresh", "false"],
    host: (dir) => must("umount", [join(dir, "data")]),
    exit: 0,
    actions: { "disk#0": "noop", "fs#0": "update" },
  },
];

// Each case has its own fixed directory: they run concurrently.
describe.concurrent("golden plan outputs", () => {
  it("covers every action", () => {
    const covered = new Set(cases.flatMap((c) => Object.values(c.actions)));
    for (const a of ["provision", "update", "replace", "unprovision", "start", "adopt", "follow", "noop"]) expect(covered).toContain(a);
  });

  for (const c of cases) {
    it(c.name, async (ctx) => {
      const fx = join(FIXTURES, c.name);
      const dir = `/tmp/osvc-golden-${c.name}`;
      // a previous run that crashed may have left it: clean it first, and always after
      expect(forceCleanup([dir])).toEqual([]);
      mkdirSync(dir);
      cleanAfter(ctx, dir);
      const root = join(dir, "state");
      const conf = join(dir, "svc.conf");
      const common = ["--path", `golden-${c.name}`, "--node", NODE, "--root", root];
      c.pre?.(dir);
      if (existsSync(join(fx, "applied.conf"))) {
        writeFileSync(conf, readFileSync(join(fx, "applied.conf"), "utf8"));
        const a = await runCliAsync(["apply", conf, ...common, "--auto-approve"]);
        expect(a.code, show(a)).toBe(0);
      }
      c.host?.(dir);
      writeFileSync(conf, readFileSync(join(fx, "template.conf"), "utf8"));

      // text and JSON plans are read-only: run both at once
      const [j, t] = await Promise.all([runCliAsync(["plan", conf, ...common, "--json", ...(c.args ?? [])]), runCliAsync(["plan", conf, ...common, ...(c.args ?? [])])]);
      expect(j.code, show(j)).toBe(c.exit);
      const plan = JSON.parse(j.stdout) as { resource_changes: { rid: string; action: string }[] };
      expect(Object.fromEntries(plan.resource_changes.map((x) => [x.rid, x.action]))).toEqual(c.actions);

      expect(t.code, show(t)).toBe(c.exit);
      if (c.stderr) expect(t.stderr).toMatch(c.stderr);
      else expect(t.stderr).toBe("");

      golden(join(fx, "plan.txt"), scrub(t.stdout));
      golden(join(fx, "plan.json"), scrub(j.stdout));
    });
  }
});
