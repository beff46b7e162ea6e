// How it works: per provider and for a whole storage stack, the compiled CLI applies a generated template in a private sandbox, independent tools (findmnt -J, losetup -j, blkid -p, stat) check the host, a re-plan is empty, one keyword change shows up as exactly that diff and is applied, and destroy leaves nothing.
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { blkidType, findmnt, loopsOf } from "../helpers/host.js";
import { actionsOf, loopsUnder, modeOf, mountsUnder, must, sandbox, show, sizeOf, type Sandbox } from "../helpers/e2e.js";

const MiB = 1024 * 1024;

async function applyOk(sb: Sandbox, tpl: string, name: string, extra: readonly string[] = []): Promise<string> {
  const r = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve", ...extra]);
  expect(r.code, show(r)).toBe(0);
  expect(r.stdout).toContain("Apply complete:");
  return r.stdout;
}

async function expectNoChanges(sb: Sandbox, tpl: string, name: string): Promise<void> {
  const r = await sb.osvc(["plan", tpl, "--path", name, "--detailed-exitcode"]);
  expect(r.code, show(r)).toBe(0);
  expect(r.stdout).toContain("No changes.");
}

/**
 * The JSON plan holds exactly one change: `rid` with `action`, whose diff holds exactly before -> after;
 * --detailed-exitcode says 2 (changes), or 1 when the change is refused.
 */
async function expectOnlyChange(sb: Sandbox, tpl: string, name: string, rid: string, action: string, before: Record<string, unknown>, after: Record<string, unknown>, exit = 2): Promise<void> {
  const j = await sb.planJson(tpl, ["--path", name, "--detailed-exitcode"]);
  expect(j.code, j.stderr).toBe(exit);
  expect(actionsOf(j.plan)).toEqual([`${rid}:${action}`]);
  const ch = j.plan.resource_changes.find((c) => c.rid === rid)!;
  expect(ch.change.before).toEqual(before);
  expect(ch.change.after).toEqual(after);
  expect(ch.change.after_unknown).toEqual([]);
}

/** The human plan that apply printed shows the same one-keyword diff. */
function expectDiffLine(applyLog: string, before: Record<string, unknown>, after: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(after)) expect(applyLog).toMatch(new RegExp(`~ ${k} += ${esc(JSON.stringify(before[k]))} -> ${esc(JSON.stringify(v))}`));
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

async function destroyOk(sb: Sandbox, name: string): Promise<void> {
  const r = await sb.osvc(["destroy", name, "--auto-approve"]);
  expect(r.code, show(r)).toBe(0);
  const st = sb.state(name);
  expect(st).not.toBeNull();
  expect(st!.resources).toEqual({});
}

/** Nothing osvc made is left: no mount and no loop under the sandbox, the given paths are gone. */
function expectNothingLeft(sb: Sandbox, gone: readonly string[]): void {
  expect(mountsUnder(sb.dir)).toEqual([]);
  expect(loopsUnder(sb.dir)).toEqual([]);
  for (const p of gone) expect(existsSync(p), `${p} should be gone`).toBe(false);
}

/** The one loop device attached to `file` (losetup -j), whose size is `size`, recorded in the state. */
function verifyLoop(sb: Sandbox, name: string, rid: string, file: string, size: number): string {
  const devs = loopsOf(file);
  expect(devs, `losetup -j ${file}`).toHaveLength(1);
  expect(sizeOf(file)).toBe(size);
  expect(sb.state(name)!.resources[rid].outputs.exposed_devs).toEqual([devs[0]]);
  return devs[0];
}

function verifyFs(dev: string, mnt: string, type: string, o: { subvol?: string; options?: string[]; notOptions?: string[] } = {}): void {
  expect(blkidType(dev), `blkid -p ${dev}`).toBe(type);
  const m = findmnt(mnt);
  expect(m, `findmnt ${mnt}`).toBeDefined();
  expect(m!.source).toBe(o.subvol ? `${dev}[/${o.subvol}]` : dev);
  expect(m!.fstype).toBe(type);
  const opts = m!.options.split(",");
  if (o.subvol) expect(opts).toContain(`subvol=/${o.subvol}`);
  for (const x of o.options ?? []) expect(opts).toContain(x);
  for (const x of o.notOptions ?? []) expect(opts).not.toContain(x);
}

