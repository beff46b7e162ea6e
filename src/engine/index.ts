// The engine: one object on this node (DESIGN §2). What cli/ and cluster/ call.
export { EngineError, type Confirm, type EngineContext } from "./context.js";
export { nodeEval, type NodeEval } from "./node.js";
export { listedNodes } from "./nodes.js";
export { dependencyView, prepare, templateHash, type Prepared, type PrepareResult } from "./prepare.js";
export type { LockRequest, PlanRequest, PlanSelection } from "./requests.js";
export { computePlan, destroyPlan, planOptions, prefetchProbes, probeContext, standbyPlan, type DestroyRequest, type RecordedRead } from "./plan.js";
export { lockInfo, removeLock, withLock, type LockInfo } from "./lock.js";
export { apply, applyExitCode, type ApplyRequest } from "./apply.js";
export { loadInstalled, objectStatus, resourceInfo, statusObjects, type Installed, type NodeTarget, type ResourceInfo } from "./status.js";
export { selectSyncs, syncUpdate, type SyncRequest, type SyncSelection } from "./sync.js";
export { probeUnrecorded, recordedFallback, type Unrecorded } from "./unrecorded.js";
export { recordedCompiled } from "./recorded.js";
export { markProvisioned, type MarkRequest } from "./mark.js";
export type { ApplyEvent, ApplyResult } from "../apply/applier.js";
export { poolList, volumeClaimers, volumePoolDiagnostics, type PoolList, type PoolRow } from "./pools.js";
export { nodeStats, parseLoadavg, parseMeminfo, parseNodeStats, readNodeStats, NodeStatsError, type NodeStats } from "./score.js";
