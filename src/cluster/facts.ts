// The node facts a placement policy needs, asked of the nodes (bounded parallelism):
// `load avg` reads each node's /proc/loadavg (a fixed argv), `score` asks each node's osvc for its
// score (`node score --format json`, computed there in process: src/engine/score.ts). Other
// policies need none. A node that does not answer is unreachable; one that answers without a
// usable fact ranks last, with the reason kept for the placement's explanation.
import { mapLimit } from "../core/limit.js";
import { parseNodeStats } from "../engine/index.js";
import { parseLoadavg, type NodeFacts, type PlacementPolicy } from "./placement.js";
import type { NodeRunner } from "./orchestrate.js";

const FACTS_TIMEOUT_MS = 60_000;

export interface GatheredFacts {
  readonly facts: Record<string, NodeFacts>;
  /** Why a node has no fact for the policy (it answered, but not usably). */
  readonly missing: Record<string, string>;
}

function lastLine(s: string): string {
  return s.trim().split("\n").pop()?.trim() ?? "";
}

/**
 * Facts of `nodes` for `policy`; `unreachable` (node -> why) is read (those are not asked) and
 * completed with the nodes that do not answer.
 */
export async function gatherFacts(runner: NodeRunner, nodes: readonly string[], policy: PlacementPolicy, parallelism: number, unreachable: Map<string, string>): Promise<GatheredFacts> {
  const facts: Record<string, NodeFacts> = {};
  const missing: Record<string, string> = {};
  if (policy === "load avg" || policy === "score") {
    await mapLimit(nodes, Math.max(1, parallelism), async (n) => {
      if (unreachable.has(n)) return;
      const r = policy === "score" ? await runner.osvc(n, ["node", "score", "--format", "json"], { timeoutMs: FACTS_TIMEOUT_MS }) : await runner.run(n, ["cat", "/proc/loadavg"], { timeoutMs: FACTS_TIMEOUT_MS });
      if (r.unreachable || r.timedOut) return void unreachable.set(n, r.unreachable ?? "no answer");
      if (policy === "score") {
        const st = r.exitCode === 0 ? parseNodeStats(r.stdout) : undefined;
        if (st) facts[n] = { name: n, reachable: true, score: st.score, load15: st.load_15m };
        else missing[n] = `no score: ${lastLine(r.stderr) || `exit code ${r.exitCode}`}`;
      } else {
        const load15 = r.exitCode === 0 ? parseLoadavg(r.stdout) : undefined;
        if (load15 !== undefined) facts[n] = { name: n, reachable: true, load15 };
        else missing[n] = `no load: ${lastLine(r.stderr) || `exit code ${r.exitCode}`}`;
      }
    });
  }
  for (const n of nodes) facts[n] = { ...(facts[n] ?? { name: n }), name: n, reachable: !unreachable.has(n) };
  return { facts, missing };
}