async function loopLifecycle(sb: Sandbox): Promise<void> {
  const name = "e2e-stack-loop";
  const file = sb.at("disk.img");
  const tpl = (size: string) => sb.write("t.conf", `[disk#0]\ntype = loop\nfile = ${file}\nsize = ${size}\n`);

  await applyOk(sb, tpl("32m"), name);
  verifyLoop(sb, name, "disk#0", file, 32 * MiB);
  await expectNoChanges(sb, tpl("32m"), name);

  // size cannot change in place: a data-bearing replace, refused (exit 1) unless allowed
  await expectOnlyChange(sb, tpl("48m"), name, "disk#0", "replace", { size: "32m" }, { size: "48m" }, 1);
  const refused = await sb.osvc(["apply", tpl("48m"), "--path", name, "--auto-approve"]);
  expect(refused.code, show(refused)).toBe(1);
  expect(refused.stderr).toMatch(/--allow-replace disk#0/);
  expect(sizeOf(file)).toBe(32 * MiB);

  const log = await applyOk(sb, tpl("48m"), name, ["--allow-replace", "disk#0"]);
  expect(log).toMatch(/-\/\+ disk#0 \(disk\.loop\) must be replaced/);
  verifyLoop(sb, name, "disk#0", file, 48 * MiB);

  await destroyOk(sb, name);
  expectNothingLeft(sb, [file]);
}

interface FsCase {
  type: "ext4" | "xfs" | "btrfs";
  size: string;
  bytes: number;
  mntOpt: string;
  changedMntOpt: string;
  subvol?: string;
}

const fsCases: FsCase[] = [
  { type: "ext4", size: "32m", bytes: 32 * MiB, mntOpt: "defaults", changedMntOpt: "defaults,noatime" },
  { type: "xfs", size: "320m", bytes: 320 * MiB, mntOpt: "defaults", changedMntOpt: "defaults,noatime" },
  { type: "btrfs", size: "128m", bytes: 128 * MiB, mntOpt: "defaults,subvol=data", changedMntOpt: "defaults,noatime,subvol=data", subvol: "data" },
];

async function fsLifecycle(c: FsCase, sb: Sandbox): Promise<void> {
  const name = `e2e-stack-${c.type}`;
  const file = sb.at("disk.img");
  const mnt = sb.at("srv/data");
  const tpl = (mntOpt: string) =>
    sb.write(
      "t.conf",
      `[disk#0]\ntype = loop\nfile = ${file}\nsize = ${c.size}\n\n[fs#0]\ntype = ${c.type}\ndev = {disk#0.exposed_devs[0]}\nmnt = ${mnt}\nmnt_opt = ${mntOpt}\n`,
    );

  const log = await applyOk(sb, tpl(c.mntOpt), name);
  expect(log).toMatch(new RegExp(`fs#0 +mkfs\\.${c.type} `));
  const dev = verifyLoop(sb, name, "disk#0", file, c.bytes);
  verifyFs(dev, mnt, c.type, { subvol: c.subvol, notOptions: ["noatime"] });
  expect(sb.state(name)!.resources["fs#0"].provisioned).toBe(true);
  await expectNoChanges(sb, tpl(c.mntOpt), name);

  await expectOnlyChange(sb, tpl(c.changedMntOpt), name, "fs#0", "update", { mnt_opt: c.mntOpt }, { mnt_opt: c.changedMntOpt });
  const upd = await applyOk(sb, tpl(c.changedMntOpt), name);
  expectDiffLine(upd, { mnt_opt: c.mntOpt }, { mnt_opt: c.changedMntOpt });
  expect(upd).not.toMatch(/mkfs|umount/);
  expect(loopsOf(file)).toEqual([dev]);
  verifyFs(dev, mnt, c.type, { subvol: c.subvol, options: ["noatime"] });

  await destroyOk(sb, name);
  expectNothingLeft(sb, [file, mnt]);
}

async function directoryLifecycle(sb: Sandbox): Promise<void> {
  const name = "e2e-stack-dir";
  const dir = sb.at("www");
  const tpl = (perm: string) => sb.write("t.conf", `[fs#0]\ntype = directory\npath = ${dir}\nperm = ${perm}\n`);

  await applyOk(sb, tpl("0755"), name);
  expect(modeOf(dir)).toBe("755");
  await expectNoChanges(sb, tpl("0755"), name);

  await expectOnlyChange(sb, tpl("0700"), name, "fs#0", "update", { perm: "0755" }, { perm: "0700" });
  expectDiffLine(await applyOk(sb, tpl("0700"), name), { perm: "0755" }, { perm: "0700" });
  expect(modeOf(dir)).toBe("700");

  await destroyOk(sb, name);
  expectNothingLeft(sb, [dir]);
}

async function wholeStack(sb: Sandbox): Promise<void> {
  const name = "e2e-stack-all";
  const img = (i: number) => sb.at(`d${i}.img`);
  const x = sb.at("x");
  const xdata = sb.at("x/data");
  const www = sb.at("x/data/www");
  const xfsMnt = sb.at("xfs");
  const btrMnt = sb.at("btr");
  // Rids are numbered against the mount order on purpose: the graph must order by mount-point prefix
  // (fs#4 /x before fs#1 /x/data before the directory fs#0 below it), not by rid.
  const tpl = (dataOpt: string, perm: string) =>
    sb.write(
      "stack.conf",
      [
        `[disk#0]\ntype = loop\nfile = ${img(0)}\nsize = 32m\n`,
        `[disk#1]\ntype = loop\nfile = ${img(1)}\nsize = 320m\n`,
        `[disk#2]\ntype = loop\nfile = ${img(2)}\nsize = 128m\n`,
        `[disk#3]\ntype = loop\nfile = ${img(3)}\nsize = 32m\n`,
        `[fs#0]\ntype = directory\npath = ${www}\nperm = ${perm}\n`,
        `[fs#1]\ntype = ext4\ndev = {disk#3.exposed_devs[0]}\nmnt = ${xdata}\nmnt_opt = ${dataOpt}\n`,
        `[fs#2]\ntype = xfs\ndev = {disk#1.exposed_devs[0]}\nmnt = ${xfsMnt}\nmnt_opt = defaults\n`,
        `[fs#3]\ntype = btrfs\ndev = {disk#2.exposed_devs[0]}\nmnt = ${btrMnt}\nmnt_opt = defaults,subvol=data\n`,
        `[fs#4]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = ${x}\nmnt_opt = defaults\n`,
      ].join("\n"),
    );

  const first = tpl("defaults", "0750");
  const log = await applyOk(sb, first, name);
  expect(log).toContain("Plan: 9 to provision.");
  // apply order: /x is mounted before /x/data, and the directory after both
  const at = (re: RegExp) => log.split("\n").findIndex((l) => re.test(l));
  expect(at(/fs#4 +mounted /)).toBeGreaterThanOrEqual(0);
  expect(at(/fs#4 +mounted /)).toBeLessThan(at(/fs#1 +mount /));
  expect(at(/fs#1 +mounted /)).toBeLessThan(at(/fs#0 +created directory /));

  const dev = [0, 1, 2, 3].map((i) => verifyLoop(sb, name, `disk#${i}`, img(i), [32, 320, 128, 32][i] * MiB));
  verifyFs(dev[0], x, "ext4");
  verifyFs(dev[3], xdata, "ext4", { notOptions: ["noatime"] });
  verifyFs(dev[1], xfsMnt, "xfs");
  verifyFs(dev[2], btrMnt, "btrfs", { subvol: "data" });
  expect(modeOf(www)).toBe("750");
  // the directory lives on the nested filesystem (same device as /x/data, not /x)
  expect(must("findmnt", ["-n", "-o", "SOURCE", "-T", www]).trim()).toBe(dev[3]);
  expect(Object.values(sb.state(name)!.resources).every((r) => r.provisioned === true)).toBe(true);
  await expectNoChanges(sb, first, name);

  // change 1: mnt_opt of the nested filesystem
  const second = tpl("defaults,noatime", "0750");
  await expectOnlyChange(sb, second, name, "fs#1", "update", { mnt_opt: "defaults" }, { mnt_opt: "defaults,noatime" });
  expectDiffLine(await applyOk(sb, second, name), { mnt_opt: "defaults" }, { mnt_opt: "defaults,noatime" });
  verifyFs(dev[3], xdata, "ext4", { options: ["noatime"] });
  verifyFs(dev[0], x, "ext4", { notOptions: ["noatime"] });

  // change 2: perm of the directory
  const third = tpl("defaults,noatime", "0700");
  await expectOnlyChange(sb, third, name, "fs#0", "update", { perm: "0750" }, { perm: "0700" });
  expectDiffLine(await applyOk(sb, third, name), { perm: "0750" }, { perm: "0700" });
  expect(modeOf(www)).toBe("700");
  await expectNoChanges(sb, third, name);

  await destroyOk(sb, name);
  expectNothingLeft(sb, [img(0), img(1), img(2), img(3), x, xfsMnt, btrMnt]);
}

// Independent sandboxes, so the cases run concurrently (each CLI run is asynchronous).
describe.concurrent("per provider and for the whole stack", () => {
  it("disk.loop alone: applies, re-plans to no changes, refuses then replaces on a size change, destroys", async (ctx) => {
    await loopLifecycle(sandbox(ctx, "osvc-e2e-stack-loop-"));
  });

  for (const c of fsCases) {
    it(`fs.${c.type} on a loop disk: applies, verifies, re-plans, remounts on a mnt_opt change, destroys`, async (ctx) => {
      await fsLifecycle(c, sandbox(ctx, `osvc-e2e-stack-${c.type}-`));
    });
  }

  it("fs.directory alone: applies, verifies the mode, re-plans, chmods on a perm change, destroys", async (ctx) => {
    await directoryLifecycle(sandbox(ctx, "osvc-e2e-stack-dir-"));
  });

  it("the whole stack, disk.loop + ext4 + xfs + btrfs subvol + directory + nested mounts: apply, verify, update twice, destroy", async (ctx) => {
    await wholeStack(sandbox(ctx, "osvc-e2e-stack-all-"));
  });
});
