// Storage pools: `[pool#<name>]` sections of the node config (<root>/node.conf) and of the cluster
// config (<root>/cluster.conf; the node's own section wins), from which a `volume` resource
// allocates its `vol` object (opensvc-semantics §11.13, om3 drivers/pool*):
//
//   [pool#fast]
//   type = loop                 # directory | loop
//   path = /srv/pools/fast      # where the pool keeps its images (loop) or directories (directory)
//   fs_type = ext4              # loop: the filesystem made on each volume (default ext4)
//   mkfs_opt = -m 0             # loop: mkfs options of that filesystem
//   mnt_opt = noatime           # loop: its mount options
//
// The implicit `default` pool (unless a section defines it) is a directory pool under the state
// root (`<root>/pool/directory`, as om3's `<var>/pool/directory`).
//
// A pool translates a volume request into the config of the vol object (as om3's Translate): a
// directory pool gives `[fs#1] type = directory`, a loop pool `[disk#0] type = loop` plus
// `[fs#1]` on it. Unlike upstream (/srv/<fqdn>), everything a pool makes stays under its path:
// `<path>/<fqdn>.img` and the mount point `<path>/<fqdn>`. Pure: no host access here.
import { join, isAbsolute } from "node:path";
import { parseTemplate, type EntryAst, type SectionAst } from "../../grammar/index.js";
import { formatSize, parseSize, shlexSplit } from "../core/convert.js";
import { suggestion, type Diagnostic, type SourceRange } from "../core/diagnostics.js";
import type { ObjectPath } from "../core/path.js";

export const POOL_TYPES = ["directory", "loop"] as const;
export type PoolType = (typeof POOL_TYPES)[number];
export const VOLUME_ACCESS = ["rwo", "roo", "rwx", "rox"] as const;

export interface Pool {
  readonly name: string;
  readonly type: PoolType;
  /** Absolute path of the pool's head directory. */
  readonly path: string;
  /** loop: the filesystem type made on each volume. */
  readonly fsType?: string;
  readonly mkfsOpt?: string;
  readonly mntOpt?: string;
  /** Where it is defined (absent: the implicit default pool). */
  readonly file?: string;
  readonly range?: SourceRange;
}

const KEYS: Readonly<Record<PoolType, readonly string[]>> = {
  directory: ["type", "path"],
  loop: ["type", "path", "fs_type", "mkfs_opt", "mnt_opt"],
};
/** Filesystem types a loop pool can make (the fs drivers osvc provides). */
const LOOP_FS_TYPES = ["ext2", "ext3", "ext4", "xfs", "btrfs"];

/** What a pool offers (as om3's capabilities): the access modes, and blk (raw devices, format = false). */
export function poolCapabilities(p: Pool): string[] {
  return p.type === "loop" ? ["rox", "rwx", "roo", "rwo", "blk"] : ["rox", "rwx", "roo", "rwo"];
}

export function defaultPool(root: string): Pool {
  return { name: "default", type: "directory", path: join(root, "pool", "directory") };
}

function err(code: string, summary: string, range: SourceRange | undefined, hint?: string): Diagnostic {
  return { code, severity: "error", summary, ...(range ? { range } : {}), ...(hint ? { hint } : {}) };
}

function last(s: SectionAst, key: string): EntryAst | undefined {
  let found: EntryAst | undefined;
  for (const e of s.entries) if (e.key.toLowerCase() === key) found = e;
  return found;
}

