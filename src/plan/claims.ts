// Cross-object claims: two objects of one node must not declare the same backing file, mount
// point, directory, device, volume group or container: destroying one would unmount, detach or
// delete what the other holds. Plain data in, diagnostics out (the caller reads what the other
// objects' recorded states hold, through a per-state-file cache: see HELD_CLAIMS_FORMAT).
import path from "node:path";
import type { Diagnostic } from "../core/diagnostics.js";
import type { StateFile } from "../state/model.js";

/** One thing on the host a resource holds, as a comparable key and the words a message uses. */
export interface Claim {
  readonly key: string;
  readonly what: string;
}

/** A resource of the object being planned: what it declares. */
export interface Claimant {
  readonly rid: string;
  readonly driver: string;
  readonly inputs: Readonly<Record<string, unknown>>;
  /** Keywords whose value is resolved at apply time (a device another resource exposes): not compared. */
  readonly deferred?: readonly string[];
}

export interface ClaimConflict {
  readonly rid: string;
  readonly claim: Claim;
  readonly otherObject: string;
  readonly otherRid: string;
}

const str = (v: unknown): string | undefined => (typeof v === "string" && v !== "" ? v : undefined);
const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string" && x !== "") : typeof v === "string" && v ? v.split(/\s+/).filter(Boolean) : []);

// Paths share one key space: a mount point over another object's directory is a conflict too.
const pathClaim = (what: string, p: string): Claim => ({ key: `path:${path.resolve(p)}`, what: `${what} ${path.resolve(p)}` });
// A loop device number is a fact of the moment (reused after a detach): loop devices are compared
// through their backing files, never by /dev/loopN.
const devClaim = (p: string): Claim | undefined => (/^\/dev\/loop\d+$/.test(p) ? undefined : { key: `dev:${path.resolve(p)}`, what: `device ${path.resolve(p)}` });

/** What a resource holds on the host, from its (converted) inputs. */
export function claimsOf(driver: string, inputs: Readonly<Record<string, unknown>>, deferred: readonly string[] = []): Claim[] {
  const kw = (k: string): unknown => (deferred.includes(k) ? undefined : inputs[k]);
  const out: (Claim | undefined)[] = [];
  const group = driver.split(".")[0];
  if (driver === "disk.loop") {
    const f = str(kw("file"));
    if (f) out.push(pathClaim("backing file", f));
  } else if (driver === "disk.vg" || driver === "disk.lvm") {
    const n = str(kw("name")) ?? str(kw("vgname"));
    if (n) out.push({ key: `vg:${n}`, what: `volume group ${n}` });
    for (const d of list(kw("pvs"))) out.push(devClaim(d));
  } else if (driver === "fs.directory") {
    const p = str(kw("path"));
    if (p) out.push(pathClaim("directory", p));
  } else if (group === "fs") {
    const m = str(kw("mnt"));
    if (m) out.push(pathClaim("mount point", m));
    const d = str(kw("dev"));
    if (d?.startsWith("/")) out.push(devClaim(d));
  } else if (group === "container") {
    const n = str(kw("name"));
    if (n) out.push({ key: `container:${n}`, what: `container ${n}` });
  }
  return out.filter((c): c is Claim => c !== undefined);
}

/** What an object's recorded state holds on the host: [claim key, rid] pairs, in resource order. */
export type HeldClaims = readonly (readonly [key: string, rid: string])[];

/**
 * The version of heldClaims()'s output: callers cache it per state file (StateStore.readDerived).
 * Bump it whenever claimsOf() or heldClaims() would return something else for the same state
 * (test/plan/claims.test.ts pins the output of a sample state and says so when it changes).
 */
export const HELD_CLAIMS_FORMAT = 1;

/** The claims of the resources a recorded state holds: provisioned (or unknown), not followed. */
export function heldClaims(state: StateFile): HeldClaims {
  const out: [string, string][] = [];
  for (const r of Object.values(state.resources)) {
    if (r.provisioned === false || r.follow) continue;
    for (const c of claimsOf(r.driver, r.inputs)) out.push([c.key, r.rid]);
  }
  return out;
}

/** Claims of `mine` that a resource of another object holds too (`held`: see heldClaims). */
export function crossClaims(mine: readonly Claimant[], others: readonly { object: string; held: HeldClaims }[]): ClaimConflict[] {
  const held = new Map<string, { object: string; rid: string }>();
  for (const o of others) {
    for (const [key, rid] of o.held) if (!held.has(key)) held.set(key, { object: o.object, rid });
  }
  const out: ClaimConflict[] = [];
  if (held.size === 0) return out; // nothing held elsewhere: no need to work out what mine claim
  for (const m of mine) {
    for (const c of claimsOf(m.driver, m.inputs, m.deferred)) {
      const h = held.get(c.key);
      if (h) out.push({ rid: m.rid, claim: c, otherObject: h.object, otherRid: h.rid });
    }
  }
  return out;
}

/** The plan error for a claim another object holds. */
export function claimDiagnostic(object: string, c: ClaimConflict): Diagnostic {
  return {
    code: "E3012",
    severity: "error",
    summary: `${c.rid} of ${object} declares the ${c.claim.what}, which ${c.otherRid} of the object ${c.otherObject} holds`,
    detail: `Two objects must not share a backing file, device, mount point, directory, volume group or container: stopping or destroying one would take it from the other.`,
    hint: `Give ${c.rid} of ${object} its own, or remove ${c.otherRid} from ${c.otherObject} first (osvc ${c.otherObject} unprovision --rid ${c.otherRid}).`,
  };
}
