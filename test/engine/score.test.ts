// The node score (placement = score): upstream's formula over /proc/meminfo and /proc/loadavg.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { NodeStatsError, nodeStats, parseNodeStats, readNodeStats } from "../../src/engine/index.js";

const meminfo = (total: number, avail: number, swapTotal: number, swapFree: number) =>
  `MemTotal:       ${total} kB\nMemFree:        1000 kB\nMemAvailable:   ${avail} kB\nSwapTotal:      ${swapTotal} kB\nSwapFree:       ${swapFree} kB\n`;

describe("node score", () => {
  it("(floor(100 / max(load15, 1)) + 100 + mem% + 2 * (100 + swap%)) / 7, in whole numbers", () => {
    // load 4 -> 25; mem 50% -> 150; swap 25% -> 250: 425 / 7 = 60
    expect(nodeStats(meminfo(8 * 1024 * 1024, 4 * 1024 * 1024, 1024 * 1024, 256 * 1024), "1.00 2.00 4.00 1/100 42\n")).toEqual({ score: 60, load_15m: 4, mem_avail: 50, mem_total: 8192, swap_avail: 25, swap_total: 1024 });
    // an idle node (load under 1 counts as 1) without swap: (100 + 100 + 90 + 200) / 7 = 70
    expect(nodeStats(meminfo(1000, 905, 0, 0), "0.01 0.02 0.30 1/1 1").score).toBe(70);
    // more load, less free memory: a lower score
    expect(nodeStats(meminfo(1000, 100, 0, 0), "9 9 9 1/1 1").score).toBeLessThan(nodeStats(meminfo(1000, 100, 0, 0), "1 1 1 1/1 1").score);
  });

  it("refuses unreadable /proc texts", () => {
    expect(() => nodeStats("", "0 0 0 1/1 1")).toThrow(NodeStatsError);
    expect(() => nodeStats(meminfo(1000, 500, 0, 0), "garbage")).toThrow(/loadavg/);
  });

  it("this host's stats match its /proc now (within the drift of two reads)", () => {
    const mine = readNodeStats();
    const again = nodeStats(readFileSync("/proc/meminfo", "utf8"), readFileSync("/proc/loadavg", "utf8"));
    expect(Math.abs(mine.score - again.score)).toBeLessThanOrEqual(1);
    expect(mine.mem_total).toBe(again.mem_total);
    expect(parseNodeStats(JSON.stringify(mine))).toEqual(mine);
    expect(parseNodeStats("not json")).toBeUndefined();
    expect(parseNodeStats('{"score":"high"}')).toBeUndefined();
  });
});
