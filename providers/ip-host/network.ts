// IPv4 networks for <allocate> (allocate.ts), and its validate-time checks. Imports core/ only:
// the driver specs use checkAllocate.
import { ALLOCATE_MARKER, parseCascadeTarget } from "../../src/core/patch.js";
import type { ResourceProblem } from "../../src/core/schema.js";
import type { KwValue } from "../../src/core/value.js";
import { ntoa, parseCidr } from "../../src/core/cidr.js";

export { ntoa, parseCidr, type Cidr } from "../../src/core/cidr.js";

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

