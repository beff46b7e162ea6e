// Deterministic orders over a ResourceGraph. Everything here is linear or n log n in the
// number of resources + edges (barrier nodes keep group order linear).
import { MinHeap } from "./heap.js";
import { ResourceGraph } from "./graph.js";
import type { DependencyOptions } from "./graph.js";

/** Kahn's order of a graph, computed once: a ResourceGraph is complete when constructed, never changed after. */
const kahnOrders = new WeakMap<ResourceGraph, KahnOrder>();

interface KahnOrder {
  readonly order: readonly string[];
  readonly complete: boolean;
  readonly remaining: readonly string[];
}

/** @internal Kahn's algorithm over every node (barriers included); buildGraph's cycle check and the orders share it. */
export function kahn(graph: ResourceGraph): KahnOrder {
  let k = kahnOrders.get(graph);
  if (!k) kahnOrders.set(graph, (k = kahnOnce(graph)));
  return k;
}

function kahnOnce(graph: ResourceGraph): KahnOrder {
  const g = graph.g;
  const indeg = new Map<string, number>();
  const barriers: string[] = [];
  const heap = new MinHeap<string>((a, b) => graph.compareIds(a, b));
  for (const v of g.nodes()) {
    const d = g.predecessors(v)?.length ?? 0;
    indeg.set(v, d);
    if (d === 0) (graph.isBarrier(v) ? barriers : heap).push(v);
  }
  const order: string[] = [];
  for (;;) {
    // Barriers carry no work: release them as soon as they are ready.
    const v = barriers.length > 0 ? barriers.pop()! : heap.pop();
    if (v === undefined) break;
    order.push(v);
    for (const w of g.successors(v) ?? []) {
      const d = indeg.get(w)! - 1;
      indeg.set(w, d);
      if (d === 0) (graph.isBarrier(w) ? barriers : heap).push(w);
    }
  }
  const complete = order.length === g.nodeCount();
  let remaining: string[] = [];
  if (!complete) {
    const done = new Set(order);
    remaining = g.nodes().filter((v) => !done.has(v));
  }
  return { order, complete, remaining };
}

/**
 * Start order of the resources: topological, ties broken by (slot, rid). Stop/unprovision use
 * the reverse. On a cyclic graph (buildGraph reported E2030) the resources caught in or behind a
 * cycle follow the ordered ones, in (slot, rid) order.
 */
export function topoOrder(graph: ResourceGraph): string[] {
  const { order, remaining } = kahn(graph);
  const out = order.filter((v) => !graph.isBarrier(v));
  const rest = remaining.filter((v) => !graph.isBarrier(v)).sort((a, b) => graph.compareIds(a, b));
  return out.concat(rest);
}

/**
 * Waves of resources that may start together: a resource's wave is one more than the latest
 * wave of anything it waits for (group order included). Each wave is sorted by (slot, rid).
 * Resources left by a cycle form a last wave.
 */
export function levels(graph: ResourceGraph): string[][] {
  const g = graph.g;
  const { order, remaining } = kahn(graph);
  const level = new Map<string, number>();
  const waves: string[][] = [];
  for (const v of order) {
    const barrier = graph.isBarrier(v);
    let l = 0;
    for (const p of g.predecessors(v) ?? []) {
      const lp = level.get(p)!;
      // A barrier sits right after its predecessors' wave; a resource after a resource's wave.
      l = Math.max(l, graph.isBarrier(p) ? lp : lp + 1);
    }
    level.set(v, l);
    if (!barrier) (waves[l] ??= []).push(v);
  }
  const out = waves.filter((w) => w !== undefined).map((w) => w.sort((a, b) => graph.compareIds(a, b)));
  const rest = remaining.filter((v) => !graph.isBarrier(v)).sort((a, b) => graph.compareIds(a, b));
  if (rest.length > 0) out.push(rest);
  return out;
}

export type Direction = "dependencies" | "dependents";

/**
 * The rids plus everything they transitively depend on ("dependencies", for --target) or
 * everything that depends on them ("dependents", for --exclude). Unknown rids are ignored.
 * Group order is not followed unless `groupOrder` is set.
 */
export function closure(graph: ResourceGraph, rids: Iterable<string>, direction: Direction, o: Pick<DependencyOptions, "groupOrder"> = {}): string[] {
  return graph.walk([...rids], direction === "dependencies" ? "in" : "out", { transitive: true, groupOrder: o.groupOrder }, true);
}

/**
 * The graph restricted to `rids` (unknown ones ignored): explicit edges between kept resources,
 * group order recomputed over the kept ones. Use with closure() for --target/--exclude.
 */
export function subgraph(graph: ResourceGraph, rids: Iterable<string>): ResourceGraph {
  const keep = new Set<string>();
  for (const r of rids) if (graph.has(r)) keep.add(r);
  const nodes = [...keep].map((r) => graph.info(r));
  const edges = [];
  for (const e of graph.edges()) {
    if (!keep.has(e.from) || !keep.has(e.to)) continue;
    for (const reason of e.reasons) edges.push({ from: e.from, to: e.to, reason });
  }
  return new ResourceGraph(nodes, edges);
}
