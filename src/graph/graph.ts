// The resource graph (DESIGN §4): nodes are resources keyed by rid string; an edge a -> b means
// "a must be up before b starts" (provision/start order; stop/unprovision walk it in reverse).
//
// Driver-group order is not stored as all-pairs edges: resources are placed in ordered "slots"
// (group, then the default set before named subsets, semantics §8.1/§8.2) and one virtual barrier
// node per slot boundary links every member of a slot to every member of the next non-empty slot
// with a linear number of edges. Barrier nodes never appear in the public API.
import { Graph } from "@dagrejs/graphlib";
import type { EvaluatedResource } from "../config/evaluate.js";
import type { SourceRange } from "../core/diagnostics.js";
import { groupOrder, isResourceGroup, type ResourceGroup, type Rid } from "../core/rid.js";

/** Why an explicit edge exists. Group order is implicit (slots), never an EdgeKind. */
export type EdgeKind = "reference" | "device" | "mount" | "requires" | "netns" | "sequence";

export interface EdgeReason {
  readonly kind: EdgeKind;
  /** Human wording: "reference {disk#0.exposed_devs[0]} in dev", "start_requires", ... */
  readonly text: string;
  /** The keyword of the dependent resource that caused the edge, when one did. */
  readonly keyword?: string;
  readonly range?: SourceRange;
}

export interface ResourceEdge {
  readonly from: string;
  readonly to: string;
  readonly reasons: readonly EdgeReason[];
  /** The reasons' texts joined with "; ". */
  readonly reason: string;
}

export interface NodeInfo {
  readonly id: string;
  readonly rid: Rid;
  readonly resource: EvaluatedResource;
  /** The resource's own driver group. */
  readonly group: ResourceGroup;
  /** Ordering position: "fs", "fs:g1" (subset), or the container's slot for a linked ip. */
  readonly slot: string;
  readonly disabled: boolean;
  /** The container a linked ip (netns = container#N) is driven with. */
  readonly linkedTo?: string;
}

export interface Slot {
  /** "fs" for the default set, "fs:g1" for subset g1. */
  readonly name: string;
  readonly group: ResourceGroup;
  readonly subset: string;
  readonly index: number;
  /** Member rids, in rid string order. */
  readonly members: readonly string[];
}

export interface DependencyOptions {
  /** Follow dependencies transitively (default false: direct only). */
  readonly transitive?: boolean;
  /** Also follow driver-group/subset order (default false: real dependencies only). */
  readonly groupOrder?: boolean;
}

/** @internal */
export type NodeLabel = { readonly barrier: false; readonly info: NodeInfo } | { readonly barrier: true; readonly slot: string };
/** @internal */
export type EdgeLabel = { readonly barrier: false; readonly reasons: EdgeReason[] } | { readonly barrier: true };

/** Parses a slot name into (group, subset). */
export function parseSlot(name: string): { group: ResourceGroup; subset: string } {
  const i = name.indexOf(":");
  const g = i < 0 ? name : name.slice(0, i);
  if (!isResourceGroup(g)) throw new Error(`internal error (this is an osvc bug): bad slot ${name}`);
  return { group: g, subset: i < 0 ? "" : name.slice(i + 1) };
}

/** Slot order: group order, then the default set, then named subsets lexically. */
export function compareSlots(a: string, b: string): number {
  if (a === b) return 0;
  const sa = parseSlot(a);
  const sb = parseSlot(b);
  const g = groupOrder(sa.group) - groupOrder(sb.group);
  if (g !== 0) return g;
  return sa.subset < sb.subset ? -1 : sa.subset > sb.subset ? 1 : 0;
}

export function slotName(group: ResourceGroup, subset: string | undefined): string {
  return subset ? `${group}:${subset}` : group;
}

