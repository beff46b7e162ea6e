import { MKE2FS_OPTIONS, MKFS_BTRFS_OPTIONS, MKFS_XFS_OPTIONS, type OptionTable } from "../../src/core/argv.js";
import type { DriverSpec, KeywordSpec } from "../../src/core/schema.js";

const fsKeywords: KeywordSpec[] = [
  { name: "dev", type: "string", required: true, scopable: true, text: "The block device, image file, LABEL=/UUID= or a reference such as {disk#0.exposed_devs[0]}.", example: "{disk#0.exposed_devs[0]}" },
  { name: "mnt", type: "string", required: true, scopable: true, text: "The mount point (a trailing / is ignored).", example: "/srv/{name}/data" },
  { name: "mnt_opt", type: "string", scopable: true, text: "Mount options (comma separated). For btrfs, subvol=<name> selects (and at provision creates) a subvolume, and device=<dev> names the other members of a multi-device filesystem (formatted together with dev at provision).", example: "defaults,noatime" },
  { name: "mkfs_opt", type: "shlex", scopable: true, provisioning: true, text: "Extra mkfs options (options only: the devices come from dev, and for a multi-device btrfs from the device= mount options).", example: "-L data" },
  { name: "user", type: "string", format: "account", scopable: true, text: "Owner of the mount point after mount (name or uid)." },
  { name: "group", type: "string", format: "account", scopable: true, text: "Group of the mount point after mount (name or gid)." },
  { name: "perm", type: "octal", scopable: true, text: "Mode of the mount point after mount (octal).", example: "0755" },
  { name: "stat_timeout", type: "duration", scopable: true, default: "5s", text: "Time allowed for a stat of the mount point before the status turns to warn." },
  { name: "check_read", type: "bool", scopable: true, text: "Read the device to check it is alive (status only)." },
  { name: "vg", type: "string", scopable: true, provisioning: true, text: "Volume group in which to create a logical volume for dev at provision (needs device-mapper)." },
  { name: "size", type: "size", scopable: true, provisioning: true, text: "Size of the logical volume or loop file created at provision." },
  { name: "create_options", type: "shlex", scopable: true, provisioning: true, text: "Extra options of the logical volume creation." },
  { name: "snap_size", type: "size", scopable: true, text: "Snapshot size for sync drivers that snapshot this filesystem." },
  { name: "promote_rw", type: "bool", scopable: true, text: "Promote the device read-write before mount." },
  { name: "zone", type: "string", scopable: true, text: "Zone name (Solaris only; ignored on Linux)." },
];

/** Filesystem types with a real provider on this host. */
export const FS_TYPES_RUNNABLE = ["ext2", "ext3", "ext4", "xfs", "btrfs"] as const;
/** Filesystem types known to templates but not provisioned here. */
export const FS_TYPES_OTHER = ["zfs", "vfat", "tmpfs", "nfs", "nfs4", "cifs", "shm", "bind", "none", "reiserfs", "jfs", "ocfs2", "gfs2"] as const;

/** The option table of each runnable type's mkfs: mkfs_opt words are checked against it. */
export const MKFS_OPTIONS: Readonly<Record<(typeof FS_TYPES_RUNNABLE)[number], OptionTable>> = {
  ext2: { ...MKE2FS_OPTIONS, tool: "mkfs.ext2" },
  ext3: { ...MKE2FS_OPTIONS, tool: "mkfs.ext3" },
  ext4: { ...MKE2FS_OPTIONS, tool: "mkfs.ext4" },
  xfs: MKFS_XFS_OPTIONS,
  btrfs: MKFS_BTRFS_OPTIONS,
};

function keywordsOf(t: string): KeywordSpec[] {
  const table = (MKFS_OPTIONS as Record<string, OptionTable>)[t];
  return table ? fsKeywords.map((k) => (k.name === "mkfs_opt" ? { ...k, argv: { kind: "options", table } } : k)) : fsKeywords;
}

/** "an ext4", "a btrfs": the article as the name is read aloud (ext, xfs, nfs, ocfs start with a vowel sound). */
function article(t: string): string {
  return /^(ext|xfs|nfs|ocfs)/.test(t) ? `an ${t}` : `a ${t}`;
}

/** One line per type: what osvc does with it (network and memory filesystems have nothing to format). */
function fsText(t: string): string {
  const a = article(t);
  const cap = a[0].toUpperCase() + a.slice(1);
  if (t === "nfs" || t === "nfs4" || t === "cifs") return `${cap} network filesystem (dev is the remote export), mounted at start; nothing to format.`;
  if (t === "tmpfs" || t === "shm") return `${cap} memory filesystem, mounted at start; nothing to format.`;
  if (t === "bind") return "A bind mount of the directory dev on mnt, at start; nothing to format.";
  if (t === "none") return "A mount with no filesystem type (mount -t none), at start; nothing to format.";
  return `${cap} filesystem: formatted at provision when the device is blank (no signature, no data), mounted at start.`;
}

export const fsSpecs: DriverSpec[] = [...FS_TYPES_RUNNABLE, ...FS_TYPES_OTHER].map((t) => ({
  group: "fs",
  type: t,
  text: fsText(t),
  keywords: keywordsOf(t),
}));
