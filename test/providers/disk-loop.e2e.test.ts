// disk.loop against the real host: sparse file, loop attach/detach, adoption, busy refusal.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { diskLoopProvider as P, parseLosetupAssoc, parseLosetupJson } from "../../providers/disk-loop/provider.js";
import { noteLoopChange, setListingReuseMs } from "../../providers/disk-loop/loops.js";
import { ProviderError } from "../../src/provider/api.js";
import { cleanup, findmnt, loopsOf, losetupJ, makeTempDir, probeOne, res, sh, testContext } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

const MiB = 1024 * 1024;

describe("disk.loop parsers", () => {
  it("parses losetup -l -J, with the (deleted) suffix, a device being attached and an empty output", () => {
    expect(parseLosetupJson("")).toEqual([]);
    expect(parseLosetupJson('{"loopdevices": [\n\n]}')).toEqual([]);
    const rows = parseLosetupJson(
      JSON.stringify({
        loopdevices: [
          { name: "/dev/loop0", "back-file": "/tmp/a.img", "back-ino": 12 },
          { name: "/dev/loop1", "back-file": "/tmp/b.img (deleted)", "back-ino": 13 },
          { name: "/dev/loop2", "back-file": null, "back-ino": null },
        ],
      }),
    );
    expect(rows).toEqual([
      { name: "/dev/loop0", backFile: "/tmp/a.img", deleted: false, backIno: 12 },
      { name: "/dev/loop1", backFile: "/tmp/b.img", deleted: true, backIno: 13 },
    ]);
  });
  it("parses losetup -j", () => {
    expect(parseLosetupAssoc("/dev/loop0: [65024]:2146526 (/tmp/x/d1.img)\n/dev/loop9: [65024]:2146526 (/tmp/x/d1.img)\n")).toEqual([
      "/dev/loop0",
      "/dev/loop9",
    ]);
    expect(parseLosetupAssoc("")).toEqual([]);
  });
});

