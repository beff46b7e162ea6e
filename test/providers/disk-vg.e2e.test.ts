// disk.vg against the real host: PVs and a VG on loop devices (no device-mapper here: no LV
// activation), refusal of devices holding data, PV labels removed only when osvc wrote them.
import path from "node:path";
import { writeFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { diskLvmProvider, diskVgProvider as P, parsePvsJson, parseVgsJson } from "../../providers/disk-vg/provider.js";
import { ProviderError } from "../../src/provider/api.js";
import { blkidType, cleanup, makeTempDir, probeOne, res, sh, testContext } from "../helpers/host.js";

const MiB = 1024 * 1024;
/** LVM commands for the test's own (independent) checks and cleanup. */
function lvmSh(cmd: string, args: string[]): { rc: number; stdout: string; stderr: string } {
  return sh("env", ["LVM_SUPPRESS_FD_WARNINGS=1", cmd, ...args]);
}

interface VgsRow {
  vg_name: string;
  pv_count: string;
  lv_count: string;
}
function vgsJ(): VgsRow[] {
  const r = lvmSh("vgs", ["--reportformat", "json", "-o", "vg_name,pv_count,lv_count"]);
  expect(r.rc).toBe(0);
  return (JSON.parse(r.stdout) as { report: { vg: VgsRow[] }[] }).report[0].vg;
}
function pvsJ(): { pv_name: string; vg_name: string }[] {
  const r = lvmSh("pvs", ["--reportformat", "json", "-o", "pv_name,vg_name"]);
  expect(r.rc).toBe(0);
  return (JSON.parse(r.stdout) as { report: { pv: { pv_name: string; vg_name: string }[] }[] }).report[0].pv;
}

const vgNames: string[] = [];
const devices: string[] = [];
let seq = 0;
function vgName(): string {
  const n = `osvc_e2e_${process.pid}_${++seq}`;
  vgNames.push(n);
  return n;
}

/** A loop device over a sparse file in a fresh temp dir (detached by cleanup.run()). */
function loop(dir: string, name: string, size = 64 * MiB): string {
  const file = path.join(dir, name);
  expect(sh("truncate", ["-s", String(size), file]).rc).toBe(0);
  const r = sh("losetup", ["-f", "--show", file]);
  expect(r.rc).toBe(0);
  const dev = r.stdout.trim();
  devices.push(dev);
  return dev;
}

afterEach(() => {
  for (const vg of vgNames.splice(0)) {
    if (lvmSh("vgs", [vg]).rc === 0) lvmSh("vgremove", ["-ff", "-y", vg]);
  }
  const pvs = new Set(pvsJ().map((p) => p.pv_name));
  for (const d of devices.splice(0)) if (pvs.has(d)) lvmSh("pvremove", ["-ff", "-y", d]);
  expect(cleanup.run()).toEqual([]);
});

describe("disk.vg parsers", () => {
  it("parses vgs and pvs JSON reports", () => {
    const vgs = `{"report": [{"vg": [{"vg_name":"v1", "pv_count":"2", "lv_count":"0", "vg_size":"125829120"}]}]}`;
    expect(parseVgsJson(vgs)).toEqual([{ name: "v1", pvCount: 2, lvCount: 0, size: 125829120 }]);
    expect(parseVgsJson(`{"report": [{"vg": []}]}`)).toEqual([]);
    expect(parseVgsJson("")).toEqual([]);
    const pvs = `{"report": [{"pv": [{"pv_name":"/dev/loop1", "vg_name":""}, {"pv_name":"/dev/loop2", "vg_name":"v1"}]}]}`;
    expect(parsePvsJson(pvs)).toEqual([
      { pv: "/dev/loop1", vg: "" },
      { pv: "/dev/loop2", vg: "v1" },
    ]);
  });
});

describe("disk.vg on the host", () => {
  it("provisions a VG on two loop devices, probes it, is idempotent, and unprovisions VG and PVs", async () => {
    const dir = makeTempDir();
    const [a, b] = [loop(dir, "a.img"), loop(dir, "b.img")];
    const name = vgName();
    const base = testContext({ varDir: dir });
    // record the environment of every command
    const envs: { file: string; env?: Readonly<Record<string, string | undefined>> }[] = [];
    const ctx = Object.assign(Object.create(base) as typeof base, {
      exec: ((file, args, opts) => {
        envs.push({ file, env: opts?.env });
        return base.exec(file, args, opts);
      }) as typeof base.exec,
    });
    const r = res("disk#2", "disk.vg", { name, pvs: [a, b] });

    expect(await probeOne(P, ctx, r)).toEqual({ provisioned: false, up: false });

    const t0 = performance.now();
    const out = await P.provision(ctx, r);
    const provisionMs = performance.now() - t0;
    expect(out).toEqual({ exposed_devs: [], sub_devs: [a, b], created_pvs: [a, b] });
    // independent checks
    expect(vgsJ().find((v) => v.vg_name === name)).toEqual({ vg_name: name, pv_count: "2", lv_count: "0" });
    expect(pvsJ().filter((p) => p.vg_name === name).map((p) => p.pv_name).sort()).toEqual([a, b].sort());
    expect(blkidType(a)).toBe("LVM2_member");
    expect(ctx.logs.some((l) => /cannot be activated on this kernel/.test(l.message))).toBe(true);
    expect(provisionMs).toBeLessThan(10_000);

    const rec = res("disk#2", "disk.vg", r.kw, out);
    const o = await probeOne(P, ctx, rec);
    expect(o).toMatchObject({ provisioned: true, up: true, actual: { pvs: [a, b] }, outputs: { created_pvs: [a, b] } });
    expect(o.problems).toBeUndefined();

    // re-provision: no-op
    ctx.reset();
    expect(await P.provision(ctx, rec)).toEqual({ exposed_devs: [], sub_devs: expect.arrayContaining([a, b]), created_pvs: [a, b] });
    expect(ctx.commands.filter((c) => /^(pvcreate|vgcreate)/.test(c))).toEqual([]);

    // start verifies, stop is a no-op (no device-mapper): both say why
    ctx.reset();
    await P.start(ctx, rec);
    await P.stop(ctx, rec);
    expect(ctx.commands.filter((c) => c.startsWith("vgchange"))).toEqual([]);
    expect(ctx.logs.filter((l) => /no device-mapper/.test(l.message))).toHaveLength(2);
    expect(vgsJ().some((v) => v.vg_name === name)).toBe(true);

    const lvmCmds = envs.filter((e) => /^(vgs|pvs|pvcreate|vgcreate|vgremove|pvremove|vgchange)$/.test(e.file));
    expect(lvmCmds.length).toBeGreaterThan(4);
    expect(lvmCmds.every((e) => e.env?.LVM_SUPPRESS_FD_WARNINGS === "1")).toBe(true);

    await P.unprovision(ctx, rec);
    expect(vgsJ().some((v) => v.vg_name === name)).toBe(false);
    expect(pvsJ().filter((p) => p.pv_name === a || p.pv_name === b)).toEqual([]);
    expect(blkidType(a)).toBeUndefined();
    expect(blkidType(b)).toBeUndefined();
    expect(await probeOne(P, ctx, rec)).toEqual({ provisioned: false, up: false });
    await P.unprovision(ctx, rec); // already gone: success
  });

  it("refuses a device holding ext4 before any pvcreate, and leaves the filesystem intact", async () => {
    const dir = makeTempDir();
    const [a, b] = [loop(dir, "a.img"), loop(dir, "b.img")];
    expect(sh("mkfs.ext4", ["-q", "-F", b]).rc).toBe(0);
    const uuid = sh("blkid", ["-p", "-o", "value", "-s", "UUID", b]).stdout.trim();
    const name = vgName();
    const ctx = testContext({ varDir: dir });
    const err = await P.provision(ctx, res("disk#0", "disk.vg", { name, pvs: [a, b] })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toBe(`refusing to pvcreate ${b}: it holds a signature (TYPE=ext4)`);
    expect(ctx.commands.filter((c) => /^(pvcreate|vgcreate|wipefs)/.test(c))).toEqual([]);
    expect(blkidType(b)).toBe("ext4");
    expect(sh("blkid", ["-p", "-o", "value", "-s", "UUID", b]).stdout.trim()).toBe(uuid);
    expect(sh("fsck.ext4", ["-n", b]).rc).toBe(0);
    expect(blkidType(a)).toBeUndefined(); // nothing written on the blank one either
    expect(vgsJ().some((v) => v.vg_name === name)).toBe(false);
  });

  it("reports and refuses a PV of another VG; keeps PV labels it did not create", async () => {
    const dir = makeTempDir();
    const [a, b, c] = [loop(dir, "a.img"), loop(dir, "b.img"), loop(dir, "c.img")];
    const other = vgName();
    expect(lvmSh("pvcreate", ["-y", a]).rc).toBe(0);
    expect(lvmSh("vgcreate", [other, a]).rc).toBe(0);
    expect(lvmSh("pvcreate", ["-y", c]).rc).toBe(0); // an orphan PV osvc did not create

    const ctx = testContext({ varDir: dir });
    const name = vgName();
    const bad = res("disk#0", "disk.vg", { name, pvs: [a, b] });
    const o = await probeOne(P, ctx, bad);
    expect(o).toMatchObject({ provisioned: false, up: false, problems: [{ level: "error", message: `${a} is a physical volume of another volume group, ${other}` }] });
    await expect(P.provision(ctx, bad)).rejects.toThrow(`${a} is a physical volume of another volume group, ${other}`);
    expect(blkidType(b)).toBeUndefined();

    const r = res("disk#1", "disk.vg", { name, pvs: [b, c], options: ["-s", "8m"] });
    const out = await P.provision(ctx, r);
    expect(out.created_pvs).toEqual([b]);
    expect(lvmSh("vgs", ["--noheadings", "-o", "vg_extent_size", "--units", "m", name]).stdout.trim()).toBe("8.00m");
    await P.unprovision(ctx, res("disk#1", "disk.vg", r.kw, out));
    const pvs = pvsJ();
    expect(pvs.find((p) => p.pv_name === c)).toEqual({ pv_name: c, vg_name: "" }); // kept
    expect(pvs.find((p) => p.pv_name === b)).toBeUndefined(); // osvc's own: removed
    expect(pvs.find((p) => p.pv_name === a)).toEqual({ pv_name: a, vg_name: other }); // untouched
  });

  it("refuses to unprovision a VG that holds logical volumes", async () => {
    const dir = makeTempDir();
    const a = loop(dir, "a.img");
    const name = vgName();
    const ctx = testContext({ varDir: dir });
    const r = res("disk#0", "disk.lvm", { name, pvs: [a] });
    const out = await diskLvmProvider.provision(ctx, r);
    // metadata-only LV (no device-mapper: it cannot be activated)
    expect(lvmSh("lvcreate", ["--config", "global{activation=0}", "-y", "-an", "-Zn", "-L", "8M", "-n", "lv1", name]).rc).toBe(0);
    await expect(diskLvmProvider.unprovision(ctx, res("disk#0", "disk.lvm", r.kw, out))).rejects.toThrow(/holds 1 logical volume/);
    expect(vgsJ().find((v) => v.vg_name === name)?.lv_count).toBe("1");
    expect(pvsJ().find((p) => p.pv_name === a)?.vg_name).toBe(name);
  });

  it("batches the probe: one vgs and one pvs for several resources", async () => {
    const dir = makeTempDir();
    const a = loop(dir, "a.img");
    const ctx = testContext({ varDir: dir });
    const n1 = vgName();
    const r1 = res("disk#0", "disk.vg", { name: n1, pvs: [a] });
    await P.provision(ctx, r1);
    ctx.reset();
    const obs = await P.probe(ctx, [r1, res("disk#1", "disk.vg", { name: vgName(), pvs: [] }), res("disk#2", "disk.vg", { name: vgName() })]);
    expect(obs.map((o) => [o.provisioned, o.up])).toEqual([
      [true, true],
      [false, false],
      [false, false],
    ]);
    expect(ctx.commands.map((c) => c.split(" ")[0]).sort()).toEqual(["pvs", "vgs"]);
  });

  it("rejects non-block devices, relative paths and bad names", async () => {
    const dir = makeTempDir();
    const file = path.join(dir, "plain.img");
    writeFileSync(file, Buffer.alloc(MiB));
    const ctx = testContext({ varDir: dir });
    await expect(P.provision(ctx, res("disk#0", "disk.vg", { name: vgName(), pvs: [file] }))).rejects.toThrow(/is not a block device/);
    await expect(P.provision(ctx, res("disk#0", "disk.vg", { name: vgName(), pvs: ["loop0"] }))).rejects.toThrow(/absolute/);
    await expect(P.provision(ctx, res("disk#0", "disk.vg", { name: "-bad", pvs: [file] }))).rejects.toThrow(/invalid volume group name/);
    await expect(P.provision(ctx, res("disk#0", "disk.vg", { name: vgName(), pvs: [] }))).rejects.toThrow(/pvs is empty/);
  });
});
