// fs.ext2/ext3/ext4/xfs/btrfs (opensvc-semantics §11.6, host-environment §2).
//
// probe      : ONE `findmnt -J -l` for all resources, one `blkid -p -o export DEV` per distinct
//              existing device (no udev here: never lsblk, never plain blkid), `btrfs subvolume list`
//              only for a btrfs subvolume whose device is mounted somewhere else, one `stat` for the
//              ownership of mounted mount points.
// provision  : blkid -p first: same type → adopt (no mkfs); any other signature → refuse; no
//              signature → mkfs only when the device is shown blank (sampled in-process: head, tail,
//              evenly spaced regions all zero) or the user passed --allow-format <rid>. A loop
//              device this run attached to a file it had just created, whose file has no allocated
//              block once the device is synced, is blank by construction (no blkid, no sampling). mkfs_opt
//              words are options only (checked against mkfs's option table), then `--` and the
//              devices: dev, and for btrfs the other members named by device= mount options.
//              btrfs subvol=X: create the subvolume from a temporary top-level mount. Then start.
// start/stop : mount -t TYPE [-o mnt_opt] DEV MNT + owner/mode of the mount point / umount.
// unprovision: stop, rmdir the mount point when osvc created it and it is empty, then the parent
//              directories osvc made for it (created_dirs), while empty. Never wipes (except the
//              removal half of an allowed replace: wipefs, so the new filesystem is made).
// facts      : formatted_by_osvc and created_mnt are recorded (ctx.recordFacts) right after the
//              mkfs / mkdir, so an interrupted run knows what osvc made, from facts only.
// update     : mnt_opt → `mount -o remount,...`; user/group/perm → chown/chmod.
import { constants, realpathSync, statSync } from "node:fs";
import { access, mkdtemp, readdir, realpath, rmdir, stat } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { KwValue, Outputs } from "../../src/core/value.js";
import { noteCreated, ProviderError } from "../../src/provider/api.js";
import type { Observed, ProbeContext, Provider, ProviderContext, ResourceSpec, ProbeProblem } from "../../src/provider/api.js";
import { ExecError, exitText, run } from "../../src/provider/exec.js";
import { dirsNote, makeDirsNoted, PathResolver, recordedDirs, removeCreatedDirs, removeEmptyDir, removeNotedDirs } from "../../src/provider/files.js";
import { sampleBlank } from "../../src/provider/content.js";
import { checkOptionWords } from "../../src/core/argv.js";
import type { DeviceContent } from "../../src/provider/api.js";
import type { Exec } from "../../src/provider/exec.js";
import { applyOwnership, ownershipActual, statPaths } from "./ownership.js";
import { FS_TYPES_RUNNABLE, fsSpecs, MKFS_OPTIONS } from "./spec.js";
import { readMounts } from "./mountinfo.js";
import { blankByConstruction, listLoops, noteLoopChange } from "../disk-loop/loops.js";

export type RunnableFsType = (typeof FS_TYPES_RUNNABLE)[number];
type Problem = ProbeProblem;

// ---------------------------------------------------------------------------------------------
// Host readers

export interface MountEntry {
  readonly target: string;
  /** SOURCE as printed: "/dev/loop2" or "/dev/loop2[/data]" (btrfs subvolume, bind mount). */
  readonly source: string;
  /** SOURCE without the bracketed fs root. */
  readonly dev: string;
  /** The bracketed fs root ("/data"), "" when absent. */
  readonly fsroot: string;
  readonly fstype: string;
  readonly options: string;
}

export function parseFindmnt(stdout: string): MountEntry[] {
  if (!stdout.trim()) return [];
  const data = JSON.parse(stdout) as { filesystems?: Record<string, unknown>[] };
  return (data.filesystems ?? []).map((f) => {
    const source = String(f.source ?? "");
    const m = /^(.*?)\[(.*)\]$/.exec(source);
    return {
      target: String(f.target ?? ""),
      source,
      dev: m ? m[1] : source,
      fsroot: m ? m[2] : "",
      fstype: String(f.fstype ?? ""),
      options: String(f.options ?? ""),
    };
  });
}

/** The mount table (read from /proc/self/mountinfo; `exec` is kept for the call sites' symmetry). */
async function listMounts(_exec: Exec): Promise<MountEntry[]> {
  return readMounts();
}

/** Parsed `blkid -p -o export DEV`. */
export type Signature =
  | { readonly kind: "none" }
  | { readonly kind: "fs"; readonly type: string; readonly usage: string; readonly fields: Readonly<Record<string, string>> }
  | { readonly kind: "other"; readonly what: string }
  | { readonly kind: "error"; readonly message: string };

export function parseBlkid(exitCode: number, stdout: string, stderr: string): Signature {
  // exit 2 means "nothing found" only when blkid could read the device: "Permission denied" also exits 2.
  if (exitCode === 2 && stdout.trim() === "" && stderr.trim() === "") return { kind: "none" };
  if (exitCode !== 0) {
    const why = exitCode === 8 ? "ambivalent probing result (several signatures)" : (stderr || stdout).trim() || `exit code ${exitCode}`;
    return { kind: "error", message: why };
  }
  const fields: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) fields[line.slice(0, i)] = line.slice(i + 1);
  }
  if (fields.TYPE) return { kind: "fs", type: fields.TYPE, usage: fields.USAGE ?? "", fields };
  if (fields.PTTYPE) return { kind: "other", what: `a ${fields.PTTYPE} partition table` };
  return { kind: "other", what: `an unknown signature (${stdout.trim().replace(/\n/g, " ")})` };
}

