// IPv4 networks for <allocate> (allocate.ts), and its validate-time checks. Imports core/ only:
// the driver specs use checkAllocate.
import { ALLOCATE_MARKER, parseCascadeTarget } from "../../src/core/patch.js";
import type { ResourceProblem } from "../../src/core/schema.js";
import type { KwValue } from "../../src/core/value.js";

export interface Cidr {
  /** Network address as a 32-bit number. */
  readonly network: number;
  readonly prefix: number;
  /** Canonical "a.b.c.d/n". */
  readonly text: string;
}

function aton(s: string): number | undefined {
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

/** Validate-time checks of <allocate> (DriverSpec.check): network present and a CIDR, cascade targets well formed. */
export function checkAllocate(get: (name: string) => KwValue | undefined): ResourceProblem[] {
  const out: ResourceProblem[] = [];
  if (get("ipname") === ALLOCATE_MARKER) {
    const n = get("network");
    if (typeof n !== "string" || n.trim() === "") out.push({ severity: "error", keyword: "ipname", message: "ipname = <allocate> needs network, the subnet to allocate from", hint: "set network = 10.99.0.0/24 (a CIDR)" });
    else {
      const c = parseCidr(n);
      if ("error" in c) out.push({ severity: "error", keyword: "network", message: c.error, hint: c.hint });
    }
  }
  const cas = get("cascade_allocation");
  for (const w of Array.isArray(cas) ? cas.map(String) : []) {
    if (!parseCascadeTarget(w)) out.push({ severity: "error", keyword: "cascade_allocation", message: `cascade_allocation ${JSON.stringify(w)} is not <rid>.<keyword>[@scope]`, hint: "e.g. cascade_allocation = ip#1.ipname" });
  }
  return out;
}

