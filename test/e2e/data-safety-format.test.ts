// How it works: each test makes its own files under a sandbox (a loop backing file holding data but
// no filesystem signature, a blank "other" image, a directory osvc creates and a user then fills),
// runs the CLI against them, and checks the bytes, signatures (blkid) and files independently.
// Regressions of issue 7 item 1: mkfs over data without a signature, mkfs_opt words reaching mkfs as
// operands, destroy of fs.directory deleting files the user added.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, openSync, closeSync, readFileSync, writeSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { blkidType, sh } from "../helpers/host.js";
import { ROOT } from "../helpers/cli.js";
import { parseBlkid } from "../../providers/fs/provider.js";
import { loopsBackedBy, mountsUnder, must, runCliAsync, sandbox, show, type Sandbox } from "../helpers/e2e.js";

/** A log line of apply running a formatting command. */
const RAN_FORMAT = /^INFO +\S+ +(mkfs|mke2fs)/m;
const MiB = 1024 * 1024;

/** A 64 MiB sparse file with data and no signature: a text at offset 0 and a block at 40 MiB. */
function dataImage(sb: Sandbox, name = "data.img"): { file: string; sum: () => string } {
  const file = sb.at(name);
  must("truncate", ["-s", "64M", file]);
  const fd = openSync(file, "r+");
  try {
    writeSync(fd, Buffer.from("precious records, no filesystem here\n"), 0, undefined, 0);
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, 40 * MiB);
  } finally {
    closeSync(fd);
  }
  expect(blkidType(file)).toBeUndefined();
  const sum = () => createHash("sha256").update(readFileSync(file)).digest("hex");
  return { file, sum };
}

function template(sb: Sandbox, file: string, extra = ""): string {
  return sb.write("fs.conf", `[disk#0]\ntype = loop\nfile = ${file}\nsize = 64m\n\n[fs#0]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = ${sb.at("data")}\n${extra}`);
}

