// fs.directory: a directory with owner and mode (opensvc-semantics §11.7).
//
// probe      : ONE `stat` for all paths: provisioned = up = the directory exists; actual carries
//              user/group/perm when they differ from the configuration (drift).
// provision  : same as start. start: mkdir -p, chown/chmod where different; records created_dir
//              (as a fact at once, before chown/chmod: an interrupted run knows the directory is osvc's).
// stop       : no-op.
// unprovision: `rm -r --one-file-system PATH` only when osvc created it (recorded created_dir),
//              never for / or a top-level system directory, and only while it holds no files (what
//              is in it was added after osvc created it) unless --allow-destroy <rid>: else it is
//              kept, with a warning. The plan shows it (removalImpact: files, bytes): "will KEEP",
//              or "will DELETE" with consent; then the parents osvc created for it (created_dirs),
//              while they are empty.
import path from "node:path";
import type { KwValue, Outputs } from "../../src/core/value.js";
import { noteCreated, ProviderError } from "../../src/provider/api.js";
import type { Observed, ProbeContext, Provider, ProviderContext, ResourceSpec } from "../../src/provider/api.js";
import { ExecError, run } from "../../src/provider/exec.js";
import { dirsNote, makeDirsNoted, recordedDirs, removeCreatedDirs, removeNotedDirs } from "../../src/provider/files.js";
import { describeUsage, dirUsage } from "../../src/provider/content.js";
import type { RemovalImpact } from "../../src/provider/api.js";
import { applyOwnership, ownershipActual, statPaths } from "../fs/ownership.js";
import { fsDirectorySpec } from "./spec.js";

/** Paths unprovision never removes, even when recorded as created by osvc. */
const PROTECTED = new Set([
  "/", "/bin", "/boot", "/dev", "/etc", "/home", "/lib", "/lib32", "/lib64", "/libx32", "/media", "/mnt", "/opt",
  "/proc", "/root", "/run", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/var", "/usr/local", "/var/lib", "/var/tmp",
  "/var/log", "/usr/bin", "/usr/sbin", "/usr/lib",
]);

export function isProtectedPath(p: string): boolean {
  return PROTECTED.has(path.resolve(p));
}

function pathOf(r: ResourceSpec): string {
  const p = r.kw.path;
  if (typeof p !== "string" || p === "") throw new ProviderError(`${r.rid}: keyword "path" is required`);
  if (!path.isAbsolute(p)) throw new ProviderError(`${r.rid}: path must be absolute, got ${JSON.stringify(p)}`);
  return path.resolve(p);
}

function preserved(r: ResourceSpec): Record<string, boolean | string[]> {
  const c = r.recorded?.created_dir;
  const dirs = recordedDirs(r.recorded);
  return { ...(typeof c === "boolean" ? { created_dir: c } : {}), ...(dirs.length ? { created_dirs: dirs } : {}) };
}

async function probe(ctx: ProbeContext, resources: readonly ResourceSpec[]): Promise<Observed[]> {
  if (resources.length === 0) return [];
  const stats = await statPaths(ctx.exec, resources.map(pathOf));
  return resources.map((r): Observed => {
    const p = pathOf(r);
    const st = stats.get(p);
    if (!st) return { provisioned: false, up: false };
    if (st.fileType !== "directory") {
      return {
        provisioned: false,
        up: false,
        problems: [{ level: "error", keyword: "path", message: `${p} exists and is a ${st.fileType}, not a directory`, hint: "remove it or choose another path" }],
      };
    }
    const actual: Record<string, KwValue> = ownershipActual(st, r.kw);
    const outputs = preserved(r);
    return {
      provisioned: true,
      up: true,
      ...(Object.keys(actual).length ? { actual } : {}),
      ...(Object.keys(outputs).length ? { outputs } : {}),
    };
  });
}

