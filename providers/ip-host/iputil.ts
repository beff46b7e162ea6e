// Shared by ip.host and ip.netns: keyword readers and `ip -j` (addr, link, route) parsing.
import { ProviderError } from "../../src/provider/api.js";
import type { Exec } from "../../src/provider/exec.js";
import type { KwValue } from "../../src/core/value.js";
import { ipLiteral, type IpLiteral } from "./spec.js";

export const ARPING_HINT = "install iputils-arping (apt-get install iputils-arping)";

export function str(v: KwValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v.trim() === "" ? undefined : v.trim();
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return v.length ? v.join(" ") : undefined;
}

export function flag(v: KwValue | undefined, dflt: boolean): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") return !/^(false|no|0|off)$/i.test(v.trim());
  return dflt;
}

export interface DefaultRoute {
  readonly gateway?: string;
  readonly dev?: string;
}

/** `ip -j route show default` output. */
export function parseDefaultRoutes(stdout: string): DefaultRoute[] {
  if (!stdout.trim()) return [];
  return (JSON.parse(stdout) as { gateway?: string; dev?: string }[]).map((x) => ({
    ...(typeof x.gateway === "string" ? { gateway: ipLiteral(x.gateway)?.addr ?? x.gateway } : {}),
    ...(typeof x.dev === "string" ? { dev: x.dev } : {}),
  }));
}

export interface AddrInfo {
  readonly family: 4 | 6;
  /** Canonical address text. */
  readonly local: string;
  readonly prefixlen: number;
  readonly label?: string;
  readonly scope?: string;
  /** IPv6 duplicate address detection failed. */
  readonly dadfailed?: boolean;
}

export interface LinkInfo {
  readonly ifname: string;
  readonly ifindex: number;
  /** ifindex of the peer (veth) in the other namespace, when the peer lives in another namespace. */
  readonly linkIndex?: number;
  readonly kind?: string;
  readonly ifalias?: string;
  readonly master?: string;
  readonly address?: string;
  readonly operstate?: string;
  readonly flags: readonly string[];
  readonly addrs: readonly AddrInfo[];
}

/** Parses `ip [-d] -j addr show` (also `ip -d -j link show`: no addr_info); empty output: no interface. */
export function parseIpLinks(stdout: string): LinkInfo[] {
  if (!stdout.trim()) return [];
  const data = JSON.parse(stdout) as Record<string, unknown>[];
  const out: LinkInfo[] = [];
  for (const l of data) {
    if (typeof l.ifname !== "string") continue;
    const addrs: AddrInfo[] = [];
    for (const a of (Array.isArray(l.addr_info) ? l.addr_info : []) as Record<string, unknown>[]) {
      if (typeof a.local !== "string" || typeof a.prefixlen !== "number") continue;
      const lit = ipLiteral(a.local);
      if (!lit) continue;
      addrs.push({
        family: lit.family,
        local: lit.addr,
        prefixlen: a.prefixlen,
        ...(typeof a.label === "string" ? { label: a.label } : {}),
        ...(typeof a.scope === "string" ? { scope: a.scope } : {}),
        ...(a.dadfailed === true ? { dadfailed: true } : {}),
      });
    }
    const info = l.linkinfo as { info_kind?: unknown } | undefined;
    out.push({
      ifname: l.ifname,
      ifindex: typeof l.ifindex === "number" ? l.ifindex : 0,
      ...(typeof l.link_index === "number" ? { linkIndex: l.link_index } : {}),
      ...(info && typeof info.info_kind === "string" ? { kind: info.info_kind } : {}),
      ...(typeof l.ifalias === "string" ? { ifalias: l.ifalias } : {}),
      ...(typeof l.master === "string" ? { master: l.master } : {}),
      ...(typeof l.address === "string" ? { address: l.address.toLowerCase() } : {}),
      ...(typeof l.operstate === "string" ? { operstate: l.operstate } : {}),
      flags: Array.isArray(l.flags) ? l.flags.map(String) : [],
      addrs,
    });
  }
  return out;
}

/** Resolves ipname: an address literal as is, a name with `getent ahostsv4` (first answer). */
export async function resolveIpname(exec: Exec, rid: string, name: string | undefined, cache?: Map<string, Promise<IpLiteral>>): Promise<IpLiteral> {
  if (!name) throw new ProviderError(`${rid}: ipname is not set`, "set ipname to the address (or a DNS name resolving to it)");
  const lit = ipLiteral(name);
  if (lit) return lit;
  const go = async (): Promise<IpLiteral> => {
    const r = await exec("getent", ["ahostsv4", name]);
    if (r.exitCode === 127) throw new ProviderError(`cannot resolve ipname ${name}: getent is not installed`, "install libc-bin, or set ipname to an address");
    const first = r.exitCode === 0 ? r.stdout.trim().split(/\s+/)[0] : undefined;
    const got = first ? ipLiteral(first) : undefined;
    if (!got) throw new ProviderError(`cannot resolve ipname ${name} (getent ahostsv4 ${name}: exit code ${r.exitCode})`, "set ipname to an address, or make the name resolvable on this node");
    return got;
  };
  if (!cache) return go();
  let p = cache.get(name);
  if (!p) {
    p = go();
    p.catch(() => undefined);
    cache.set(name, p);
  }
  return p;
}
