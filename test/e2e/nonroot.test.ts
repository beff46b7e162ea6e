// Not root: commands that act on the host (or probe it to decide) say so at once, before any plan;
// read-only commands keep working; a probe that fails (blkid: permission denied) is an error,
// never "no signature" (which led a non-root plan to `+ fs#0` over an ext4 device, then mkfs).
import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fsProviders, parseBlkid } from "../../providers/fs/provider.js";
import { createExec } from "../../src/provider/exec.js";
import { BIN, ROOT } from "../helpers/cli.js";
import { must } from "../helpers/e2e.js";
import { blkidType, cleanup, makeTempDir, probeOne, res, sh } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

const NOBODY = ["--reuid=65534", "--regid=65534", "--clear-groups"];

/** Runs the CLI as nobody (HOME in the temp dir, so no default node config of root is read). */
function asNobody(args: readonly string[], home: string): { code: number; stdout: string; stderr: string } {
  const r = spawnSync("setpriv", [...NOBODY, process.execPath, BIN, ...args], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, HOME: home, NO_COLOR: "1", FORCE_COLOR: undefined, OSVC_ROOT: undefined },
    timeout: 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** An ext4 filesystem on a loop device the test attaches (as root). */
function ext4Loop(dir: string): string {
  const img = path.join(dir, "data.img");
  must("truncate", ["-s", "32m", img]);
  must("mkfs.ext4", ["-q", img]);
  return must("losetup", ["-f", "--show", img]).trim();
}

describe("as a non-root user", () => {
  it("plan, apply, destroy and provision say at once that they need root; nothing is formatted", () => {
    const dir = makeTempDir("osvc-nonroot-");
    chmodSync(dir, 0o755);
    const dev = ext4Loop(dir);
    const conf = path.join(dir, "t.conf");
    writeFileSync(conf, `[fs#0]\ntype = xfs\ndev = ${dev}\nmnt = ${dir}/m\n`);
    const root = path.join(dir, "root");
    for (const args of [
      ["plan", conf, "--root", root],
      ["apply", conf, "--root", root, "--auto-approve"],
      ["destroy", "t", "--root", root, "--auto-approve"],
      ["t", "provision", "--root", root],
      ["t", "stop", "--root", root],
    ]) {
      const r = asNobody(args, dir);
      expect(r.code, `${args.join(" ")}\n${r.stdout}\n${r.stderr}`).toBe(1);
      expect(r.stderr).toMatch(/needs root \(or CAP_SYS_ADMIN\).*this is uid 65534/);
      expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(r.stdout).not.toMatch(/fs#0/); // said before any plan
    }
    expect(blkidType(dev)).toBe("ext4");
    expect(sh("losetup", ["-d", dev]).rc).toBe(0);
  });

  it("validate, render, keywords and plan --refresh false work without root", () => {
    const dir = makeTempDir("osvc-nonroot-ro-");
    chmodSync(dir, 0o755);
    const conf = path.join(dir, "t.conf");
    writeFileSync(conf, `[fs#0]\ntype = directory\npath = ${dir}/x\n`);
    const root = path.join(dir, "root");
    for (const args of [["validate", conf], ["render", conf], ["keywords", "fs.xfs"], ["plan", conf, "--root", root, "--refresh", "false"]]) {
      const r = asNobody(args, dir);
      expect(r.code, `${args.join(" ")}\n${r.stdout}\n${r.stderr}`).toBe(0);
    }
    expect(asNobody(["plan", conf, "--root", root, "--refresh", "false"], dir).stdout).toMatch(/\+ fs#0/);
  });

  it("a blkid that cannot read the device is a probe error, never 'no signature'", async () => {
    expect(parseBlkid(2, "", "blkid: error: /dev/loop9: Permission denied\n")).toEqual({ kind: "error", message: "blkid: error: /dev/loop9: Permission denied" });
    expect(parseBlkid(2, "", "")).toEqual({ kind: "none" });
    const dir = makeTempDir("osvc-nonroot-probe-");
    const dev = ext4Loop(dir);
    try {
      // The real provider, its commands run as nobody (as a non-root osvc would run them).
      const real = createExec();
      const exec: typeof real = (file, args, opts) => real("setpriv", [...NOBODY, file, ...args], opts);
      const xfs = fsProviders.find((p) => p.type === "fs.xfs")!;
      const o = await probeOne(xfs, { exec, objectName: "t", nodename: "n", varDir: dir }, res("fs#0", "fs.xfs", { dev, mnt: `${dir}/m` }));
      expect(o.problems?.some((p) => p.level === "error" && /Permission denied/.test(p.message)), JSON.stringify(o)).toBe(true);
      expect(o.provisioned).toBe(false);
    } finally {
      sh("losetup", ["-d", dev]);
    }
  });
});
