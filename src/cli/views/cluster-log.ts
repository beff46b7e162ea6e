// The orchestrated actions' log: every line prefixed with the node it comes from, the node's
// own events rendered in the apply log's shape; a per-node summary at the end. With --json: the
// orchestrator's events as NDJSON (the nodes' events inside node_event), then cluster_summary.
import type { ClusterEvent, OrchestrateResult } from "../../cluster/orchestrate.js";
import type { ClusterPlan, ClusterStatus, PlacementExplanation } from "../../cluster/views.js";
import type { Colors } from "./color.js";

const PAST: Record<string, string> = { provision: "provisioned", unprovision: "unprovisioned", start: "started", stop: "stopped", follow: "recorded (shared, follower)", replace: "replaced", update: "updated", forget: "forgotten" };

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

export interface ClusterView {
  event(e: ClusterEvent): void;
  done(r: OrchestrateResult): void;
}

/** The text of one node event, or undefined for events that say nothing to a reader. */
function nodeEventText(object: string, e: Record<string, unknown>, c: Colors): { level: string; who: string; msg: string } | undefined {
  const rid = typeof e.rid === "string" ? e.rid : undefined;
  const who = rid ? `${object}.${rid}` : object;
  switch (e.type) {
    case "log":
      return { level: e.level === "error" ? c.red("ERROR") : e.level === "warning" ? c.yellow("WARNING") : "INFO", who, msg: String(e.message) };
    case "change_done":
      return { level: "INFO", who, msg: `${c.green(PAST[String(e.action)] ?? String(e.action))} ${c.dim(`(${secs(Number(e.elapsedMs) || 0)})`)}` };
    case "change_failed":
      return { level: c.red("ERROR"), who, msg: `${String(e.action)} failed: ${String(e.error)}` };
    case "change_skipped":
      return { level: c.yellow("WARNING"), who, msg: `${String(e.action)} skipped: ${String(e.reason)}` };
    case "rollback_step":
      return { level: e.ok ? "INFO" : c.red("ERROR"), who, msg: e.ok ? `rollback: ${String(e.op)}` : `rollback ${String(e.op)} failed: ${String(e.error)}` };
    case "apply_summary":
      return { level: e.ok ? "INFO" : c.red("ERROR"), who, msg: `${e.ok ? "done" : "failed"}: ${(e.done as unknown[] | undefined)?.length ?? 0} done, ${(e.failed as unknown[] | undefined)?.length ?? 0} failed${e.elapsed_ms !== undefined ? ` in ${secs(Number(e.elapsed_ms))}` : ""}` };
    default:
      return undefined;
  }
}

