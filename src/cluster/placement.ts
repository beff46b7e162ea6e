// Placement (reference/cluster.md §2): who leads an orchestrated action. Pure: the node facts
// (reachability, 15-min load, score) are gathered by the caller.
//
//   placement = nodes order   the order of `nodes` (default)
//             | spread        sorted by md5(path + nodename) (as the v2 agent)
//             | load avg      ascending 15-min load (ties: nodes order)
//             | score         descending node score (ties: nodes order)
//             | shift         nodes order rotated by the slice index (no scaler here: nodes order)
//             | none          no leader
//   topology  = failover      rank 0 leads
//             | flex          ranks below flex_target lead (flex_target within flex_min..flex_max)
import { createHash } from "node:crypto";

export type PlacementPolicy = "nodes order" | "spread" | "load avg" | "score" | "shift" | "none";
export type Topology = "failover" | "flex";

export const PLACEMENT_POLICIES: readonly PlacementPolicy[] = ["nodes order", "spread", "load avg", "score", "shift", "none"];

export interface NodeFacts {
  readonly name: string;
  readonly reachable: boolean;
  /** 15-minute load average (placement = load avg). */
  readonly load15?: number;
  /** Node score, higher is better (placement = score). */
  readonly score?: number;
}

export interface PlacementInput {
  /** The object path (spread hashes it with each node name). */
  readonly path: string;
  /** The object's nodes, in the `nodes` keyword's order. */
  readonly nodes: readonly string[];
  readonly placement: PlacementPolicy;
  readonly topology: Topology;
  readonly flexMin?: number;
  readonly flexMax?: number;
  readonly flexTarget?: number;
  /** Facts by node; a node without facts is taken as reachable. */
  readonly facts?: Readonly<Record<string, NodeFacts>>;
  /** `--leader-node N`: N leads, whatever the policy. */
  readonly leaderNode?: string;
}

export interface Placement {
  /** Every node ranked (unreachable nodes last, in their own rank order). */
  readonly ranks: readonly string[];
  /** The nodes that lead (stay up; the first one creates shared resources). */
  readonly leaders: readonly string[];
  /** The nodes that do not lead. */
  readonly followers: readonly string[];
  /** Leaders the policy would pick that are unreachable (the caller stops, unless --leader-node). */
  readonly unreachableLeaders: readonly string[];
}

export class PlacementError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "PlacementError";
  }
}

function md5(text: string): string {
  return createHash("md5").update(text).digest("hex");
}

/** The nodes ranked by the policy alone (all of them, reachable or not). */
export function rankNodes(path: string, nodes: readonly string[], policy: PlacementPolicy, facts: Readonly<Record<string, NodeFacts>> = {}): string[] {
  const order = new Map(nodes.map((n, i) => [n, i]));
  const byOrder = (a: string, b: string) => order.get(a)! - order.get(b)!;
  const list = [...nodes];
  switch (policy) {
    case "spread": {
      const h = new Map(nodes.map((n) => [n, md5(path + n)]));
      return list.sort((a, b) => (h.get(a)! < h.get(b)! ? -1 : h.get(a)! > h.get(b)! ? 1 : byOrder(a, b)));
    }
    case "load avg": {
      const l = (n: string) => facts[n]?.load15 ?? Number.POSITIVE_INFINITY;
      return list.sort((a, b) => l(a) - l(b) || byOrder(a, b));
    }
    case "score": {
      const s = (n: string) => facts[n]?.score ?? Number.NEGATIVE_INFINITY;
      return list.sort((a, b) => s(b) - s(a) || byOrder(a, b));
    }
    default:
      return list;
  }
}

/** How many nodes lead: 1 (failover), flex_target clamped to flex_min..flex_max and the node count (flex). */
export function leaderCount(input: Pick<PlacementInput, "topology" | "flexMin" | "flexMax" | "flexTarget" | "nodes">): number {
  if (input.topology !== "flex") return 1;
  const n = input.nodes.length;
  const min = Math.max(0, input.flexMin ?? 1);
  const max = Math.min(n, input.flexMax ?? n);
  const target = input.flexTarget ?? min;
  return Math.max(Math.min(target, max), Math.min(min, max));
}

/** Ranks the nodes and picks the leaders. Throws PlacementError on a bad --leader-node. */
export function place(input: PlacementInput): Placement {
  const facts = input.facts ?? {};
  const reachable = (n: string) => facts[n]?.reachable ?? true;
  if (input.leaderNode !== undefined && !input.nodes.includes(input.leaderNode)) {
    throw new PlacementError(`--leader-node ${input.leaderNode} is not one of the object's nodes (${input.nodes.join(" ")})`);
  }
  if (input.leaderNode !== undefined && !reachable(input.leaderNode)) {
    throw new PlacementError(`--leader-node ${input.leaderNode} is unreachable`);
  }
  const ranked = rankNodes(input.path, input.nodes, input.placement, facts);
  if (input.placement === "none") return { ranks: ranked, leaders: [], followers: ranked, unreachableLeaders: [] };
  const count = leaderCount(input);
  let leaders: string[];
  let unreachableLeaders: string[] = [];
  if (input.leaderNode !== undefined) {
    // The named node leads; the other leaders (flex) follow the ranking among the reachable nodes.
    leaders = [input.leaderNode, ...ranked.filter((n) => n !== input.leaderNode && reachable(n))].slice(0, count);
  } else {
    // The policy's leaders over every node: an unreachable one is reported, never silently replaced
    // (its shared resources may be up there).
    leaders = ranked.slice(0, count);
    unreachableLeaders = leaders.filter((n) => !reachable(n));
  }
  const ranks = [...leaders, ...ranked.filter((n) => !leaders.includes(n))];
  return { ranks, leaders, followers: ranks.filter((n) => !leaders.includes(n)), unreachableLeaders };
}

/** The 15-minute load from /proc/loadavg's text (the node score reads it too). */
export { parseLoadavg } from "../engine/index.js";
