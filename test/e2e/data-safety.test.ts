// How it works: the test makes its own ext4 loop image holding a file (truncate, losetup, mkfs.ext4, mount, write, umount), then points templates at it: xfs must be refused naming the ext4 with the file intact, ext4 must be adopted without mkfs, and destroy must keep the image osvc did not create.
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { blkidType, sh } from "../helpers/host.js";
import { actionMap, loopsBackedBy, mountsUnder, must, sandbox, show, type Sandbox } from "../helpers/e2e.js";

/** A log line of apply running a formatting or wiping command (hints may mention wipefs: not these). */
const RAN_FORMAT = /^INFO +\S+ +(mkfs|mke2fs|wipefs|dd) /m;

const CONTENT = "precious data, not to be formatted\n";

/** An ext4 image at <sandbox>/own.img holding keep.txt, made with plain commands; returns the loop device when left attached. */
function makeExt4Image(sb: Sandbox, keepAttached: boolean): { file: string; dev?: string } {
  const file = sb.at("own.img");
  must("truncate", ["-s", "64M", file]);
  const dev = must("losetup", ["-f", "--show", file]).trim();
  must("mkfs.ext4", ["-q", "-F", dev]);
  const m = sb.at("prep");
  mkdirSync(m);
  must("mount", [dev, m]);
  writeFileSync(path.join(m, "keep.txt"), CONTENT);
  must("umount", [m]);
  rmdirSync(m);
  if (!keepAttached) {
    must("losetup", ["-d", dev]);
    // The kernel defers a detach while someone (udev probing after the umount) still has the device
    // open: wait until the loop is really gone, so osvc starts from a file that is not attached.
    waitUntil(() => loopsBackedBy(file).length === 0, `${dev} to detach from ${file}`);
    return { file };
  }
  return { file, dev };
}

function waitUntil(cond: () => boolean, what: string, timeoutMs = 10_000): void {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    sh("sleep", ["0.05"]);
  }
}

/** Reads keep.txt back through a read-only mount of `dev` (or of the image file through a private loop). */
function readBack(sb: Sandbox, source: { dev?: string; file: string }): string {
  const m = sb.at(`check-${Date.now()}`);
  mkdirSync(m);
  const dev = source.dev ?? must("losetup", ["-f", "--show", "-r", source.file]).trim();
  try {
    expect(blkidType(dev)).toBe("ext4");
    must("mount", ["-o", "ro", dev, m]);
    try {
      return readFileSync(path.join(m, "keep.txt"), "utf8");
    } finally {
      must("umount", [m]);
    }
  } finally {
    rmdirSync(m);
    if (!source.dev) {
      must("losetup", ["-d", dev]);
      waitUntil(() => !loopsBackedBy(source.file).includes(dev), `${dev} to detach`);
    }
  }
}

function template(sb: Sandbox, file: string, type: string): string {
  return sb.write(`${type}.conf`, `[disk#0]\ntype = loop\nfile = ${file}\nsize = 64m\n\n[fs#0]\ntype = ${type}\ndev = {disk#0.exposed_devs[0]}\nmnt = ${sb.at("data")}\n`);
}

describe.concurrent("data safety on a device that already holds ext4", () => {
  it("refuses xfs at plan and at apply (loop already attached), naming the ext4; the file stays intact", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-safety-plan-");
    const name = "e2e-safety-plan";
    const { file, dev } = makeExt4Image(sb, true);
    const tpl = template(sb, file, "xfs");

    const p = await sb.osvc(["plan", tpl, "--path", name, "--detailed-exitcode"]);
    expect(p.code, show(p)).toBe(1);
    expect(p.stderr).toMatch(new RegExp(`error E\\d+: fs#0: device ${dev} holds an? ext4 filesystem; refusing to format it as xfs`));

    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(1);
    expect(a.stderr).toMatch(/holds an? ext4 filesystem; refusing to format it as xfs/);
    expect(a.stdout).not.toMatch(RAN_FORMAT);
    expect(a.stdout).not.toMatch(/^INFO +e2e-safety-plan\.fs#0/m);
    // created without provisioning, its status shows the probe's finding under the resource
    const c = await sb.osvc([name, "create", "--config", tpl]);
    expect(c.code, show(c)).toBe(0);
    const st = await sb.osvc([name, "print", "status"]);
    expect(st.code, show(st)).toBe(0);
    expect(st.stdout).toMatch(new RegExp(`fs#0 .*\\n +error: device ${dev} holds an? ext4 filesystem; refusing to format it as xfs`));

    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(loopsBackedBy(file)).toEqual([dev]);
    expect(readBack(sb, { dev, file })).toBe(CONTENT);
  });

  it("refuses xfs at apply when the image is not attached yet; rollback detaches it and keeps the file intact", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-safety-apply-");
    const name = "e2e-safety-apply";
    const { file } = makeExt4Image(sb, false);
    const tpl = template(sb, file, "xfs");

    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(1);
    expect(a.stdout).toMatch(/^ERROR +e2e-safety-apply\.fs#0 +provision failed .*holds an? ext4 filesystem; refusing to format it as xfs/m);
    expect(a.stdout).not.toMatch(RAN_FORMAT);

    // rollback stopped what this run attached, and never deleted the image it did not create
    expect(loopsBackedBy(file), a.stdout).toEqual([]);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(existsSync(file)).toBe(true);
    expect(readBack(sb, { file })).toBe(CONTENT);
  });

  it("adopts it for ext4 without formatting; destroy keeps the image osvc did not create", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-safety-adopt-");
    const name = "e2e-safety-adopt";
    const { file } = makeExt4Image(sb, false);
    const tpl = template(sb, file, "ext4");
    const mnt = sb.at("data");

    const p = await sb.planJson(tpl, ["--path", name]);
    expect(p.code, p.stderr).toBe(0);
    expect(actionMap(p.plan)["disk#0"]).toBe("adopt");

    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(0);
    expect(a.stdout).not.toMatch(RAN_FORMAT);
    expect(a.stdout).toMatch(/disk#0 +adopted \(/);
    expect(a.stdout).not.toMatch(/created sparse file/);
    const devs = loopsBackedBy(file);
    expect(devs).toHaveLength(1);
    expect(mountsUnder(sb.dir)).toEqual([mnt]);
    expect(readFileSync(path.join(mnt, "keep.txt"), "utf8")).toBe(CONTENT);

    const again = await sb.osvc(["plan", tpl, "--path", name, "--detailed-exitcode"]);
    expect(again.code, show(again)).toBe(0);

    const d = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(d.code, show(d)).toBe(0);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(loopsBackedBy(file)).toEqual([]);
    expect(sb.state(name)!.resources).toEqual({});
    // osvc did not create the image: it must still be there, with its data
    expect(existsSync(file), `destroy deleted ${file}, which osvc adopted and did not create\n${d.stdout}`).toBe(true);
    expect(readBack(sb, { file })).toBe(CONTENT);
  });
});
