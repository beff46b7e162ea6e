// Placement (reference/cluster.md §2): ranking policies, failover/flex leaders, --leader-node,
// unreachable leaders reported rather than replaced.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { leaderCount, parseLoadavg, place, PlacementError, rankNodes } from "../../src/cluster/placement.js";

const nodes = ["n1", "n2", "n3"];
const md5 = (s: string) => createHash("md5").update(s).digest("hex");

describe("rankNodes", () => {
  it("nodes order (and shift, none) keep the nodes keyword's order", () => {
    for (const p of ["nodes order", "shift", "none"] as const) expect(rankNodes("root/svc/a", nodes, p)).toEqual(nodes);
  });

  it("spread sorts by md5(path + nodename), as the v2 agent", () => {
    for (const path of ["root/svc/a", "root/svc/b", "prod/svc/web", "root/svc/orch1"]) {
      const want = [...nodes].sort((a, b) => (md5(path + a) < md5(path + b) ? -1 : 1));
      expect(rankNodes(path, nodes, "spread")).toEqual(want);
    }
    // Different paths spread their leaders over the nodes.
    const firsts = new Set(Array.from({ length: 30 }, (_, i) => rankNodes(`root/svc/s${i}`, nodes, "spread")[0]));
    expect(firsts.size).toBe(3);
  });

  it("load avg: ascending 15-min load, ties in nodes order, unknown load last", () => {
    const facts = { n1: { name: "n1", reachable: true, load15: 2.5 }, n2: { name: "n2", reachable: true, load15: 0.1 }, n3: { name: "n3", reachable: true, load15: 0.1 } };
    expect(rankNodes("p", nodes, "load avg", facts)).toEqual(["n2", "n3", "n1"]);
    expect(rankNodes("p", nodes, "load avg", { n3: { name: "n3", reachable: true, load15: 9 } })).toEqual(["n3", "n1", "n2"]);
  });

  it("score: descending", () => {
    const facts = { n1: { name: "n1", reachable: true, score: 10 }, n2: { name: "n2", reachable: true, score: 50 }, n3: { name: "n3", reachable: true, score: 30 } };
    expect(rankNodes("p", nodes, "score", facts)).toEqual(["n2", "n3", "n1"]);
  });
});

describe("place", () => {
  const base = { path: "root/svc/a", nodes, placement: "nodes order" as const, topology: "failover" as const };

  it("failover: rank 0 leads, the others follow", () => {
    expect(place(base)).toEqual({ ranks: nodes, leaders: ["n1"], followers: ["n2", "n3"], unreachableLeaders: [] });
  });

  it("flex: the first flex_target ranks lead (defaults: flex_min 1, flex_target = flex_min)", () => {
    expect(place({ ...base, topology: "flex", flexTarget: 2 }).leaders).toEqual(["n1", "n2"]);
    expect(place({ ...base, topology: "flex" }).leaders).toEqual(["n1"]);
    expect(place({ ...base, topology: "flex", flexTarget: 9 }).leaders).toEqual(nodes); // clamped to flex_max = #nodes
    expect(leaderCount({ topology: "flex", nodes, flexMin: 2, flexTarget: 1 })).toBe(2);
    expect(leaderCount({ topology: "flex", nodes, flexMax: 1, flexTarget: 3 })).toBe(1);
  });

  it("spread picks the md5 leader", () => {
    expect(place({ ...base, placement: "spread" }).leaders).toEqual([rankNodes("root/svc/a", nodes, "spread")[0]]);
  });

  it("none: no leader", () => {
    expect(place({ ...base, placement: "none" }).leaders).toEqual([]);
  });

  it("an unreachable leader is reported, never silently replaced; --leader-node overrides", () => {
    const facts = { n1: { name: "n1", reachable: false } };
    const p = place({ ...base, facts });
    expect(p.leaders).toEqual(["n1"]);
    expect(p.unreachableLeaders).toEqual(["n1"]);
    const q = place({ ...base, facts, leaderNode: "n2" });
    expect(q).toEqual({ ranks: ["n2", "n1", "n3"], leaders: ["n2"], followers: ["n1", "n3"], unreachableLeaders: [] });
    // flex with a named leader: the other leaders are the reachable ranked nodes.
    expect(place({ ...base, topology: "flex", flexTarget: 2, facts, leaderNode: "n3" }).leaders).toEqual(["n3", "n2"]);
  });

  it("--leader-node must be one of the nodes, and reachable", () => {
    expect(() => place({ ...base, leaderNode: "n9" })).toThrow(PlacementError);
    expect(() => place({ ...base, leaderNode: "n2", facts: { n2: { name: "n2", reachable: false } } })).toThrow(/unreachable/);
  });
});

describe("parseLoadavg", () => {
  it("reads the 15-min field", () => {
    expect(parseLoadavg("0.10 0.20 0.35 1/123 4567\n")).toBe(0.35);
    expect(parseLoadavg("garbage")).toBeUndefined();
  });
});
