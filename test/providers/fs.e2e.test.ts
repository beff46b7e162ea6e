// fs.ext2/3/4, fs.xfs, fs.btrfs against the real host: mkfs, mount, subvolumes, remount, data safety.
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { diskLoopProvider as Loop } from "../../providers/disk-loop/provider.js";
import { fsProviders, makeFsProvider, mountOptionsSatisfied, parseBlkid, parseFindmnt, remountOptions, subvolOf } from "../../providers/fs/provider.js";
import type { Provider, ResourceSpec } from "../../src/provider/api.js";
import { ProviderError } from "../../src/provider/api.js";
import type { KwValue, Outputs } from "../../src/core/value.js";
import { allMounts, blkidType, cleanup, findmnt, loopsOf, losetupJ, makeTempDir, probeOne, res, sh, testContext } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

const MiB = 1024 * 1024;
const byType = (t: string): Provider => fsProviders.find((p) => p.type === `fs.${t}`)!;

/** An image file attached to a loop device, made with plain commands (not the disk.loop provider). */
function makeLoop(dir: string, name: string, size: number): { file: string; dev: string } {
  const file = path.join(dir, name);
  expect(sh("truncate", ["-s", String(size), file]).rc).toBe(0);
  const r = sh("losetup", ["-f", "--show", file]);
  expect(r.rc).toBe(0);
  return { file, dev: r.stdout.trim() };
}

function rec(r: ResourceSpec, ...outs: Outputs[]): ResourceSpec {
  return res(r.rid, r.driver, { ...r.kw }, Object.assign({}, r.recorded ?? {}, ...outs));
}

function withKw(r: ResourceSpec, kw: Record<string, KwValue>): ResourceSpec {
  return res(r.rid, r.driver, { ...r.kw, ...kw }, r.recorded);
}

async function errorOf(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error("expected a failure");
    },
    (e: unknown) => e as Error,
  );
}

describe("fs helpers", () => {
  it("exports one provider per runnable type", () => {
    expect(fsProviders.map((p) => p.type)).toEqual(["fs.ext2", "fs.ext3", "fs.ext4", "fs.xfs", "fs.btrfs"]);
    for (const p of fsProviders) expect(p.updatable).toEqual(["mnt_opt", "user", "group", "perm"]);
  });
  it("parses findmnt sources with a bracketed fs root", () => {
    const [e] = parseFindmnt(JSON.stringify({ filesystems: [{ target: "/m", source: "/dev/loop2[/data]", fstype: "btrfs", options: "rw,subvol=/data" }] }));
    expect(e).toMatchObject({ dev: "/dev/loop2", fsroot: "/data", target: "/m" });
  });
  it("parses blkid -p -o export", () => {
    expect(parseBlkid(2, "", "")).toEqual({ kind: "none" });
    expect(parseBlkid(0, "DEVNAME=/dev/loop0\nTYPE=xfs\nUSAGE=filesystem\n", "")).toMatchObject({ kind: "fs", type: "xfs" });
    expect(parseBlkid(0, "PTTYPE=dos\n", "")).toMatchObject({ kind: "other", what: "a dos partition table" });
    expect(parseBlkid(8, "", "")).toMatchObject({ kind: "error" });
  });
  it("compares and builds mount options", () => {
    expect(subvolOf("defaults,subvol=/data")).toBe("data");
    expect(mountOptionsSatisfied("defaults", "rw,relatime")).toBe(true);
    expect(mountOptionsSatisfied("defaults,noatime", "rw,relatime")).toBe(false);
    expect(mountOptionsSatisfied("defaults,noatime", "rw,noatime")).toBe(true);
    expect(mountOptionsSatisfied("defaults", "rw,noatime")).toBe(false); // noatime no longer wanted
    expect(mountOptionsSatisfied("defaults,subvol=data", "rw,relatime,space_cache=v2,subvolid=256,subvol=/data")).toBe(true);
    expect(mountOptionsSatisfied("commit=30", "rw,relatime,commit=5")).toBe(false);
    expect(mountOptionsSatisfied("user_xattr", "rw,relatime")).toBe(true);
    expect(remountOptions("defaults", "rw,noatime,nodev")).toBe("remount,dev,relatime");
    expect(remountOptions("defaults,noatime,subvol=data", "rw,relatime")).toBe("remount,noatime");
  });
});

interface Case {
  type: "ext2" | "ext3" | "ext4" | "xfs" | "btrfs";
  size: number;
  mntOpt?: string;
  subvol?: string;
  mkfs: string; // mkfs program expected in the command log
}

