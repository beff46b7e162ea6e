// `ipname = <allocate>` for ip.host and ip.netns (issue 11 item 2; opensvc-semantics: v2 wrote the
// allocated ipname, netmask and gateway back into the config, om3 picks the first free host
// address after the gateway).
//
// network    : a CIDR (10.99.0.0/24). The gateway is network+1; candidates are network+2 up to the
//              last address before the broadcast, in order.
// allocation : for each candidate, skip one configured in osvc's namespace, take the record
//              "ip/<cidr>/<addr>" in the allocation records (create-if-absent: two objects never
//              get the same one; a record this resource already holds is taken back), then check the
//              segment with `arping -D -I <ipdev>` (rc 1: someone answers: release, next).
// write-back : ipname, netmask (prefix length) and gateway when empty, and every cascade_allocation
//              target (<rid>.<keyword>[@scope]), through ctx.writeBack before the address is added.
//              Outputs: alloc_key, alloc_filled (keywords filled), alloc_cascade (targets).
// unprovision: the inner unprovision, then ipname back to <allocate>, the filled keywords unset and
//              the cascade targets emptied (written back), then the record released. A failed provision does the same.
import { ALLOCATE_MARKER, parseCascadeTarget, type ConfigEdit } from "../../src/core/patch.js";
import type { Outputs } from "../../src/core/value.js";
import { noteCreated, ProviderError } from "../../src/provider/api.js";
import type { Observed, ProbeContext, Provider, ProviderContext, ResourceSpec } from "../../src/provider/api.js";
import { run } from "../../src/provider/exec.js";
import { ARPING_HINT, parseIpLinks, str } from "./iputil.js";
import { addressKey, allocatable } from "../../src/core/cidr.js";
import { ntoa, parseCidr, type Cidr } from "./network.js";

export function isAllocate(r: ResourceSpec): boolean {
  return str(r.kw.ipname) === ALLOCATE_MARKER;
}

function cidrOf(r: ResourceSpec): Cidr {
  const n = str(r.kw.network);
  if (!n) throw new ProviderError(`${r.rid}: ipname = <allocate> needs network, the subnet to allocate from`, "set network = 10.99.0.0/24 (a CIDR)");
  const c = parseCidr(n);
  if ("error" in c) throw new ProviderError(`${r.rid}: ${c.error}`, c.hint);
  return c;
}

function cascadeOf(r: ResourceSpec): ConfigEdit[] {
  const v = r.kw.cascade_allocation;
  const words = Array.isArray(v) ? v.map(String) : typeof v === "string" ? v.split(/\s+/).filter(Boolean) : [];
  return words.map((w) => {
    const t = parseCascadeTarget(w);
    if (!t) throw new ProviderError(`${r.rid}: cascade_allocation ${JSON.stringify(w)} is not <rid>.<keyword>`, "e.g. cascade_allocation = ip#1.ipname");
    return t;
  });
}

/** The owner of an allocation made by this resource on this node (a flex object's nodes each hold one). */
function ownerOf(ctx: { objectName: string; nodename: string }, r: ResourceSpec): string {
  return `${ctx.objectName} ${r.rid} @${ctx.nodename}`;
}

/** arping -D on the segment: true when someone answers for `ip`. */
async function answered(ctx: ProviderContext, dev: string, ip: string): Promise<boolean> {
  const r = await ctx.exec("arping", ["-D", "-c", "2", "-w", "2", "-I", dev, ip], { timeoutMs: 15_000, signal: ctx.signal });
  if (r.exitCode === 0 && !r.timedOut) return false;
  if (r.exitCode === 1) return true;
  if (r.exitCode === 127) throw new ProviderError("arping is not installed: cannot check that an address is free before allocating it", ARPING_HINT);
  throw new ProviderError(`cannot check ${ip} on ${dev} (arping -D): ${(r.stderr || r.stdout).trim() || `rc ${r.exitCode}`}`);
}

interface Allocated {
  readonly addr: string;
  readonly key: string;
  readonly cidr: Cidr;
}