/** The pools of one config file's text (node.conf or cluster.conf), with positioned diagnostics (E62xx). */
export function parsePools(text: string, file: string): { pools: Pool[]; diagnostics: Diagnostic[] } {
  const parsed = parseTemplate(text, file);
  const diagnostics: Diagnostic[] = [];
  const pools: Pool[] = [];
  for (const s of parsed.ast.sections) {
    const m = /^pool#(.*)$/i.exec(s.name);
    if (!m) continue;
    const name = m[1];
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(name)) {
      diagnostics.push(err("E6201", `invalid pool name "${name}"`, s.range, "A pool name uses lowercase letters, digits, '.', '_' and '-': [pool#fast]."));
      continue;
    }
    const typeE = last(s, "type");
    const type = typeE?.value.text.trim();
    if (!type) {
      diagnostics.push(err("E6202", `[pool#${name}] has no type`, typeE?.value.range ?? s.range, `Add: type = ${POOL_TYPES.join(" | ")}`));
      continue;
    }
    if (!(POOL_TYPES as readonly string[]).includes(type)) {
      diagnostics.push(err("E6202", `[pool#${name}] unknown pool type "${type}"`, typeE!.value.range, suggestion(type, POOL_TYPES) ?? `The pool types osvc provides: ${POOL_TYPES.join(", ")}.`));
      continue;
    }
    const ptype = type as PoolType;
    let bad = false;
    for (const e of s.entries) {
      const k = e.key.toLowerCase();
      if (KEYS[ptype].includes(k)) continue;
      diagnostics.push(err("E6203", `unknown keyword "${e.key}" in [pool#${name}] (type ${ptype})`, e.keyRange, suggestion(k, KEYS[ptype]) ?? `The keywords of a ${ptype} pool: ${KEYS[ptype].join(", ")}.`));
      bad = true;
    }
    const pathE = last(s, "path");
    const path = pathE?.value.text.trim();
    if (!path) {
      diagnostics.push(err("E6204", `[pool#${name}] has no path`, pathE?.value.range ?? s.range, `Add: path = /srv/pools/${name} (an absolute directory: the pool's ${ptype === "loop" ? "images and mount points" : "volume directories"})`));
      continue;
    }
    if (!isAbsolute(path)) {
      diagnostics.push(err("E6204", `[pool#${name}] path "${path}" is not absolute`, pathE!.value.range, `Use an absolute path: /srv/pools/${name}`));
      continue;
    }
    const fsE = last(s, "fs_type");
    const fsType = fsE?.value.text.trim() || "ext4";
    if (ptype === "loop" && !LOOP_FS_TYPES.includes(fsType)) {
      diagnostics.push(err("E6205", `[pool#${name}] fs_type "${fsType}" is not one osvc can make`, fsE!.value.range, suggestion(fsType, LOOP_FS_TYPES) ?? `Use one of: ${LOOP_FS_TYPES.join(", ")}.`));
      continue;
    }
    for (const k of ["mkfs_opt", "mnt_opt"]) {
      const e = last(s, k);
      if (e && !shlexSplit(e.value.text).ok) {
        diagnostics.push(err("E6205", `[pool#${name}] ${k}: unbalanced quotes`, e.value.range, "Close the quote, or remove it."));
        bad = true;
      }
    }
    if (bad) continue;
    const opt = (k: string) => last(s, k)?.value.text.trim() || undefined;
    pools.push({
      name,
      type: ptype,
      path,
      ...(ptype === "loop" ? { fsType, ...(opt("mkfs_opt") ? { mkfsOpt: opt("mkfs_opt") } : {}), ...(opt("mnt_opt") ? { mntOpt: opt("mnt_opt") } : {}) } : {}),
      file,
      range: s.range,
    });
  }
  return { pools, diagnostics };
}

/**
 * Every pool of this node: the node config's, then the cluster config's not redefined by the node,
 * then the implicit default (unless defined). Sorted by name.
 */