describe.concurrent("mkfs never runs over data", () => {
  it("refuses at plan and at apply an existing backing file with data but no signature (not attached: known after apply)", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-fmt-plan-");
    const name = "e2e-fmt-plan";
    const { file, sum } = dataImage(sb);
    const before = sum();
    const tpl = template(sb, file);

    const p = await sb.osvc(["plan", tpl, "--path", name]);
    expect(p.code, show(p)).toBe(1);
    expect(p.stderr).toMatch(/error E3010: fs#0: refusing to format the device of disk#0 \(.*data\.img, known after apply\), which holds data/);
    expect(p.stdout).toMatch(/! will FORMAT the device of disk#0 .*: no filesystem signature, but data: a non-zero byte at offset 0/);
    expect(p.stdout).toMatch(/refused: .*; pass --allow-format fs#0 to allow it/);
    expect(p.stdout).toMatch(/DESTRUCTIVE: fs#0 will FORMAT the device of disk#0 .* \(refused\)/);
    const j = await sb.planJson(tpl, ["--path", name]);
    const fs0 = j.plan.resource_changes.find((c) => c.rid === "fs#0") as unknown as { destroys?: { kind: string; refused?: string } };
    expect(fs0.destroys?.kind).toBe("format");
    expect(fs0.destroys?.refused).toMatch(/data/);

    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(1);
    expect(a.stdout).not.toMatch(RAN_FORMAT);
    expect(loopsBackedBy(file)).toEqual([]);
    expect(sum()).toBe(before);

    // the OpenSVC surface: provision refuses the same way, provision --allow-format <rid> formats
    const c = await sb.osvc([name, "create", "--config", tpl]);
    expect(c.code, show(c)).toBe(0);
    const pv = await sb.osvc([name, "provision"]);
    expect(pv.code, show(pv)).toBe(1);
    expect(pv.stderr).toMatch(/error E3010: fs#0: refusing to format/);
    expect(pv.stdout).not.toMatch(RAN_FORMAT);
    expect(sum()).toBe(before);
    const ok = await sb.osvc([name, "provision", "--allow-format", "fs#0"]);
    expect(ok.code, show(ok)).toBe(0);
    expect(blkidType(loopsBackedBy(file)[0])).toBe("ext4");
    const pg = await sb.osvc([name, "purge"]);
    expect(pg.code, show(pg)).toBe(0);
    expect(existsSync(file)).toBe(true);
  });

  it("refuses a device attached by hand holding data; the provider refuses too when data appears after the plan", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-fmt-dev-");
    const name = "e2e-fmt-dev";
    const { file, sum } = dataImage(sb);
    const dev = must("losetup", ["-f", "--show", file]).trim();
    const tpl = sb.write("fs.conf", `[fs#0]\ntype = ext4\ndev = ${dev}\nmnt = ${sb.at("data")}\n`);
    const before = sum();

    const p = await sb.osvc(["plan", tpl, "--path", name]);
    expect(p.code, show(p)).toBe(1);
    expect(p.stdout).toContain(`! will FORMAT ${dev}: no filesystem signature, but data`);
    expect(p.stderr).toContain(`fs#0: refusing to format ${dev}, which holds data`);
    expect(sum()).toBe(before);

    // A plan saved while the device was blank is applied after data appeared on it: mkfs still refused.
    const blank = sb.at("blank.img");
    must("truncate", ["-s", "64M", blank]);
    const bdev = must("losetup", ["-f", "--show", blank]).trim();
    const tpl2 = sb.write("fs2.conf", `[fs#0]\ntype = ext4\ndev = ${bdev}\nmnt = ${sb.at("data2")}\n`);
    const planFile = sb.at("saved.plan");
    const saved = await sb.osvc(["plan", tpl2, "--path", `${name}-2`, "--out", planFile]);
    expect(saved.code, show(saved)).toBe(0);
    expect(saved.stdout).toMatch(new RegExp(`! will FORMAT ${bdev}: no signature, only zeros in the \\d+ regions sampled`));
    const fd = openSync(blank, "r+");
    writeSync(fd, Buffer.from("written after the plan"), 0, undefined, 1000);
    closeSync(fd);
    const a = await sb.osvc(["apply", planFile, "--auto-approve"]);
    expect(a.code, show(a)).toBe(1);
    expect(a.stdout).toMatch(new RegExp(`refusing to format ${bdev} as ext4: it holds no filesystem signature, but data: a non-zero byte at offset 1000`));
    expect(a.stdout).not.toMatch(RAN_FORMAT);
    expect(blkidType(bdev)).toBeUndefined();
    expect(mountsUnder(sb.dir)).toEqual([]);
  });

  it("formats with --allow-format <rid> only, and a disk osvc creates is formatted without it", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-fmt-allow-");
    const name = "e2e-fmt-allow";
    const { file } = dataImage(sb);
    const tpl = template(sb, file);
    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve", "--allow-format", "fs#0"]);
    expect(a.code, show(a)).toBe(0);
    expect(a.stdout).toMatch(/! will FORMAT the device of disk#0/);
    expect(a.stdout).not.toMatch(/refused:/);
    expect(a.stdout).toMatch(/WARNING +e2e-fmt-allow\.fs#0 +formatting \/dev\/loop\d+, which holds no filesystem signature, but data/);
    expect(blkidType(loopsBackedBy(file)[0])).toBe("ext4");
    const d = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(d.code, show(d)).toBe(0);
    expect(existsSync(file)).toBe(true); // adopted, not created by osvc: kept

    const fresh = sb.at("fresh.img");
    const tpl2 = sb.write("fresh.conf", `[disk#0]\ntype = loop\nfile = ${fresh}\nsize = 32m\n\n[fs#0]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = ${sb.at("m2")}\n`);
    const p = await sb.osvc(["plan", tpl2, "--path", `${name}-2`]);
    expect(p.code, show(p)).toBe(0);
    expect(p.stdout).toContain("! will FORMAT the device of disk#0 (known after apply): created blank by this apply");
    const a2 = await sb.osvc(["apply", tpl2, "--path", `${name}-2`, "--auto-approve"]);
    expect(a2.code, show(a2)).toBe(0);
    expect(blkidType(loopsBackedBy(fresh)[0])).toBe("ext4");
    const d2 = await sb.osvc(["destroy", `${name}-2`, "--auto-approve"]);
    expect(d2.code, show(d2)).toBe(0);
    expect(existsSync(fresh)).toBe(false);
  });
});

describe.concurrent("a disk osvc creates in this run is blank by construction while its file holds no block", () => {
  const fresh = (sb: Sandbox, trigger = "") =>
    sb.write("fresh.conf", `[disk#0]\ntype = loop\nfile = ${sb.at("fresh.img")}\nsize = 32m\n\n[fs#0]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = ${sb.at("m")}\n${trigger}`);

  it("formats it without sampling, and says why it is blank", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-fmt-fresh-");
    const name = "e2e-fmt-fresh";
    const a = await sb.osvc(["apply", fresh(sb), "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(0);
    expect(a.stdout).toMatch(/formatted \/dev\/loop\d+ as ext4 \(blank: no block written: osvc created \S+fresh\.img sparse in this run and it holds no allocated block \(32 MiB\)\)/);
    expect(a.stdout).not.toMatch(/INFO +\S+ +(blkid -p|blockdev --flushbufs)/); // all zeros: no signature to look for
    expect(blkidType(loopsBackedBy(sb.at("fresh.img"))[0])).toBe("ext4");
    const d = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(d.code, show(d)).toBe(0);
    expect(existsSync(sb.at("fresh.img"))).toBe(false);
  });

  it("refuses it when a process still holding the device open wrote to it (its buffers are synced before the look)", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-fmt-fresh-held-");
    const name = "e2e-fmt-fresh-held";
    const src = sb.write("block", "Z".repeat(4096));
    // dd writes through fd 3 and exits; a sleep keeps the device open for a second, so that close is
    // not the device's last one (which would write its buffers out by itself).
    const trigger = `blocking_pre_provision = /bin/sh -c "exec 3<>{disk#0.exposed_devs[0]}; sleep 1 <&3 & dd if=${src} bs=4096 seek=100 count=1 conv=notrunc status=none >&3"\n`;
    const a = await sb.osvc(["apply", fresh(sb, trigger), "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(1);
    expect(a.stdout).toMatch(/refusing to format \/dev\/loop\d+ as ext4: it holds no filesystem signature, but data: a non-zero byte at offset 409600/);
    expect(a.stdout).not.toMatch(RAN_FORMAT);
    expect(mountsUnder(sb.dir)).toEqual([]);
  });

  for (const via of ["file", "device"] as const) {
    it(`refuses it once data was written to it through the ${via} in the same run (a pre_provision trigger)`, async (ctx) => {
      const sb = sandbox(ctx, `osvc-e2e-fmt-fresh-${via}-`);
      const name = `e2e-fmt-fresh-${via}`;
      const src = sb.write("block", "Z".repeat(4096));
      const target = via === "file" ? sb.at("fresh.img") : "{disk#0.exposed_devs[0]}";
      const tpl = fresh(sb, `blocking_pre_provision = dd if=${src} of=${target} bs=4096 seek=100 count=1 conv=notrunc status=none\n`);
      const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
      expect(a.code, show(a)).toBe(1);
      expect(a.stdout).toMatch(/refusing to format \/dev\/loop\d+ as ext4: it holds no filesystem signature, but data: a non-zero byte at offset 409600/);
      expect(a.stdout).not.toMatch(RAN_FORMAT);
      expect(mountsUnder(sb.dir)).toEqual([]);
      expect(loopsBackedBy(sb.at("fresh.img"))).toEqual([]); // rolled back: detached (and the file osvc created deleted)
    });
  }
});

describe("a device that cannot be read is an error, never blank", () => {
  it("blkid's Permission denied (exit 2) and a sample read refused (EACCES) are errors for a non-root user", (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-fmt-eacces-");
    const file = sb.at("d.img");
    must("truncate", ["-s", "32M", file]);
    const dev = must("losetup", ["-f", "--show", file]).trim();
    const asNobody = (cmd: string, args: string[]) => sh("setpriv", ["--reuid", "65534", "--regid", "65534", "--clear-groups", cmd, ...args]);
    const b = asNobody("blkid", ["-p", "-o", "export", dev]);
    expect(b.rc).toBe(2);
    expect(parseBlkid(b.rc, b.stdout, b.stderr)).toEqual({ kind: "error", message: expect.stringMatching(/Permission denied/) });
    const script = `import(${JSON.stringify(path.join(ROOT, "dist/src/provider/content.js"))}).then((m) => m.sampleBlank(${JSON.stringify(dev)})).then((r) => console.log("BLANK", JSON.stringify(r)), (e) => console.log("ERROR", e.message))`;
    const n = asNobody(process.execPath, ["-e", script]);
    expect(n.stdout).toMatch(new RegExp(`^ERROR cannot read ${dev} to check that it is blank: EACCES`));
  });
});

describe.concurrent("template values add options, never operands", () => {
  it("mkfs_opt naming another file is refused at validate (file:line:col) and at apply; the other file is untouched", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-mkfsopt-");
    const name = "e2e-mkfsopt";
    const other = sb.at("other.img");
    must("truncate", ["-s", "128M", other]);
    const img = sb.at("d.img");
    const tpl = sb.write(
      "b.conf",
      `[disk#0]\ntype = loop\nfile = ${img}\nsize = 128m\n\n[fs#0]\ntype = btrfs\ndev = {disk#0.exposed_devs[0]}\nmnt = ${sb.at("m")}\nmkfs_opt = ${other}\n\n[container#0]\ntype = podman\nimage = --help\n`,
    );
    const v = await runCliAsync(["validate", tpl]);
    expect(v.code, show(v)).toBe(1);
    expect(v.stderr).toContain(`${tpl}:10:12: error E2040: invalid value for mkfs_opt`);
    expect(v.stderr).toContain(`"${other}" is not an option of mkfs.btrfs: it would reach mkfs.btrfs as an operand`);
    expect(v.stderr).toContain(`${tpl}:14:9: error E2040: invalid value for image`);

    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(1);
    expect(blkidType(other)).toBeUndefined();
    expect(existsSync(img)).toBe(false);
  });

  it("a deferred mkfs_opt operand is refused by the provider before mkfs runs", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-mkfsdef-");
    const name = "e2e-mkfsdef";
    const tpl = sb.write(
      "b.conf",
      `[disk#0]\ntype = loop\nfile = ${sb.at("a.img")}\nsize = 128m\n\n[disk#1]\ntype = loop\nfile = ${sb.at("b.img")}\nsize = 128m\n\n[fs#0]\ntype = btrfs\ndev = {disk#0.exposed_devs[0]}\nmnt = ${sb.at("m")}\nmkfs_opt = -L x {disk#1.exposed_devs[0]}\n`,
    );
    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(1);
    expect(a.stdout).toMatch(/fs#0 +provision failed.*mkfs_opt: "\/dev\/loop\d+" is not an option of mkfs.btrfs/);
    expect(a.stdout).not.toMatch(RAN_FORMAT);
    expect(loopsBackedBy(sb.at("a.img"))).toEqual([]);
  });
});

describe.concurrent("destroy of fs.directory never deletes files the user added", () => {
  it("the destroy plan says what it would delete, keeps it without --allow-destroy, deletes it with; empty trees go", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-dirdata-");
    const name = "e2e-dirdata";
    const dir = sb.at("srv/www");
    const empty = sb.at("srv/empty");
    const tpl = sb.write("d.conf", `[fs#0]\ntype = directory\npath = ${dir}\n\n[fs#1]\ntype = directory\npath = ${empty}\n`);
    const addFiles = () => {
      mkdirSync(path.join(dir, "sub"));
      writeFileSync(path.join(dir, "index.html"), "<h1>user content</h1>\n");
      writeFileSync(path.join(dir, "sub", "upload.bin"), Buffer.alloc(5000, 1));
    };
    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(0);
    addFiles();
    mkdirSync(path.join(empty, "a", "b"), { recursive: true });

    const d = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(d.code, show(d)).toBe(0);
    expect(d.stdout).toContain(`! will KEEP ${dir}: it holds 2 files (4.9 KiB) in 1 subdirectory osvc did not create; pass --allow-destroy fs#0 to delete them`);
    expect(d.stdout).toMatch(/WARNING +e2e-dirdata\.fs#0 +directory .*www kept: it holds 2 files/);
    expect(readFileSync(path.join(dir, "index.html"), "utf8")).toBe("<h1>user content</h1>\n");
    expect(existsSync(path.join(dir, "sub", "upload.bin"))).toBe(true);
    expect(existsSync(empty)).toBe(false); // only empty directories: osvc's own, removed
    expect(sb.state(name)!.resources).toEqual({});

    // with consent: the plan says DELETE, and it goes
    const dir2 = sb.at("srv2/www");
    const tpl2 = sb.write("d2.conf", `[fs#0]\ntype = directory\npath = ${dir2}\n`);
    const a2 = await sb.osvc(["apply", tpl2, "--path", `${name}-2`, "--auto-approve"]);
    expect(a2.code, show(a2)).toBe(0);
    writeFileSync(path.join(dir2, "f"), "x");
    const ok = await sb.osvc(["destroy", `${name}-2`, "--auto-approve", "--allow-destroy", "fs#0"]);
    expect(ok.code, show(ok)).toBe(0);
    expect(ok.stdout).toContain(`! will DELETE ${dir2}: 1 file (1 bytes)`);
    expect(ok.stdout).toMatch(/DESTRUCTIVE: fs#0 will DELETE/);
    expect(ok.stdout).toMatch(/WARNING +e2e-dirdata-2\.fs#0 +deleting .*www with the 1 file/);
    expect(existsSync(dir2)).toBe(false);
  });
});
