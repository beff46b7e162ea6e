// graph/: evaluated resources -> dependency DAG and deterministic orders (DESIGN §4).
export {
  ResourceGraph,
  compareSlots,
  type DependencyOptions,
  type EdgeKind,
  type EdgeReason,
  type NodeInfo,
  type ResourceEdge,
  type Slot,
} from "./graph.js";
export {
  buildGraph,
  normalizePath,
  parseRequires,
  CODE_CYCLE,
  CODE_MOUNT_ORDER,
  CODE_UNKNOWN_NETNS,
  CODE_UNKNOWN_REQUIRED,
  type BuildOptions,
  type BuildResult,
} from "./build.js";
export { closure, levels, subgraph, topoOrder, type Direction } from "./order.js";
export { toDot, type DotOptions } from "./dot.js";
