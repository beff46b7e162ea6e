// disk.vg (and its deprecated alias disk.lvm): an LVM volume group over block devices
// (opensvc-semantics §11.3, host-environment §3).
//
// probe      : ONE `vgs --reportformat json` and ONE `pvs --reportformat json` for all resources.
//              provisioned = up = the VG is visible. A listed device that is a PV of another VG is an
//              error. actual.pvs = the VG's PVs (in the configured spelling when they are the same devices).
// provision  : idempotent: a VG that exists is left as is (a warning when its PVs differ). Else each
//              device must be a block device; a device that is not a PV yet is checked with
//              `blkid -p` and refused when it holds any signature (never destroy data), then
//              `pvcreate -y` the new ones, `vgcreate [options] NAME PVS`. A failed vgcreate removes the
//              PV labels it just wrote. Outputs: created_pvs (the PVs osvc labelled), sub_devs (the
//              PVs), exposed_devs [] (no logical volumes: see below).
// unprovision: refused when the VG holds logical volumes (data). Else `vgremove -y NAME`, then
//              `pvremove -y` only the PVs osvc created (recorded created_pvs).
// start/stop : activation needs device-mapper. When the kernel has it (/proc/devices lists
//              device-mapper), `vgchange -ay/-an NAME`. When it does not (these machines: no
//              device-mapper and no module loading), logical volumes cannot be activated on this
//              kernel: start only verifies the VG is visible, stop does nothing; both say why.
// Every LVM command runs with LVM_SUPPRESS_FD_WARNINGS=1.
import { readFile, realpath, stat } from "node:fs/promises";
import path from "node:path";
import type { KwValue, Outputs } from "../../src/core/value.js";
import { noteCreated, ProviderError } from "../../src/provider/api.js";
import { checkOptionWords, VGCREATE_OPTIONS } from "../../src/core/argv.js";
import type { Observed, ProbeContext, Provider, ProviderContext, ResourceSpec, ProbeProblem } from "../../src/provider/api.js";
import { ExecError } from "../../src/provider/exec.js";
import type { Exec, ExecResult } from "../../src/provider/exec.js";
import { diskLvmSpec, diskVgSpec } from "./spec.js";

type Problem = ProbeProblem;

export const LVM_ENV: Readonly<Record<string, string>> = { LVM_SUPPRESS_FD_WARNINGS: "1" };

const NO_DM = "logical volumes cannot be activated on this kernel (no device-mapper)";

function lvm(exec: Exec, cmd: string, args: readonly string[]): Promise<ExecResult> {
  return exec(cmd, args, { env: LVM_ENV });
}

async function lvmRun(exec: Exec, cmd: string, args: readonly string[]): Promise<ExecResult> {
  const r = await lvm(exec, cmd, args);
  if (r.exitCode === 127 && !r.timedOut) throw new ProviderError(`${cmd}: command not found: the LVM tools are not installed on this node`, "install lvm2 (apt-get install lvm2)");
  if (r.exitCode !== 0 || r.timedOut) throw new ExecError(r);
  return r;
}

// ---------------------------------------------------------------------------------------------
// Reports

export interface VgRow {
  readonly name: string;
  readonly pvCount: number;
  readonly lvCount: number;
  readonly size: number;
}

export interface PvRow {
  readonly pv: string;
  /** "" for a PV in no VG (orphan). */
  readonly vg: string;
}

function reportRows(stdout: string, key: "vg" | "pv"): Record<string, unknown>[] {
  if (!stdout.trim()) return [];
  const data = JSON.parse(stdout) as { report?: Record<string, Record<string, unknown>[] | undefined>[] };
  return (data.report ?? []).flatMap((r) => r[key] ?? []);
}

/** Parses `vgs --reportformat json -o vg_name,pv_count,lv_count,vg_size --units b --nosuffix`. */
export function parseVgsJson(stdout: string): VgRow[] {
  return reportRows(stdout, "vg").map((v) => ({
    name: String(v.vg_name ?? ""),
    pvCount: Number(v.pv_count ?? 0),
    lvCount: Number(v.lv_count ?? 0),
    size: Number(String(v.vg_size ?? "0").replace(/[^\d.]/g, "")) || 0,
  }));
}

/** Parses `pvs --reportformat json -o pv_name,vg_name`. */
export function parsePvsJson(stdout: string): PvRow[] {
  return reportRows(stdout, "pv").map((p) => ({ pv: String(p.pv_name ?? ""), vg: String(p.vg_name ?? "") }));
}

interface LvmState {
  readonly vgs: VgRow[];
  readonly pvs: PvRow[];
}