export function mergePools(root: string, ...layers: readonly (readonly Pool[])[]): Pool[] {
  const byName = new Map<string, Pool>();
  for (const layer of layers) for (const p of layer) if (!byName.has(p.name)) byName.set(p.name, p);
  if (!byName.has("default")) byName.set("default", defaultPool(root));
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** What a volume resource asks of a pool. */
export interface VolumeRequest {
  readonly pool?: string;
  readonly type?: string;
  /** Bytes. */
  readonly size?: number;
  readonly access: string;
  readonly format: boolean;
}

export type PoolChoice = { ok: true; pool: Pool } | { ok: false; error: string; hint?: string };

/**
 * The pool a volume comes from (as upstream): the named pool, else those of the asked type (if
 * any) offering the access mode (and blk for format = false), then the one with the most free
 * space (`free`: bytes, by pool name; unknown counts as none). Ties: by name.
 */
export function choosePool(pools: readonly Pool[], req: VolumeRequest, free: (p: Pool) => number | undefined): PoolChoice {
  const names = pools.map((p) => p.name);
  if (req.pool !== undefined) {
    const p = pools.find((x) => x.name === req.pool);
    if (!p) return { ok: false, error: `no pool "${req.pool}" on this node`, hint: suggestion(req.pool, names) ?? `The pools: ${names.join(", ")} (osvc pool ls).` };
    const why = mismatch(p, req);
    return why ? { ok: false, error: `pool "${p.name}" ${why}` } : { ok: true, pool: p };
  }
  const fits = pools.filter((p) => !mismatch(p, req));
  if (!fits.length) {
    const what = [req.type ? `of type ${req.type}` : "", `with access ${req.access}`, req.format ? "" : "and raw devices (blk)"].filter(Boolean).join(" ");
    return { ok: false, error: `no pool ${what} on this node`, hint: `The pools: ${pools.map((p) => `${p.name} (${p.type})`).join(", ")}. Define one in the node config: [pool#<name>] type = ... path = ...` };
  }
  const sorted = [...fits].sort((a, b) => (free(b) ?? -1) - (free(a) ?? -1) || a.name.localeCompare(b.name));
  return { ok: true, pool: sorted[0] };
}

function mismatch(p: Pool, req: VolumeRequest): string | undefined {
  if (req.type !== undefined && req.type !== p.type) return `is of type ${p.type}, not ${req.type}`;
  const caps = poolCapabilities(p);
  if (!caps.includes(req.access)) return `does not offer access ${req.access}`;
  if (!req.format && !caps.includes("blk")) return `cannot give a raw device (format = false): use a loop pool`;
  if (p.type === "loop" && req.size === undefined) return `needs a size (a loop pool makes an image of that size)`;
  return undefined;
}

/** The name a pool gives a vol object's files: `<name>.<namespace>.vol` (om3's fqdn of the path). */
export function volumeFqdn(vol: ObjectPath): string {
  return `${vol.name}.${vol.namespace}.vol`;
}

/** Where a pool puts a vol's data: the mount point (loop) or the directory (directory). */
export function volumeMountPoint(pool: Pool, vol: ObjectPath): string {
  return join(pool.path, volumeFqdn(vol));
}

/**
 * The config of a vol object allocated from `pool` (as om3's ConfigureVolume: the pool's
 * translation plus pool, size and access in DEFAULT), claimed by `children`; `id`: the new
 * object's DEFAULT.id (as create gives one; the same on every node that installs this config).
 */
export function volumeConfig(pool: Pool, vol: ObjectPath, req: VolumeRequest, children: readonly string[], id?: string): string {
  const lines: string[] = ["[DEFAULT]", ...(id ? [`id = ${id}`] : []), `pool = ${pool.name}`];
  if (req.size !== undefined) lines.push(`size = ${formatSize(req.size)}`);
  lines.push(`access = ${req.access}`);
  if (children.length) lines.push(`children = ${children.join(" ")}`);
  const mnt = volumeMountPoint(pool, vol);
  if (pool.type === "directory") {
    lines.push("", "[fs#1]", "type = directory", `path = ${mnt}`);
  } else {
    lines.push("", "[disk#0]", "type = loop", `file = ${mnt}.img`, `size = ${formatSize(req.size ?? 0)}`);
    if (req.format) {
      lines.push("", "[fs#1]", `type = ${pool.fsType ?? "ext4"}`, "dev = {disk#0.exposed_devs[0]}", `mnt = ${mnt}`);
      if (pool.mkfsOpt) lines.push(`mkfs_opt = ${pool.mkfsOpt}`);
      if (pool.mntOpt) lines.push(`mnt_opt = ${pool.mntOpt}`);
    }
  }
  return lines.join("\n") + "\n";
}
