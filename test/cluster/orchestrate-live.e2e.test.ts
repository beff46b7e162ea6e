// Issue 8 leftovers on a real 3-node test cluster: the nodes' logs reach the orchestrator's
// output live (line by line, prefixed with the node, while the node's command is still running),
// and placement = score ranks the nodes by the score each node computes of itself.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { eventsOf, NODES, show, summaryOf, useOrchCluster } from "../helpers/orchestrate.js";

const oc = useOrchCluster("live");

/** Upstream's node score (om3 nmon getStats), computed here from a node's own /proc texts. */
function upstreamScore(meminfo: string, loadavg: string): number {
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(meminfo)?.[1] ?? 0);
  const load15 = Number(loadavg.trim().split(/\s+/)[2]);
  const memAvail = Math.floor((100 * kb("MemAvailable")) / kb("MemTotal"));
  const swapAvail = kb("SwapTotal") > 0 ? Math.floor((100 * kb("SwapFree")) / kb("SwapTotal")) : 0;
  return Math.floor((Math.floor(100 / Math.max(load15, 1)) + 100 + memAvail + 2 * (100 + swapAvail)) / 7);
}

/** Each node's score, read by the test in the node's own namespaces (nsenter), not through osvc. */
function independentScores(): Record<string, number> {
  return Object.fromEntries(NODES.map((n) => [n, upstreamScore(oc.cluster.nodeExec(n, ["cat", "/proc/meminfo"]).stdout, oc.cluster.nodeExec(n, ["cat", "/proc/loadavg"]).stdout)]));
}

/** Nodes by descending score, ties by nodes order. */
function rankByScore(scores: Readonly<Record<string, number>>): string[] {
  return [...NODES].sort((a, b) => scores[b] - scores[a] || NODES.indexOf(a) - NODES.indexOf(b));
}

describe("live node logs", () => {
  it("each node line reaches the orchestrator's output while the node's command still runs (prefixed, whole lines)", async () => {
    // The leader's later resource (app#1) ends only once the test has seen a line of n1 on the
    // orchestrator's stdout: without live logs, n1's lines come only after its command ended,
    // so app#1 would time out and the leader fail.
    const mark = path.join(oc.cluster.san, `live-mark-${process.pid}-${Date.now()}`);
    const slow = ["", "[app#1]", "type = forking", "start = /bin/true", `start@n1 = until [ -e ${mark} ]; do sleep 0.1; done`, "start_timeout = 60s", ""];
    const s = oc.service({ more: slow });
    const order: string[] = [];
    try {
      const run = oc.spawnOsvc([s.name, "create", "--config", s.cfg, "--provision"]);
      let seen = "";
      let pending = "";
      run.child.stdout!.on("data", (d: string) => {
        const lines = (pending + d).split("\n");
        pending = lines.pop()!;
        for (const line of lines) {
          if (!seen && new RegExp(`^n1 +INFO +${s.name}\\.`).test(line)) {
            seen = line;
            order.push("n1 line seen");
            writeFileSync(mark, "");
          }
        }
      });
      run.child.on("exit", () => order.push("orchestrator exited"));
      const r = await run.done;
      expect(r.code, show(r)).toBe(0);
      expect(order).toEqual(["n1 line seen", "orchestrator exited"]);
      // The first n1 line came before app#1 had started (it was waiting for it), in the log's order too.
      expect(r.stdout.indexOf(seen)).toBeLessThan(r.stdout.search(new RegExp(`^n1 +INFO +${s.name}\\.app#1 +started`, "m")));
      // Whole lines only: each line of the log starts with a node column (a node name or "-") or is the summary.
      const body = r.stdout.slice(0, r.stdout.search(/^\S+ complete on/m));
      for (const line of body.split("\n").filter(Boolean)) expect(line, line).toMatch(/^(n1|n2|n3|-) {2}/);
      // The nodes' final results are parsed, not shown as lines.
      expect(r.stdout).not.toMatch(/action_result/);
      oc.expectLeaderUp(s, ["n1"]);
    } finally {
      rmSync(mark, { force: true });
    }
    const u = await oc.osvc([s.name, "unprovision"]);
    expect(u.code, show(u)).toBe(0);
    oc.expectNothingLeft(s);
  }, 300_000);
});

describe("placement = score", () => {
  it("the nodes are ranked by the score each node computes of itself; the top one leads (plan and provision)", async () => {
    const s = oc.service({ defaults: ["placement = score"] });
    const mine = independentScores();

    const pl = await oc.osvc(["plan", s.cfg, "--path", s.name, "--json"]);
    expect(pl.code, show(pl)).toBe(0);
    const plan = JSON.parse(pl.stdout) as { leaders: string[]; placement: { policy: string; ranks: string[]; scores: Record<string, number> } };
    expect(plan.placement.policy).toBe("score");
    expect(Object.keys(plan.placement.scores).sort()).toEqual(NODES);
    // Each node's own score is the one the test computed from that node's /proc (two reads apart: ±1).
    for (const n of NODES) expect(Math.abs(plan.placement.scores[n] - mine[n]), `${n}: ${plan.placement.scores[n]} vs ${mine[n]}`).toBeLessThanOrEqual(1);
    expect(plan.placement.ranks).toEqual(rankByScore(plan.placement.scores));
    expect(plan.leaders).toEqual([plan.placement.ranks[0]]);
    const pt = await oc.osvc(["plan", s.cfg, "--path", s.name]);
    expect(pt.code, show(pt)).toBe(0);
    expect(pt.stdout).toMatch(new RegExp(`^placement score: ${plan.placement.ranks.map((n) => `${n} \\(score \\d+\\)`).join(", ")}; ties: nodes order$`, "m"));

    const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
    expect(p.code, show(p)).toBe(0);
    const orch = eventsOf(p.stdout).find((e) => e.type === "orchestration") as { scores: Record<string, number> };
    for (const n of NODES) expect(Math.abs(orch.scores[n] - mine[n]), n).toBeLessThanOrEqual(2);
    const leader = rankByScore(orch.scores)[0];
    expect(summaryOf(p.stdout).leaders).toEqual([leader]);
    oc.expectLeaderUp(s, [leader]);

    const u = await oc.osvc([s.name, "unprovision"]);
    expect(u.code, show(u)).toBe(0);
    oc.expectNothingLeft(s);
  }, 300_000);
});
