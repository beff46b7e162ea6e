// Allocation across orchestrators (issue 11): before a node provisions an object's
// `ipname = <allocate>` resources, the orchestrator reserves candidate addresses for it in the
// CLUSTER store (create-if-absent, fenced by the object lock: both backends), and passes them on the
// node's fixed argv (`provision --allocated ip#1=a,b`). The node picks only among them (free on its
// segment, arping -D), so two orchestrators acting on two objects at once never pick the same
// address: the store decided first. After the node acted, the reservations it did not keep are
// released (a failed node keeps none).
import { addressKey, allocatable, parseCidr } from "../core/cidr.js";
import { formatObjectPath, parseObjectPath } from "../core/path.js";
import type { AllocStore } from "./writeback.js";
import { allocationEvents } from "./writeback.js";

/** An `ipname = <allocate>` resource of the object (cluster/target.ts). */
export interface AllocatingResource {
  readonly rid: string;
  /** The node that sees it as <allocate> (its network as that node sees it). */
  readonly node: string;
  /** The network (a CIDR). */
  readonly network: string;
  readonly gateway?: string;
  /** shared = true: only the leader allocates it (the others follow). */
  readonly shared: boolean;
  /** The routed_bridge network it named: `network` is this node's slice of it. */
  readonly routedBridge?: string;
}

/** Candidates reserved per resource: the node skips those that answer on its segment. */
export const RESERVED_CANDIDATES = 4;

export interface Reservation {
  /** rid -> the addresses the node may pick from. */
  readonly byRid: Readonly<Record<string, readonly string[]>>;
  /** Keys this reservation created (released unless the node kept them). */
  readonly created: readonly { key: string; owner: string }[];
  /** Why the node must not act (a routed_bridge slice that moved since it was recorded). */
  readonly problems: readonly string[];
}

/**
 * A routed_bridge's slice of `node`, written once in the store (om3's subnet@node): the first
 * orchestration records it; a later one that computes another slice (the cluster's nodes
 * reordered, ips_per_node changed) is refused rather than moving the node's addresses.
 */
async function checkSlice(store: AllocStore, name: string, node: string, slice: string): Promise<string | undefined> {
  const got = await store.allocate(`subnet/${name}/${node}`, { owner: `network ${name} @${node}`, data: { subnet: slice }, at: new Date().toISOString() });
  const recorded = got.record.data?.subnet;
  if (got.created || recorded === slice) return undefined;
  return `the routed_bridge ${name} gives ${node} the slice ${slice}, but ${String(recorded)} is recorded for it in the cluster store (written once); write subnet@${node} = ${String(recorded)} in [network#${name}] of the node configs`;
}

/** The owner of a node's allocation, as the node's ip provider writes it (allocate.ts ownerOf: the object's short path). */
export function allocOwner(object: string, rid: string, node: string): string {
  const p = parseObjectPath(object);
  return `${p.ok ? formatObjectPath(p.path) : object} ${rid} @${node}`;
}

/** Reserves the candidates of `node` (the leader: shared resources too) in the store; the words for its argv. */
export async function reserveFor(store: AllocStore, object: string, node: string, leader: boolean, resources: readonly AllocatingResource[]): Promise<Reservation> {
  const byRid: Record<string, string[]> = {};
  const created: { key: string; owner: string }[] = [];
  const problems: string[] = [];
  for (const r of resources) {
    if (r.node !== node || (r.shared && !leader)) continue;
    if (r.routedBridge) {
      const p = await checkSlice(store, r.routedBridge, node, r.network);
      if (p) {
        problems.push(p);
        continue;
      }
    }
    const cidr = parseCidr(r.network);
    if ("error" in cidr) continue; // validate reported it; the node's provider refuses it
    const owner = allocOwner(object, r.rid, node);
    const picked: string[] = [];
    let fresh = 0;
    for (const addr of allocatable(cidr, r.gateway)) {
      if (fresh >= RESERVED_CANDIDATES) break;
      const key = addressKey(cidr, addr);
      const got = await store.allocate(key, { owner, data: { node, reserved: "true" }, at: new Date().toISOString() });
      if (got.created) {
        created.push({ key, owner });
        fresh++;
      } else if (got.record.owner !== owner) continue;
      picked.push(addr); // created now, or held already by this very resource on this node
    }
    byRid[r.rid] = picked;
  }
  return { byRid, created, problems };
}

/** The node's argv words for a reservation. */
export function reservationWords(res: Reservation): string[] {
  return Object.entries(res.byRid).flatMap(([rid, addrs]) => (addrs.length ? ["--allocated", `${rid}=${addrs.join(",")}`] : []));
}

/** Releases the reserved keys the node did not keep (its allocation events: the keys it holds at the end). */
export async function releaseUnused(store: AllocStore, res: Reservation, events: readonly Record<string, unknown>[]): Promise<void> {
  const last = new Map<string, "allocate" | "free">();
  for (const a of allocationEvents(events)) last.set(a.key, a.op);
  for (const c of res.created) if (last.get(c.key) !== "allocate") await store.freeAlloc(c.key, c.owner);
}