async function readLvm(exec: Exec): Promise<LvmState> {
  const [v, p] = await Promise.all([
    lvmRun(exec, "vgs", ["--reportformat", "json", "-o", "vg_name,pv_count,lv_count,vg_size", "--units", "b", "--nosuffix"]),
    lvmRun(exec, "pvs", ["--reportformat", "json", "-o", "pv_name,vg_name"]),
  ]);
  try {
    return { vgs: parseVgsJson(v.stdout), pvs: parsePvsJson(p.stdout) };
  } catch (e) {
    throw new ProviderError(`cannot parse the LVM report: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Keywords

const VG_NAME = /^[A-Za-z0-9_+.][A-Za-z0-9_+.-]*$/;

function nameOf(r: ResourceSpec): string {
  const n = r.kw.name;
  if (typeof n !== "string" || n === "") throw new ProviderError(`${r.rid}: keyword "name" is required`);
  if (!VG_NAME.test(n) || n === "." || n === ".." || n.length > 127) {
    throw new ProviderError(`${r.rid}: invalid volume group name ${JSON.stringify(n)}`, "use letters, digits and + _ . - (not starting with -)");
  }
  return n;
}

function listOf(v: KwValue | undefined): string[] {
  if (Array.isArray(v)) return [...v];
  if (typeof v === "string") return v.trim() ? v.trim().split(/\s+/) : [];
  return [];
}

function pvsOf(r: ResourceSpec): string[] {
  const pvs = listOf(r.kw.pvs);
  for (const d of pvs) {
    if (!path.isAbsolute(d)) throw new ProviderError(`${r.rid}: pvs must be absolute device paths, got ${JSON.stringify(d)}`, "e.g. pvs = {disk#0.exposed_devs[0]} {disk#1.exposed_devs[0]}");
  }
  return pvs;
}

function optionsOf(r: ResourceSpec): string[] {
  const words = listOf(r.kw.options);
  const c = checkOptionWords(words, VGCREATE_OPTIONS);
  if (!c.ok) throw new ProviderError(`${r.rid}: options: ${c.error}`, c.hint);
  return words;
}

/** Canonical path of a device (symlinks such as /dev/disk/by-id resolved); the path itself when missing. */
async function canon(dev: string): Promise<string> {
  try {
    return await realpath(dev);
  } catch {
    return path.resolve(dev);
  }
}

function recordedCreated(r: ResourceSpec): string[] {
  const c = r.recorded?.created_pvs;
  return Array.isArray(c) ? c.filter((x): x is string => typeof x === "string") : [];
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const sa = new Set(a);
  return sa.size === new Set(b).size && b.every((x) => sa.has(x));
}

async function deviceMapperPresent(): Promise<boolean> {
  try {
    return /^\s*\d+\s+device-mapper$/m.test(await readFile("/proc/devices", "utf8"));
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------------------------
// probe

async function probe(ctx: ProbeContext, resources: readonly ResourceSpec[]): Promise<Observed[]> {
  if (resources.length === 0) return [];
  const st = await readLvm(ctx.exec);
  const pvCanon = await Promise.all(st.pvs.map(async (p) => ({ ...p, canon: await canon(p.pv) })));
  return Promise.all(
    resources.map(async (r): Promise<Observed> => {
      const problems: Problem[] = [];
      let name: string;
      let wanted: string[];
      try {
        name = nameOf(r);
        wanted = pvsOf(r);
      } catch (e) {
        if (!(e instanceof ProviderError)) throw e;
        return { provisioned: false, up: false, problems: [{ level: "error", message: e.message, ...(e.hint ? { hint: e.hint } : {}) }] };
      }
      const vg = st.vgs.find((v) => v.name === name);
      const wantedCanon = await Promise.all(wanted.map(canon));
      for (const [i, c] of wantedCanon.entries()) {
        const other = pvCanon.find((p) => p.canon === c && p.vg !== "" && p.vg !== name);
        if (other) {
          problems.push({ level: "error", keyword: "pvs", message: `${wanted[i]} is a physical volume of another volume group, ${other.vg}`, hint: `remove it from ${other.vg} first, or list another device in pvs` });
        }
      }
      const members = pvCanon.filter((p) => p.vg === name);
      const memberCanon = members.map((p) => p.canon);
      const actualPvs = vg && sameSet(memberCanon, wantedCanon) ? wanted : members.map((p) => p.pv);
      const outputs: Outputs | undefined = vg ? { exposed_devs: [], sub_devs: members.map((p) => p.pv), created_pvs: recordedCreated(r) } : undefined;
      return {
        provisioned: Boolean(vg),
        up: Boolean(vg),
        ...(vg ? { actual: { pvs: actualPvs } } : {}),
        ...(outputs ? { outputs } : {}),
        ...(problems.length ? { problems } : {}),
      };
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// provision / unprovision

/** Refuses anything that is not a block device or that holds a signature (`blkid -p`: 0 found, 2 nothing). */
async function checkBlank(exec: Exec, dev: string): Promise<void> {
  let st;
  try {
    st = await stat(dev);
  } catch {
    throw new ProviderError(`${dev} does not exist`, "pvs lists block devices (a disk.loop's exposed_devs, a disk)");
  }
  if (!st.isBlockDevice()) {
    throw new ProviderError(`${dev} is not a block device`, "attach an image file with a disk.loop resource and use its {disk#N.exposed_devs[0]}");
  }
  const b = await exec("blkid", ["-p", "-o", "export", "--", dev]);
  if (b.exitCode === 2) return;
  if (b.exitCode === 0) {
    const kv = Object.fromEntries(
      b.stdout
        .split("\n")
        .map((l) => l.split("="))
        .filter((x) => x.length >= 2)
        .map(([k, ...v]) => [k, v.join("=")]),
    );
    const what = kv.TYPE ? `a signature (TYPE=${kv.TYPE})` : kv.PTTYPE ? `a partition table (PTTYPE=${kv.PTTYPE})` : "a signature";
    throw new ProviderError(`refusing to pvcreate ${dev}: it holds ${what}`, `osvc never destroys data: wipe it yourself (wipefs -a ${dev}) if it is really unused`);
  }
  throw new ProviderError(`refusing to pvcreate ${dev}: blkid -p exit code ${b.exitCode}: ${(b.stderr || b.stdout).trim()}`, "an ambivalent or unreadable device is never overwritten");
}

async function provision(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const name = nameOf(r);
  const wanted = pvsOf(r);
  const st = await readLvm(ctx.exec);
  const pvCanon = await Promise.all(st.pvs.map(async (p) => ({ ...p, canon: await canon(p.pv) })));
  const wantedCanon = await Promise.all(wanted.map(canon));
  const vg = st.vgs.find((v) => v.name === name);
  if (vg) {
    const members = pvCanon.filter((p) => p.vg === name);
    if (wanted.length && !sameSet(members.map((p) => p.canon), wantedCanon)) {
      ctx.log("warning", `volume group ${name} exists on ${members.map((p) => p.pv).join(", ") || "no device"}, not on ${wanted.join(", ")}: left as is`);
    } else ctx.log("info", `volume group ${name} exists: nothing to do`);
    return { exposed_devs: [], sub_devs: members.map((p) => p.pv), created_pvs: recordedCreated(r) };
  }
  if (wanted.length === 0) throw new ProviderError(`${r.rid}: volume group ${name} does not exist and pvs is empty`, "list the devices to build it on in pvs");
  if (new Set(wantedCanon).size !== wantedCanon.length) throw new ProviderError(`${r.rid}: a device is listed twice in pvs (${wanted.join(" ")})`);

  const toCreate: string[] = [];
  for (const [i, dev] of wanted.entries()) {
    const pv = pvCanon.find((p) => p.canon === wantedCanon[i]);
    if (pv) {
      if (pv.vg !== "") throw new ProviderError(`${dev} is a physical volume of another volume group, ${pv.vg}`, `remove it from ${pv.vg} first, or list another device in pvs`);
      ctx.log("info", `${dev} is already a physical volume: used as is`);
      continue;
    }
    await checkBlank(ctx.exec, dev);
    toCreate.push(dev);
  }
  if (toCreate.length) {
    try {
      await lvmRun(ctx.exec, "pvcreate", ["-y", "--", ...toCreate]);
    } catch (e) {
      if (e instanceof ExecError) {
        await removePvLabels(ctx, toCreate);
        throw new ProviderError(`pvcreate failed: ${e.message}`);
      }
      throw e;
    }
    ctx.log("info", `created physical volumes on ${toCreate.join(", ")}`);
  }
  // PVs an interrupted run of this resource labelled (recorded) are osvc's too.
  const createdPvs = [...new Set([...recordedCreated(r).filter((d) => wanted.includes(d)), ...toCreate])];
  if (toCreate.length) {
    try {
      await noteCreated(ctx, { created_pvs: createdPvs });
    } catch (e) {
      await removePvLabels(ctx, toCreate); // not recorded: leave nothing behind
      throw e;
    }
  }
  try {
    await lvmRun(ctx.exec, "vgcreate", [...optionsOf(r), "--", name, ...wanted]);
  } catch (e) {
    if (e instanceof ExecError) {
      await removePvLabels(ctx, toCreate);
      throw new ProviderError(`vgcreate ${name} failed: ${e.message}`, toCreate.length ? `the physical volume labels osvc wrote on ${toCreate.join(", ")} were removed` : undefined);
    }
    throw e;
  }
  ctx.log("info", `created volume group ${name} on ${wanted.join(", ")}`);
  if (!(await deviceMapperPresent())) ctx.log("info", `${NO_DM}: the volume group holds metadata only`);
  return { exposed_devs: [], sub_devs: wanted, created_pvs: createdPvs };
}

/** pvremove the given devices that are orphan PVs (in no VG); best effort, logs what it could not do. */
async function removePvLabels(ctx: ProviderContext, devs: readonly string[]): Promise<void> {
  if (devs.length === 0) return;
  const st = await readLvm(ctx.exec);
  const pvCanon = await Promise.all(st.pvs.map(async (p) => ({ ...p, canon: await canon(p.pv) })));
  const orphans: string[] = [];
  for (const d of devs) {
    const c = await canon(d);
    const pv = pvCanon.find((p) => p.canon === c);
    if (!pv) continue;
    if (pv.vg !== "") {
      ctx.log("warning", `${d} is now a physical volume of ${pv.vg}: its label is kept`);
      continue;
    }
    orphans.push(d);
  }
  if (orphans.length === 0) return;
  const res = await lvm(ctx.exec, "pvremove", ["-y", "--", ...orphans]);
  if (res.exitCode !== 0) ctx.log("warning", `pvremove ${orphans.join(" ")}: exit code ${res.exitCode}: ${(res.stderr || res.stdout).trim()}`);
  else ctx.log("info", `removed the physical volume labels on ${orphans.join(", ")}`);
}

async function unprovision(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  const name = nameOf(r);
  const st = await readLvm(ctx.exec);
  const vg = st.vgs.find((v) => v.name === name);
  const created = recordedCreated(r);
  if (vg) {
    if (vg.lvCount > 0) {
      throw new ProviderError(`refusing to remove volume group ${name}: it holds ${vg.lvCount} logical volume(s)`, `osvc never destroys data: remove them yourself (lvremove ${name}/...) if they are really unused`);
    }
    await lvmRun(ctx.exec, "vgremove", ["-y", "--", name]);
    ctx.log("info", `removed volume group ${name}`);
  }
  if (created.length) await removePvLabels(ctx, created);
  const kept = pvsOf(r).filter((d) => !created.includes(d));
  if (vg && kept.length) ctx.log("info", `kept the physical volume labels osvc did not create: ${kept.join(", ")}`);
}

// ---------------------------------------------------------------------------------------------
// start / stop

async function start(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const name = nameOf(r);
  const st = await readLvm(ctx.exec);
  const vg = st.vgs.find((v) => v.name === name);
  if (!vg) throw new ProviderError(`volume group ${name} is not visible on this node`, "provision it, or make its physical volumes visible (attach the devices)");
  if (await deviceMapperPresent()) {
    await lvmRun(ctx.exec, "vgchange", ["-a", "y", "--", name]);
    ctx.log("info", `activated volume group ${name}`);
  } else {
    ctx.log("info", `volume group ${name} is visible; ${NO_DM}: nothing to activate`);
  }
  const members = st.pvs.filter((p) => p.vg === name).map((p) => p.pv);
  return { exposed_devs: [], sub_devs: members, created_pvs: recordedCreated(r) };
}

async function stop(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  const name = nameOf(r);
  if (!(await deviceMapperPresent())) {
    ctx.log("info", `${NO_DM}: nothing to deactivate in ${name}`);
    return;
  }
  const st = await readLvm(ctx.exec);
  if (!st.vgs.some((v) => v.name === name)) return;
  await lvmRun(ctx.exec, "vgchange", ["-a", "n", "--", name]);
  ctx.log("info", `deactivated volume group ${name}`);
}

export const diskVgProvider: Provider = {
  type: "disk.vg",
  spec: diskVgSpec,
  updatable: [],
  dataBearing: true,
  probe,
  provision,
  unprovision,
  start,
  stop,
};

/** The deprecated alias (upstream type "lvm"): same behaviour. */
export const diskLvmProvider: Provider = { ...diskVgProvider, type: "disk.lvm", spec: diskLvmSpec };

export const diskVgProviders: readonly Provider[] = [diskVgProvider, diskLvmProvider];