const BARRIER_PREFIX = "slot:"; // never a rid: rids need "<group>#"

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export class ResourceGraph {
  /** @internal The underlying graphlib graph, barrier nodes included. Read-only use. */
  readonly g: Graph<unknown, NodeLabel, EdgeLabel>;
  private readonly infos: ReadonlyMap<string, NodeInfo>;
  private readonly slotList: Slot[];
  private readonly slotIndexOf = new Map<string, number>();
  private readonly idSlot = new Map<string, number>();
  private readonly sortedIds: string[];
  private readonly explicit: ResourceEdge[];

  /**
   * Builds the graph from nodes and explicit edges (edges naming unknown nodes are dropped;
   * reasons of duplicate edges are merged). Prefer buildGraph(), which derives both.
   */
  constructor(nodes: Iterable<NodeInfo>, edges: Iterable<{ from: string; to: string; reason: EdgeReason }>) {
    const infos = new Map<string, NodeInfo>();
    for (const n of nodes) infos.set(n.id, n);
    this.infos = infos;
    this.g = new Graph<unknown, NodeLabel, EdgeLabel>({ directed: true });

    // Slots.
    const bySlot = new Map<string, string[]>();
    for (const n of infos.values()) {
      const l = bySlot.get(n.slot);
      if (l) l.push(n.id);
      else bySlot.set(n.slot, [n.id]);
    }
    this.slotList = [...bySlot.keys()].sort(compareSlots).map((name, index) => {
      const { group, subset } = parseSlot(name);
      return { name, group, subset, index, members: bySlot.get(name)!.sort(cmpStr) };
    });
    for (const s of this.slotList) {
      this.slotIndexOf.set(s.name, s.index);
      for (const m of s.members) this.idSlot.set(m, s.index);
    }
    this.sortedIds = this.slotList.flatMap((s) => s.members);

    for (const id of this.sortedIds) this.g.setNode(id, { barrier: false, info: infos.get(id)! });

    // Barriers between consecutive non-empty slots.
    for (let i = 1; i < this.slotList.length; i++) {
      const prev = this.slotList[i - 1];
      const cur = this.slotList[i];
      const b = BARRIER_PREFIX + cur.name;
      this.g.setNode(b, { barrier: true, slot: cur.name });
      for (const m of prev.members) this.g.setEdge(m, b, { barrier: true });
      for (const m of cur.members) this.g.setEdge(b, m, { barrier: true });
    }

    // Explicit edges.
    for (const e of edges) {
      if (!infos.has(e.from) || !infos.has(e.to)) continue;
      const cur = this.g.edge(e.from, e.to);
      if (cur && !cur.barrier) {
        if (!cur.reasons.some((r) => r.text === e.reason.text)) cur.reasons.push(e.reason);
      } else {
        this.g.setEdge(e.from, e.to, { barrier: false, reasons: [e.reason] });
      }
    }
    const list: ResourceEdge[] = [];
    for (const e of this.g.edges()) {
      const l = this.g.edge(e);
      if (!l || l.barrier) continue;
      list.push({ from: e.v, to: e.w, reasons: l.reasons, reason: l.reasons.map((r) => r.text).join("; ") });
    }
    list.sort((a, b) => this.compareIds(a.from, b.from) || this.compareIds(a.to, b.to));
    this.explicit = list;
  }

  /** Number of resources. */
  get size(): number {
    return this.infos.size;
  }

  /** Resource rids, in (slot, rid) order. */
  nodes(): string[] {
    return [...this.sortedIds];
  }

  has(rid: string): boolean {
    return this.infos.has(rid);
  }

  /** The evaluated resource of a rid (throws for an unknown rid: check has() first). */
  node(rid: string): EvaluatedResource {
    return this.info(rid).resource;
  }

  /** Graph metadata of a rid: group, slot, disabled, linked container. */
  info(rid: string): NodeInfo {
    const i = this.infos.get(rid);
    if (!i) throw new Error(`internal error (this is an osvc bug): unknown resource ${rid}`);
    return i;
  }

  /** Explicit dependency edges (references, devices, mounts, requires, netns, sequences), sorted. */
  edges(): readonly ResourceEdge[] {
    return this.explicit;
  }

  edge(from: string, to: string): ResourceEdge | undefined {
    const l = this.g.hasEdge(from, to) ? this.g.edge(from, to) : undefined;
    if (!l || l.barrier) return undefined;
    return { from, to, reasons: l.reasons, reason: l.reasons.map((r) => r.text).join("; ") };
  }

  /** Non-empty ordering slots, in start order. */
  slots(): readonly Slot[] {
    return this.slotList;
  }

  /** (slot index, rid) comparison: the deterministic tie-break of every order. */
  compareIds(a: string, b: string): number {
    return (this.idSlot.get(a) ?? -1) - (this.idSlot.get(b) ?? -1) || cmpStr(a, b);
  }

  /** @internal Slot index of a resource or barrier node. */
  slotIndex(v: string): number {
    const l = this.g.node(v);
    if (!l) return -1;
    return this.slotIndexOf.get(l.barrier ? l.slot : l.info.slot) ?? -1;
  }

  /** @internal */
  isBarrier(v: string): boolean {
    return this.g.node(v)?.barrier === true;
  }

  /** What must be up before `rid` starts. */
  dependencies(rid: string, o: DependencyOptions = {}): string[] {
    return this.walk([rid], "in", o, false);
  }

  /** What needs `rid` up before it starts. */
  dependents(rid: string, o: DependencyOptions = {}): string[] {
    return this.walk([rid], "out", o, false);
  }

  /** @internal BFS from seeds; barriers are crossed only with groupOrder, never returned. Linear. */
  walk(seeds: readonly string[], dir: "in" | "out", o: DependencyOptions, includeSeeds: boolean): string[] {
    const next = (v: string): string[] => (dir === "in" ? this.g.predecessors(v) : this.g.successors(v)) ?? [];
    const seen = new Set<string>();
    const out: string[] = [];
    const queue: string[] = [];
    for (const s of seeds) {
      if (!this.infos.has(s) || seen.has(s)) continue;
      seen.add(s);
      queue.push(s);
      if (includeSeeds) out.push(s);
    }
    const seedSet = new Set(queue);
    for (let qi = 0; qi < queue.length; qi++) {
      const v = queue[qi];
      const direct = !o.transitive && !this.isBarrier(v) && !seedSet.has(v);
      if (direct) continue; // direct mode: only expand seeds and the barriers next to them
      for (const w of next(v)) {
        if (seen.has(w)) continue;
        const barrier = this.isBarrier(w);
        if (barrier && !o.groupOrder) continue;
        seen.add(w);
        queue.push(w);
        if (!barrier) out.push(w);
      }
    }
    return out.sort((a, b) => this.compareIds(a, b));
  }
}