async function allocateAddress(ctx: ProviderContext, r: ResourceSpec, dev: string): Promise<Allocated> {
  const allocs = ctx.allocations;
  if (!allocs) throw new ProviderError(`${r.rid}: no allocation records here: <allocate> cannot run`);
  const cidr = cidrOf(r);
  const owner = ownerOf(ctx, r);
  // Idempotent: the address this resource holds already (its config was installed again with the
  // marker) is taken back, not a second one.
  const held = r.recorded?.alloc_key;
  if (typeof held === "string" && held.startsWith(`ip/${cidr.text}/`) && (await allocs.getAlloc(held))?.owner === owner) {
    return { addr: held.slice(`ip/${cidr.text}/`.length), key: held, cidr };
  }
  const local = new Set(parseIpLinks((await run(ctx.exec, "ip", ["-j", "addr", "show"])).stdout).flatMap((l) => l.addrs.map((a) => a.local)));
  // In a cluster, the orchestrator reserved the candidates in the cluster store: only those.
  const reserved = allocs.reserved?.[r.rid];
  for (const addr of reserved ?? allocatable(cidr, str(r.kw.gateway))) {
    if (local.has(addr)) continue;
    const key = addressKey(cidr, addr);
    const got = await allocs.allocate(key, { owner, data: { object: ctx.objectName, rid: r.rid, node: ctx.nodename }, at: new Date().toISOString() });
    if (!got.created && got.record.owner !== owner) continue;
    ctx.log("info", `checking ${addr} availability on ${dev}`);
    let busy: boolean;
    try {
      busy = await answered(ctx, dev, addr);
    } catch (e) {
      if (got.created) await allocs.freeAlloc(key, owner);
      throw e;
    }
    if (!busy) return { addr, key, cidr };
    ctx.log("info", `${addr} answers on ${dev}: skipped`);
    if (got.created) await allocs.freeAlloc(key, owner);
  }
  if (reserved) throw new ProviderError(`${r.rid}: none of the addresses the cluster store reserved for this node (${reserved.join(", ")}) is free here`, "they answer on the segment or are held by another object on this node: free one, or run the provision again (the next run reserves others)");
  throw new ProviderError(`${r.rid}: no free address in ${cidr.text}`, "free one (unprovision an object holding one), or widen network");
}

/** The edits that take an allocation back: ipname back to <allocate>, filled keywords and cascade targets unset. */
function restoreEdits(r: ResourceSpec, filled: readonly string[], cascade: readonly string[]): ConfigEdit[] {
  const out: ConfigEdit[] = [{ section: r.rid, key: "ipname", value: ALLOCATE_MARKER }];
  for (const k of filled) if (k !== "ipname") out.push({ section: r.rid, key: k });
  // A cascade target is emptied, not removed: a reference to it ({env.addr}) stays resolvable.
  for (const c of cascade) {
    const t = parseCascadeTarget(c);
    if (t) out.push({ ...t, value: "" });
  }
  return out;
}

function list(v: Outputs[string] | undefined): string[] {
  return Array.isArray(v) ? v.map(String) : [];
}

/** ip.host / ip.netns with `ipname = <allocate>`: allocation, write-back and release around the inner provider. */
export function allocating(inner: Provider): Provider {
  const probe = async (ctx: ProbeContext, resources: readonly ResourceSpec[]): Promise<Observed[]> => {
    const concrete = resources.filter((r) => !isAllocate(r));
    const seen = await inner.probe(ctx, concrete);
    const byRid = new Map(concrete.map((r, i) => [r.rid, seen[i]]));
    return resources.map((r) => byRid.get(r.rid) ?? { provisioned: false, up: false });
  };
  const provision = async (ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> => {
    if (!isAllocate(r)) return inner.provision(ctx, r);
    const dev = str(r.kw.ipdev);
    if (!dev) throw new ProviderError(`${r.rid}: ipname = <allocate> needs ipdev, the interface (bridge) of the segment checked with arping`, "set ipdev");
    if (!ctx.writeBack) throw new ProviderError(`${r.rid}: this run cannot write the allocated address back into the config`);
    const cascade = cascadeOf(r);
    const a = await allocateAddress(ctx, r, dev);
    const filled: Record<string, string> = { ipname: a.addr };
    if (!str(r.kw.netmask)) filled.netmask = String(a.cidr.prefix);
    if (!str(r.kw.gateway)) filled.gateway = ntoa(a.cidr.network + 1);
    const allocOut = { alloc_key: a.key, alloc_filled: Object.keys(filled), alloc_cascade: cascade.map((c) => `${c.section}.${c.key}`) };
    await noteCreated(ctx, allocOut); // an interrupted run knows the record is this resource's
    ctx.log("info", `allocated ${a.addr} in ${a.cidr.text}`);
    const edits: ConfigEdit[] = [...Object.entries(filled).map(([key, value]) => ({ section: r.rid, key, value })), ...cascade.map((c) => ({ ...c, value: a.addr }))];
    try {
      await ctx.writeBack(edits);
      const out = await inner.provision(ctx, { ...r, kw: { ...r.kw, ...filled } });
      return { ...out, ...allocOut };
    } catch (e) {
      await release(ctx, r, allocOut).catch((x: unknown) => ctx.log("warning", `${a.addr} not released: ${(x as Error).message}`));
      throw e;
    }
  };
  const release = async (ctx: ProviderContext, r: ResourceSpec, rec: Outputs): Promise<void> => {
    const key = rec.alloc_key;
    if (typeof key !== "string") return;
    // The config first (validated): a config that cannot take <allocate> back keeps the record held.
    if (ctx.writeBack) await ctx.writeBack(restoreEdits(r, list(rec.alloc_filled), list(rec.alloc_cascade)));
    if (ctx.allocations) await ctx.allocations.freeAlloc(key, ownerOf(ctx, r));
    ctx.log("info", `released ${key.split("/").pop()}: ipname is <allocate> again`);
  };
  const unprovision = async (ctx: ProviderContext, r: ResourceSpec): Promise<void> => {
    if (!isAllocate(r)) await inner.unprovision(ctx, r);
    await release(ctx, r, r.recorded ?? {});
  };
  return { ...inner, probe, provision, unprovision };
}