const cases: Case[] = [
  { type: "ext4", size: 64 * MiB, mntOpt: "defaults", mkfs: "mkfs.ext4" },
  { type: "ext3", size: 32 * MiB, mkfs: "mkfs.ext3" },
  { type: "ext2", size: 32 * MiB, mkfs: "mkfs.ext2" },
  { type: "xfs", size: 320 * MiB, mntOpt: "defaults", mkfs: "mkfs.xfs" },
  { type: "btrfs", size: 128 * MiB, mntOpt: "defaults,subvol=data", subvol: "data", mkfs: "mkfs.btrfs" },
];

describe.each(cases)("fs.$type on the host", (c) => {
  it("provisions, probes, stops, starts and unprovisions", async () => {
    const P = byType(c.type);
    const dir = makeTempDir();
    const { file, dev } = makeLoop(dir, "disk.img", c.size);
    const mnt = path.join(dir, "srv", "data");
    const ctx = testContext({ varDir: dir });
    const kw: Record<string, KwValue> = { dev, mnt: `${mnt}/`, perm: "0750", ...(c.mntOpt ? { mnt_opt: c.mntOpt } : {}) };
    const r = res("fs#1", `fs.${c.type}`, kw);

    expect(await probeOne(P, ctx, r)).toMatchObject({ provisioned: false, up: false });
    expect((await probeOne(P, ctx, r)).problems).toBeUndefined();

    const out = await P.provision(ctx, r);
    expect(out).toMatchObject({ formatted_by_osvc: true, created_mnt: true });
    expect(ctx.commands.some((cmd) => cmd.startsWith(`${c.mkfs} `))).toBe(true);

    // independent checks
    expect(blkidType(dev)).toBe(c.type);
    const m = findmnt(mnt);
    expect(m).toBeDefined();
    expect(m!.source).toBe(c.subvol ? `${dev}[/${c.subvol}]` : dev);
    expect(m!.fstype).toBe(c.type);
    expect((statSync(mnt).mode & 0o7777).toString(8)).toBe("750");
    if (c.subvol) {
      expect(m!.options).toContain(`subvol=/${c.subvol}`);
      expect(ctx.commands.some((cmd) => /^mount -t btrfs -o subvolid=5 /.test(cmd))).toBe(true);
      expect(ctx.commands.some((cmd) => cmd.startsWith("btrfs subvolume create ") && cmd.endsWith(`/${c.subvol}`))).toBe(true);
      // the temporary top-level mount is gone
      expect(sh("findmnt", ["-n", "-S", dev]).stdout.trim().split("\n")).toHaveLength(1);
    }

    // probe again: provisioned, up, no drift
    const r1 = rec(r, out);
    const o1 = await probeOne(P, ctx, r1);
    expect(o1).toMatchObject({ provisioned: true, up: true });
    expect(o1.problems).toBeUndefined();
    expect(o1.actual).toEqual({ ...(c.mntOpt ? { mnt_opt: c.mntOpt } : {}), perm: "0750" });

    // re-provision is a no-op: no mkfs, no mount, no subvolume creation
    ctx.reset();
    const again = await P.provision(ctx, r1);
    expect(again).toMatchObject({ formatted_by_osvc: true, created_mnt: true });
    expect(ctx.commands.filter((cmd) => /^(mkfs|mount|btrfs subvolume create|chmod|chown)/.test(cmd))).toEqual([]);
    expect(ctx.logs.some((l) => l.message.includes(`already formatted as ${c.type}, adopted`))).toBe(true);

    // write data, stop, start: data survives
    writeFileSync(path.join(mnt, "hello.txt"), "hello");
    await P.stop(ctx, r1);
    expect(findmnt(mnt)).toBeUndefined();
    expect(await probeOne(P, ctx, r1)).toMatchObject({ provisioned: true, up: false });
    await P.stop(ctx, r1); // idempotent
    const s = await P.start(ctx, r1);
    expect(s.created_mnt).toBe(true);
    expect(findmnt(mnt)?.source).toBe(c.subvol ? `${dev}[/${c.subvol}]` : dev);
    expect(readFileSync(path.join(mnt, "hello.txt"), "utf8")).toBe("hello");
    ctx.reset();
    await P.start(ctx, r1); // already mounted: noop
    expect(ctx.commands.filter((cmd) => cmd.startsWith("mount"))).toEqual([]);

    // unprovision: unmounted, mount point removed (created by osvc, empty), filesystem NOT wiped
    await P.unprovision(ctx, r1);
    expect(findmnt(mnt)).toBeUndefined();
    expect(existsSync(mnt)).toBe(false);
    expect(existsSync(path.dirname(mnt))).toBe(false); // the parents osvc made for it go too
    expect(blkidType(dev)).toBe(c.type);
    expect(loopsOf(file)).toEqual([dev]); // the disk is the disk provider's business
    await P.unprovision(ctx, r1); // again: success
  });
});