async function probeSignature(exec: Exec, dev: string): Promise<Signature> {
  const r = await exec("blkid", ["-p", "-o", "export", dev]);
  return parseBlkid(r.exitCode, r.stdout, r.stderr);
}

/**
 * Signatures of many devices with ONE command, for the read-only probe: `blkid -c /dev/null`
 * (no cache) prints a block per device that holds a signature and skips the others, where
 * `blkid -p` stops at the first device without one. Provision still checks its own device with
 * `blkid -p` right before any mkfs.
 */
async function probeSignatures(exec: Exec, devs: readonly string[]): Promise<Map<string, Signature>> {
  const out = new Map<string, Signature>(devs.map((d) => [d, { kind: "none" } as Signature]));
  if (devs.length === 0) return out;
  if (devs.length === 1) {
    out.set(devs[0], await probeSignature(exec, devs[0]));
    return out;
  }
  const r = await exec("blkid", ["-c", "/dev/null", "-o", "export", ...devs]);
  if (r.exitCode !== 0 && r.exitCode !== 2) {
    // Something unexpected: fall back to one precise probe per device.
    for (const d of devs) out.set(d, await probeSignature(exec, d));
    return out;
  }
  const found = new Set<string>();
  for (const block of r.stdout.split(/\n\s*\n/)) {
    const name = /^DEVNAME=(.*)$/m.exec(block)?.[1];
    if (name && out.has(name)) {
      out.set(name, parseBlkid(0, block.replace(/^DEVNAME=.*\n?/m, ""), ""));
      found.add(name);
    }
  }
  // blkid -c /dev/null silently skips a device it cannot read: that is no proof of no signature.
  for (const d of devs) {
    if (found.has(d)) continue;
    try {
      await access(d, constants.R_OK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") out.set(d, { kind: "error", message: `cannot read ${d}: ${code === "EACCES" || code === "EPERM" ? "permission denied" : String(code)}` });
    }
  }
  return out;
}

function describe(sig: Signature): string {
  switch (sig.kind) {
    case "none":
      return "no signature";
    case "fs":
      return sig.usage === "filesystem" || sig.usage === "" ? `a ${sig.type} filesystem` : `a ${sig.type} signature (${sig.usage})`;
    case "other":
      return sig.what;
    case "error":
      return `an unreadable signature (${sig.message})`;
  }
}

function foreignSignatureError(dev: string, sig: Signature, type: string): ProviderError {
  return new ProviderError(
    `device ${dev} holds ${describe(sig)}; refusing to format it as ${type}`,
    `check that dev points to the intended device; if its content is really not needed, wipe it yourself (wipefs -a ${dev}) and provision again`,
  );
}

/** Loop devices and their backing files (for image-file devices mounted through an implicit loop). */
async function loopBackings(exec: Exec): Promise<{ name: string; backFile: string }[]> {
  return (await listLoops(exec)).filter((l) => !l.deleted);
}

// ---------------------------------------------------------------------------------------------
// Keywords

function str(v: KwValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return v.join(" ");
}

function mntOf(r: ResourceSpec): string {
  const m = str(r.kw.mnt);
  if (!m) throw new ProviderError(`${r.rid}: keyword "mnt" is required`);
  if (!path.isAbsolute(m)) throw new ProviderError(`${r.rid}: mnt must be an absolute path, got ${JSON.stringify(m)}`);
  const p = path.resolve(m); // strips a trailing "/"
  if (p === "/") throw new ProviderError(`${r.rid}: refusing to use / as a mount point`);
  return p;
}

function devSpecOf(r: ResourceSpec): string {
  const d = str(r.kw.dev);
  if (!d || d === "none") throw new ProviderError(`${r.rid}: keyword "dev" is required`);
  return d;
}

function mntOptOf(r: ResourceSpec): string | undefined {
  const o = str(r.kw.mnt_opt)?.trim();
  return o ? o : undefined;
}

function mkfsOptOf(r: ResourceSpec, type: RunnableFsType): string[] {
  const v = r.kw.mkfs_opt;
  if (v === undefined || v === null || v === "") return [];
  const words = Array.isArray(v) ? [...v] : String(v).split(/\s+/).filter(Boolean);
  const c = checkOptionWords(words, MKFS_OPTIONS[type]);
  if (!c.ok) throw new ProviderError(`${r.rid}: mkfs_opt: ${c.error}`, c.hint);
  return words;
}

function splitOpts(o: string | undefined): string[] {
  return (o ?? "").split(",").map((s) => s.trim()).filter(Boolean);
}

/** btrfs subvolume from mnt_opt `subvol=X`, without leading "/" ("" = none). */
export function subvolOf(mntOpt: string | undefined): string {
  for (const o of splitOpts(mntOpt)) {
    if (o.startsWith("subvol=")) return o.slice("subvol=".length).replace(/^\/+/, "").replace(/\/+$/, "");
  }
  return "";
}

// ---------------------------------------------------------------------------------------------
// Mount option comparison

const NEGATION: Record<string, string> = {
  ro: "rw",
  nosuid: "suid",
  nodev: "dev",
  noexec: "exec",
  sync: "async",
  noatime: "relatime",
  strictatime: "relatime",
  nodiratime: "diratime",
  lazytime: "nolazytime",
  dirsync: "", // no explicit opposite; dropped by a remount without it
  mand: "nomand",
};
/** Options that only mean "the default": satisfied while their opposite is absent. */
const DEFAULT_FLAGS: Record<string, string[]> = {
  rw: ["ro"],
  suid: ["nosuid"],
  dev: ["nodev"],
  exec: ["noexec"],
  async: ["sync"],
  atime: ["noatime"],
  diratime: ["nodiratime"],
  nolazytime: ["lazytime"],
  nomand: ["mand"],
};
/** Options that do not show in the kernel's mount options at all. */
const IGNORED = new Set(["defaults", "auto", "noauto", "user", "nouser", "users", "owner", "group", "_netdev", "nofail", "loop", "remount", "bind", "rbind"]);

function isIgnored(o: string): boolean {
  return IGNORED.has(o) || o.startsWith("x-") || o.startsWith("comment=") || o.startsWith("subvolid=") || o.startsWith("loop=") || o.startsWith("offset=") || o.startsWith("sizelimit=");
}

/**
 * Whether the current kernel options satisfy the configured ones. VFS flags are compared both ways
 * (a configured noatime must be there, a noatime no longer configured must be gone); fs-specific
 * key=value options must not show another value; fs-specific options the kernel does not print
 * (defaults) are taken as satisfied.
 */
export function mountOptionsSatisfied(desired: string | undefined, current: string): boolean {
  const cur = new Set(splitOpts(current));
  const curKv = new Map<string, string>();
  for (const o of cur) {
    const i = o.indexOf("=");
    if (i > 0) curKv.set(o.slice(0, i), o.slice(i + 1));
  }
  const want = splitOpts(desired).filter((o) => !isIgnored(o));
  for (const o of want) {
    if (o.startsWith("subvol=")) {
      if ((curKv.get("subvol") ?? "").replace(/^\/+/, "") !== o.slice(7).replace(/^\/+/, "").replace(/\/+$/, "")) return false;
      continue;
    }
    if (o in DEFAULT_FLAGS) {
      if (DEFAULT_FLAGS[o].some((x) => cur.has(x))) return false;
      continue;
    }
    if (o in NEGATION || o === "relatime") {
      if (!cur.has(o)) return false;
      continue;
    }
    const i = o.indexOf("=");
    if (i > 0) {
      const k = o.slice(0, i);
      if (curKv.has(k) && curKv.get(k) !== o.slice(i + 1)) return false;
      continue;
    }
    // bare fs-specific option: satisfied when shown or not shown at all (kernel defaults are hidden)
  }
  const wantSet = new Set(want);
  for (const flag of Object.keys(NEGATION)) {
    if (cur.has(flag) && !wantSet.has(flag)) return false;
  }
  return true;
}

/** Options for `mount -o remount,...`: the configured ones, plus explicit opposites of VFS flags to drop. */
export function remountOptions(desired: string | undefined, current: string): string {
  const want = splitOpts(desired).filter((o) => !o.startsWith("subvol=") && !o.startsWith("subvolid=") && o !== "loop" && o !== "defaults");
  const wantSet = new Set(want);
  const cur = new Set(splitOpts(current));
  const hasAtime = want.some((o) => ["noatime", "relatime", "strictatime", "atime"].includes(o));
  for (const [flag, opposite] of Object.entries(NEGATION)) {
    if (!cur.has(flag) || wantSet.has(flag) || !opposite) continue;
    if (opposite === "relatime" && hasAtime) continue;
    if (!wantSet.has(opposite)) {
      want.push(opposite);
      wantSet.add(opposite);
    }
  }
  return ["remount", ...want].join(",");
}

// ---------------------------------------------------------------------------------------------
// Device and mount state

interface DevInfo {
  readonly spec: string;
  /** Resolved path (realpath) when it exists. */
  readonly path?: string;
  readonly kind: "block" | "file" | "missing" | "other";
  /** Device names a mount of this dev shows as SOURCE (the block device, or loops over an image file). */
  aliases: string[];
}

async function resolveDev(exec: Exec, spec: string, resolver?: PathResolver): Promise<DevInfo> {
  let p = spec;
  const tag = /^(LABEL|UUID)=(.+)$/.exec(spec);
  if (tag) {
    const r = await exec("blkid", [tag[1] === "LABEL" ? "-L" : "-U", tag[2]]);
    const found = r.stdout.trim().split("\n")[0];
    if (r.exitCode !== 0 || !found) return { spec, kind: "missing", aliases: [] };
    p = found;
  }
  if (!path.isAbsolute(p)) return { spec, kind: "other", aliases: [] };
  if (resolver) {
    const r = await resolver.resolve(p);
    if (!r) return { spec, kind: "missing", aliases: [] };
    if (r.stat.isBlockDevice()) return { spec, path: r.real, kind: "block", aliases: [r.real] };
    return { spec, path: r.real, kind: r.stat.isFile() ? "file" : "other", aliases: [] };
  }
  try {
    const st = statSync(p); // synchronous, as osvc's other file steps (src/core/sync-io.ts)
    const real = realpathSync.native(p);
    if (st.isBlockDevice()) return { spec, path: real, kind: "block", aliases: [real] };
    if (st.isFile()) return { spec, path: real, kind: "file", aliases: [] };
    return { spec, path: real, kind: "other", aliases: [] };
  } catch {
    return { spec, kind: "missing", aliases: [] };
  }
}

async function resolveDevs(exec: Exec, specs: readonly string[], resolver?: PathResolver): Promise<Map<string, DevInfo>> {
  const out = new Map<string, DevInfo>();
  for (const s of new Set(specs)) out.set(s, await resolveDev(exec, s, resolver));
  const files = [...out.values()].filter((d) => d.kind === "file");
  if (files.length > 0) {
    const loops = await loopBackings(exec);
    for (const d of files) d.aliases = loops.filter((l) => l.backFile === d.path).map((l) => l.name);
  }
  return out;
}

async function canonicalMnt(mnt: string): Promise<string> {
  try {
    return realpathSync.native(mnt);
  } catch {
    return mnt;
  }
}

/**
 * canonicalMnt for the probe: a mount point the mount table lists is canonical already (the kernel
 * shows resolved paths), so it costs no system call; others go through the probe's resolver.
 */
async function probeMnt(mnt: string, targets: ReadonlySet<string>, resolver: PathResolver): Promise<string> {
  if (targets.has(mnt)) return mnt;
  return (await resolver.resolve(mnt))?.real ?? mnt;
}

interface MountState {
  /** Our device (and subvolume) is mounted on mnt. */
  readonly entry?: MountEntry;
  /** Something else is mounted on mnt (topmost mount). */
  readonly foreign?: MountEntry;
  /** The topmost mount on mnt, ours or not. */
  readonly top?: MountEntry;
  /** Mounts of our device anywhere (for the btrfs subvolume list). */
  readonly devMounts: MountEntry[];
}

/**
 * The other member devices of a multi-device btrfs, declared with device= mount options: the
 * kernel may show any member as the mount's SOURCE.
 */
export function coDevicesOf(mntOpt: string | undefined): string[] {
  return splitOpts(mntOpt)
    .filter((o) => o.startsWith("device="))
    .map((o) => o.slice("device=".length));
}

interface MountIndex {
  readonly byTarget: ReadonlyMap<string, MountEntry[]>;
  readonly byDev: ReadonlyMap<string, MountEntry[]>;
  readonly order: ReadonlyMap<MountEntry, number>;
}

/**
 * A mount table by target and by source device, built when a table is asked about a second time
 * (the probe asks per resource; a start reads a fresh table for one question).
 */
const mountIndexes = new WeakMap<readonly MountEntry[], MountIndex | "asked once">();

function indexMounts(mounts: readonly MountEntry[]): MountIndex | undefined {
  const known = mountIndexes.get(mounts);
  if (known === undefined) mountIndexes.set(mounts, "asked once");
  if (known !== "asked once") return known;
  const byTarget = new Map<string, MountEntry[]>();
  const byDev = new Map<string, MountEntry[]>();
  const add = (m: Map<string, MountEntry[]>, k: string, e: MountEntry) => {
    const list = m.get(k);
    if (list) list.push(e);
    else m.set(k, [e]);
  };
  for (const e of mounts) {
    add(byTarget, e.target, e);
    add(byDev, e.dev, e);
  }
  const idx = { byTarget, byDev, order: new Map(mounts.map((e, i) => [e, i])) };
  mountIndexes.set(mounts, idx);
  return idx;
}

function mountState(mounts: readonly MountEntry[], mnt: string, dev: DevInfo, subvol: string, members: readonly string[] = []): MountState {
  const idx = indexMounts(mounts);
  const isOurs = (e: MountEntry) => dev.aliases.includes(e.dev) || members.includes(e.dev);
  const atMnt = idx ? (idx.byTarget.get(mnt) ?? []) : mounts.filter((e) => e.target === mnt);
  const wantRoot = subvol ? `/${subvol}` : "";
  const entry = atMnt.find((e) => isOurs(e) && (e.fsroot === wantRoot || (!subvol && e.fsroot === "/")));
  const top = atMnt[atMnt.length - 1];
  const devMounts = idx
    ? [...new Set([...dev.aliases, ...members].flatMap((d) => idx.byDev.get(d) ?? []))].sort((a, b) => idx.order.get(a)! - idx.order.get(b)!)
    : mounts.filter(isOurs);
  return {
    ...(entry ? { entry } : {}),
    ...(!entry && top ? { foreign: top } : {}),
    ...(top ? { top } : {}),
    devMounts,
  };
}

function parseSubvolList(stdout: string): Set<string> {
  const names = new Set<string>();
  for (const line of stdout.split("\n")) {
    const m = / path (.+)$/.exec(line);
    if (m) names.add(m[1].replace(/^<FS_TREE>\//, ""));
  }
  return names;
}

// ---------------------------------------------------------------------------------------------
// The provider

function recordedBool(r: ResourceSpec, key: string): boolean | undefined {
  const v = r.recorded?.[key];
  return typeof v === "boolean" ? v : undefined;
}

function preserved(r: ResourceSpec): Record<string, boolean | string[]> {
  const out: Record<string, boolean | string[]> = {};
  for (const k of ["formatted_by_osvc", "created_mnt"]) {
    const v = recordedBool(r, k);
    if (v !== undefined) out[k] = v;
  }
  const dirs = recordedDirs(r.recorded);
  if (dirs.length) out.created_dirs = dirs;
  return out;
}

/** The mkfs command: its flags, the checked mkfs_opt options, `--`, then the devices. */
function mkfsCommand(type: RunnableFsType, opts: readonly string[], devs: readonly string[]): [string, string[]] {
  switch (type) {
    case "xfs":
      return ["mkfs.xfs", ["-f", "-q", ...opts, "--", ...devs]];
    case "btrfs":
      return ["mkfs.btrfs", ["-f", "-q", ...opts, "--", ...devs]];
    default:
      return [`mkfs.${type}`, ["-F", "-q", ...opts, "--", ...devs]];
  }
}

/** The other members of a multi-device btrfs (device= mount options other than dev), resolved. */
async function membersOf(type: RunnableFsType, r: ResourceSpec, dev: string): Promise<string[]> {
  if (type !== "btrfs") return [];
  const out: string[] = [];
  for (const m of coDevicesOf(mntOptOf(r))) {
    if (!path.isAbsolute(m)) throw new ProviderError(`${r.rid}: device=${m} in mnt_opt must be an absolute device path`);
    let real = m;
    try {
      real = await realpath(m);
    } catch {
      throw new ProviderError(`device ${m} (device= in mnt_opt) does not exist`, "is the disk resource providing it provisioned and started?");
    }
    if (real !== dev && !out.includes(real)) out.push(real);
  }
  return out;
}

/**
 * A loop device osvc attached in this run to a file it had just created, and that file still holds
 * no allocated block once the device's buffers are written out: all zeros, so no signature and no
 * data, by construction (providers/disk-loop/loops.ts). Undefined for any other device.
 */
async function freshContent(dev: string): Promise<DeviceContent | undefined> {
  const why = await blankByConstruction(dev);
  return why === undefined ? undefined : { device: dev, blank: true, detail: why };
}

/**
 * What formatting `dev` would destroy: sampled, read-only. A device that cannot be read is an error.
 * The block device's cached pages are dropped first (blockdev --flushbufs): data written to a loop
 * device's backing file since an earlier look must not hide behind cached zeros, and data written
 * through the device reaches the file. A device blank by construction (freshContent) is not sampled.
 */
async function contentOf(exec: Exec, dev: string): Promise<DeviceContent> {
  if (statSync(dev).isBlockDevice()) {
    const fresh = await freshContent(dev);
    if (fresh) return fresh;
    const f = await exec("blockdev", ["--flushbufs", dev]);
    if (f.exitCode !== 0) throw new ProviderError(`cannot read ${dev} to check that it is blank: blockdev --flushbufs: ${(f.stderr || f.stdout).trim() || `exit code ${f.exitCode}`}`);
  }
  const s = await sampleBlank(dev);
  return { device: dev, blank: s.blank, detail: s.detail };
}

function formatRefused(rid: string, c: DeviceContent, type: string): ProviderError {
  return new ProviderError(
    `refusing to format ${c.device} as ${type}: it holds ${c.detail}`,
    `check that dev points to the intended device; if its content is really not needed, pass --allow-format ${rid}`,
  );
}

export function makeFsProvider(type: RunnableFsType): Provider {
  const spec = fsSpecs.find((s) => s.type === type);
  if (!spec) throw new Error(`no spec for fs.${type}`);

  async function requireDev(exec: Exec, r: ResourceSpec): Promise<DevInfo & { path: string }> {
    const spec = devSpecOf(r);
    const d = (await resolveDevs(exec, [spec])).get(spec)!;
    if (d.kind === "missing" || !d.path) {
      throw new ProviderError(`device ${spec} does not exist`, "is the disk resource providing it provisioned and started?");
    }
    if (d.kind === "other") throw new ProviderError(`${spec} is neither a block device nor an image file`);
    return d as DevInfo & { path: string };
  }

  async function probe(ctx: ProbeContext, resources: readonly ResourceSpec[]): Promise<Observed[]> {
    if (resources.length === 0) return [];
    const mounts = await listMounts(ctx.exec);
    const resolver = new PathResolver();
    const targets = new Set(mounts.map((m) => m.target));
    const devs = await resolveDevs(ctx.exec, resources.map(devSpecOf), resolver);
    const states = await Promise.all(resources.map(async (r) => mountState(mounts, await probeMnt(mntOf(r), targets, resolver), devs.get(devSpecOf(r))!, subvolOf(mntOptOf(r)), coDevicesOf(mntOptOf(r)))));
    // A block device the kernel has mounted as this type holds this type: the mount table says so,
    // no need to read its signature (a no-op plan of mounted filesystems runs no blkid at all).
    const mountedAsType = new Map<string, Signature>();
    for (const [i, r] of resources.entries()) {
      const dev = devs.get(devSpecOf(r))!;
      if (dev.kind === "block" && dev.path && states[i].devMounts.some((x) => x.fstype === type)) mountedAsType.set(dev.path, { kind: "fs", type, usage: "filesystem", fields: { TYPE: type } });
    }
    const sigs = await probeSignatures(ctx.exec, [...new Set([...devs.values()].filter((d) => d.path && (d.kind === "block" || d.kind === "file") && !mountedAsType.has(d.path)).map((d) => d.path!))]);
    for (const [d, sig] of mountedAsType) sigs.set(d, sig);
    const wantsOwnership = (r: ResourceSpec) => [r.kw.user, r.kw.group, r.kw.perm].some((v) => v !== undefined && v !== null && v !== "");
    const owned = await statPaths(
      ctx.exec,
      resources.filter((r, i) => states[i].entry && wantsOwnership(r)).map((r) => mntOf(r)),
    );
    const subvolCache = new Map<string, Set<string> | null>();

    const out: Observed[] = [];
    for (const [i, r] of resources.entries()) {
      const dev = devs.get(devSpecOf(r))!;
      const mnt = mntOf(r);
      const st = states[i];
      const problems: Problem[] = [];
      let provisioned = false;
      let content: DeviceContent | undefined;
      if (dev.kind === "other") {
        problems.push({ level: "error", keyword: "dev", message: `${dev.spec} is neither a block device nor an image file` });
      } else if (dev.path && dev.kind !== "missing") {
        const sig = sigs.get(dev.path)!;
        if (sig.kind === "fs" && sig.type === type) {
          provisioned = true;
        } else if (sig.kind !== "none") {
          const e = foreignSignatureError(dev.path, sig, type);
          problems.push({ level: "error", keyword: "dev", message: e.message, ...(e.hint ? { hint: e.hint } : {}) });
        } else {
          // A provision would format it: say what that destroys (the planner shows it, and refuses data).
          try {
            content = await contentOf(ctx.exec, dev.path);
          } catch (e) {
            const err = e as ProviderError;
            problems.push({ level: "error", keyword: "dev", message: err.message, ...(err.hint ? { hint: err.hint } : {}) });
          }
        }
      }
      const subvol = type === "btrfs" ? subvolOf(mntOptOf(r)) : "";
      if (provisioned && subvol && !st.entry && st.devMounts.length > 0) {
        // The filesystem is mounted elsewhere: the subvolume list is readable without mounting.
        const where = st.devMounts[0].target;
        if (!subvolCache.has(where)) {
          const l = await ctx.exec("btrfs", ["subvolume", "list", where]);
          subvolCache.set(where, l.exitCode === 0 ? parseSubvolList(l.stdout) : null);
        }
        const names = subvolCache.get(where);
        if (names && !names.has(subvol)) provisioned = false;
      }
      if (st.foreign) {
        problems.push({
          level: "error",
          keyword: "mnt",
          message: `${mnt} is already a mount point of ${st.foreign.source}${dev.path ? `, not of ${dev.path}${subvol ? `[/${subvol}]` : ""}` : ""}`,
          hint: `unmount it (umount ${mnt}) or choose another mount point`,
        });
      }
      const actual: Record<string, KwValue> = {};
      if (st.entry) {
        const want = mntOptOf(r);
        if (mountOptionsSatisfied(want, st.entry.options)) {
          if (want !== undefined) actual.mnt_opt = want;
        } else {
          actual.mnt_opt = st.entry.options;
        }
        const s = owned.get(mnt);
        if (s) Object.assign(actual, ownershipActual(s, r.kw));
      }
      const outputs = preserved(r);
      out.push({
        provisioned,
        up: Boolean(st.entry),
        ...(Object.keys(actual).length ? { actual } : {}),
        ...(Object.keys(outputs).length ? { outputs } : {}),
        ...(problems.length ? { problems } : {}),
        ...(content ? { content } : {}),
      });
    }
    return out;
  }

  async function ensureSubvolume(ctx: ProviderContext, dev: string, subvol: string): Promise<void> {
    if (subvol.split("/").includes("..")) throw new ProviderError(`invalid btrfs subvolume ${JSON.stringify(subvol)}`);
    let base = os.tmpdir();
    try {
      if ((await stat(ctx.varDir)).isDirectory()) base = ctx.varDir;
    } catch {
      /* no var dir: use the system temp dir */
    }
    const tmp = await mkdtemp(path.join(base, "osvc-btrfs-"));
    let mounted = false;
    try {
      await run(ctx.exec, "mount", ["-t", "btrfs", "-o", "subvolid=5", dev, tmp]).finally(noteLoopChange);
      mounted = true;
      const l = await run(ctx.exec, "btrfs", ["subvolume", "list", tmp]);
      if (parseSubvolList(l.stdout).has(subvol)) {
        ctx.log("info", `btrfs subvolume ${subvol} already exists`);
      } else {
        await run(ctx.exec, "btrfs", ["subvolume", "create", path.join(tmp, subvol)]);
        ctx.log("info", `created btrfs subvolume ${subvol}`);
      }
    } catch (e) {
      if (e instanceof ExecError) throw new ProviderError(`cannot create btrfs subvolume ${subvol} on ${dev}: ${e.message}`);
      throw e;
    } finally {
      if (mounted) await run(ctx.exec, "umount", [tmp]).finally(noteLoopChange);
      await rmdir(tmp).catch(() => undefined);
    }
  }

  /** A failed start removes the mount point and the parents it made, and retracts the fact. */
  async function dropMade(ctx: ProviderContext, made: readonly string[]): Promise<void> {
    const removed = await removeCreatedDirs(made).catch(() => [] as string[]);
    if (removed.length) await noteCreated(ctx, { created_mnt: false }).catch(() => undefined);
  }

  async function start(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
    const dev = await requireDev(ctx.exec, r);
    const mnt = mntOf(r);
    const opts = mntOptOf(r);
    const subvol = type === "btrfs" ? subvolOf(opts) : "";
    const mounts = await listMounts(ctx.exec);
    const st = mountState(mounts, await canonicalMnt(mnt), dev, subvol, coDevicesOf(opts));
    let created = recordedBool(r, "created_mnt") === true;
    if (st.entry) {
      await applyOwnership(ctx, mnt, r.kw);
      return { ...preserved(r), created_mnt: created };
    }
    if (st.foreign) {
      throw new ProviderError(`${mnt} is already a mount point of ${st.foreign.source}`, `unmount it (umount ${mnt}) or choose another mount point`);
    }
    let exists = false;
    try {
      const s = statSync(mnt);
      if (!s.isDirectory()) throw new ProviderError(`${mnt} exists and is not a directory`);
      exists = true;
    } catch (e) {
      if (e instanceof ProviderError) throw e;
    }
    // The mount point and the parents osvc makes for it (created_dirs: removed with it).
    let made: string[] = [];
    if (!exists) {
      made = await makeDirsNoted(mnt, dirsNote(ctx.varDir, r.rid));
      for (const d of [...made].reverse()) ctx.log("info", `created directory ${d}`);
      created = true;
      try {
        await noteCreated(ctx, { created_mnt: true });
      } catch (e) {
        await removeCreatedDirs(made).catch(() => undefined); // not recorded: leave nothing behind
        throw e;
      }
    }
    const parents = made.filter((d) => d !== mnt);
    const out = { ...preserved(r), created_mnt: created, ...(parents.length ? { created_dirs: parents } : {}) };
    const args = ["-t", type, ...(opts ? ["-o", opts] : []), "--", dev.path, mnt];
    const m = await ctx.exec("mount", args).finally(noteLoopChange);
    if (m.exitCode !== 0) {
      if (!exists) await dropMade(ctx, made);
      const tail = (m.stderr || m.stdout).trim().split("\n").slice(-3).join("\n");
      throw new ProviderError(
        `cannot mount ${dev.path} on ${mnt}: ${tail || exitText(m)}`,
        subvol ? `check the mount options and that the subvolume ${subvol} exists (provision creates it)` : "check the mount options and that the device holds a " + type + " filesystem",
      );
    }
    ctx.log("info", `mounted ${dev.path}${subvol ? `[/${subvol}]` : ""} on ${mnt}`);
    try {
      await applyOwnership(ctx, mnt, r.kw);
    } catch (e) {
      // leave nothing behind a failed start: unmount, remove the mount point we created
      await ctx.exec("umount", [mnt]).finally(noteLoopChange);
      if (!exists) await dropMade(ctx, made);
      throw e;
    }
    return out;
  }

  async function provision(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
    const dev = await requireDev(ctx.exec, r);
    // A device blank by construction holds only zeros: no signature for blkid to find.
    const fresh = await freshContent(dev.path);
    const sig: Signature = fresh ? { kind: "none" } : await probeSignature(ctx.exec, dev.path);
    let formatted = recordedBool(r, "formatted_by_osvc") === true;
    if (sig.kind === "none") {
      const opts = mkfsOptOf(r, type);
      const members = await membersOf(type, r, dev.path);
      for (const m of members) {
        const ms = await probeSignature(ctx.exec, m);
        if (ms.kind !== "none") throw foreignSignatureError(m, ms, type);
      }
      let blankWhy = "";
      for (const d of [dev.path, ...members]) {
        const c = d === dev.path && fresh ? fresh : await contentOf(ctx.exec, d);
        if (c.blank) {
          if (d === dev.path) blankWhy = ` (blank: ${c.detail})`;
          continue;
        }
        if (!r.allow?.format) throw formatRefused(r.rid, c, type);
        ctx.log("warning", `formatting ${d}, which holds ${c.detail} (--allow-format ${r.rid})`);
      }
      const [file, args] = mkfsCommand(type, opts, [dev.path, ...members]);
      const res = await ctx.exec(file, args);
      if (res.exitCode !== 0) {
        // the error comes first; a usage text may follow
        const tail = (res.stderr || res.stdout).trim().split("\n").filter(Boolean).slice(0, 2).join("\n");
        throw new ProviderError(`${file} failed on ${dev.path} (${exitText(res)}): ${tail}`, "check mkfs_opt");
      }
      ctx.log("info", `formatted ${dev.path} as ${type}${blankWhy}`);
      formatted = true;
      await noteCreated(ctx, { formatted_by_osvc: true });
    } else if (sig.kind === "fs" && sig.type === type) {
      ctx.log("info", `${dev.path} already formatted as ${type}, adopted`);
    } else {
      throw foreignSignatureError(dev.path, sig, type);
    }
    const subvol = type === "btrfs" ? subvolOf(mntOptOf(r)) : "";
    if (subvol) {
      const mounts = await listMounts(ctx.exec);
      const st = mountState(mounts, await canonicalMnt(mntOf(r)), dev, subvol, coDevicesOf(mntOptOf(r)));
      if (!st.entry) await ensureSubvolume(ctx, dev.path, subvol);
    }
    const out = await start(ctx, r);
    return { ...out, formatted_by_osvc: formatted };
  }

  async function stop(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
    const mnt = mntOf(r);
    const spec = devSpecOf(r);
    const dev = (await resolveDevs(ctx.exec, [spec])).get(spec)!;
    const subvol = type === "btrfs" ? subvolOf(mntOptOf(r)) : "";
    const cmnt = await canonicalMnt(mnt);
    for (let i = 0; i < 8; i++) {
      const st = mountState(await listMounts(ctx.exec), cmnt, dev, subvol, coDevicesOf(mntOptOf(r)));
      if (!st.entry) {
        if (i === 0 && st.foreign) ctx.log("warning", `${mnt} is a mount point of ${st.foreign.source}, not of this resource: left mounted`);
        return;
      }
      if (st.top !== st.entry) {
        throw new ProviderError(`${mnt} has ${st.top?.source ?? "another filesystem"} mounted over this resource's filesystem`, `unmount it first (umount ${mnt})`);
      }
      const u = await ctx.exec("umount", [mnt]).finally(noteLoopChange);
      if (u.exitCode !== 0) {
        const tail = (u.stderr || u.stdout).trim();
        throw new ProviderError(
          `cannot unmount ${mnt}: ${tail || exitText(u)}`,
          /busy/i.test(tail) ? `processes still use it: see fuser -vm ${mnt}` : undefined,
        );
      }
      ctx.log("info", `unmounted ${mnt}`);
    }
    throw new ProviderError(`${mnt} is still mounted after several umount attempts`);
  }

  async function unprovision(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
    await stop(ctx, r);
    if (r.allow?.replace) await wipe(ctx, r);
    const mnt = mntOf(r);
    if (recordedBool(r, "created_mnt") !== true) {
      // Not recorded as osvc's: only the directories a run noted before creating them (killed
      // before the state recorded them) go, and only while empty: nothing is lost.
      for (const d of await removeNotedDirs(recordedDirs(r.recorded), dirsNote(ctx.varDir, r.rid))) ctx.log("info", `removed directory ${d}`);
      return;
    }
    try {
      const entries = await readdir(mnt);
      if (entries.length > 0) {
        ctx.log("info", `mount point ${mnt} kept: not empty`);
        return;
      }
      const mounts = await listMounts(ctx.exec);
      const cm = await canonicalMnt(mnt);
      if (mounts.some((e) => e.target === cm)) {
        ctx.log("info", `mount point ${mnt} kept: still a mount point`);
        return;
      }
      if (await removeEmptyDir(mnt)) {
        ctx.log("info", `removed mount point ${mnt}`);
        for (const d of await removeNotedDirs(recordedDirs(r.recorded), dirsNote(ctx.varDir, r.rid), mnt)) ctx.log("info", `removed directory ${d}`);
      }
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      if ((e as NodeJS.ErrnoException).code === "ENOTDIR") return;
      throw e;
    }
  }

  /**
   * The removal half of a replace the plan allowed (a type or mkfs_opt change; --allow-replace for
   * the data): the filesystem goes with the resource, so that the new one is made, not the old one
   * adopted or refused as "another filesystem".
   */
  async function wipe(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
    const dev = await requireDev(ctx.exec, r);
    for (const d of [dev.path, ...(await membersOf(type, r, dev.path))]) {
      // Right after the umount, a prober (udev, blkid) may hold the device a moment: retry briefly.
      let res = await ctx.exec("wipefs", ["-a", "-q", "--", d]);
      for (let i = 0; i < 10 && res.exitCode !== 0 && /busy/i.test(res.stderr); i++) {
        await new Promise((r) => setTimeout(r, 200));
        res = await ctx.exec("wipefs", ["-a", "-q", "--", d]);
      }
      if (res.exitCode !== 0) throw new ProviderError(`wipefs -a ${d} failed: ${(res.stderr || res.stdout).trim() || exitText(res)}`);
      ctx.log("info", `erased the ${type} signature of ${d} (replace)`);
    }
  }

  async function update(ctx: ProviderContext, r: ResourceSpec, before: ResourceSpec): Promise<Outputs> {
    if (type === "btrfs" && subvolOf(mntOptOf(r)) !== subvolOf(mntOptOf(before))) {
      throw new ProviderError(
        `the btrfs subvolume of ${mntOf(r)} changes (${subvolOf(mntOptOf(before)) || "top level"} → ${subvolOf(mntOptOf(r)) || "top level"}): not updatable in place`,
        "stop the resource and start it again with the new mnt_opt",
      );
    }
    if (mntOf(r) !== mntOf(before) || devSpecOf(r) !== devSpecOf(before)) {
      throw new ProviderError(`dev or mnt of ${r.rid} changes: not updatable in place`);
    }
    const dev = await requireDev(ctx.exec, r);
    const mnt = mntOf(r);
    const opts = mntOptOf(r);
    const st = mountState(await listMounts(ctx.exec), await canonicalMnt(mnt), dev, subvolOf(opts), coDevicesOf(opts));
    if (!st.entry) {
      ctx.log("info", `${mnt} is not mounted: the new settings apply at the next start`);
      return preserved(r);
    }
    if (opts !== mntOptOf(before) || !mountOptionsSatisfied(opts, st.entry.options)) {
      const o = remountOptions(opts, st.entry.options);
      // --options-source disable: exactly these options, not merged with the current ones (a merge
      // would keep a noatime or nodev that is no longer configured).
      const res = await ctx.exec("mount", ["--options-source", "disable", "-o", o, mnt]).finally(noteLoopChange);
      if (res.exitCode !== 0) {
        const tail = (res.stderr || res.stdout).trim();
        throw new ProviderError(`cannot remount ${mnt} with ${o}: ${tail || exitText(res)}`, "some options cannot change on a mounted filesystem: stop and start the resource");
      }
      ctx.log("info", `remounted ${mnt} (${o})`);
    }
    await applyOwnership(ctx, mnt, r.kw);
    return preserved(r);
  }

  return {
    type: `fs.${type}`,
    spec,
    updatable: ["mnt_opt", "user", "group", "perm"],
    dataBearing: true,
    formats: "dev",
    probe,
    provision,
    unprovision,
    start,
    stop,
    update,
  };
}

/** One provider per runnable filesystem type (fs.ext2, fs.ext3, fs.ext4, fs.xfs, fs.btrfs). */
export const fsProviders: Provider[] = FS_TYPES_RUNNABLE.map(makeFsProvider);
