// /proc/self/mountinfo, parsed, says what findmnt says: same targets, sources (with [/root]),
// types and options (as sets), for every mount of this host.
import { execFileSync } from "node:child_process";
import { mkdtempSync, realpathSync, rmdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseFindmnt } from "../../providers/fs/provider.js";
import { parseMountinfo, readMounts } from "../../providers/fs/mountinfo.js";

describe("mountinfo", () => {
  it("matches findmnt on this host", async () => {
    const fm = parseFindmnt(execFileSync("findmnt", ["-J", "-l", "-o", "TARGET,SOURCE,FSTYPE,OPTIONS"], { encoding: "utf8" }));
    const mi = await readMounts();
    const key = (e: { target: string; source: string; fstype: string }) => `${e.target}|${e.source}|${e.fstype}`;
    expect(mi.map(key).sort()).toEqual(fm.map(key).sort());
    for (const e of fm) {
      const m = mi.find((x) => key(x) === key(e))!;
      expect(new Set(m.options.split(",")), e.target).toEqual(new Set(e.options.split(",")));
    }
  });

  it("decodes escapes and subvolume roots", () => {
    const [e] = parseMountinfo("40 30 0:52 /data /srv/my\\040data rw,noatime shared:1 - btrfs /dev/loop3 rw,space_cache=v2,subvolid=256,subvol=/data\n");
    expect(e).toEqual({ target: "/srv/my data", source: "/dev/loop3[/data]", dev: "/dev/loop3", fsroot: "/data", fstype: "btrfs", options: "rw,noatime,space_cache=v2,subvolid=256,subvol=/data" });
  });

  it("reads the table at every look: a mount made or removed between two looks shows in the second", async () => {
    const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "osvc-mountinfo-")));
    const mounted = async () => (await readMounts()).some((e) => e.target === dir);
    try {
      expect(await mounted()).toBe(false);
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "osvc-mountinfo-test", dir]);
      expect(await mounted()).toBe(true);
      expect(await mounted()).toBe(true); // the same table: parsed once, served again
      execFileSync("umount", [dir]);
      expect(await mounted()).toBe(false);
    } finally {
      try {
        execFileSync("umount", [dir], { stdio: "ignore" });
      } catch {
        // not mounted
      }
      rmdirSync(dir);
    }
  });
});
