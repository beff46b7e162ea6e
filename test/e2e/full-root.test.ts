// A full or read-only state root: clear errors naming the file and the space left (no JS stack
// traces); a rollback whose state writes fail still undoes everything on the host, and what a
// run could not record is known to the next run (a pending journal intent), so nothing leaks.
import { existsSync, readdirSync, unlinkSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loopsBackedBy, loopsUnder, must, sandbox, show } from "../helpers/e2e.js";

const STACK = /\n\s+at .*:\d+:\d+\)?\n/;

function images(dir: string): string[] {
  return readdirSync(dir).filter((f) => f.endsWith(".img"));
}

describe("a state root that is full or read-only", () => {
  it("disk full at any point of an apply: no stack trace, the host is rolled back or recorded, the next apply converges and destroy leaves nothing", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-full-");
    const root = sb.root;
    must("mkdir", [root]);
    must("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", root]);
    const tpl = sb.write("t.conf", [0, 1, 2].map((n) => `[disk#${n}]\ntype = loop\nfile = ${sb.at(`d${n}.img`)}\nsize = 16m\n`).join("\n"));
    const filler = path.join(root, "filler");
    const osvc = (args: string[]) => sb.osvc(args);
    let failures = 0;
    for (const freeKb of [8, 12, 16, 20, 24]) {
      const avail = Number(must("df", ["--output=avail", "-k", root]).trim().split("\n").pop());
      must("fallocate", ["-l", String((avail - freeKb) * 1024), filler]);
      const a = await osvc(["apply", tpl, "--path", "full", "--auto-approve"]);
      expect([0, 1], show(a)).toContain(a.code);
      expect(a.stdout + a.stderr, show(a)).not.toMatch(STACK);
      if (a.code === 1) {
        failures++;
        expect(a.stdout + a.stderr, show(a)).toMatch(/cannot write \S+: no space left on the device; [\d.]+ (bytes|KiB) free on the filesystem of \//);
      }
      unlinkSync(filler);
      // Room again: the next apply converges, whatever the failed run left.
      const b = await osvc(["apply", tpl, "--path", "full", "--auto-approve"]);
      expect(b.code, `after ${freeKb} KiB free: ${show(b)}`).toBe(0);
      expect(loopsUnder(sb.dir).length, `after ${freeKb} KiB free`).toBe(3);
      const d = await osvc(["destroy", "full", "--auto-approve"]);
      expect(d.code, show(d)).toBe(0);
      // Every image osvc created is deleted: none was adopted as "not created by osvc".
      expect(images(sb.dir), `after ${freeKb} KiB free: leaked images\n${show(a)}\n${show(b)}\n${show(d)}`).toEqual([]);
      expect(loopsUnder(sb.dir)).toEqual([]);
    }
    expect(failures).toBeGreaterThan(0);
  });

  it("a state write refused after the host steps: the rollback still undoes them all; nothing is adopted as 'not created by osvc' later", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-immutable-");
    // state.json immutable: its replacement is refused (EPERM) while the journal still takes lines.
    must("mkdir", [sb.root]);
    must("truncate", ["-s", "16m", sb.at("root.img")]);
    must("mkfs.ext4", ["-q", sb.at("root.img")]);
    // An explicit loop device (not mount -o loop, whose autoclear races the cleanup's detach).
    const rootDev = must("losetup", ["-f", "--show", sb.at("root.img")]).trim();
    must("mount", [rootDev, sb.root]);
    const imgs = [0, 1, 2].map((n) => sb.at(`d${n}.img`));
    const tpl = sb.write("t.conf", [...imgs.map((f, n) => `[disk#${n}]\ntype = loop\nfile = ${f}\nsize = 16m\n`), `[fs#9]\ntype = directory\npath = ${sb.at("dd")}\n`].join("\n"));
    const loops = () => imgs.flatMap((f) => loopsBackedBy(f));
    expect((await sb.osvc(["apply", tpl, "--path", "imm", "--target", "fs#9", "--auto-approve"])).code).toBe(0);
    const stateFile = path.join(sb.objectDir("imm"), "state.json");
    must("chattr", ["+i", stateFile]);
    try {
      const a = await sb.osvc(["apply", tpl, "--path", "imm", "--auto-approve"]);
      expect(a.code, show(a)).toBe(1);
      expect(a.stdout + a.stderr).not.toMatch(STACK);
      expect(a.stdout, show(a)).toMatch(/cannot write \S+\/state\.json: operation not permitted/);
      expect(loops(), show(a)).toEqual([]);
      expect(images(sb.dir).filter((f) => f !== "root.img"), show(a)).toEqual([]);
    } finally {
      must("chattr", ["-i", stateFile]);
    }
    const b = await sb.osvc(["apply", tpl, "--path", "imm", "--auto-approve"]);
    expect(b.code, show(b)).toBe(0);
    expect(b.stdout).not.toMatch(/adopt/);
    const d = await sb.osvc(["destroy", "imm", "--auto-approve"]);
    expect(d.code, show(d)).toBe(0);
    expect(d.stdout).not.toMatch(/kept: osvc did not create it/);
    expect(loops()).toEqual([]);
    expect(images(sb.dir).filter((f) => f !== "root.img")).toEqual([]);
  });

  it("a read-only state root: the command says so, names the file, and changes nothing", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-ro-");
    const root = sb.root;
    must("mkdir", [root]);
    must("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", root]);
    const tpl = sb.write("t.conf", `[disk#0]\ntype = loop\nfile = ${sb.at("d0.img")}\nsize = 16m\n`);
    const other = sb.write("u.conf", `[fs#0]\ntype = directory\npath = ${sb.at("dd")}\n`);
    expect((await sb.osvc(["apply", tpl, "--path", "ro", "--auto-approve"])).code).toBe(0);
    must("mount", ["-o", "remount,ro", root]);
    for (const args of [["destroy", "ro", "--auto-approve"], ["apply", other, "--path", "ro2", "--auto-approve"]]) {
      const r = await sb.osvc(args);
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr, show(r)).toMatch(/cannot write \S+\/lock: read-only filesystem/);
      expect(r.stdout + r.stderr).not.toMatch(STACK);
    }
    expect(existsSync(sb.at("d0.img"))).toBe(true);
    expect(existsSync(sb.at("dd"))).toBe(false);
    must("mount", ["-o", "remount,rw", root]);
    expect((await sb.osvc(["destroy", "ro", "--auto-approve"])).code).toBe(0);
    expect(loopsUnder(sb.dir)).toEqual([]);
  });
});
