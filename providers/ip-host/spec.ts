import { isIPv4, isIPv6 } from "node:net";
import type { DriverSpec, KeywordSpec } from "../../src/core/schema.js";
import { checkAllocate } from "./network.js";

/** Keywords shared by every ip driver (ip.host, ip.netns, ip.amazon, ip.gce build on them). */
export const ipHostKeywords: KeywordSpec[] = [
  {
    name: "ipname",
    type: "string",
    scopable: true,
    aliases: ["name"],
    text: "The address (IPv4 or IPv6) or a DNS name resolving to it (names are resolved to IPv4 with getent ahostsv4, first answer); empty means not provisioned yet.",
    example: "10.0.0.10",
  },
  { name: "ipdev", type: "string", required: true, scopable: true, aliases: ["dev"], text: "The network interface the address is added to.", example: "eth0" },
  {
    name: "netmask",
    type: "string",
    scopable: true,
    text: "Netmask, dotted (255.255.255.0) or as a prefix length (24). Unset: the prefix length of another address of the same family already on the interface, else /32 (/128 for IPv6).",
    example: "24",
  },
  {
    name: "gateway",
    type: "string",
    scopable: true,
    text: "Default gateway. ip.host: at start, a default route via it on ipdev is added when the namespace has no default route (an existing different one is left alone, with a warning), and removed at stop only if osvc added it.",
  },
  { name: "network", type: "string", scopable: true, text: "The network the address belongs to, used by allocating provisioners: with ipname = <allocate>, the IPv4 subnet in CIDR form to allocate from (its first address after the network address is the gateway).", example: "10.99.0.0/24" },
  {
    name: "cascade_allocation",
    type: "list",
    provisioning: true,
    text: "After allocation, set these keywords of other sections (<rid>.<keyword>[@scope], env.<key>) to the allocated address; unprovision unsets them.",
    example: "ip#1.ipname",
  },
  { name: "provisioner", type: "string", provisioning: true, candidates: ["collector"], text: "collector: allocate the address at provision and write ipname, netmask and gateway back into the config." },
  { name: "dns_update", type: "bool", scopable: true, default: "false", text: "Update the cluster DNS record of ipname at start." },
  { name: "dns_name_suffix", type: "string", scopable: true, text: "Suffix appended to the object name to form the DNS record name updated when dns_update is set." },
  { name: "wait_dns", type: "duration", scopable: true, default: "0", text: "Wait up to this long for the DNS record to resolve before start." },
  { name: "check_carrier", type: "bool", scopable: true, default: "true", text: "Refuse to start, and report down, when the interface has no carrier." },
  { name: "alias", type: "bool", scopable: true, default: "true", text: "Add the address as a stacked alias (eth0:1) rather than a secondary address." },
  { name: "expose", type: "list", scopable: true, text: "Ports exposed on this address, as <port>/<proto>[:<host port>], for load-balancer registration.", example: "80/tcp 443/tcp" },
];

/** ipname of the drivers that allocate on this host (ip.host, ip.netns): accepts <allocate>. */
export const ipnameAllocatable: KeywordSpec = {
  name: "ipname",
  type: "string",
  scopable: true,
  aliases: ["name"],
  markers: true,
  text: "The address (IPv4 or IPv6) or a DNS name resolving to it (names are resolved to IPv4 with getent ahostsv4, first answer); empty means not provisioned yet. <allocate>: provision picks the first free address of network after its gateway (free in the allocation records and on the segment, arping -D on ipdev) and writes it back here, with netmask and gateway when empty; unprovision releases it and writes <allocate> back.",
  example: "10.0.0.10",
};

export const ipHostSpec: DriverSpec = {
  group: "ip",
  type: "host",
  check: checkAllocate,
  text: "An IP address on a host network interface. The interface is one of the network namespace osvc runs in. Start adds it (after checking nobody answers it, arping -D) and announces it (arping -U); stop removes it.",
  keywords: ipHostKeywords.map((k) => (k.name === "ipname" ? ipnameAllocatable : k)),
};

// ---------------------------------------------------------------------------------------------
// How the ipname and netmask keyword values are read (shared by the ip drivers).

export interface IpLiteral {
  /** Canonical text form (IPv6 compressed, lower case). */
  readonly addr: string;
  readonly family: 4 | 6;
}

/** An address literal in canonical form, or undefined when `s` is not an address (a DNS name). */
export function ipLiteral(s: string): IpLiteral | undefined {
  const t = s.trim();
  if (isIPv4(t)) return { addr: t, family: 4 };
  if (isIPv6(t)) return { addr: new URL(`http://[${t}]/`).hostname.slice(1, -1), family: 6 };
  return undefined;
}

/** Prefix length from a netmask keyword: "24", "/24" or dotted "255.255.255.0" (IPv4 only). Throws Error. */
export function netmaskToPrefix(netmask: string, family: 4 | 6): number {
  const t = netmask.trim();
  const max = family === 4 ? 32 : 128;
  const m = /^\/?(\d{1,3})$/.exec(t);
  if (m) {
    const n = Number(m[1]);
    if (n > max) throw new Error(`netmask ${JSON.stringify(netmask)}: prefix length must be 0..${max}`);
    return n;
  }
  if (family === 4 && isIPv4(t)) {
    const bits = t
      .split(".")
      .map((o) => Number(o).toString(2).padStart(8, "0"))
      .join("");
    if (!/^1*0*$/.test(bits)) throw new Error(`netmask ${JSON.stringify(netmask)} is not a contiguous mask`);
    return bits.indexOf("0") === -1 ? 32 : bits.indexOf("0");
  }
  throw new Error(`netmask ${JSON.stringify(netmask)} is neither a prefix length nor a dotted IPv4 mask`);
}
