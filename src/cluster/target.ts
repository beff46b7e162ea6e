// An object's orchestrated target: the nodes of the cluster config its `nodes` names, its
// placement, and its shared resources. Its config is compiled by the engine as the first of
// those nodes sees it (this host may be none of them).
import { compileTexts, type CompileResult, type EvaluatedTemplate, type KeywordCatalog } from "../config/index.js";
import { hasErrors, type Diagnostic } from "../core/diagnostics.js";
import { formatObjectPath, type ObjectPath } from "../core/path.js";
import { listedNodes, nodeEval } from "../engine/index.js";
import { checkTemplateNodes, type Inventory } from "./inventory.js";
import type { PlacementSpec } from "./orchestrate.js";
import type { AllocatingResource } from "./reserve.js";
import { ALLOCATE_MARKER } from "../core/patch.js";
import type { PlacementPolicy, Topology } from "./placement.js";

export interface ClusterTarget {
  readonly inventory: Inventory;
  readonly root: string;
  readonly object: string;
  readonly nodes: readonly string[];
  readonly placement: PlacementSpec;
  readonly sharedRids: readonly string[];
  /** The vol objects its volume resources name (as the first node sees them). */
  readonly volumes: readonly string[];
  /** Its `ipname = <allocate>` resources, per node (as each node sees them: a flex node's ipname@n may be filled already): reserved in the cluster store before that node acts. */
  readonly allocating: readonly AllocatingResource[];
}

export interface TargetRequest {
  readonly path: ObjectPath;
  /** The object's config text. */
  readonly text: string;
  readonly inventory: Inventory;
  /** The orchestrator's state root (node.conf, the cluster store). */
  readonly root: string;
  /** --node: the node the config is first evaluated for. */
  readonly node?: string;
  readonly nodeConfig?: string;
  readonly catalog: KeywordCatalog;
}

/** local: fewer than two nodes (the action is this node's); invalid: the config's diagnostics (errors among them). */
export type TargetResult =
  | { readonly kind: "local" }
  | { readonly kind: "invalid"; readonly diagnostics: Diagnostic[]; readonly compiled: CompileResult }
  | { readonly kind: "target"; readonly target: ClusterTarget; readonly diagnostics: Diagnostic[]; readonly compiled: CompileResult };

function kwValue(ev: EvaluatedTemplate, name: string): unknown {
  return ev.defaults.get(name)?.value;
}

export function clusterTarget(req: TargetRequest): TargetResult {
  const { path, text, inventory: inv, root } = req;
  const object = formatObjectPath(path);
  const evalFor = (node: string | undefined) => nodeEval({ ...(node !== undefined ? { node } : {}), ...(req.nodeConfig !== undefined ? { nodeConfig: req.nodeConfig } : {}), root });
  const first = compileTexts([{ name: `${object}.conf`, text }], { path, ...evalFor(req.node), catalog: req.catalog });
  const words = listedNodes(first.evaluated, "nodes").map((w) => w.toLowerCase());
  const nodes = [...new Set(words.flatMap((w) => (w === "*" ? inv.nodes.map((n) => n.name) : [w])))];
  if (nodes.length < 2) return { kind: "local" };
  // Compiled as the first node sees it (this host may be none of them).
  const compiled = compileTexts([{ name: `${object}.conf`, text }], { path, ...evalFor(req.node ?? nodes[0]), catalog: req.catalog });
  const diagnostics = [...compiled.diagnostics, ...checkTemplateNodes(compiled.template, compiled.evaluated, inv)];
  if (hasErrors(diagnostics)) return { kind: "invalid", diagnostics, compiled };
  const ev = compiled.evaluated;
  const num = (k: string) => {
    const v = Number(kwValue(ev, k));
    return Number.isFinite(v) ? v : undefined;
  };
  const placement = String(kwValue(ev, "placement") ?? "nodes order") as PlacementPolicy;
  const topology = (String(kwValue(ev, "topology") ?? "failover") === "flex" ? "flex" : "failover") as Topology;
  const flexMin = num("flex_min");
  const flexMax = num("flex_max");
  const flexTarget = num("flex_target");
  return {
    kind: "target",
    diagnostics,
    compiled,
    target: {
      inventory: inv,
      root,
      object,
      nodes,
      placement: { placement, topology, ...(flexMin !== undefined ? { flexMin } : {}), ...(flexMax !== undefined ? { flexMax } : {}), ...(flexTarget !== undefined ? { flexTarget } : {}) },
      sharedRids: ev.resources.filter((r) => r.keywords.get("shared")?.value === true).map((r) => r.rid.toString()),
      volumes: volumeObjects(path, ev),
      allocating: text.includes(ALLOCATE_MARKER) ? nodes.flatMap((n) => allocatingResources(n === nodes[0] && req.node === undefined ? ev : compileTexts([{ name: `${object}.conf`, text }], { path, ...evalFor(n), catalog: req.catalog }).evaluated, n)) : [],
    },
  };
}

/** The vol objects ("<ns>/vol/<name>") the enabled volume resources of an evaluated config name. */
function volumeObjects(path: ObjectPath, ev: EvaluatedTemplate): string[] {
  const names = ev.resources
    .filter((r) => r.rid.toString().startsWith("volume#") && r.keywords.get("disable")?.value !== true)
    .map((r) => r.keywords.get("name")?.value)
    .filter((n): n is string => typeof n === "string" && n.trim() !== "");
  return [...new Set(names.map((n) => `${path.namespace}/vol/${n.trim()}`))].sort();
}

/** The enabled `ipname = <allocate>` resources of a config as `node` sees it, with their network (a CIDR once resolved). */
function allocatingResources(ev: EvaluatedTemplate, node: string): AllocatingResource[] {
  // A keyword holding a provision-time marker has no value: its text is the marker.
  const text = (r: EvaluatedTemplate["resources"][number], k: string) => {
    const kw = r.keywords.get(k);
    const v = kw?.value ?? (kw?.markers?.length ? kw.text : undefined);
    return typeof v === "string" ? v.trim() : "";
  };
  return ev.resources
    .filter((r) => text(r, "ipname") === ALLOCATE_MARKER && r.keywords.get("disable")?.value !== true && text(r, "network") !== "")
    .map((r) => ({ rid: r.rid.toString(), node, network: text(r, "network"), ...routedOf(r.keywords.get("network")?.namedNetwork), ...(text(r, "gateway") ? { gateway: text(r, "gateway") } : {}), shared: r.keywords.get("shared")?.value === true }));
}

function routedOf(n: { name: string; type: string } | undefined): { routedBridge?: string } {
  return n?.type === "routed_bridge" ? { routedBridge: n.name } : {};
}
