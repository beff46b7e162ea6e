// fs.directory against the real host: mkdir, owner/mode, drift, removal only of what osvc created.
import { existsSync, mkdirSync, statSync, writeFileSync, chmodSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fsDirectoryProvider as P, isProtectedPath } from "../../providers/fs-directory/provider.js";
import { ProviderError } from "../../src/provider/api.js";
import { cleanup, findmnt, makeTempDir, probeOne, res, sh, testContext } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

function owner(p: string): string {
  return sh("stat", ["-c", "%U:%G:%a", p]).stdout.trim();
}

describe("fs.directory on the host", () => {
  it("provisions, probes, detects drift, updates and unprovisions", async () => {
    const dir = makeTempDir();
    const p = path.join(dir, "a", "b", "www");
    const ctx = testContext({ varDir: dir });
    const r = res("fs#0", "fs.directory", { path: `${p}/`, user: "nobody", group: "nogroup", perm: "0750" });

    expect(await probeOne(P, ctx, r)).toEqual({ provisioned: false, up: false });

    const out = await P.provision(ctx, r);
    // the parents osvc made for it are recorded too (removed with it)
    expect(out).toEqual({ created_dir: true, created_dirs: [path.join(dir, "a", "b"), path.join(dir, "a")] });
    expect(owner(p)).toBe("nobody:nogroup:750");

    const r1 = res(r.rid, r.driver, r.kw, out);
    const o1 = await probeOne(P, ctx, r1);
    expect(o1).toMatchObject({ provisioned: true, up: true, actual: { user: "nobody", group: "nogroup", perm: "0750" } });
    expect(o1.problems).toBeUndefined();

    // re-provision / start: no command that changes anything
    ctx.reset();
    expect(await P.provision(ctx, r1)).toEqual(out);
    expect(await P.start(ctx, r1)).toEqual(out);
    expect(ctx.commands.filter((c) => /^(mkdir|chown|chmod)/.test(c))).toEqual([]);

    // drift: someone changed the mode and the owner
    chmodSync(p, 0o755);
    expect(sh("chown", ["daemon:daemon", p]).rc).toBe(0);
    const o2 = await probeOne(P, ctx, r1);
    expect(o2.actual).toEqual({ user: "daemon", group: "daemon", perm: "0755" });
    // start repairs it
    await P.start(ctx, r1);
    expect(owner(p)).toBe("nobody:nogroup:750");

    // numeric ids are equivalent to names
    const rNum = res(r.rid, r.driver, { path: p, user: "65534", group: "65534", perm: "0750" }, out);
    expect((await probeOne(P, ctx, rNum)).actual).toEqual({ user: "65534", group: "65534", perm: "0750" });

    // update: mode change in place
    const r2 = res(r.rid, r.driver, { ...r.kw, perm: "1777" }, out);
    await P.update!(ctx, r2, r1);
    expect(owner(p)).toBe("nobody:nogroup:1777");

    await P.stop(ctx, r2); // no-op
    expect(existsSync(p)).toBe(true);

    writeFileSync(path.join(p, "index.html"), "x");
    // a file the user added: kept without consent
    await P.unprovision(ctx, r2);
    expect(existsSync(path.join(p, "index.html"))).toBe(true);
    await P.unprovision(ctx, { ...r2, allow: { destroy: true } });
    expect(existsSync(p)).toBe(false);
    expect(existsSync(path.join(dir, "a")), "the parents osvc made").toBe(false);
    expect(existsSync(dir)).toBe(true);
    expect(await probeOne(P, ctx, r2)).toEqual({ provisioned: false, up: false });
    await P.unprovision(ctx, r2); // already gone
  });

  it("keeps a directory it did not create", async () => {
    const dir = makeTempDir();
    const p = path.join(dir, "existing");
    mkdirSync(p);
    writeFileSync(path.join(p, "data"), "keep");
    const ctx = testContext({ varDir: dir });
    const r = res("fs#0", "fs.directory", { path: p, perm: "0700" });
    expect(await probeOne(P, ctx, r)).toMatchObject({ provisioned: true, up: true });
    const out = await P.provision(ctx, r);
    expect(out).toEqual({ created_dir: false });
    expect((statSync(p).mode & 0o7777).toString(8)).toBe("700");
    await P.unprovision(ctx, res(r.rid, r.driver, r.kw, out));
    expect(existsSync(path.join(p, "data"))).toBe(true);
    // no record at all: kept too
    await P.unprovision(ctx, r);
    expect(existsSync(path.join(p, "data"))).toBe(true);
  });

  it("batches the probe into one stat and flags a path that is not a directory", async () => {
    const dir = makeTempDir();
    const f = path.join(dir, "file");
    writeFileSync(f, "");
    const ctx = testContext({ varDir: dir });
    const rs = [
      res("fs#0", "fs.directory", { path: dir }),
      res("fs#1", "fs.directory", { path: f }),
      res("fs#2", "fs.directory", { path: path.join(dir, "nope") }),
    ];
    const obs = await P.probe(ctx, rs);
    expect(obs.map((o) => [o.provisioned, o.up])).toEqual([
      [true, true],
      [false, false],
      [false, false],
    ]);
    expect(obs[1].problems?.[0]).toMatchObject({ level: "error" });
    expect(ctx.commands).toHaveLength(1);
    expect(ctx.commands[0]).toMatch(/^stat /);
    await expect(P.start(ctx, rs[1])).rejects.toThrow(/not a directory/);
  });

  it("does not cross into a mounted filesystem and refuses protected paths", async () => {
    const dir = makeTempDir();
    const p = path.join(dir, "d");
    const ctx = testContext({ varDir: dir });
    const r = res("fs#0", "fs.directory", { path: p });
    const out = await P.provision(ctx, r);
    const sub = path.join(p, "mnt");
    mkdirSync(sub);
    expect(sh("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", sub]).rc).toBe(0);
    writeFileSync(path.join(sub, "inside"), "x");
    const e = await P.unprovision(ctx, res(r.rid, r.driver, r.kw, out)).then(
      () => undefined,
      (x: unknown) => x,
    );
    expect(e).toBeInstanceOf(ProviderError);
    expect(findmnt(sub)?.fstype).toBe("tmpfs");
    expect(existsSync(path.join(sub, "inside"))).toBe(true);
    expect(sh("umount", [sub]).rc).toBe(0);

    expect(isProtectedPath("/")).toBe(true);
    expect(isProtectedPath("/etc/")).toBe(true);
    await expect(P.unprovision(ctx, res("fs#1", "fs.directory", { path: "/" }, { created_dir: true }))).rejects.toThrow(/protected/);
    await expect(P.unprovision(ctx, res("fs#1", "fs.directory", { path: "/usr" }, { created_dir: true }))).rejects.toThrow(/protected/);
    await expect(P.provision(ctx, res("fs#1", "fs.directory", { path: "rel/dir" }))).rejects.toThrow(/absolute/);
  });

  it("reports an unknown user clearly", async () => {
    const dir = makeTempDir();
    const ctx = testContext({ varDir: dir });
    const r = res("fs#0", "fs.directory", { path: path.join(dir, "x"), user: "osvc-no-such-user-4711" });
    await expect(P.start(ctx, r)).rejects.toThrow(/cannot set owner\/mode of .*osvc-no-such-user-4711|invalid user/);
    expect(existsSync(path.join(dir, "x"))).toBe(false); // the directory it had just created is gone
  });
});
