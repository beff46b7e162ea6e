// ip.netns (v2 alias ip.docker): an address inside the network namespace of a container
// (opensvc-semantics §11.9, host-environment §4). Modes: bridge (a veth pair), macvlan and
// ipvlan-l2/l3/l3s (a sub-interface of ipdev created directly inside the namespace; ipvlan needs
// the kernel's ipvlan driver, which these machines lack: start says so). dedicated and ovs are
// refused with the reason.
//
// The container's namespace comes in keyword netns_path, a path to a namespace file
// (/proc/<pid>/ns/net, /run/netns/<name>): the engine fills it from the container's outputs
// ({container#N.netns_path}); tests set it directly. osvc acts inside with `nsenter --net=PATH ip ...`.
//
// veth pair  : host end "osvc<8 hex of sha256(object, rid)>h" in osvc's own namespace (attached to
//              the ipdev bridge when ipdev is set), container end created directly inside the
//              namespace (`ip link add H type veth peer name NSDEV netns PATH`, so a name like eth0
//              never collides with osvc's own interfaces) and tagged with ifalias
//              "osvc:<object>:<rid>" — the tag, plus the two ends pointing at each other
//              (ifindex/link_index), is how osvc recognizes what it created.
// probe      : one `nsenter --net=P ip -d -j addr show` per distinct namespace, plus one
//              `ip -d -j addr show` here when some resource names an ipdev bridge. up = the address
//              is on nsdev (kw, else the tagged interface, else whichever holds it) with the
//              wanted prefix and nsdev is up. provisioned = null (no provisioner).
// start      : idempotent: stale halves are removed, the pair created when missing, the host end
//              set up (and master ipdev), nsdev up, `arping -D` inside when a bridge is there to
//              answer, the address added (noprefixroute with del_net_route), `arping -U`, the
//              default route via gateway. A failure after creating the pair deletes it.
// stop       : delete the host end (the kernel deletes both ends), or the tagged container end
//              when the host end is gone. An address osvc found on an interface it did not create
//              is left alone. unprovision = stop; provision = start.
// macvlan,   : `ip link add link IPDEV name NSDEV netns PATH type macvlan mode bridge` (or ipvlan
// ipvlan-*     mode l2|l3|l3s), tagged with the same ifalias; then as above from "nsdev up". No host
//              end: stop deletes the tagged interface inside (the namespace's end deletes it too).
// update     : netns_path changed (the container got a new namespace): stop the old, start the new.
import { createHash } from "node:crypto";
import path from "node:path";
import type { KwValue, Outputs } from "../../src/core/value.js";
import { inBackground, ProviderError } from "../../src/provider/api.js";
import type { Observed, ProbeContext, Provider, ProviderContext, ResourceSpec, ProbeProblem } from "../../src/provider/api.js";
import { ExecError, run } from "../../src/provider/exec.js";
import type { Exec, ExecResult } from "../../src/provider/exec.js";
import { ipLiteral, netmaskToPrefix } from "../ip-host/spec.js";
import type { IpLiteral } from "../ip-host/spec.js";
import { ipNetnsSpec } from "./spec.js";
import { allocating } from "../ip-host/allocate.js";
import { ARPING_HINT, flag, parseDefaultRoutes, parseIpLinks, resolveIpname, str, type AddrInfo, type DefaultRoute, type LinkInfo } from "../ip-host/iputil.js";

type Problem = ProbeProblem;

const NSENTER_HINT = "install util-linux (nsenter)";
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const MAC_RE = /^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$/;

// ---------------------------------------------------------------------------------------------
// Host readers

export type NsAddr = AddrInfo;
export type NsLink = LinkInfo;

/** Parses `ip -d -j addr show` (also `ip -d -j link show`: no addr_info). */
export const parseIpLinksJson = parseIpLinks;

function parseOrThrow(r: ExecResult, what: string): NsLink[] {
  try {
    return parseIpLinksJson(r.stdout);
  } catch (e) {
    throw new ProviderError(`cannot parse the output of ${what}: ${(e as Error).message}`);
  }
}

/** Interfaces of osvc's own namespace. */
async function hostLinks(exec: Exec): Promise<NsLink[]> {
  return parseOrThrow(await run(exec, "ip", ["-d", "-j", "addr", "show"]), "ip -d -j addr show");
}

