// IPv4 networks in CIDR form (<allocate>: the ip providers and the orchestrator's reservations).

export interface Cidr {
  /** Network address as a 32-bit number. */
  readonly network: number;
  readonly prefix: number;
  /** Canonical "a.b.c.d/n". */
  readonly text: string;
}

export function aton(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const o = m.slice(1).map(Number);
  if (o.some((x) => x > 255)) return undefined;
  return ((o[0] << 24) >>> 0) + (o[1] << 16) + (o[2] << 8) + o[3];
}

export function ntoa(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** An IPv4 CIDR with its host bits clear ("10.99.0.0/24"); an error text otherwise. */
export function parseCidr(s: string): Cidr | { error: string; hint: string } {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s.trim());
  const addr = m ? aton(m[1]) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (addr === undefined || !(prefix >= 0 && prefix <= 30)) {
    return { error: `network ${JSON.stringify(s)} is not an IPv4 network in CIDR form with a prefix length of 0..30`, hint: "write it as address/prefix (network = 10.99.0.0/24), or name a [network#<name>] of the node config" };
  }
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  if ((addr & mask) >>> 0 !== addr) return { error: `network ${s} has host bits set`, hint: `use network = ${ntoa((addr & mask) >>> 0)}/${prefix}` };
  return { network: addr, prefix, text: `${ntoa(addr)}/${prefix}` };
}

/** The addresses <allocate> may pick in a network, in order: network+2 up to the last before the broadcast, not the gateway. */
export function* allocatable(cidr: Cidr, gateway?: string): Generator<string> {
  const size = 2 ** (32 - cidr.prefix);
  for (let i = 2; i < size - 1; i++) {
    const addr = ntoa(cidr.network + i);
    if (addr !== gateway) yield addr;
  }
}

/** The allocation record key of an address of a network (node records and cluster store alike). */
export function addressKey(cidr: Cidr, addr: string): string {
  return `ip/${cidr.text}/${addr}`;
}

/** om3's default routed_bridge slice size. */
export const DEFAULT_IPS_PER_NODE = 1024;

/**
 * A routed_bridge's slice for the node at `index` (om3): the network cut in blocks of ips_per_node
 * addresses (a power of two), block `index`. An error text when it does not fit.
 */
export function nodeSlice(cidr: Cidr, ipsPerNode: number, index: number): Cidr | { error: string; hint: string } {
  const size = 2 ** (32 - cidr.prefix);
  if (!Number.isInteger(ipsPerNode) || ipsPerNode < 4 || (ipsPerNode & (ipsPerNode - 1)) !== 0 || ipsPerNode > size) {
    return { error: `ips_per_node ${ipsPerNode} is not a power of two between 4 and the ${size} addresses of ${cidr.text}`, hint: "e.g. ips_per_node = 256" };
  }
  if ((index + 1) * ipsPerNode > size) return { error: `${cidr.text} has room for ${size / ipsPerNode} slices of ${ipsPerNode} addresses, not ${index + 1}`, hint: "widen network or lower ips_per_node" };
  const prefix = 32 - Math.log2(ipsPerNode);
  const network = cidr.network + index * ipsPerNode;
  return { network, prefix, text: `${ntoa(network)}/${prefix}` };
}