describe("disk.loop + fs chain", () => {
  it.each([
    { type: "xfs" as const, size: 320 * MiB, mnt_opt: "defaults,noatime" },
    { type: "btrfs" as const, size: 120 * MiB, mnt_opt: "defaults,subvol=data" },
  ])("provisions a loop disk and a $type filesystem on it, then unprovisions both leaving nothing", async (c) => {
    const dir = makeTempDir();
    const file = path.join(dir, "dev", "disk.0.img");
    const mnt = path.join(dir, "srv", "data");
    const ctx = testContext({ varDir: dir });
    const FS = byType(c.type);
    const disk0 = res("disk#0", "disk.loop", { file, size: c.size });
    const diskOut = await Loop.provision(ctx, disk0);
    const dev = (diskOut.exposed_devs as string[])[0];
    const fs0 = res("fs#0", `fs.${c.type}`, { dev, mnt, mnt_opt: c.mnt_opt });
    const fsOut = await FS.provision(ctx, fs0);
    expect(blkidType(dev)).toBe(c.type);
    expect(findmnt(mnt)?.source).toBe(c.type === "btrfs" ? `${dev}[/data]` : dev);
    const disk1 = rec(disk0, diskOut);
    const fs1 = rec(fs0, fsOut);
    expect(await probeOne(Loop, ctx, disk1)).toMatchObject({ provisioned: true, up: true });
    expect(await probeOne(FS, ctx, fs1)).toMatchObject({ provisioned: true, up: true, actual: { mnt_opt: c.mnt_opt } });

    // the disk cannot be stopped under a mounted filesystem
    await expect(Loop.stop(ctx, disk1)).rejects.toThrow(/busy: mounted on/);
    expect(findmnt(mnt)).toBeDefined();

    // unprovision in reverse order
    await FS.unprovision(ctx, fs1);
    await Loop.unprovision(ctx, disk1);
    expect(findmnt(mnt)).toBeUndefined();
    expect(allMounts().some((m) => m.target.startsWith(dir) || m.source.replace(/\[.*\]$/, "") === dev && m.target.startsWith(dir))).toBe(false);
    expect(loopsOf(file)).toEqual([]);
    expect(losetupJ().some((l) => l["back-file"].startsWith(dir))).toBe(false);
    expect(existsSync(file)).toBe(false);
    expect(existsSync(mnt)).toBe(false);
  });
});

