// Replacing a disk (--allow-replace) replaces what stands on it: the filesystem comes down first,
// the disk is re-created, then the filesystem is created again on the new device.
import { writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { cleanup, findmnt, loopsOf, makeTempDir, sh } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

const tpl = (dir: string, size: string) => `[disk#0]
type = loop
file = ${dir}/d.img
size = ${size}

[fs#0]
type = ext4
dev = {disk#0.exposed_devs[0]}
mnt = ${dir}/m
`;

describe("replace", () => {
  it("cascades to the filesystem on a replaced disk, in the right order", () => {
    const dir = makeTempDir("osvc-replace-");
    const conf = path.join(dir, "r.conf");
    const args = ["--root", path.join(dir, "root"), "--path", `rep${process.pid}`];
    writeFileSync(conf, tpl(dir, "64m"));
    expect(runCli(["apply", conf, ...args, "--auto-approve"]).code).toBe(0);
    writeFileSync(conf, tpl(dir, "96m"));
    const refused = runCli(["plan", conf, ...args]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/E3002/);
    const plan = runCli(["plan", conf, ...args, "--allow-replace", "disk#0", "--json"]);
    expect(plan.code, plan.stderr).toBe(0);
    const actions = (JSON.parse(plan.stdout) as { resource_changes: { rid: string; action: string; reason: string }[] }).resource_changes.map((c) => `${c.rid}:${c.action}`);
    expect(actions).toEqual(["disk#0:replace", "fs#0:replace"]);
    const a = runCli(["apply", conf, ...args, "--allow-replace", "disk#0", "--auto-approve"]);
    expect(a.code, a.stderr + a.stdout).toBe(0);
    // fs#0 went down before disk#0, and came back after it.
    const order = a.stdout.split("\n").filter((l) => /replace \((removed|)|replaced/.test(l)).map((l) => l.replace(/\s+/g, " "));
    expect(order.findIndex((l) => l.includes("fs#0") && l.includes("removed"))).toBeLessThan(order.findIndex((l) => l.includes("disk#0") && l.includes("removed")));
    const devs = loopsOf(path.join(dir, "d.img"));
    expect(devs).toHaveLength(1);
    expect(sh("blockdev", ["--getsize64", devs[0]]).stdout.trim()).toBe(String(96 * 1024 * 1024));
    expect(findmnt(path.join(dir, "m"))).toBeTruthy();
    expect(runCli(["plan", conf, ...args, "--detailed-exitcode"]).code).toBe(0);
    expect(runCli(["destroy", `rep${process.pid}`, "--root", path.join(dir, "root"), "--auto-approve"]).code).toBe(0);
  });

  it("the filesystem on a replaced disk is made on the new loop device, not the one recorded at plan time", () => {
    const dir = makeTempDir("osvc-replace-dev-");
    const conf = path.join(dir, "r.conf");
    const args = ["--root", path.join(dir, "root"), "--path", `repd${process.pid}`];
    // A loop device held during the first apply and released before the replace: the new disk
    // gets a lower device number than the old one (other processes may take devices meanwhile:
    // up to 3 tries to get that situation).
    writeFileSync(path.join(dir, "hold.img"), Buffer.alloc(1024 * 1024));
    const num = (dev: string) => Number(/(\d+)$/.exec(dev)?.[1] ?? -1);
    let before: string[] = [];
    for (let i = 0; i < 3; i++) {
      const hold = sh("losetup", ["-f", "--show", path.join(dir, "hold.img")]).stdout.trim();
      writeFileSync(conf, tpl(dir, "64m"));
      expect(runCli(["apply", conf, ...args, "--auto-approve"]).code).toBe(0);
      before = loopsOf(path.join(dir, "d.img"));
      expect(sh("losetup", ["-d", hold]).rc).toBe(0);
      if (num(hold) < num(before[0])) break;
      expect(runCli(["destroy", `repd${process.pid}`, "--root", path.join(dir, "root"), "--auto-approve"]).code).toBe(0);
    }
    writeFileSync(conf, tpl(dir, "96m"));
    const a = runCli(["apply", conf, ...args, "--allow-replace", "disk#0", "--auto-approve"]);
    expect(a.code, a.stderr + a.stdout).toBe(0);
    const after = loopsOf(path.join(dir, "d.img"));
    expect(after).toHaveLength(1);
    expect(findmnt(path.join(dir, "m"))?.source).toBe(after[0]);
    expect(before).not.toEqual(after); // the situation this test is about
    expect(runCli(["destroy", `repd${process.pid}`, "--root", path.join(dir, "root"), "--auto-approve"]).code).toBe(0);
  });
});
