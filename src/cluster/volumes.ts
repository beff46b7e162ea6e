// Volumes across the cluster (issue 11, item 3): the leader's volume resources create their vol
// objects (the pool's translation, on the leader); before the followers act, the orchestrator
// reads each vol's config from the leader, stores it in the cluster store (fenced by the vol's
// own store lock) and installs it on every follower (`create --config - --force --local`), so
// that the followers' vol configs are the leader's, byte for byte, and no follower allocates a
// vol of its own from its own pools.
import { mapLimit } from "../core/limit.js";
import type { ClusterStore } from "./store/types.js";
import type { NodeRunner } from "./orchestrate.js";

export interface ShareVolumesRequest {
  /** The vol objects ("<ns>/vol/<name>") the object's volume resources name. */
  readonly volumes: readonly string[];
  readonly leader: string;
  readonly followers: readonly string[];
  readonly parallelism: number;
  readonly command: string;
  readonly orchestrationId: string;
  readonly nodeLockTimeoutS: number;
}

/**
 * Copies the leader's vol configs to the cluster store and the followers. Returns the problems
 * met (a follower that could not take a config: its own provision then fails on a missing vol
 * rather than allocating another one).
 */
export async function shareVolumes(req: ShareVolumesRequest, deps: { runner: NodeRunner; store: ClusterStore }): Promise<string[]> {
  const problems: string[] = [];
  for (const vol of req.volumes) {
    const r = await deps.runner.osvc(req.leader, [vol, "print", "config", "--local"], { timeoutMs: 60_000 });
    if (r.unreachable || r.exitCode !== 0 || !r.stdout.trim()) {
      problems.push(`${vol}: its config could not be read on the leader ${req.leader}: ${r.unreachable ?? (r.stderr.trim() || `exit code ${r.exitCode}`)}`);
      continue;
    }
    const text = r.stdout;
    const lock = await deps.store.lock(vol, { command: req.command, orchestrationId: req.orchestrationId }, { timeoutMs: req.nodeLockTimeoutS * 1000 });
    try {
      await lock.putConfig(text);
    } finally {
      await lock.release();
    }
    await mapLimit(req.followers, Math.max(1, req.parallelism), async (n) => {
      const i = await deps.runner.osvc(n, [vol, "create", "--config", "-", "--force", "--local", "--lock-timeout", `${req.nodeLockTimeoutS}s`], { input: text, timeoutMs: (req.nodeLockTimeoutS + 60) * 1000 });
      if (i.unreachable || i.timedOut || i.exitCode !== 0) problems.push(`${vol}: installing its config on ${n} failed: ${i.unreachable ?? (i.stderr.trim().split("\n").pop() || `exit code ${i.exitCode}`)}`);
    });
  }
  return problems;
}
