// Cluster views (DESIGN §8): the plan across the nodes (each node's own `osvc plan - --json`,
// the template on stdin) with who leads and what is shared, and the status of every instance,
// read live from the nodes with the store's record as a fallback marked stale. Reads only: no
// lock is taken.
import { mapLimit } from "../core/limit.js";
import { parseNdjson, nodeStatus, type NodeRunner, type PlacementSpec } from "./orchestrate.js";
import { gatherFacts } from "./facts.js";
import { place, type NodeFacts, type Placement, type PlacementPolicy } from "./placement.js";
import { canonicalObject, checkName } from "./store/common.js";
import type { ClusterStore, InstanceRecord } from "./store/types.js";

const PLAN_TIMEOUT_MS = 120_000;

/** Why the leaders are who they are: the policy's ranking (with each node's score or load), or a pinned leader. */
export interface PlacementExplanation {
  readonly policy: PlacementPolicy;
  /** The nodes ranked (leaders first). */
  readonly ranks: readonly string[];
  /** The leader named by --leader-node, or the recorded owner of the shared resources. */
  readonly pinned?: { readonly node: string; readonly by: "leader-node" | "shared" };
  /** Node scores (placement = score), as each node computed its own. */
  readonly scores?: Readonly<Record<string, number>>;
  /** 15-minute loads (placement = load avg). */
  readonly loads?: Readonly<Record<string, number>>;
  /** Nodes that gave no usable fact (they rank last), and why. */
  readonly missing?: Readonly<Record<string, string>>;
}

/** The leaders an action would use now: the store's (shared resources' owner) when recorded, else the placement's over `facts`. */
export async function currentLeaders(store: ClusterStore, object: string, nodes: readonly string[], spec: PlacementSpec, leaderNode?: string, facts?: Readonly<Record<string, NodeFacts>>): Promise<string[]> {
  return [...(await currentPlacement(store, object, nodes, spec, leaderNode, facts)).leaders];
}

async function currentPlacement(store: ClusterStore, object: string, nodes: readonly string[], spec: PlacementSpec, leaderNode?: string, facts?: Readonly<Record<string, NodeFacts>>): Promise<Placement & { pinned?: PlacementExplanation["pinned"] }> {
  const shared = await store.getShared(object);
  const owner = Object.values(shared)[0]?.node;
  const pinned = leaderNode ? { node: leaderNode, by: "leader-node" as const } : owner && nodes.includes(owner) ? { node: owner, by: "shared" as const } : undefined;
  return { ...place({ path: object, nodes, ...spec, ...(facts ? { facts } : {}), ...(pinned ? { leaderNode: pinned.node } : {}) }), ...(pinned ? { pinned } : {}) };
}

/** The placement of an action now, gathering the node facts its policy needs, with its explanation. */
async function explainedPlacement(req: { object: string; nodes: readonly string[]; placement: PlacementSpec; leaderNode?: string; parallelism: number }, deps: { runner: NodeRunner; store: ClusterStore }): Promise<PlacementExplanation & { leaders: readonly string[] }> {
  const { facts, missing } = await gatherFacts(deps.runner, req.nodes, req.placement.placement, req.parallelism, new Map());
  const p = await currentPlacement(deps.store, req.object, req.nodes, req.placement, req.leaderNode, facts);
  const of = (k: "score" | "load15") => Object.fromEntries(p.ranks.flatMap((n) => (facts[n]?.[k] !== undefined ? [[n, facts[n][k]!]] : [])));
  return {
    leaders: p.leaders,
    policy: req.placement.placement,
    ranks: p.ranks,
    ...(p.pinned ? { pinned: p.pinned } : {}),
    ...(req.placement.placement === "score" ? { scores: of("score") } : {}),
    ...(req.placement.placement === "load avg" ? { loads: of("load15") } : {}),
    ...(Object.keys(missing).length ? { missing } : {}),
  };
}