function nsenter(exec: Exec, nsPath: string, file: string, args: readonly string[], opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<ExecResult> {
  return exec("nsenter", [`--net=${nsPath}`, file, ...args], opts);
}

async function nsRun(exec: Exec, nsPath: string, args: readonly string[]): Promise<ExecResult> {
  const r = await nsenter(exec, nsPath, "ip", args);
  if (r.exitCode === 127 && /nsenter/.test(r.stderr)) throw new ProviderError("nsenter is not installed", NSENTER_HINT);
  if (r.exitCode !== 0 || r.timedOut) throw new ExecError(r);
  return r;
}

/** Interfaces inside a namespace; undefined when the namespace file cannot be opened (container gone). */
async function nsLinks(exec: Exec, nsPath: string): Promise<NsLink[] | undefined> {
  const r = await nsenter(exec, nsPath, "ip", ["-d", "-j", "addr", "show"]);
  if (r.exitCode === 127) throw new ProviderError("nsenter is not installed: cannot look inside container network namespaces", NSENTER_HINT);
  if (r.exitCode !== 0 && /cannot open|No such file|reassociate to namespace/i.test(r.stderr)) return undefined;
  if (r.exitCode !== 0) throw new ExecError(r);
  return parseOrThrow(r, `nsenter --net=${nsPath} ip -d -j addr show`);
}

async function nsDefaultRoutes(exec: Exec, nsPath: string, family: 4 | 6): Promise<DefaultRoute[]> {
  const r = await nsRun(exec, nsPath, [family === 6 ? "-6" : "-4", "-j", "route", "show", "default"]);
  return parseDefaultRoutes(r.stdout);
}

// ---------------------------------------------------------------------------------------------
// Keywords and names


/** Host end of the veth pair: "osvc" + 8 hex + "h" (13 characters, under IFNAMSIZ). */
export function hostDevName(objectName: string, rid: string): string {
  return `osvc${createHash("sha256").update(`${objectName}\0${rid}`).digest("hex").slice(0, 8)}h`;
}

/** ifalias set on the container end. */
export function nsTag(objectName: string, rid: string): string {
  return `osvc:${objectName}:${rid}`.slice(0, 250);
}

/** First eth<N> not used in the namespace. */
export function firstFreeEth(links: readonly NsLink[]): string {
  const used = new Set(links.map((l) => l.ifname));
  let n = 0;
  while (used.has(`eth${n}`)) n++;
  return `eth${n}`;
}

type Mode = "bridge" | "macvlan" | "ipvlan-l2" | "ipvlan-l3" | "ipvlan-l3s";
const SUBIF_MODES: readonly string[] = ["macvlan", "ipvlan-l2", "ipvlan-l3", "ipvlan-l3s"];

function modeOf(r: ResourceSpec): Mode {
  const mode = str(r.kw.mode) ?? "bridge";
  if (mode === "bridge" || SUBIF_MODES.includes(mode)) return mode as Mode;
  if (mode === "dedicated") {
    throw new ProviderError(`${r.rid}: mode dedicated is not supported here`, "moving a host interface into a container cannot be undone safely when the container dies; use mode = macvlan over that interface, or bridge");
  }
  if (mode === "ovs") throw new ProviderError(`${r.rid}: mode ovs is not supported here: openvswitch is not installed on these machines`, "use mode = bridge (a Linux bridge) or macvlan");
  throw new ProviderError(`${r.rid}: unknown mode ${mode}`, "use bridge, macvlan, ipvlan-l2, ipvlan-l3 or ipvlan-l3s");
}

/** `ip link add ... type` arguments of a sub-interface mode. */
function subifType(mode: Mode): string[] {
  return mode === "macvlan" ? ["macvlan", "mode", "bridge"] : ["ipvlan", "mode", mode.slice("ipvlan-".length)];
}

function netnsPathOf(r: ResourceSpec): string | undefined {
  const p = str(r.kw.netns_path);
  if (p === undefined) return undefined;
  if (!path.isAbsolute(p)) throw new ProviderError(`${r.rid}: netns_path must be an absolute path, got ${JSON.stringify(p)}`);
  return p;
}

function requireNetnsPath(r: ResourceSpec): string {
  const p = netnsPathOf(r);
  if (p) return p;
  const c = str(r.kw.netns) ?? "the container";
  throw new ProviderError(`${r.rid}: the network namespace of ${c} is not known (netns_path is not set)`, `start ${c} first: osvc fills netns_path from its outputs`);
}

function nsdevOf(r: ResourceSpec): string | undefined {
  const d = str(r.kw.nsdev);
  if (d !== undefined && (!IFNAME_RE.test(d) || d === "." || d === "..")) throw new ProviderError(`${r.rid}: nsdev ${JSON.stringify(d)} is not a valid interface name (1-15 of A-Z a-z 0-9 _ . -)`);
  return d;
}

function macOf(r: ResourceSpec): string | undefined {
  const m = str(r.kw.macaddr);
  if (m !== undefined && !MAC_RE.test(m)) throw new ProviderError(`${r.rid}: macaddr ${JSON.stringify(m)} is not a MAC address (xx:xx:xx:xx:xx:xx)`);
  return m?.toLowerCase();
}

/** The ipdev bridge, checked: undefined when ipdev is unset. */
function bridgeOf(r: ResourceSpec, links: readonly NsLink[] | undefined): NsLink | undefined {
  const dev = str(r.kw.ipdev);
  if (!dev) return undefined;
  const b = links?.find((l) => l.ifname === dev);
  if (!b) throw new ProviderError(`bridge ${dev} (ipdev) does not exist`, "create the bridge first (ip link add " + dev + " type bridge), or leave ipdev unset");
  if (b.kind !== "bridge") throw new ProviderError(`ipdev ${dev} is not a Linux bridge (${b.kind ?? "no link kind"})`, "mode bridge attaches the veth host end to a Linux bridge");
  return b;
}

/** The ipdev a macvlan/ipvlan hangs off, in osvc's namespace: required. */
function parentOf(r: ResourceSpec, links: readonly NsLink[] | undefined, mode: Mode): NsLink {
  const dev = str(r.kw.ipdev);
  if (!dev) throw new ProviderError(`${r.rid}: mode ${mode} needs ipdev, the interface the ${subifType(mode)[0]} hangs off`, "set ipdev = eth0 (an interface of the namespace osvc runs in)");
  const l = links?.find((x) => x.ifname === dev);
  if (!l) throw new ProviderError(`ipdev ${dev} does not exist`, "check ipdev: `ip link show` lists the interfaces of the namespace osvc runs in");
  return l;
}

function prefixOf(r: ResourceSpec, ip: IpLiteral, bridge: NsLink | undefined): number {
  const nm = str(r.kw.netmask);
  if (nm) {
    try {
      return netmaskToPrefix(nm, ip.family);
    } catch (e) {
      throw new ProviderError(`${r.rid}: ${(e as Error).message}`, "use a prefix length (24) or a dotted mask (255.255.255.0)");
    }
  }
  const other = bridge?.addrs.find((a) => a.family === ip.family && a.scope !== "link" && a.scope !== "host");
  return other ? other.prefixlen : ip.family === 4 ? 32 : 128;
}

/** The interface osvc created for this resource in the namespace (veth end, macvlan, ipvlan), if present. */
function taggedEnd(inside: readonly NsLink[], tag: string): NsLink | undefined {
  return inside.find((l) => l.ifalias === tag && (l.kind === "veth" || l.kind === "macvlan" || l.kind === "ipvlan"));
}

function paired(host: NsLink | undefined, end: NsLink | undefined): boolean {
  return Boolean(host && end && host.kind === "veth" && end.linkIndex === host.ifindex && host.linkIndex === end.ifindex);
}

/** The interface the address is (to be) on, for probe. */
function nsdevSeen(r: ResourceSpec, inside: readonly NsLink[], tag: string, ip: string): NsLink | undefined {
  const want = str(r.kw.nsdev);
  if (want) return inside.find((l) => l.ifname === want);
  return taggedEnd(inside, tag) ?? inside.find((l) => l.addrs.some((a) => a.local === ip));
}

// ---------------------------------------------------------------------------------------------
// probe

async function probe(ctx: ProbeContext, resources: readonly ResourceSpec[]): Promise<Observed[]> {
  if (resources.length === 0) return [];
  const paths = new Set<string>();
  for (const r of resources) {
    try {
      const p = netnsPathOf(r);
      if (p) paths.add(p);
    } catch {
      /* reported below */
    }
  }
  const insides = new Map<string, Promise<NsLink[] | undefined>>();
  for (const p of paths) {
    const q = nsLinks(ctx.exec, p);
    q.catch(() => undefined); // awaited below; avoid an unhandled rejection if hostLinks throws first
    insides.set(p, q);
  }
  const host = resources.some((r) => str(r.kw.ipdev)) ? await hostLinks(ctx.exec) : undefined;
  const cache = new Map<string, Promise<IpLiteral>>();
  return Promise.all(
    resources.map(async (r): Promise<Observed> => {
      const problems: Problem[] = [];
      const down = (p?: Problem): Observed => {
        const all = p ? [...problems, p] : problems;
        return { provisioned: null, up: false, ...(all.length ? { problems: all } : {}) };
      };
      const asProblem = (e: unknown, level: "warning" | "error" = "error"): Problem => {
        if (!(e instanceof ProviderError)) throw e;
        return { level, message: e.message, ...(e.hint ? { hint: e.hint } : {}) };
      };
      let ip: IpLiteral;
      let mode: Mode;
      let bridge: NsLink | undefined; // the bridge (mode bridge) or the parent interface
      let prefix: number;
      let nsPath: string | undefined;
      try {
        mode = modeOf(r);
        nsdevOf(r);
        macOf(r);
        nsPath = netnsPathOf(r);
        ip = await resolveIpname(ctx.exec, r.rid, str(r.kw.ipname), cache);
        bridge = mode === "bridge" ? bridgeOf(r, host) : parentOf(r, host, mode);
        prefix = prefixOf(r, ip, bridge);
      } catch (e) {
        return down(asProblem(e));
      }
      if (!nsPath) return down(); // the container is not up yet: its namespace is known after its start
      const inside = await insides.get(nsPath);
      if (!inside) {
        const c = str(r.kw.netns) ?? "the container";
        return down({ level: "warning", message: `network namespace ${nsPath} does not exist (is ${c} running?)` });
      }
      const tag = nsTag(ctx.objectName, r.rid);
      const dev = nsdevSeen(r, inside, tag, ip.addr);
      const present = Boolean(dev?.addrs.some((a) => a.local === ip.addr && a.prefixlen === prefix));
      const up = present && Boolean(dev?.flags.includes("UP"));
      if (present && !up) problems.push({ level: "warning", message: `${dev?.ifname} is down in ${nsPath}` });
      const ours = dev !== undefined && dev.ifalias === tag;
      const outputs: Outputs | undefined =
        present && dev
          ? mode === "bridge"
            ? {
                ipaddr: ip.addr,
                prefix,
                nsdev: dev.ifname,
                netns_path: nsPath,
                created_veth: ours,
                ...(ours ? { host_dev: hostDevName(ctx.objectName, r.rid) } : {}),
              }
            : { ipaddr: ip.addr, prefix, nsdev: dev.ifname, netns_path: nsPath, created_dev: ours }
          : undefined;
      return { provisioned: null, up, ...(outputs ? { outputs } : {}), ...(problems.length ? { problems } : {}) };
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// start / stop

/** Refuses a netns_path that is osvc's own namespace (that is ip.host's job). */
async function checkNotOwnNamespace(ctx: ProviderContext, nsPath: string): Promise<void> {
  const r = await ctx.exec("stat", ["-L", "-c", "%d:%i", "--", nsPath, "/proc/self/ns/net"]);
  const [a, b] = r.stdout.trim().split("\n");
  if (r.exitCode !== 0 || !a) {
    throw new ProviderError(`network namespace ${nsPath} does not exist`, "start the container first: its namespace disappears when it stops");
  }
  if (a === b) throw new ProviderError(`${nsPath} is osvc's own network namespace, not a container's`, "use an ip.host resource for addresses of this namespace");
}

async function del(ctx: ProviderContext, hostDev: string): Promise<void> {
  const r = await ctx.exec("ip", ["link", "del", "dev", hostDev]);
  if (r.exitCode !== 0 && !/Cannot find device|does not exist/i.test(r.stderr)) throw new ExecError(r);
}

function gatewayOf(r: ResourceSpec, ip: IpLiteral): IpLiteral | undefined {
  const gwText = str(r.kw.gateway);
  if (!gwText) return undefined;
  const gw = ipLiteral(gwText);
  if (!gw || gw.family !== ip.family) throw new ProviderError(`${r.rid}: gateway ${JSON.stringify(gwText)} is not an IPv${ip.family} address`);
  return gw;
}

interface Placement {
  readonly nsPath: string;
  readonly nsdev: string;
  readonly ip: IpLiteral;
  readonly prefix: number;
  readonly mac?: string;
  /** The L2 segment's name in osvc's namespace (bridge or parent): `arping -D`/`-U` run only with one. */
  readonly lan?: string;
}

/**
 * On nsdev (an interface osvc created): MAC, up, then the address: a prefix change replaces it;
 * a new one is checked free (`arping -D`) first and announced (`arping -U`, background) after.
 */
async function configureAddress(ctx: ProviderContext, r: ResourceSpec, p: Placement): Promise<void> {
  const { nsPath, nsdev, ip, prefix, mac, lan } = p;
  const inNs = (args: readonly string[]) => nsRun(ctx.exec, nsPath, args);
  const inside = (await nsLinks(ctx.exec, nsPath)) ?? [];
  const cur = inside.find((l) => l.ifname === nsdev);
  if (mac && cur?.address !== mac) await inNs(["link", "set", "dev", nsdev, "address", mac]);
  if (!cur?.flags.includes("UP")) await inNs(["link", "set", "dev", nsdev, "up"]);
  const mine = cur?.addrs.filter((a) => a.local === ip.addr) ?? [];
  if (mine.some((a) => a.prefixlen === prefix)) {
    ctx.log("info", `${ip.addr} is already up on ${nsdev} in ${nsPath}`);
    return;
  }
  for (const a of mine) {
    await inNs(["addr", "del", `${a.local}/${a.prefixlen}`, "dev", nsdev]);
    ctx.log("info", `${a.local}/${a.prefixlen} removed from ${nsdev} (prefix changes to /${prefix})`);
  }
  if (mine.length === 0 && ip.family === 4 && lan) await checkAvailable(ctx, nsPath, ip.addr, nsdev, lan);
  const noprefixroute = flag(r.kw.del_net_route, false) ? ["noprefixroute"] : [];
  try {
    await inNs(["addr", "add", `${ip.addr}/${prefix}`, "dev", nsdev, ...noprefixroute]);
  } catch (e) {
    if (e instanceof ExecError) throw new ProviderError(`cannot add ${ip.addr}/${prefix} on ${nsdev} in ${nsPath}: ${e.message}`);
    throw e;
  }
  // The announce then idles for arping's 1 s interval: it does not hold the resource up.
  if (ip.family === 4 && lan) await inBackground(ctx, announce(ctx, nsPath, ip.addr, nsdev));
}

/** The namespace's default route via gw on nsdev, unless already so. */
async function setGateway(ctx: ProviderContext, nsPath: string, nsdev: string, gw: IpLiteral): Promise<void> {
  const routes = await nsDefaultRoutes(ctx.exec, nsPath, gw.family);
  if (routes.some((x) => x.gateway === gw.addr && x.dev === nsdev)) return;
  try {
    await nsRun(ctx.exec, nsPath, [gw.family === 6 ? "-6" : "-4", "route", "replace", "default", "via", gw.addr, "dev", nsdev]);
  } catch (e) {
    if (e instanceof ExecError) throw new ProviderError(`cannot set the default route via ${gw.addr} dev ${nsdev} in ${nsPath}: ${e.message}`);
    throw e;
  }
  ctx.log("info", `default route via ${gw.addr} dev ${nsdev} set in ${nsPath}`);
}

/**
 * With no interface of osvc's for this resource: the name of an interface osvc did not create
 * that already holds the address (left as is), or undefined (osvc creates one). A wanted nsdev
 * that exists without the address is refused.
 */
function foreignHolder(ctx: ProviderContext, inside: readonly NsLink[], wantDev: string | undefined, ip: IpLiteral, nsPath: string): string | undefined {
  const holder = inside.find((l) => l.addrs.some((a) => a.local === ip.addr));
  const existing = wantDev ? inside.find((l) => l.ifname === wantDev) : undefined;
  if (existing && holder?.ifname !== existing.ifname) {
    throw new ProviderError(
      `${existing.ifname} already exists in ${nsPath} and was not created by osvc`,
      "set nsdev to a free interface name, or leave it unset (osvc then uses the first free eth<N>)",
    );
  }
  const found = existing ?? (wantDev ? undefined : holder);
  if (found) ctx.log("info", `${ip.addr} is already configured on ${found.ifname} in ${nsPath} (an interface osvc did not create: left as is)`);
  return found?.ifname;
}

/** Modes macvlan and ipvlan-*: a sub-interface of ipdev, created directly inside the namespace. */
async function startSubif(
  ctx: ProviderContext,
  r: ResourceSpec,
  o: { mode: Mode; nsPath: string; wantDev: string | undefined; mac: string | undefined; ip: IpLiteral; here: readonly NsLink[] },
): Promise<Outputs> {
  const { mode, nsPath, wantDev, mac, ip, here } = o;
  const parent = parentOf(r, here, mode);
  const prefix = prefixOf(r, ip, parent);
  const gw = gatewayOf(r, ip);
  const tag = nsTag(ctx.objectName, r.rid);
  const [kind] = subifType(mode);
  const inNs = (args: readonly string[]) => nsRun(ctx.exec, nsPath, args);

  // A veth pair left by mode bridge: deleting its host end deletes both ends.
  const hostDev = hostDevName(ctx.objectName, r.rid);
  const oldHost = here.find((l) => l.ifname === hostDev);
  if (oldHost) {
    if (oldHost.kind !== "veth") throw new ProviderError(`${hostDev} is not a veth (${oldHost.kind ?? "no link kind"}); refusing to delete it`);
    await del(ctx, hostDev);
    ctx.log("info", `veth pair ${hostDev} deleted (mode is now ${mode})`);
  }
  let inside = await nsLinks(ctx.exec, nsPath);
  if (!inside) throw new ProviderError(`network namespace ${nsPath} does not exist`, "start the container first");
  let end = taggedEnd(inside, tag);
  if (end && (end.kind !== kind || end.linkIndex !== parent.ifindex || (wantDev !== undefined && end.ifname !== wantDev))) {
    const why = end.kind !== kind ? `mode is now ${mode}` : end.linkIndex !== parent.ifindex ? `ipdev is now ${parent.ifname}` : `nsdev is now ${wantDev}`;
    await inNs(["link", "del", "dev", end.ifname]);
    ctx.log("info", `${end.ifname} deleted from ${nsPath} (${why})`);
    inside = (await nsLinks(ctx.exec, nsPath)) ?? [];
    end = undefined;
  }
  let nsdev: string;
  let created = false;
  const foreign = end ? undefined : foreignHolder(ctx, inside, wantDev, ip, nsPath);
  if (end) {
    nsdev = end.ifname;
  } else if (foreign) {
    nsdev = foreign;
  } else {
    nsdev = wantDev ?? firstFreeEth(inside);
    const add = await ctx.exec("ip", ["link", "add", "link", parent.ifname, "name", nsdev, "netns", nsPath, ...(mac ? ["address", mac] : []), "type", ...subifType(mode)]);
    if (add.exitCode !== 0) {
      if (/Unknown device type/i.test(add.stderr)) {
        throw new ProviderError(`this kernel has no ${kind} driver: cannot create ${nsdev} over ${parent.ifname}`, `use mode = ${kind === "ipvlan" ? "macvlan" : "bridge"}, or load the ${kind} kernel module on this node`);
      }
      throw new ProviderError(`cannot create ${kind} ${nsdev} over ${parent.ifname} in ${nsPath}: ${new ExecError(add).message}`);
    }
    created = true;
    ctx.log("info", `${kind} ${nsdev} created over ${parent.ifname} in ${nsPath}`);
  }
  const ours = !foreign;
  try {
    if (ours) {
      if (created) await inNs(["link", "set", "dev", nsdev, "alias", tag]);
      const carrier = parent.flags.includes("UP") && parent.flags.includes("LOWER_UP");
      if (!carrier && ip.family === 4) ctx.log("warning", `${parent.ifname} has no carrier: ${ip.addr} availability not checked`);
      await configureAddress(ctx, r, { nsPath, nsdev, ip, prefix, ...(mac ? { mac } : {}), ...(carrier ? { lan: parent.ifname } : {}) });
    }
    if (gw) await setGateway(ctx, nsPath, nsdev, gw);
  } catch (e) {
    if (created) {
      const d = await nsenter(ctx.exec, nsPath, "ip", ["link", "del", "dev", nsdev]);
      if (d.exitCode === 0) ctx.log("info", `${nsdev} deleted from ${nsPath} (start failed)`);
    }
    throw e;
  }
  return { ipaddr: ip.addr, prefix, nsdev, netns_path: nsPath, created_dev: ours };
}

async function start(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const mode = modeOf(r);
  const nsPath = requireNetnsPath(r);
  const wantDev = nsdevOf(r);
  const mac = macOf(r);
  const ip = await resolveIpname(ctx.exec, r.rid, str(r.kw.ipname));
  await checkNotOwnNamespace(ctx, nsPath);
  const here = await hostLinks(ctx.exec);
  if (mode !== "bridge") return startSubif(ctx, r, { mode, nsPath, wantDev, mac, ip, here });
  const bridge = bridgeOf(r, here);
  const prefix = prefixOf(r, ip, bridge);
  const gw = gatewayOf(r, ip);
  const hostDev = hostDevName(ctx.objectName, r.rid);
  const tag = nsTag(ctx.objectName, r.rid);
  const inNs = (args: readonly string[]) => nsRun(ctx.exec, nsPath, args);

  let inside = await nsLinks(ctx.exec, nsPath);
  if (!inside) throw new ProviderError(`network namespace ${nsPath} does not exist`, "start the container first");
  let hostEnd = here.find((l) => l.ifname === hostDev);
  let end = taggedEnd(inside, tag);

  // Stale halves: a host end whose peer is not this namespace's tagged end (the container got a
  // new namespace), a tagged end whose peer is gone elsewhere, or nsdev renamed.
  if (hostEnd && (!paired(hostEnd, end) || (wantDev && end && end.ifname !== wantDev))) {
    ctx.log("info", `removing ${hostDev}: ${paired(hostEnd, end) ? `nsdev changes from ${end?.ifname} to ${wantDev}` : `its peer is not in ${nsPath}`}`);
    await del(ctx, hostDev);
    hostEnd = undefined;
    inside = (await nsLinks(ctx.exec, nsPath)) ?? [];
    end = taggedEnd(inside, tag);
  }
  if (end && !hostEnd) {
    ctx.log("info", `removing ${end.ifname} from ${nsPath}: its host end is not ${hostDev}`);
    await inNs(["link", "del", "dev", end.ifname]);
    inside = (await nsLinks(ctx.exec, nsPath)) ?? [];
    end = undefined;
  }

  let nsdev: string;
  let created = false; // created by this call (rolled back on failure)
  let ours = Boolean(end);
  if (end) {
    nsdev = end.ifname;
  } else {
    const foreign = foreignHolder(ctx, inside, wantDev, ip, nsPath);
    if (foreign) {
      nsdev = foreign;
    } else {
      nsdev = wantDev ?? firstFreeEth(inside);
      try {
        await run(ctx.exec, "ip", ["link", "add", hostDev, "type", "veth", "peer", "name", nsdev, ...(mac ? ["address", mac] : []), "netns", nsPath]);
      } catch (e) {
        if (e instanceof ExecError) throw new ProviderError(`cannot create the veth pair ${hostDev} / ${nsdev} (in ${nsPath}): ${e.message}`);
        throw e;
      }
      created = true;
      ours = true;
      ctx.log("info", `veth pair created: ${hostDev} here, ${nsdev} in ${nsPath}`);
    }
  }

  try {
    if (ours) {
      if (created) await inNs(["link", "set", "dev", nsdev, "alias", tag]);
      hostEnd = (await hostLinks(ctx.exec)).find((l) => l.ifname === hostDev);
      if (!hostEnd) throw new ProviderError(`${hostDev} disappeared while configuring it`);
      const master = bridge?.ifname;
      if (hostEnd.master !== master) {
        await run(ctx.exec, "ip", ["link", "set", "dev", hostDev, ...(master ? ["master", master] : ["nomaster"])]);
        if (master) ctx.log("info", `${hostDev} attached to bridge ${master}`);
      }
      if (!hostEnd.flags.includes("UP")) await run(ctx.exec, "ip", ["link", "set", "dev", hostDev, "up"]);
      await configureAddress(ctx, r, { nsPath, nsdev, ip, prefix, ...(mac ? { mac } : {}), ...(bridge ? { lan: bridge.ifname } : {}) });
    }
    if (gw) await setGateway(ctx, nsPath, nsdev, gw);
  } catch (e) {
    if (created) {
      const d = await ctx.exec("ip", ["link", "del", "dev", hostDev]);
      if (d.exitCode === 0) ctx.log("info", `veth pair ${hostDev} / ${nsdev} deleted (start failed)`);
    }
    throw e;
  }
  return {
    ipaddr: ip.addr,
    prefix,
    nsdev,
    netns_path: nsPath,
    created_veth: ours,
    ...(ours ? { host_dev: hostDev } : {}),
  };
}

/** `arping -D` from inside the namespace: throws when somebody answers. */
async function checkAvailable(ctx: ProviderContext, nsPath: string, ip: string, nsdev: string, bridge: string): Promise<void> {
  ctx.log("info", `checking ${ip} availability`);
  const r = await nsenter(ctx.exec, nsPath, "arping", ["-D", "-c", "2", "-w", "2", "-I", nsdev, ip], { timeoutMs: 15_000, signal: ctx.signal });
  if (r.exitCode === 0 && !r.timedOut) return;
  if (r.exitCode === 127) throw new ProviderError(`arping is not installed: cannot check that ${ip} is free before adding it`, ARPING_HINT);
  if (r.exitCode === 1) {
    const who = /reply from \S+ \[([0-9A-Fa-f:]+)\]/.exec(r.stdout)?.[1];
    throw new ProviderError(`${ip} is already in use on ${bridge} (answered ARP${who ? ` from ${who}` : ""})`, "another host or container holds this address: stop it there, or choose another ipname");
  }
  throw new ProviderError(`cannot check ${ip} availability from ${nsdev} in ${nsPath}: ${new ExecError(r).message}`);
}

async function announce(ctx: ProviderContext, nsPath: string, ip: string, nsdev: string): Promise<void> {
  const r = await nsenter(ctx.exec, nsPath, "arping", ["-U", "-c", "1", "-I", nsdev, "-s", ip, ip], { timeoutMs: 15_000, signal: ctx.signal });
  if (r.exitCode === 0) return;
  if (r.exitCode === 127) ctx.log("warning", `arping is not installed: ${ip} not announced (${ARPING_HINT})`);
  else ctx.log("warning", `announcing ${ip} from ${nsdev} failed (exit code ${r.exitCode}): ${(r.stderr || r.stdout).trim()}`);
}

async function stop(ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  const rec = r.recorded ?? {};
  const hostDev = typeof rec.host_dev === "string" ? rec.host_dev : hostDevName(ctx.objectName, r.rid);
  const tag = nsTag(ctx.objectName, r.rid);
  const hostEnd = (await hostLinks(ctx.exec)).find((l) => l.ifname === hostDev);
  if (hostEnd) {
    if (hostEnd.kind !== "veth") throw new ProviderError(`${hostDev} is not a veth (${hostEnd.kind ?? "no link kind"}); refusing to delete it`);
    await del(ctx, hostDev);
    ctx.log("info", `veth pair ${hostDev} deleted (both ends)`);
  }
  let nsPath: string | undefined;
  try {
    nsPath = netnsPathOf(r);
  } catch {
    nsPath = undefined;
  }
  nsPath ??= typeof rec.netns_path === "string" ? rec.netns_path : undefined;
  if (!nsPath) return;
  if (!hostEnd) {
    // No host end here: a tagged container end left over (its peer went elsewhere) is removed.
    const inside = await nsLinks(ctx.exec, nsPath);
    if (!inside) return; // the namespace is gone, and everything in it
    const end = taggedEnd(inside, tag);
    if (end) {
      await nsRun(ctx.exec, nsPath, ["link", "del", "dev", end.ifname]);
      ctx.log("info", `${end.ifname} deleted from ${nsPath}`);
    }
  }
  if ((rec.created_veth === false || rec.created_dev === false) && typeof rec.nsdev === "string" && typeof rec.ipaddr === "string") {
    ctx.log("info", `${rec.ipaddr} left on ${rec.nsdev} in ${nsPath}: osvc did not create that interface`);
  }
}

async function update(ctx: ProviderContext, r: ResourceSpec, before: ResourceSpec): Promise<Outputs> {
  await stop(ctx, before);
  return start(ctx, r);
}

// ipname = <allocate>: allocation and write-back around it (ip-host/allocate.ts).
export const ipNetnsProvider: Provider = allocating({
  type: "ip.netns",
  spec: ipNetnsSpec,
  updatable: ["netns_path"],
  dataBearing: false,
  probe,
  provision: start,
  unprovision: stop,
  start,
  stop,
  update,
});

export default ipNetnsProvider;