async function start(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const p = pathOf(r);
  const st = (await statPaths(ctx.exec, [p])).get(p);
  const created = r.recorded?.created_dir === true;
  if (st && st.fileType !== "directory") throw new ProviderError(`${p} exists and is a ${st.fileType}, not a directory`);
  if (!st) {
    const made = await makeDirsNoted(p, dirsNote(ctx.varDir, r.rid));
    for (const d of [...made].reverse()) ctx.log("info", `created directory ${d}`);
    try {
      await noteCreated(ctx, { created_dir: true }); // before anything else: an interrupted run knows it is osvc's
      await applyOwnership(ctx, p, r.kw);
    } catch (e) {
      // leave nothing behind a failed start, and no fact claiming what is gone
      await removeCreatedDirs(made);
      await noteCreated(ctx, { created_dir: false }).catch(() => undefined);
      throw e;
    }
    // Its parents osvc made too: removed with it (while empty).
    const parents = made.filter((d) => d !== p);
    return { created_dir: true, ...(parents.length ? { created_dirs: parents } : {}) };
  }
  await applyOwnership(ctx, p, r.kw);
  return { ...preserved(r), created_dir: created };
}

/** What unprovision would delete: the files under a directory osvc created (none when it keeps it). */
async function removalImpact(_ctx: ProbeContext, r: ResourceSpec): Promise<RemovalImpact | undefined> {
  if (r.recorded?.created_dir !== true) return undefined;
  const p = pathOf(r);
  const u = await dirUsage(p);
  if (!u) return undefined;
  return { target: p, detail: describeUsage(u), data: u.files > 0 || u.truncated };
}

async function unprovision(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  const p = pathOf(r);
  if (r.recorded?.created_dir !== true) {
    // Not recorded as osvc's: only the directories a run noted before creating them (killed
    // before the state recorded them) go, and only while empty: nothing is lost.
    const noted = await removeNotedDirs(recordedDirs(r.recorded), dirsNote(ctx.varDir, r.rid));
    for (const d of noted) ctx.log("info", `removed directory ${d}`);
    if (!noted.includes(p)) ctx.log("info", `directory ${p} kept: not created by osvc`);
    return;
  }
  if (isProtectedPath(p)) throw new ProviderError(`refusing to remove ${p}: protected system directory`);
  const st = (await statPaths(ctx.exec, [p])).get(p);
  if (!st) return;
  if (st.fileType !== "directory") throw new ProviderError(`${p} is a ${st.fileType}, not a directory; refusing to remove it`);
  const u = await dirUsage(p);
  if (u && (u.files > 0 || u.truncated)) {
    if (!r.allow?.destroy) {
      ctx.log("warning", `directory ${p} kept: it holds ${describeUsage(u)} that osvc did not create (--allow-destroy ${r.rid} deletes them)`);
      return;
    }
    ctx.log("warning", `deleting ${p} with the ${describeUsage(u)} it holds (--allow-destroy ${r.rid})`);
  }
  try {
    await run(ctx.exec, "rm", ["-r", "--one-file-system", "--", p]);
  } catch (e) {
    if (e instanceof ExecError) {
      throw new ProviderError(`cannot remove ${p}: ${e.message}`, "a filesystem may be mounted below it: stop the resources mounted there first");
    }
    throw e;
  }
  ctx.log("info", `removed directory ${p}`);
  for (const d of await removeNotedDirs(recordedDirs(r.recorded), dirsNote(ctx.varDir, r.rid), p)) ctx.log("info", `removed directory ${d}`);
}

async function update(ctx: ProviderContext, r: ResourceSpec, before: ResourceSpec): Promise<Outputs> {
  if (pathOf(r) !== pathOf(before)) throw new ProviderError(`path of ${r.rid} changes: not updatable in place`);
  await applyOwnership(ctx, pathOf(r), r.kw);
  return preserved(r);
}

export const fsDirectoryProvider: Provider = {
  type: "fs.directory",
  spec: fsDirectorySpec,
  updatable: ["user", "group", "perm"],
  probe,
  removalImpact,
  provision: start,
  unprovision,
  start,
  stop: async () => {},
  update,
};

export default fsDirectoryProvider;
