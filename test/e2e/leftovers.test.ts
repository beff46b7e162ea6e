// Nothing osvc made stays behind after destroy, empty directories included: the parents it
// created for a loop file, a mount point or a directory are removed with them (when empty), and
// parents that existed before are kept.
import { mkdirSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loopsUnder, mountsUnder, runAndKill, sandbox, show } from "../helpers/e2e.js";

describe("destroy leaves no directory osvc made", () => {
  it("removes the parent directories created for the image, the mount point and the directory; keeps those that existed", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-leftovers-");
    mkdirSync(sb.at("existing"));
    const tpl = sb.write(
      "t.conf",
      [
        `[disk#0]\ntype = loop\nfile = ${sb.at("disks/a/d0.img")}\nsize = 32m\n`,
        `[fs#0]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = ${sb.at("mnt/x/m0")}\n`,
        `[fs#1]\ntype = directory\npath = ${sb.at("data/y/d1")}\n`,
        `[fs#2]\ntype = directory\npath = ${sb.at("existing/z/d2")}\n`,
      ].join("\n"),
    );
    const a = await sb.osvc(["apply", tpl, "--path", "left", "--auto-approve"]);
    expect(a.code, show(a)).toBe(0);
    const d = await sb.osvc(["destroy", "left", "--auto-approve"]);
    expect(d.code, show(d)).toBe(0);
    expect(loopsUnder(sb.dir)).toEqual([]);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(readdirSync(sb.dir).sort(), show(d)).toEqual(["existing", "state", "t.conf"]);
    expect(readdirSync(sb.at("existing"))).toEqual([]);
  });

  for (const [rid, at] of [["disk#0", "disks"], ["fs#0", "mnt"], ["fs#1", "data"]] as const) {
    it(`kill -9 right after ${rid} created its directories: the next apply and destroy still remove them`, async (ctx) => {
      const sb = sandbox(ctx, "osvc-e2e-leftovers-kill-");
      const tpl = sb.write(
        "t.conf",
        [
          `[disk#0]\ntype = loop\nfile = ${sb.at("disks/a/d0.img")}\nsize = 32m\n`,
          `[fs#0]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = ${sb.at("mnt/x/m0")}\n`,
          `[fs#1]\ntype = directory\npath = ${sb.at("data/y/d1")}\n`,
        ].join("\n"),
      );
      const k = await runAndKill(["apply", tpl, "--path", "lk", "--auto-approve", "--parallelism", "1", "--root", sb.root], new RegExp(`^INFO +lk\\.${rid.replace("#", "\\#")} +created directory ${sb.at(at).replace(/[/.]/g, "\\$&")}`));
      expect(k.killed, `${k.stdout}\n${k.stderr}`).toBe(true);
      const a = await sb.osvc(["apply", tpl, "--path", "lk", "--auto-approve"]);
      expect(a.code, show(a)).toBe(0);
      const d = await sb.osvc(["destroy", "lk", "--auto-approve"]);
      expect(d.code, show(d)).toBe(0);
      expect(loopsUnder(sb.dir)).toEqual([]);
      expect(mountsUnder(sb.dir)).toEqual([]);
      expect(readdirSync(sb.dir).sort(), `${show(a)}\n${show(d)}`).toEqual(["state", "t.conf"]);
    });
  }
});