export interface NodePlan {
  readonly node: string;
  readonly role: "leader" | "follower";
  /** The number of resource changes (actions other than none). */
  readonly changes: number;
  /** The node's plan document (plan --json), when it answered. */
  readonly plan?: { resource_changes?: { rid: string; action: string; reason?: string }[]; [k: string]: unknown };
  readonly error?: string;
  readonly unreachable?: boolean;
}

/** The plan document in `plan --json`'s output (one indented JSON document, or NDJSON). */
function planDoc(stdout: string): NodePlan["plan"] | undefined {
  try {
    const v = JSON.parse(stdout) as NodePlan["plan"];
    if (v && Array.isArray(v.resource_changes)) return v;
  } catch {
    // NDJSON
  }
  return parseNdjson(stdout).events.find((e) => Array.isArray(e.resource_changes)) as NodePlan["plan"] | undefined;
}

export interface ClusterPlan {
  readonly object: string;
  readonly leaders: readonly string[];
  readonly shared: readonly string[];
  /** Why these leaders (the policy's ranking and the facts it used). */
  readonly placement: PlacementExplanation;
  readonly nodes: readonly NodePlan[];
}

/** Each node's plan of `template`, asked of the nodes at most `parallelism` at once. */
export async function clusterPlan(
  req: { object: string; template: string; nodes: readonly string[]; placement: PlacementSpec; sharedRids: readonly string[]; leaderNode?: string; parallelism: number },
  deps: { runner: NodeRunner; store: ClusterStore },
): Promise<ClusterPlan> {
  const object = canonicalObject(req.object);
  for (const n of req.nodes) checkName("node", n);
  const { leaders, ...placement } = await explainedPlacement({ ...req, object }, deps);
  const nodes = await mapLimit(req.nodes, req.parallelism, async (n): Promise<NodePlan> => {
    const role = leaders.includes(n) ? "leader" : "follower";
    const r = await deps.runner.osvc(n, ["plan", "-", "--path", object, "--json", ...(n === leaders[0] ? ["--leader"] : [])], { input: req.template, timeoutMs: PLAN_TIMEOUT_MS });
    if (r.unreachable || r.timedOut) return { node: n, role, changes: 0, error: r.unreachable ?? "no answer", unreachable: true };
    const doc = planDoc(r.stdout);
    if (!doc) return { node: n, role, changes: 0, error: r.stderr.trim().split("\n").pop() || `exit code ${r.exitCode}` };
    const changes = (doc.resource_changes ?? []).filter((c) => c.action !== "noop").length;
    return { node: n, role, changes, plan: doc };
  });
  return { object, leaders, shared: req.sharedRids, placement, nodes };
}

export interface InstanceView {
  readonly node: string;
  /** Read live from the node now. */
  readonly live: boolean;
  readonly status?: { avail?: string; overall?: string; provisioned?: string; resources?: readonly { rid: string; status: string; flags?: string; provisioned: boolean | null; label?: string }[] };
  /** The store's record (the fallback when the node did not answer): stale. */
  readonly record?: InstanceRecord;
  readonly stale?: boolean;
  readonly error?: string;
}

export interface ClusterStatus {
  readonly object: string;
  readonly leaders: readonly string[];
  readonly instances: readonly InstanceView[];
}

/** Every instance's status, live from its node, else the store's record marked stale. */
export async function clusterStatus(
  req: { object: string; nodes: readonly string[]; placement: PlacementSpec; parallelism: number },
  deps: { runner: NodeRunner; store: ClusterStore },
): Promise<ClusterStatus> {
  const object = canonicalObject(req.object);
  for (const n of req.nodes) checkName("node", n);
  const [records, leaders] = await Promise.all([deps.store.getInstances(object), currentLeaders(deps.store, object, req.nodes, req.placement)]);
  const instances = await mapLimit(req.nodes, req.parallelism, async (n): Promise<InstanceView> => {
    const s = await nodeStatus(deps.runner, n, object);
    if (s.status) return { node: n, live: true, status: s.status };
    const rec = records[n];
    return { node: n, live: false, ...(rec ? { record: rec, stale: true } : {}), ...(s.error ? { error: s.error } : {}) };
  });
  return { object, leaders, instances };
}