describe("fs probe", () => {
  it("is batched: the mount table read once (no findmnt), one blkid for all unmounted devices, none for a mounted or missing one", async () => {
    const P = byType("btrfs");
    const dir = makeTempDir();
    const { dev } = makeLoop(dir, "b.img", 128 * MiB);
    const ctx = testContext({ varDir: dir });
    const rs = [
      res("fs#0", "fs.btrfs", { dev, mnt: path.join(dir, "a"), mnt_opt: "subvol=a" }),
      res("fs#1", "fs.btrfs", { dev, mnt: path.join(dir, "b"), mnt_opt: "subvol=b" }),
      res("fs#2", "fs.btrfs", { dev: path.join(dir, "missing.img"), mnt: path.join(dir, "c") }),
    ];
    await P.provision(ctx, rs[0]);
    await P.provision(ctx, rs[1]);
    expect(findmnt(path.join(dir, "a"))?.source).toBe(`${dev}[/a]`);
    expect(findmnt(path.join(dir, "b"))?.source).toBe(`${dev}[/b]`);
    await P.stop(ctx, rs[1]);
    ctx.reset();
    const obs = await P.probe(ctx, rs);
    expect(obs.map((o) => [o.provisioned, o.up])).toEqual([
      [true, true],
      [true, false],
      [false, false],
    ]);
    expect(obs[2].problems).toBeUndefined(); // a missing device is not an error at probe time
    expect(ctx.commands.filter((cmd) => cmd.startsWith("findmnt"))).toHaveLength(0);
    // dev is mounted (subvolume a) as btrfs: the mount table says what it holds, no blkid
    expect(ctx.commands.filter((cmd) => cmd.startsWith("blkid"))).toEqual([]);

    // several distinct unmounted devices: one blkid (no cache), and the right signature for each
    const other = makeLoop(dir, "c.img", 64 * MiB).dev;
    const third = makeLoop(dir, "d.img", 128 * MiB).dev;
    sh("mkfs.btrfs", ["-q", third]);
    ctx.reset();
    const obs2 = await P.probe(ctx, [rs[0], res("fs#4", "fs.btrfs", { dev: other, mnt: path.join(dir, "e") }), res("fs#5", "fs.btrfs", { dev: third, mnt: path.join(dir, "f") })]);
    expect(obs2.map((o) => o.provisioned)).toEqual([true, false, true]);
    expect(ctx.commands.filter((cmd) => cmd.startsWith("blkid"))).toEqual([`blkid -c /dev/null -o export ${other} ${third}`]);
    // unmounted, the first device is read with blkid again
    await P.stop(ctx, rs[0]);
    ctx.reset();
    expect((await P.probe(ctx, [rs[0]])).map((o) => [o.provisioned, o.up])).toEqual([[true, false]]);
    expect(ctx.commands.filter((cmd) => cmd.startsWith("blkid"))).toEqual([`blkid -p -o export ${dev}`]);
    await P.start(ctx, rs[0]);

    // a subvolume that does not exist, on a mounted filesystem: not provisioned
    const rNew = res("fs#3", "fs.btrfs", { dev, mnt: path.join(dir, "d"), mnt_opt: "subvol=nope" });
    expect(await probeOne(P, ctx, rNew)).toMatchObject({ provisioned: false, up: false });
    await P.stop(ctx, rs[0]);
  });

  it("reports a mount point already used by another device", async () => {
    const P = byType("ext4");
    const dir = makeTempDir();
    const a = makeLoop(dir, "a.img", 32 * MiB);
    const b = makeLoop(dir, "b.img", 32 * MiB);
    const mnt = path.join(dir, "m");
    mkdirSync(mnt);
    expect(sh("mkfs.ext4", ["-q", "-F", b.dev]).rc).toBe(0);
    expect(sh("mount", [b.dev, mnt]).rc).toBe(0);
    const ctx = testContext({ varDir: dir });
    const r = res("fs#0", "fs.ext4", { dev: a.dev, mnt });
    const o = await probeOne(P, ctx, r);
    expect(o.up).toBe(false);
    expect(o.problems?.[0]).toMatchObject({ level: "error" });
    expect(o.problems?.[0].message).toContain(`already a mount point of ${b.dev}`);
    const e = await errorOf(P.provision(ctx, r));
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.message).toContain(`already a mount point of ${b.dev}`);
    await P.stop(ctx, r); // leaves the other device mounted
    expect(findmnt(mnt)?.source).toBe(b.dev);
  });
});

