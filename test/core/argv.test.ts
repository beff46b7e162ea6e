// Template values add options to commands, never operands: each rule against the words that would
// slip an operand in, and the ordinary values the seed and the examples use.
import { describe, expect, it } from "vitest";
import { checkArgvValue, checkOptionWords, MKE2FS_OPTIONS, MKFS_BTRFS_OPTIONS, MKFS_XFS_OPTIONS, OCI_RUN_OPTIONS, RSYNC_OPTIONS, VGCREATE_OPTIONS } from "../../src/core/argv.js";
import { compile } from "../helpers/compile.js";

const ok = (words: string[], t: Parameters<typeof checkOptionWords>[1]) => checkOptionWords(words, t).ok;
const err = (words: string[], t: Parameters<typeof checkOptionWords>[1]) => {
  const c = checkOptionWords(words, t);
  return c.ok ? "" : c.error;
};

describe("option words", () => {
  it("accepts options with separate or attached values", () => {
    expect(ok(["-L", "my label", "-E", "a b"], MKE2FS_OPTIONS)).toBe(true);
    expect(ok(["-Ldata", "-q", "-b", "4096"], MKE2FS_OPTIONS)).toBe(true);
    expect(ok(["-d", "raid1", "-m", "raid1"], MKFS_BTRFS_OPTIONS)).toBe(true);
    expect(ok(["--label", "x", "--nodesize=16384", "--mixed"], MKFS_BTRFS_OPTIONS)).toBe(true);
    expect(ok(["-b", "size=4096", "-m", "crc=1"], MKFS_XFS_OPTIONS)).toBe(true);
    expect(ok(["-s", "4m", "--addtag", "t"], VGCREATE_OPTIONS)).toBe(true);
    expect(ok(["-v", "/srv/x:/data:rw", "-p", "80:80", "--net=bridge", "-it", "--rm"], OCI_RUN_OPTIONS)).toBe(true);
    expect(ok(["--exclude=*.tmp", "-avz", "--no-perms", "-e", "ssh -p 2222"], RSYNC_OPTIONS)).toBe(true);
  });

  it("refuses operands, unknown options, -- and paths in mkfs options", () => {
    expect(err(["/some/other.img"], MKFS_BTRFS_OPTIONS)).toMatch(/is not an option of mkfs.btrfs: it would reach mkfs.btrfs as an operand/);
    expect(err(["-f", "/dev/loop9"], MKFS_BTRFS_OPTIONS)).toMatch(/"\/dev\/loop9" is not an option/);
    expect(err(["-L", "x", "--", "/dev/sdb"], MKE2FS_OPTIONS)).toMatch(/"--" ends the options/);
    expect(err(["--no-such-option"], MKE2FS_OPTIONS)).toMatch(/unknown option --no-such-option/);
    expect(err(["--cpu-quota-x", "1"], OCI_RUN_OPTIONS)).toMatch(/unknown option --cpu-quota-x .*cannot tell whether it takes a value/);
    expect(ok(["--cpu-quota-x=1"], OCI_RUN_OPTIONS)).toBe(true); // attached: cannot become an operand
    expect(err(["-l", "logdev=/dev/sdb"], MKFS_XFS_OPTIONS)).toMatch(/names a path/);
    expect(err(["-Jdevice=/dev/sdb"], MKE2FS_OPTIONS)).toMatch(/-J is not accepted/);
    expect(err(["-L"], MKE2FS_OPTIONS)).toMatch(/-L needs a value/);
    expect(err(["-s", "4m", "/dev/sdc"], VGCREATE_OPTIONS)).toMatch(/"\/dev\/sdc" is not an option of vgcreate/);
    expect(err(["--rm", "other-image"], OCI_RUN_OPTIONS)).toMatch(/"other-image" is not an option/);
    expect(err(["-a", "/etc/passwd"], RSYNC_OPTIONS)).toMatch(/"\/etc\/passwd" is not an option of rsync/);
  });

  it("an operand keyword may not read as an option", () => {
    expect(checkArgvValue("--help", { kind: "operand", tool: "podman run" }).ok).toBe(false);
    expect(checkArgvValue("localhost/busybox:latest", { kind: "operand", tool: "podman run" }).ok).toBe(true);
  });
});

describe("validate reports them at the keyword (E2040)", () => {
  it("mkfs_opt, image, run_args, vg options, rsync options", () => {
    const text = [
      "[fs#0]\ntype = btrfs\ndev = /dev/loop9\nmnt = /m\nmkfs_opt = -f /some/other.img\n",
      "[container#0]\ntype = podman\nimage = --help\nrun_args = --rm x\n",
      "[disk#0]\ntype = vg\nname = v\npvs = /dev/loop8\noptions = -s 4m /dev/sdz\n",
      "[sync#0]\ntype = rsync\nsrc = /a\ndst = /b\ntarget = local\noptions = -a /etc\n",
    ].join("\n");
    const c = compile(text);
    const e = c.diagnostics.filter((d) => d.code === "E2040").map((d) => `${d.summary} @${d.range?.start.line}:${d.range?.start.col}`);
    expect(e).toEqual([
      "invalid value for mkfs_opt @5:12",
      "invalid value for image @9:9",
      "invalid value for run_args @10:12",
      "invalid value for options @16:11",
      "invalid value for options @23:11",
    ]);
    expect(compile("[fs#0]\ntype = ext4\ndev = /d\nmnt = /m\nmkfs_opt = -L data -E lazy_itable_init=1\n").diagnostics.filter((d) => d.code === "E2040")).toEqual([]);
  });
});
