// Owner and mode of a directory (mount point), read with one batched `stat` and set with chown/chmod.
// Shared by fs.* and fs.directory.
import type { KwValue } from "../../src/core/value.js";
import { ProviderError } from "../../src/provider/api.js";
import type { ProviderContext } from "../../src/provider/api.js";
import { ExecError, run } from "../../src/provider/exec.js";
import type { Exec } from "../../src/provider/exec.js";

export interface PathStat {
  readonly uid: number;
  readonly gid: number;
  readonly user: string; // "UNKNOWN" when the uid has no name
  readonly group: string;
  readonly mode: number; // permission bits incl. setuid/setgid/sticky
  readonly fileType: string; // "directory", "regular file"...
}

const STAT_FORMAT = "%u|%g|%U|%G|%a|%F|%n";

/** One `stat` for all paths. Missing paths are simply absent from the map. */
export async function statPaths(exec: Exec, paths: readonly string[]): Promise<Map<string, PathStat>> {
  const out = new Map<string, PathStat>();
  const uniq = [...new Set(paths)];
  if (uniq.length === 0) return out;
  const r = await exec("stat", ["-c", STAT_FORMAT, "--", ...uniq]);
  // rc 1 when some paths are missing: the others are still printed.
  for (const line of r.stdout.split("\n")) {
    if (!line) continue;
    const parts = line.split("|");
    if (parts.length < 7) continue;
    const [uid, gid, user, group, mode, fileType] = parts;
    const name = parts.slice(6).join("|");
    out.set(name, { uid: Number(uid), gid: Number(gid), user, group, mode: parseInt(mode, 8), fileType });
  }
  return out;
}

/** Mode from an `octal` keyword: "0750" / "1777" (string, octal) or an already converted number. */
export function modeOf(v: KwValue | undefined): number | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  let n: number;
  if (typeof v === "number") n = v;
  else if (typeof v === "string" && /^[0-7]{1,4}$/.test(v.trim())) n = parseInt(v.trim(), 8);
  else throw new ProviderError(`invalid mode ${JSON.stringify(v)}: expected an octal mode such as 0755`);
  if (!Number.isInteger(n) || n < 0 || n > 0o7777) throw new ProviderError(`invalid mode ${JSON.stringify(v)}`);
  return n;
}

export function formatMode(m: number): string {
  return m.toString(8).padStart(4, "0");
}

function idKw(v: KwValue | undefined): string | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  if (typeof v === "string" || typeof v === "number") return String(v);
  throw new ProviderError(`invalid user/group ${JSON.stringify(v)}`);
}

export interface OwnershipKw {
  readonly user?: KwValue;
  readonly group?: KwValue;
  readonly perm?: KwValue;
}

function userMatches(want: string, st: PathStat): boolean {
  return want === st.user || want === String(st.uid);
}
function groupMatches(want: string, st: PathStat): boolean {
  return want === st.group || want === String(st.gid);
}

/**
 * Read-back values for drift: the configured value when the host matches it (names and ids are
 * equivalent), else what the host has ("0750" for a mode, the owner name or uid).
 */
export function ownershipActual(st: PathStat, kw: OwnershipKw): Record<string, KwValue> {
  const actual: Record<string, KwValue> = {};
  const user = idKw(kw.user);
  if (user !== undefined) actual.user = userMatches(user, st) ? (kw.user as KwValue) : st.user === "UNKNOWN" ? String(st.uid) : st.user;
  const group = idKw(kw.group);
  if (group !== undefined) actual.group = groupMatches(group, st) ? (kw.group as KwValue) : st.group === "UNKNOWN" ? String(st.gid) : st.group;
  const perm = modeOf(kw.perm);
  if (perm !== undefined) actual.perm = perm === st.mode ? (kw.perm as KwValue) : formatMode(st.mode);
  return actual;
}

/** chown/chmod `p` where it differs from the configured owner/mode. Returns what changed. */
export async function applyOwnership(ctx: ProviderContext, p: string, kw: OwnershipKw): Promise<string[]> {
  const user = idKw(kw.user);
  const group = idKw(kw.group);
  const perm = modeOf(kw.perm);
  if (user === undefined && group === undefined && perm === undefined) return [];
  const st = (await statPaths(ctx.exec, [p])).get(p);
  if (!st) throw new ProviderError(`cannot stat ${p}`);
  const changes: string[] = [];
  try {
    const chUser = user !== undefined && !userMatches(user, st);
    const chGroup = group !== undefined && !groupMatches(group, st);
    if (chUser || chGroup) {
      const spec = chUser ? (chGroup ? `${user}:${group}` : user!) : `:${group}`;
      await run(ctx.exec, "chown", ["--", spec, p]);
      changes.push(`owner ${spec}`);
    }
    if (perm !== undefined && perm !== st.mode) {
      await run(ctx.exec, "chmod", ["--", formatMode(perm), p]);
      changes.push(`mode ${formatMode(perm)}`);
    }
  } catch (e) {
    if (e instanceof ExecError) throw new ProviderError(`cannot set owner/mode of ${p}: ${e.message}`, "check that user and group exist on this node");
    throw e;
  }
  if (changes.length) ctx.log("info", `${p}: set ${changes.join(", ")}`);
  return changes;
}