describe("fs update", () => {
  it("remounts with new options (ext4) and changes the mount point mode", async () => {
    const P = byType("ext4");
    const dir = makeTempDir();
    const { dev } = makeLoop(dir, "u.img", 32 * MiB);
    const mnt = path.join(dir, "m");
    const ctx = testContext({ varDir: dir });
    const r0 = res("fs#0", "fs.ext4", { dev, mnt, mnt_opt: "defaults", perm: "0755" });
    const r = rec(r0, await P.provision(ctx, r0));
    expect(findmnt(mnt)!.options.split(",")).not.toContain("noatime");

    const r2 = withKw(r, { mnt_opt: "defaults,noatime", perm: "0700" });
    // drift shows in the probe before the update
    const before = await probeOne(P, ctx, r2);
    expect(before.actual?.mnt_opt).toBe(findmnt(mnt)!.options);
    expect(before.actual?.perm).toBe("0755");
    ctx.reset();
    await P.update!(ctx, r2, r);
    expect(ctx.commands).toContain(`mount --options-source disable -o remount,noatime ${mnt}`);
    expect(ctx.commands.filter((cmd) => cmd.startsWith("mkfs") || cmd.startsWith("umount"))).toEqual([]);
    expect(findmnt(mnt)!.options.split(",")).toContain("noatime");
    expect((statSync(mnt).mode & 0o7777).toString(8)).toBe("700");
    expect((await probeOne(P, ctx, r2)).actual).toEqual({ mnt_opt: "defaults,noatime", perm: "0700" });

    // and back: dropping noatime needs an explicit relatime on remount
    await P.update!(ctx, r, r2);
    const opts = findmnt(mnt)!.options.split(",");
    expect(opts).not.toContain("noatime");
    expect(opts).toContain("relatime");
    await P.unprovision(ctx, r);
    expect(findmnt(mnt)).toBeUndefined();
  });

  it("remounts btrfs keeping the subvolume and refuses a subvolume change", async () => {
    const P = byType("btrfs");
    const dir = makeTempDir();
    const { dev } = makeLoop(dir, "u.img", 128 * MiB);
    const mnt = path.join(dir, "m");
    const ctx = testContext({ varDir: dir });
    const r0 = res("fs#0", "fs.btrfs", { dev, mnt, mnt_opt: "defaults,subvol=data" });
    const r = rec(r0, await P.provision(ctx, r0));
    const r2 = withKw(r, { mnt_opt: "defaults,subvol=data,noatime" });
    await P.update!(ctx, r2, r);
    const m = findmnt(mnt)!;
    expect(m.source).toBe(`${dev}[/data]`);
    expect(m.options.split(",")).toContain("noatime");
    const e = await errorOf(P.update!(ctx, withKw(r, { mnt_opt: "defaults,subvol=other" }), r));
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.message).toMatch(/subvolume .* not updatable/);
    expect(findmnt(mnt)!.source).toBe(`${dev}[/data]`);
    await P.stop(ctx, r);
  });
});

