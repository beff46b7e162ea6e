// ip.host: an address on an interface of the network namespace osvc runs in
// (opensvc-semantics §11.8, host-environment §4, seed provisioning.rst ip#1).
//
// osvc never enters another namespace for ip.host: the address goes on `ipdev` as osvc sees it
// (tests run the provider inside a namespace they created with `ip netns exec`).
//
// probe      : ONE `ip -j addr show` for all resources (+ one `getent ahostsv4 NAME` per distinct
//              DNS name). up = the address is on ipdev with the wanted prefix (and ipdev has carrier
//              when check_carrier). provisioned = null: ip.host has no provisioner (upstream v3 n/a).
// start      : present → noop. Else "checking <ip> availability": `arping -D -c 2 -w 2 -I DEV IP`
//              (rc 1: someone answers → refuse), `ip addr add IP/PREFIX dev DEV [label DEV:N]`, then
//              `arping -U -c 1 -I DEV -s IP IP` (best effort). IPv6: no arping, the kernel does DAD.
//              gateway: a default route is added only when the namespace has none (recorded in the
//              outputs as gateway_added, so stop removes only what osvc added).
// stop       : `ip addr del` of the address on ipdev (the recorded one first), if present.
// provision  : = start (no provisioner: leaves it up). unprovision = stop.
//
// netmask    : dotted or prefix length; unset → the prefix of another address of the same family
//              already on ipdev (global scope), else /32 (/128).
import type { KwValue, Outputs } from "../../src/core/value.js";
import { inBackground, noteCreated, ProviderError } from "../../src/provider/api.js";
import type { Observed, ProbeContext, Provider, ProviderContext, ResourceSpec, ProbeProblem } from "../../src/provider/api.js";
import { ExecError, run } from "../../src/provider/exec.js";
import type { Exec } from "../../src/provider/exec.js";
import { ipHostSpec, ipLiteral, netmaskToPrefix } from "./spec.js";
import type { IpLiteral } from "./spec.js";
import { allocating } from "./allocate.js";
import { ARPING_HINT, flag, parseDefaultRoutes, parseIpLinks, resolveIpname, str, type AddrInfo, type DefaultRoute, type LinkInfo } from "./iputil.js";

type Problem = ProbeProblem;

const IFNAMSIZ = 15;

// ---------------------------------------------------------------------------------------------
// Host readers

export type { AddrInfo, LinkInfo } from "./iputil.js";

/** Parses `ip -j addr show` (an empty output means no interface). */
export const parseIpAddrJson = parseIpLinks;

async function listAddrs(exec: Exec): Promise<LinkInfo[]> {
  const r = await run(exec, "ip", ["-j", "addr", "show"]);
  try {
    return parseIpAddrJson(r.stdout);
  } catch (e) {
    throw new ProviderError(`cannot parse ip -j addr show output: ${(e as Error).message}`);
  }
}

/** A link has carrier when it is administratively up and its lower layer is up. */
export function hasCarrier(l: LinkInfo): boolean {
  return l.flags.includes("UP") && l.flags.includes("LOWER_UP");
}

async function defaultRoutes(exec: Exec, family: 4 | 6): Promise<DefaultRoute[]> {
  const r = await run(exec, "ip", [family === 6 ? "-6" : "-4", "-j", "route", "show", "default"]);
  return parseDefaultRoutes(r.stdout);
}

// ---------------------------------------------------------------------------------------------
// Keywords


function devOf(r: ResourceSpec): string {
  const d = str(r.kw.ipdev);
  if (!d) throw new ProviderError(`${r.rid}: keyword "ipdev" is required`);
  return d;
}

/** The prefix length: netmask keyword, else another address of the same family on the device, else /32 (/128). */
export function choosePrefix(netmask: string | undefined, ip: IpLiteral, link: LinkInfo | undefined): number {
  if (netmask) return netmaskToPrefix(netmask, ip.family);
  const other = link?.addrs.find((a) => a.family === ip.family && a.local !== ip.addr && a.scope !== "link" && a.scope !== "host");
  return other ? other.prefixlen : ip.family === 4 ? 32 : 128;
}

interface Target {
  readonly ip: IpLiteral;
  readonly prefix: number;
  readonly dev: string;
}

function prefixOf(r: ResourceSpec, ip: IpLiteral, link: LinkInfo | undefined): number {
  try {
    return choosePrefix(str(r.kw.netmask), ip, link);
  } catch (e) {
    throw new ProviderError(`${r.rid}: ${(e as Error).message}`, "use a prefix length (24) or a dotted mask (255.255.255.0)");
  }
}

