// /proc/self/mountinfo, parsed, says what findmnt says: same targets, sources (with [/root]),
// types and options (as sets), for every mount of this host.
import { execFileSync } from "node:child_process";
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
});