describe("fs data safety", () => {
  it("never formats over an existing filesystem; adopts the same type without mkfs", async () => {
    const dir = makeTempDir();
    const { dev } = makeLoop(dir, "data.img", 320 * MiB);
    // an ext4 filesystem holding a file, made by hand
    const hand = path.join(dir, "hand");
    mkdirSync(hand);
    expect(sh("mkfs.ext4", ["-q", "-F", dev]).rc).toBe(0);
    expect(sh("mount", [dev, hand]).rc).toBe(0);
    writeFileSync(path.join(hand, "precious.txt"), "keep me");
    expect(sh("umount", [hand]).rc).toBe(0);

    const ctx = testContext({ varDir: dir });
    const mnt = path.join(dir, "m");
    const X = byType("xfs");
    const rx = res("fs#0", "fs.xfs", { dev, mnt });
    const ox = await probeOne(X, ctx, rx);
    expect(ox.provisioned).toBe(false);
    expect(ox.problems).toEqual([expect.objectContaining({ level: "error", message: `device ${dev} holds a ext4 filesystem; refusing to format it as xfs` })]);
    expect(ox.problems?.[0].hint).toBeTruthy();

    ctx.reset();
    const e = await errorOf(X.provision(ctx, rx));
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.message).toBe(`device ${dev} holds a ext4 filesystem; refusing to format it as xfs`);
    expect(ctx.commands.filter((c) => c.startsWith("mkfs") || c.startsWith("mount"))).toEqual([]);
    expect(blkidType(dev)).toBe("ext4");
    expect(findmnt(mnt)).toBeUndefined();
    expect(existsSync(mnt)).toBe(false);
    // the file is intact
    expect(sh("mount", ["-o", "ro", dev, hand]).rc).toBe(0);
    expect(readFileSync(path.join(hand, "precious.txt"), "utf8")).toBe("keep me");
    expect(sh("umount", [hand]).rc).toBe(0);

    // fs.btrfs refuses as well
    await expect(byType("btrfs").provision(ctx, res("fs#0", "fs.btrfs", { dev, mnt }))).rejects.toThrow(/holds a ext4 filesystem; refusing to format it as btrfs/);

    // fs.ext4 adopts: no mkfs, the file is still there
    const E = byType("ext4");
    const re = res("fs#0", "fs.ext4", { dev, mnt });
    expect(await probeOne(E, ctx, re)).toMatchObject({ provisioned: true, up: false });
    ctx.reset();
    const out = await E.provision(ctx, re);
    expect(out.formatted_by_osvc).toBe(false);
    expect(ctx.commands.filter((c) => c.startsWith("mkfs"))).toEqual([]);
    expect(ctx.logs.some((l) => l.message.includes("already formatted as ext4, adopted"))).toBe(true);
    expect(readFileSync(path.join(mnt, "precious.txt"), "utf8")).toBe("keep me");
    await E.unprovision(ctx, rec(re, out));
    expect(findmnt(mnt)).toBeUndefined();
    expect(blkidType(dev)).toBe("ext4");
  });

  it("refuses a device holding a partition table", async () => {
    const dir = makeTempDir();
    const { dev } = makeLoop(dir, "pt.img", 32 * MiB);
    // a minimal MBR: one partition entry + 0x55AA signature
    const mbr = Buffer.alloc(512);
    mbr.writeUInt8(0x83, 446 + 4);
    mbr.writeUInt32LE(2048, 446 + 8);
    mbr.writeUInt32LE(4096, 446 + 12);
    mbr.writeUInt16LE(0xaa55, 510);
    const f = path.join(dir, "mbr.bin");
    writeFileSync(f, mbr);
    expect(sh("dd", [`if=${f}`, `of=${dev}`, "bs=512", "count=1", "conv=notrunc,fsync", "status=none"]).rc).toBe(0);
    const ctx = testContext({ varDir: dir });
    const r = res("fs#0", "fs.ext4", { dev, mnt: path.join(dir, "m") });
    await expect(byType("ext4").provision(ctx, r)).rejects.toThrow(`device ${dev} holds a dos partition table; refusing to format it as ext4`);
    expect(blkidType(dev)).toBeUndefined();
  });

  it("an invalid mkfs_opt fails with a clear error and leaves no mount", async () => {
    const dir = makeTempDir();
    const { dev } = makeLoop(dir, "bad.img", 32 * MiB);
    const mnt = path.join(dir, "m");
    const ctx = testContext({ varDir: dir });
    // an option mke2fs does not have never reaches it
    const unknown = await errorOf(byType("ext4").provision(ctx, res("fs#0", "fs.ext4", { dev, mnt, mkfs_opt: ["--no-such-option"] })));
    expect(unknown.message).toBe("fs#0: mkfs_opt: unknown option --no-such-option of mkfs.ext4: osvc cannot tell whether it takes a value");
    const r = res("fs#0", "fs.ext4", { dev, mnt, mkfs_opt: ["-b", "3"] });
    const e = await errorOf(byType("ext4").provision(ctx, r));
    expect(e).toBeInstanceOf(ProviderError);
    expect(e.message).toMatch(new RegExp(`^mkfs.ext4 failed on ${dev} \\(exit code \\d+\\): .*(invalid block size)`, "is"));
    expect((e as ProviderError).hint).toMatch(/mkfs_opt/);
    expect(findmnt(mnt)).toBeUndefined();
    expect(existsSync(mnt)).toBe(false);
    expect(blkidType(dev)).toBeUndefined();
  });

  it("mkfs_opt reaches mkfs (label)", async () => {
    const dir = makeTempDir();
    const { dev } = makeLoop(dir, "lbl.img", 32 * MiB);
    const ctx = testContext({ varDir: dir });
    const P = makeFsProvider("ext4");
    const r = res("fs#0", "fs.ext4", { dev, mnt: path.join(dir, "m"), mkfs_opt: ["-L", "osvc-e2e"] });
    const out = await P.provision(ctx, r);
    expect(sh("blkid", ["-p", "-o", "value", "-s", "LABEL", dev]).stdout.trim()).toBe("osvc-e2e");
    await P.unprovision(ctx, rec(r, out));
  });

  it("a failed owner change after mount leaves no mount and no mount point", async () => {
    const dir = makeTempDir();
    const { dev } = makeLoop(dir, "own.img", 32 * MiB);
    const mnt = path.join(dir, "m");
    const ctx = testContext({ varDir: dir });
    const r = res("fs#0", "fs.ext4", { dev, mnt, user: "osvc-no-such-user-4711" });
    await expect(byType("ext4").provision(ctx, r)).rejects.toThrow(/cannot set owner\/mode/);
    expect(findmnt(mnt)).toBeUndefined();
    expect(existsSync(mnt)).toBe(false);
    expect(blkidType(dev)).toBe("ext4"); // formatted; a retry adopts it
  });

  it("start fails clearly when the device is missing", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const r = res("fs#0", "fs.ext4", { dev: path.join(dir, "nope"), mnt: path.join(dir, "m") });
    await expect(byType("ext4").start(ctx, r)).rejects.toThrow(/does not exist/);
    await expect(byType("ext4").provision(ctx, r)).rejects.toThrow(/does not exist/);
    expect(existsSync(path.join(dir, "m"))).toBe(false);
  });
});