function findLink(links: readonly LinkInfo[], dev: string): LinkInfo | undefined {
  return links.find((l) => l.ifname === dev);
}

/** The smallest free "<dev>:<n>" label (n >= 1), or undefined when it would not fit IFNAMSIZ. */
export function freeLabel(link: LinkInfo): string | undefined {
  const used = new Set(link.addrs.map((a) => a.label));
  for (let n = 1; n < 10_000; n++) {
    const label = `${link.ifname}:${n}`;
    if (label.length > IFNAMSIZ) return undefined;
    if (!used.has(label)) return label;
  }
  return undefined;
}

/**
 * Runs `fn` alone among the label picks of this process for `key` (an interface). Addresses
 * started in parallel each read the address list long before they add (the availability check
 * waits 2 s): picking the label and adding the address under this lock, from a fresh listing,
 * keeps them from all taking the same "<dev>:1".
 */
const labelLocks = new Map<string, Promise<unknown>>();
async function withLabelLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
  const prev = labelLocks.get(key) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(fn);
  labelLocks.set(key, next);
  try {
    return await next;
  } finally {
    if (labelLocks.get(key) === next) labelLocks.delete(key);
  }
}

function outputsOf(t: Target, extra: Record<string, string | number | boolean> = {}): Outputs {
  return { ipaddr: t.ip.addr, prefix: t.prefix, ipdev: t.dev, ...extra };
}

function recordedGatewayAdded(r: ResourceSpec): Record<string, boolean> {
  return r.recorded?.gateway_added === true ? { gateway_added: true } : {};
}

// ---------------------------------------------------------------------------------------------
// probe