describe("disk.loop on the host", () => {
  it("provisions, probes, stops, starts and unprovisions a sparse loop file", async () => {
    const dir = makeTempDir();
    const file = path.join(dir, "sub", "dir", "disk.img");
    const ctx = testContext({ varDir: dir });
    const r = res("disk#0", "disk.loop", { file, size: 64 * MiB + 100 }); // rounded down to 512

    const o0 = await probeOne(P, ctx, r);
    expect(o0).toMatchObject({ provisioned: false, up: false });
    expect(o0.outputs).toBeUndefined();

    const out = await P.provision(ctx, r);
    expect(out.created_file).toBe(true);
    const dev = (out.exposed_devs as string[])[0];
    expect(dev).toMatch(/^\/dev\/loop\d+$/);
    // independent checks
    expect(loopsOf(file)).toEqual([dev]);
    const st = statSync(file);
    expect(st.size).toBe(64 * MiB);
    expect(st.blocks * 512).toBeLessThan(MiB); // sparse
    expect(st.mode & 0o777).toBe(0o600); // a disk image is private to root
    expect(ctx.logs.map((l) => l.message)).toEqual(
      expect.arrayContaining([`created directory ${path.join(dir, "sub")}`, `created directory ${path.join(dir, "sub", "dir")}`, `created sparse file ${file} of ${64 * MiB} bytes`]),
    );
    expect(out.created_dirs).toEqual([path.join(dir, "sub", "dir"), path.join(dir, "sub")]);

    // probe again: provisioned and up, outputs computed from the host
    const rec = res("disk#0", "disk.loop", { file, size: 64 * MiB + 100 }, out);
    const o1 = await probeOne(P, ctx, rec);
    expect(o1).toMatchObject({ provisioned: true, up: true, outputs: { exposed_devs: [dev], created_file: true } });
    expect(o1.problems).toBeUndefined();

    // re-provision is a no-op: same device, no new file, no new attach
    ctx.reset();
    const ino = statSync(file).ino;
    const again = await P.provision(ctx, rec);
    expect(again).toMatchObject({ exposed_devs: [dev], created_file: true });
    expect(ctx.commands.filter((c) => c.startsWith("losetup -f"))).toEqual([]);
    expect(ctx.logs.some((l) => /created sparse file/.test(l.message))).toBe(false);
    expect(statSync(file).ino).toBe(ino);
    expect(loopsOf(file)).toEqual([dev]);

    // start is idempotent
    expect(await P.start(ctx, rec)).toMatchObject({ exposed_devs: [dev] });
    expect(loopsOf(file)).toHaveLength(1);

    // stop / start
    await P.stop(ctx, rec);
    expect(loopsOf(file)).toEqual([]);
    expect(await probeOne(P, ctx, rec)).toMatchObject({ provisioned: true, up: false });
    await P.stop(ctx, rec); // idempotent
    const s2 = await P.start(ctx, rec);
    expect(loopsOf(file)).toEqual(s2.exposed_devs);
    expect(s2.created_file).toBe(true);

    // unprovision: detached, file gone, and the directories it created
    await P.unprovision(ctx, rec);
    expect(existsSync(path.join(dir, "sub"))).toBe(false);
    expect(loopsOf(file)).toEqual([]);
    expect(losetupJ().some((l) => l["back-file"].startsWith(file))).toBe(false);
    expect(existsSync(file)).toBe(false);
    expect(await probeOne(P, ctx, rec)).toMatchObject({ provisioned: false, up: false });
    await P.unprovision(ctx, rec); // already gone: success
  });

  it("batches the probe: one losetup for several resources", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const rs = [0, 1, 2].map((i) => res(`disk#${i}`, "disk.loop", { file: path.join(dir, `d${i}.img`), size: 8 * MiB }));
    await P.provision(ctx, rs[0]);
    await P.provision(ctx, rs[2]);
    ctx.reset();
    const obs = await P.probe(ctx, rs);
    expect(obs.map((o) => [o.provisioned, o.up])).toEqual([
      [true, true],
      [false, false],
      [true, true],
    ]);
    expect(ctx.commands.filter((c) => c.startsWith("losetup"))).toHaveLength(1);
    for (const r of rs) await P.unprovision(ctx, res(r.rid, r.driver, r.kw, { created_file: true }));
    for (const r of rs) expect(existsSync(r.kw.file as string)).toBe(false);
  });

  it("stops in constant host work: one losetup -d per device, no listing again after the detach", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const rs = [0, 1, 2, 3].map((i) => res(`disk#${i}`, "disk.loop", { file: path.join(dir, `s${i}.img`), size: 8 * MiB }));
    const recs = [];
    for (const r of rs) recs.push(res(r.rid, r.driver, r.kw, await P.provision(ctx, r)));
    ctx.reset();
    const window = setListingReuseMs(0); // no listing serves twice: one per stop
    try {
      for (const r of recs) await P.stop(ctx, r);
    } finally {
      setListingReuseMs(window);
    }
    const losetups = ctx.commands.filter((c) => c.startsWith("losetup"));
    expect(losetups.filter((c) => c.startsWith("losetup -d"))).toHaveLength(4);
    expect(losetups.filter((c) => c.startsWith("losetup -l"))).toHaveLength(4);
    for (const r of rs) expect(loopsOf(r.kw.file as string)).toEqual([]);
    for (const r of recs) await P.unprovision(ctx, r);
  });

  it("stops one after another use one listing, minus the devices they detached; each checks in sysfs that its device still backs its file", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const rs = [0, 1, 2].map((i) => res(`disk#${i}`, "disk.loop", { file: path.join(dir, `w${i}.img`), size: 8 * MiB }));
    const recs = [];
    for (const r of rs) recs.push(res(r.rid, r.driver, r.kw, await P.provision(ctx, r)));
    const other = path.join(dir, "other.img");
    writeFileSync(other, Buffer.alloc(MiB));
    ctx.reset();
    const window = setListingReuseMs(600_000); // what is counted must not depend on the machine's speed
    let otherDev: string | undefined;
    try {
      await P.stop(ctx, recs[0]);
      // Behind osvc's back, disk#1's device is detached and given to another file.
      [otherDev] = loopsOf(rs[1].kw.file as string);
      expect(sh("losetup", ["-d", otherDev]).rc).toBe(0);
      expect(sh("losetup", [otherDev, other]).rc).toBe(0);
      await P.stop(ctx, recs[1]);
      await P.stop(ctx, recs[2]);
    } finally {
      setListingReuseMs(window);
    }
    const losetups = ctx.commands.filter((c) => c.startsWith("losetup"));
    expect(losetups.filter((c) => c.startsWith("losetup -l"))).toHaveLength(1);
    expect(losetups.filter((c) => c.startsWith("losetup -d"))).toEqual([`losetup -d ${(recs[0].recorded!.exposed_devs as string[])[0]}`, `losetup -d ${(recs[2].recorded!.exposed_devs as string[])[0]}`]);
    expect(loopsOf(other)).toEqual([otherDev]); // not disk#1's any more: left as is
    expect(ctx.logs.some((l) => l.message === `${otherDev} no longer backs ${rs[1].kw.file as string} (now ${other}): left as is`)).toBe(true);
    for (const r of rs) expect(loopsOf(r.kw.file as string)).toEqual([]);
    expect(sh("losetup", ["-d", otherDev!]).rc).toBe(0);
    for (const r of recs) await P.unprovision(ctx, r);
  });

  it("concurrent stops and probes share one listing; concurrent attaches take the host lock one at a time", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const rs = Array.from({ length: 6 }, (_, i) => res(`disk#${i}`, "disk.loop", { file: path.join(dir, `c${i}.img`), size: 8 * MiB }));
    const outs = await Promise.all(rs.map((r) => P.provision(ctx, r)));
    const devs = outs.map((o) => (o.exposed_devs as string[])[0]);
    expect(new Set(devs).size).toBe(6);
    rs.forEach((r, i) => expect(loopsOf(r.kw.file as string)).toEqual([devs[i]]));
    const recs = rs.map((r, i) => res(r.rid, r.driver, r.kw, outs[i]));
    ctx.reset();
    const [a, b] = await Promise.all([P.probe(ctx, recs.slice(0, 3)), P.probe(ctx, recs.slice(3))]);
    expect([...a, ...b].every((o) => o.up)).toBe(true);
    expect(ctx.commands.filter((c) => c.startsWith("losetup -l"))).toHaveLength(1);
    ctx.reset();
    await Promise.all(recs.map((r) => P.stop(ctx, r)));
    expect(ctx.commands.filter((c) => c.startsWith("losetup -d"))).toHaveLength(6);
    expect(ctx.commands.filter((c) => c.startsWith("losetup -l")).length).toBeLessThan(6);
    for (const r of rs) expect(loopsOf(r.kw.file as string)).toEqual([]);
    for (const r of recs) await P.unprovision(ctx, r);
  });

  it("a prefetched listing (plan, while the template compiles) serves the next probe once, never after this process attached or detached", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const r = res("disk#0", "disk.loop", { file: path.join(dir, "p.img"), size: 8 * MiB });
    const rec = res(r.rid, r.driver, r.kw, await P.provision(ctx, r));
    const listings = () => ctx.commands.filter((c) => c.startsWith("losetup -l")).length;
    ctx.reset();
    P.prefetch!(ctx.exec);
    expect((await P.probe(ctx, [rec]))[0].up).toBe(true);
    expect(listings()).toBe(1); // the prefetched one
    const window = setListingReuseMs(0);
    try {
      await P.probe(ctx, [rec]);
    } finally {
      setListingReuseMs(window);
    }
    expect(listings()).toBe(2); // used once (then only as any listing that ended less than a second ago)
    // Prefetched while attached, then detached by this process (as a stop does, told through
    // noteLoopChange): the probe lists again and sees it detached.
    P.prefetch!(ctx.exec);
    await new Promise((done) => setTimeout(done, 300));
    const [dev] = loopsOf(r.kw.file as string);
    expect(sh("losetup", ["-d", dev]).rc).toBe(0);
    noteLoopChange();
    const before = listings();
    expect((await P.probe(ctx, [rec]))[0].up).toBe(false);
    expect(listings()).toBe(before + 1);
    await P.unprovision(ctx, rec);
  });

  it("adopts an existing file without resizing it and keeps it at unprovision", async () => {
    const dir = makeTempDir();
    const file = path.join(dir, "existing.img");
    const content = Buffer.alloc(3 * MiB, 7);
    writeFileSync(file, content);
    const ctx = testContext({ varDir: dir });
    const r = res("disk#0", "disk.loop", { file, size: 64 * MiB });
    expect(await probeOne(P, ctx, r)).toMatchObject({ provisioned: true, up: false });

    const out = await P.provision(ctx, r);
    expect(out.created_file).toBe(false);
    expect(ctx.logs.some((l) => /already exists, adopted/.test(l.message))).toBe(true);
    expect(ctx.logs.some((l) => /created sparse file/.test(l.message))).toBe(false);
    expect(statSync(file).size).toBe(3 * MiB);
    expect(loopsOf(file)).toEqual(out.exposed_devs);

    // start output keeps the adoption record (the engine may store start outputs over provision's)
    const rec = res("disk#0", "disk.loop", r.kw, out);
    expect((await P.start(ctx, rec)).created_file).toBe(false);

    await P.unprovision(ctx, rec);
    expect(loopsOf(file)).toEqual([]);
    expect(existsSync(file)).toBe(true);
    expect(readFileSync(file).equals(content)).toBe(true);
    expect(ctx.logs.some((l) => /kept/.test(l.message))).toBe(true);
  });

  it("refuses to stop a mounted loop device and leaves it attached", async () => {
    const dir = makeTempDir();
    const file = path.join(dir, "busy.img");
    const mnt = path.join(dir, "mnt");
    mkdirSync(mnt);
    const ctx = testContext({ varDir: dir });
    const r = res("disk#0", "disk.loop", { file, size: 32 * MiB });
    const out = await P.provision(ctx, r);
    const dev = (out.exposed_devs as string[])[0];
    expect(sh("mkfs.ext4", ["-q", "-F", dev]).rc).toBe(0);
    expect(sh("mount", [dev, mnt]).rc).toBe(0);

    const rec = res("disk#0", "disk.loop", r.kw, out);
    const err = await P.stop(ctx, rec).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toMatch(new RegExp(`loop device ${dev} .*busy: mounted on ${mnt}`));
    expect(loopsOf(file)).toEqual([dev]);
    expect(losetupJ().find((l) => l.name === dev)).toBeDefined();
    expect(findmnt(mnt)?.source).toBe(dev);
    await expect(P.unprovision(ctx, rec)).rejects.toThrow(/busy/);
    expect(existsSync(file)).toBe(true);

    expect(sh("umount", [mnt]).rc).toBe(0);
    await P.unprovision(ctx, rec);
    expect(loopsOf(file)).toEqual([]);
    expect(existsSync(file)).toBe(false);
  });

  it("a passing opener (a prober) delays the detach; one that stays open is reported", async () => {
    const dir = makeTempDir();
    const file = path.join(dir, "probed.img");
    const ctx = testContext({ varDir: dir });
    const r = res("disk#0", "disk.loop", { file, size: 8 * MiB });
    const out = await P.provision(ctx, r);
    const dev = (out.exposed_devs as string[])[0];
    const rec = res("disk#0", "disk.loop", r.kw, out);
    // open for 300 ms, as udev or a blkid scanning every device would
    let fd = openSync(dev, "r");
    const closer = setTimeout(() => closeSync(fd), 300);
    await P.stop(ctx, rec);
    clearTimeout(closer);
    expect(loopsOf(file)).toEqual([]);
    expect(ctx.logs).toContainEqual({ level: "info", message: `${dev} detached from ${file}` });
    // held open for longer than the grace: the clear error, and the detach stays pending
    const again = await P.start(ctx, rec);
    const dev2 = (again.exposed_devs as string[])[0];
    fd = openSync(dev2, "r");
    try {
      await expect(P.stop(ctx, rec)).rejects.toThrow(new RegExp(`loop device ${dev2} \\(${file}\\) is still in use; its detach is deferred`));
    } finally {
      closeSync(fd);
    }
    for (let i = 0; i < 40 && loopsOf(file).length; i++) await new Promise((d) => setTimeout(d, 50));
    expect(loopsOf(file)).toEqual([]); // the kernel finished it when the holder closed
  });

  it("reports a loop still attached to a deleted copy of the file and detaches it at stop", async () => {
    const dir = makeTempDir();
    const file = path.join(dir, "gone.img");
    const ctx = testContext({ varDir: dir });
    const r = res("disk#0", "disk.loop", { file, size: 8 * MiB });
    const out = await P.provision(ctx, r);
    const dev = (out.exposed_devs as string[])[0];
    expect(sh("rm", ["-f", file]).rc).toBe(0);
    const o = await probeOne(P, ctx, r);
    expect(o).toMatchObject({ provisioned: false, up: false });
    expect(o.problems?.[0]).toMatchObject({ level: "warning" });
    expect(o.problems?.[0].message).toContain(dev);
    await P.stop(ctx, r);
    expect(losetupJ().some((l) => l.name === dev && l["back-file"].startsWith(file))).toBe(false);
  });

  it("rejects a missing size and a relative path with clear errors", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    await expect(P.provision(ctx, res("disk#0", "disk.loop", { file: path.join(dir, "x.img") }))).rejects.toThrow(/size/);
    await expect(P.provision(ctx, res("disk#0", "disk.loop", { file: "rel.img", size: 1024 }))).rejects.toThrow(/absolute/);
    expect(existsSync(path.join(dir, "x.img"))).toBe(false);
  });
});