export function clusterTextView(object: string, verb: string, nodes: readonly string[], out: NodeJS.WritableStream, c: Colors): ClusterView {
  const w = Math.max(4, ...nodes.map((n) => n.length));
  const width = Math.max(28, object.length + 14);
  const line = (node: string, level: string, who: string, msg: string) => {
    const bare = level.replace(/\x1b\[[0-9;]*m/g, ""); // eslint-disable-line no-control-regex
    out.write(`${c.bold(node.padEnd(w))}  ${level}${" ".repeat(Math.max(1, 8 - bare.length))}${who.padEnd(width)} ${msg}\n`);
  };
  return {
    event(e) {
      switch (e.type) {
        case "lock_wait":
          line("-", "INFO", object, `waiting for the cluster lock: held by ${e.holder}`);
          break;
        case "orchestration":
          line("-", "INFO", object, `${e.resumed ? "resuming" : "starting"} ${e.action} orchestration ${e.id}: ${e.leaders.length ? `leader ${e.leaders.join(", ")}` : "no leader"}${e.followers.length ? `, then ${e.followers.join(", ")}` : ""}${e.scores ? ` (scores: ${Object.entries(e.scores).map(([n, v]) => `${n} ${v}`).join(", ")})` : ""}`);
          break;
        case "phase":
          if (e.nodes.length) line("-", "INFO", object, `${e.phase}: ${e.nodes.join(", ")}`);
          break;
        case "node_event": {
          const t = nodeEventText(object, e.event, c);
          if (t) line(e.node, t.level, t.who, t.msg);
          break;
        }
        case "node_output":
          if (e.line.trim()) out.write(`${c.bold(e.node.padEnd(w))}  ${e.stream === "stderr" ? c.dim(e.line) : e.line}\n`);
          break;
        case "node_result":
          line(e.node, e.state === "ok" ? "INFO" : c.red("ERROR"), object, `${e.role}: ${e.state === "ok" ? c.green("ok") : c.red(e.state)}${e.error ? `: ${e.error}` : ""}${e.duration_ms !== undefined ? ` ${c.dim(`(${secs(e.duration_ms)})`)}` : ""}`);
          break;
      }
    },
    done(r) {
      out.write(`\n${r.ok ? c.green(c.bold(`${verb} complete`)) : c.red(c.bold(`${verb} failed`))} on ${r.nodes.length} nodes (orchestration ${r.id}${r.resumed ? ", resumed" : ""}):\n`);
      for (const n of r.nodes) {
        const state = n.state === "ok" ? c.green("ok") : n.state === "skipped" || n.state === "pending" ? c.yellow(n.state) : c.red(n.state);
        out.write(`  ${n.node.padEnd(w)}  ${n.role.padEnd(8)}  ${state}${n.error ? `  ${n.error}` : ""}\n`);
      }
      if (r.error) out.write(`${c.red("error:")} ${r.error}\n`);
    },
  };
}

export function clusterJsonView(object: string, out: NodeJS.WritableStream): ClusterView {
  const write = (o: Record<string, unknown>) => out.write(JSON.stringify({ "@timestamp": new Date().toISOString(), object, ...o }) + "\n");
  return {
    event(e) {
      write({ ...e });
    },
    done(r) {
      write({ type: "cluster_summary", ok: r.ok, id: r.id, action: r.action, resumed: r.resumed, leaders: r.leaders, followers: r.followers, nodes: r.nodes, ...(r.error ? { error: r.error } : {}) });
    },
  };
}

/** The status of every instance: a header per node (live or stale), its resources below. */
export function clusterStatusText(st: ClusterStatus, c: Colors): string {
  const out: string[] = [st.object];
  const w = Math.max(4, ...st.instances.map((i) => i.node.length));
  for (const i of st.instances) {
    const lead = st.leaders.includes(i.node) ? " leader" : "";
    if (i.live && i.status) {
      out.push(`${c.bold(i.node.padEnd(w))}  ${(i.status.avail ?? "n/a").padEnd(12)} provisioned=${i.status.provisioned ?? "n/a"}${lead}`);
      for (const r of i.status.resources ?? []) out.push(`${" ".repeat(w)}    ${r.rid.padEnd(14)} ${r.flags ?? ""}  ${r.status.padEnd(10)} ${r.label ?? ""}`);
    } else if (i.record) {
      const prov = Object.values(i.record.provisioned);
      out.push(`${c.bold(i.node.padEnd(w))}  ${i.record.avail.padEnd(12)} provisioned=${prov.length && prov.every(Boolean) ? "true" : prov.some(Boolean) ? "mixed" : "false"}${lead}  ${c.yellow(`stale: recorded ${i.record.updatedAt}${i.error ? `; ${i.error}` : ""}`)}`);
      for (const [rid, p] of Object.entries(i.record.provisioned)) out.push(`${" ".repeat(w)}    ${rid.padEnd(14)} provisioned=${p}`);
    } else out.push(`${c.bold(i.node.padEnd(w))}  ${c.red("unknown")}      ${i.error ?? ""}${lead}`);
  }
  return out.join("\n") + "\n";
}

/** Why the leaders: "placement score: n2 (score 61), n1 (score 57), n3 (score 57); ties: nodes order". */
export function placementText(p: PlacementExplanation): string {
  if (p.pinned) return `placement ${p.policy}: ${p.pinned.node} leads (${p.pinned.by === "leader-node" ? "--leader-node" : "it holds the shared resources"})`;
  const fact = (n: string) => (p.scores?.[n] !== undefined ? ` (score ${p.scores[n]})` : p.loads?.[n] !== undefined ? ` (load ${p.loads[n]})` : p.missing?.[n] ? ` (${p.missing[n]})` : "");
  const ties = p.policy === "score" || p.policy === "load avg" ? "; ties: nodes order" : "";
  return `placement ${p.policy}: ${p.ranks.map((n) => `${n}${fact(n)}`).join(", ")}${ties}`;
}

/** Each node's changes, who leads, what is shared. */
export function clusterPlanText(plan: ClusterPlan, c: Colors): string {
  const out: string[] = [`${plan.object}: leader ${plan.leaders.join(", ") || "none"}; shared: ${plan.shared.join(", ") || "none"}`, placementText(plan.placement)];
  for (const n of plan.nodes) {
    out.push("", `${c.bold(n.node)} (${n.role}): ${n.error ? c.red(n.error) : n.changes ? `${n.changes} to change` : "no changes"}`);
    for (const ch of n.plan?.resource_changes ?? []) {
      if (ch.action === "noop") continue;
      out.push(`  ${ch.rid.padEnd(14)} ${ch.action}${ch.reason ? c.dim(`  ${ch.reason}`) : ""}`);
    }
  }
  return out.join("\n") + "\n";
}