async function probe(ctx: ProbeContext, resources: readonly ResourceSpec[]): Promise<Observed[]> {
  if (resources.length === 0) return [];
  const links = await listAddrs(ctx.exec);
  const cache = new Map<string, Promise<IpLiteral>>();
  return Promise.all(
    resources.map(async (r): Promise<Observed> => {
      const problems: Problem[] = [];
      const down = (p: Problem): Observed => ({ provisioned: null, up: false, problems: [...problems, p] });
      let ip: IpLiteral;
      let dev: string;
      try {
        dev = devOf(r);
        ip = await resolveIpname(ctx.exec, r.rid, str(r.kw.ipname), cache);
      } catch (e) {
        if (e instanceof ProviderError) return down({ level: "error", message: e.message, ...(e.hint ? { hint: e.hint } : {}) });
        throw e;
      }
      const link = findLink(links, dev);
      if (!link) return down({ level: "error", message: `ipdev ${dev} does not exist`, hint: "check ipdev: `ip link show` lists the interfaces of this network namespace" });
      let prefix: number;
      try {
        prefix = prefixOf(r, ip, link);
      } catch (e) {
        const pe = e as ProviderError;
        return down({ level: "error", message: pe.message, ...(pe.hint ? { hint: pe.hint } : {}) });
      }
      const elsewhere = links.filter((l) => l.ifname !== dev && l.addrs.some((a) => a.local === ip.addr));
      for (const l of elsewhere) problems.push({ level: "warning", keyword: "ipname", message: `${ip.addr} is configured on ${l.ifname}, not on ${dev}` });
      const carrierOk = !flag(r.kw.check_carrier, true) || hasCarrier(link);
      if (!carrierOk) problems.push({ level: "warning", keyword: "ipdev", message: `${dev} has no carrier`, hint: "bring the interface up, or set check_carrier = false" });
      const present = link.addrs.some((a) => a.local === ip.addr && a.prefixlen === prefix && !a.dadfailed);
      const up = present && carrierOk;
      const t: Target = { ip, prefix, dev };
      return {
        provisioned: null,
        up,
        ...(present ? { outputs: outputsOf(t, recordedGatewayAdded(r)) } : {}),
        ...(problems.length ? { problems } : {}),
      };
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// start / stop

/** `arping -D`: resolves when nobody answers, throws a ProviderError otherwise. */
async function checkAvailable(ctx: ProviderContext, ip: string, dev: string): Promise<void> {
  ctx.log("info", `checking ${ip} availability`);
  const r = await ctx.exec("arping", ["-D", "-c", "2", "-w", "2", "-I", dev, ip], { timeoutMs: 15_000, signal: ctx.signal });
  if (r.exitCode === 0 && !r.timedOut) return;
  if (r.exitCode === 127) throw new ProviderError(`arping is not installed: cannot check that ${ip} is free before adding it`, ARPING_HINT);
  if (r.exitCode === 1) {
    const who = /reply from \S+ \[([0-9A-Fa-f:]+)\]/.exec(r.stdout)?.[1];
    throw new ProviderError(
      `${ip} is already in use on ${dev} (answered ARP${who ? ` from ${who}` : ""})`,
      "another host holds this address: stop it there, or choose another ipname",
    );
  }
  throw new ProviderError(`cannot check ${ip} availability on ${dev}: ${new ExecError(r).message}`);
}

/** `arping -U`: best effort, a failure is a warning. */
async function announce(ctx: ProviderContext, ip: string, dev: string): Promise<void> {
  const r = await ctx.exec("arping", ["-U", "-c", "1", "-I", dev, "-s", ip, ip], { timeoutMs: 15_000, signal: ctx.signal });
  if (r.exitCode === 0) return;
  if (r.exitCode === 127) ctx.log("warning", `arping is not installed: ${ip} not announced (${ARPING_HINT})`);
  else ctx.log("warning", `announcing ${ip} on ${dev} failed (exit code ${r.exitCode}): ${(r.stderr || r.stdout).trim()}`);
}

async function applyGateway(ctx: ProviderContext, r: ResourceSpec, t: Target): Promise<Record<string, boolean>> {
  const gwText = str(r.kw.gateway);
  if (!gwText) return {};
  const gw = ipLiteral(gwText);
  if (!gw || gw.family !== t.ip.family) throw new ProviderError(`${r.rid}: gateway ${JSON.stringify(gwText)} is not an IPv${t.ip.family} address`);
  const routes = await defaultRoutes(ctx.exec, gw.family);
  if (routes.some((x) => x.gateway === gw.addr && x.dev === t.dev)) return recordedGatewayAdded(r);
  if (routes.length > 0) {
    const cur = routes.map((x) => `via ${x.gateway ?? "-"} dev ${x.dev ?? "-"}`).join(", ");
    ctx.log("warning", `default route already set (${cur}): gateway ${gw.addr} not applied`);
    return {};
  }
  try {
    await run(ctx.exec, "ip", [gw.family === 6 ? "-6" : "-4", "route", "replace", "default", "via", gw.addr, "dev", t.dev]);
  } catch (e) {
    if (e instanceof ExecError) throw new ProviderError(`cannot set the default route via ${gw.addr} dev ${t.dev}: ${e.message}`);
    throw e;
  }
  ctx.log("info", `default route via ${gw.addr} dev ${t.dev} added`);
  await noteCreated(ctx, { gateway_added: true }); // an interrupted run knows the route is osvc's
  return { gateway_added: true };
}

async function start(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const dev = devOf(r);
  const ip = await resolveIpname(ctx.exec, r.rid, str(r.kw.ipname));
  const links = await listAddrs(ctx.exec);
  const link = findLink(links, dev);
  if (!link) throw new ProviderError(`ipdev ${dev} does not exist`, "check ipdev: `ip link show` lists the interfaces of this network namespace");
  const prefix = prefixOf(r, ip, link);
  const t: Target = { ip, prefix, dev };
  const checkCarrier = flag(r.kw.check_carrier, true);
  if (checkCarrier && !hasCarrier(link)) throw new ProviderError(`${dev} has no carrier`, "bring the interface up (ip link set dev " + dev + " up), or set check_carrier = false");

  const mine = link.addrs.filter((a) => a.local === ip.addr);
  if (mine.some((a) => a.prefixlen === prefix && !a.dadfailed)) {
    ctx.log("info", `${ip.addr} is already up on ${dev}`);
    return outputsOf(t, await applyGateway(ctx, r, t));
  }
  const other = links.find((l) => l.ifname !== dev && l.addrs.some((a) => a.local === ip.addr));
  if (other) throw new ProviderError(`${ip.addr} is already configured on ${other.ifname}`, `remove it from ${other.ifname} first, or set ipdev = ${other.ifname}`);

  if (mine.length > 0) {
    // Ours with another prefix (netmask changed): replace it, no availability check (we hold it).
    for (const a of mine) {
      await run(ctx.exec, "ip", ["addr", "del", `${a.local}/${a.prefixlen}`, "dev", dev]);
      ctx.log("info", `${a.local}/${a.prefixlen} removed from ${dev} (prefix changes to /${prefix})`);
    }
  } else if (ip.family === 4 && hasCarrier(link)) {
    await checkAvailable(ctx, ip.addr, dev);
  } else if (ip.family === 4) {
    ctx.log("warning", `${dev} has no carrier: ${ip.addr} availability not checked (check_carrier = false)`);
  }
  const add = async (label?: string) => {
    try {
      await run(ctx.exec, "ip", ["addr", "add", `${ip.addr}/${prefix}`, "dev", dev, ...(label ? ["label", label] : [])]);
    } catch (e) {
      if (e instanceof ExecError) throw new ProviderError(`cannot add ${ip.addr}/${prefix} on ${dev}: ${e.message}`);
      throw e;
    }
  };
  if (ip.family === 4 && flag(r.kw.alias, true)) {
    await withLabelLock(dev, async () => add(freeLabel(findLink(await listAddrs(ctx.exec), dev) ?? link)));
  } else {
    await add();
  }
  // The announce then idles for arping's 1 s interval: it does not hold the resource up.
  if (ip.family === 4 && hasCarrier(link)) await inBackground(ctx, announce(ctx, ip.addr, dev));
  let gw: Record<string, boolean>;
  try {
    gw = await applyGateway(ctx, r, t);
  } catch (e) {
    // Leave the namespace as before this start.
    await ctx.exec("ip", ["addr", "del", `${ip.addr}/${prefix}`, "dev", dev]);
    throw e;
  }
  return outputsOf(t, gw);
}

/** What to remove: the recorded address first (what start added), else the keywords. */
async function stopTarget(ctx: ProviderContext, r: ResourceSpec): Promise<{ ip: string; dev: string } | undefined> {
  const rec = r.recorded;
  if (rec && typeof rec.ipaddr === "string" && typeof rec.ipdev === "string") return { ip: ipLiteral(rec.ipaddr)?.addr ?? rec.ipaddr, dev: rec.ipdev };
  const name = str(r.kw.ipname);
  if (!name) return undefined;
  try {
    return { ip: (await resolveIpname(ctx.exec, r.rid, name)).addr, dev: devOf(r) };
  } catch (e) {
    if (e instanceof ProviderError) {
      ctx.log("warning", `${e.message}: nothing to remove`);
      return undefined;
    }
    throw e;
  }
}

async function stop(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  const t = await stopTarget(ctx, r);
  if (!t) return;
  const links = await listAddrs(ctx.exec);
  const link = findLink(links, t.dev);
  if (!link) {
    ctx.log("info", `${t.dev} does not exist: ${t.ip} is not configured`);
    return;
  }
  const gwText = str(r.kw.gateway);
  const gw = gwText ? ipLiteral(gwText) : undefined;
  if (r.recorded?.gateway_added === true && gw) {
    const routes = await defaultRoutes(ctx.exec, gw.family);
    if (routes.some((x) => x.gateway === gw.addr && x.dev === t.dev)) {
      await run(ctx.exec, "ip", [gw.family === 6 ? "-6" : "-4", "route", "del", "default", "via", gw.addr, "dev", t.dev]);
      ctx.log("info", `default route via ${gw.addr} dev ${t.dev} removed`);
    }
  }
  const mine = link.addrs.filter((a) => a.local === t.ip);
  if (mine.length === 0) {
    ctx.log("info", `${t.ip} is already down on ${t.dev}`);
    return;
  }
  for (const a of mine) {
    try {
      await run(ctx.exec, "ip", ["addr", "del", `${a.local}/${a.prefixlen}`, "dev", t.dev]);
    } catch (e) {
      if (!(e instanceof ExecError)) throw e;
      const again = findLink(await listAddrs(ctx.exec), t.dev);
      if (again?.addrs.some((x) => x.local === a.local && x.prefixlen === a.prefixlen)) {
        throw new ProviderError(`cannot remove ${a.local}/${a.prefixlen} from ${t.dev}: ${e.message}`);
      }
    }
  }
}

// ipname = <allocate>: allocation and write-back around it (allocate.ts).
export const ipHostProvider: Provider = allocating({
  type: "ip.host",
  spec: ipHostSpec,
  updatable: [],
  dataBearing: false,
  probe,
  provision: start,
  unprovision: stop,
  start,
  stop,
});

export default ipHostProvider;
