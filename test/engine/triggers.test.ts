// Triggers around actions: blocking_pre_* aborts the action, pre_* only warns, post_* runs after;
// as upstream, a command holding shell operators as written runs through /bin/sh -c; a value
// substituted into it that holds shell syntax is refused at validation (E2028).
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

  it("runs a trigger holding shell operators through /bin/sh, as upstream", () => {
    const dir = makeTempDir("osvc-trig-");
    const conf = path.join(dir, "t.conf");
    const name = `trig2${process.pid}`;
    writeFileSync(conf, `[fs#0]\ntype = directory\npath = ${dir}/a\nblocking_pre_provision = touch ${dir}/x && touch ${dir}/y; false || touch ${dir}/z\n`);
    const r = runCli(["apply", conf, "--root", path.join(dir, "root"), "--path", name, "--auto-approve"]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (const f of ["x", "y", "z", "a"]) expect(existsSync(path.join(dir, f)), f).toBe(true);
    expect(runCli(["destroy", name, "--root", path.join(dir, "root"), "--auto-approve"]).code).toBe(0);
  });

  it("refuses a substituted value that would add shell syntax, at validation, at the reference", () => {
    const dir = makeTempDir("osvc-trig-");
    const conf = path.join(dir, "t.conf");
    writeFileSync(conf, `[env]\nf = x\n[fs#0]\ntype = directory\npath = ${dir}/a\nblocking_pre_provision = touch ${dir}/{env.f}\n`);
    const r = runCli(["apply", conf, "--root", path.join(dir, "root"), "--path", `trig3${process.pid}`, "--auto-approve", "--env", `f=x; touch ${dir}/pwned`]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/t\.conf:6:\d+: error E2028: a substituted value would add shell syntax to a command/);
    expect(r.stderr).toMatch(/\{env\.f\} is "x; touch/);
    expect(existsSync(path.join(dir, "pwned"))).toBe(false);
    expect(existsSync(path.join(dir, "a"))).toBe(false); // nothing was applied
  });
});
