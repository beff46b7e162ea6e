// Triggers around actions: blocking_pre_* aborts the action, pre_* only warns, post_* runs after;
// commands run without a shell (shell operators are refused, `sh -c` is the explicit way).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { cleanup, makeTempDir } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

describe("triggers", () => {
  it("run around provision, with environment; blocking failures abort, others warn", () => {
    const dir = makeTempDir("osvc-trig-");
    const conf = path.join(dir, "t.conf");
    const root = ["--root", path.join(dir, "root"), "--path", `trig${process.pid}`];
    writeFileSync(
      conf,
      `[fs#0]
type = directory
path = ${dir}/a
pre_provision = false
post_provision = sh -c 'echo "$OSVC_RID $OSVC_ACTION" > ${dir}/post.txt'

[fs#1]
type = directory
path = ${dir}/b
blocking_pre_provision = false
`,
    );
    const r = runCli(["apply", conf, ...root, "--auto-approve", "--disable-rollback"]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/fs#0\s+pre_provision failed \(exit 1\)/);
    expect(readFileSync(path.join(dir, "post.txt"), "utf8")).toBe("fs#0 provision\n");
    expect(existsSync(path.join(dir, "a"))).toBe(true);
    expect(r.stdout).toMatch(/fs#1\s+provision failed.*blocking_pre_provision failed/);
    expect(existsSync(path.join(dir, "b"))).toBe(false);
    expect(runCli(["destroy", `trig${process.pid}`, "--root", path.join(dir, "root"), "--auto-approve"]).code).toBe(0);
  });

  it("refuses shell operators without an explicit shell, at validation", () => {
    const dir = makeTempDir("osvc-trig-");
    const conf = path.join(dir, "t.conf");
    writeFileSync(conf, `[fs#0]\ntype = directory\npath = ${dir}/a\nblocking_pre_provision = touch ${dir}/x && touch ${dir}/y\n`);
    const r = runCli(["apply", conf, "--root", path.join(dir, "root"), "--path", `trig2${process.pid}`, "--auto-approve"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/t\.conf:4:\d+: error E2028: shell operators need an explicit shell/);
    expect(r.stderr).toMatch(/sh -c 'touch/);
    expect(existsSync(path.join(dir, "x"))).toBe(false);
    expect(existsSync(path.join(dir, "a"))).toBe(false); // nothing was applied
  });
});
