// The node score of `placement = score` (higher is better), as upstream's node monitor computes
// it (om3 daemon/nmon getStats) from /proc/loadavg and /proc/meminfo:
//
//   score = ( floor(100 / max(load15, 1))          the 15-minute load
//           + 100 + mem_avail                       % of MemAvailable in MemTotal
//           + 2 * (100 + swap_avail) ) / 7          % of SwapFree in SwapTotal (0 without swap)
//
// in whole numbers, as upstream's integer arithmetic. Each node computes its own
// (`osvc node score --format json`, read in process); the orchestrator asks each node over the
// transport (src/cluster/facts.ts).
import { readFileSync } from "node:fs";

/** Upstream's node stats (its JSON names). */
export interface NodeStats {
  readonly score: number;
  readonly load_15m: number;
  /** MemAvailable, % of MemTotal. */
  readonly mem_avail: number;
  /** MemTotal, MiB. */
  readonly mem_total: number;
  /** SwapFree, % of SwapTotal (0 without swap). */
  readonly swap_avail: number;
  /** SwapTotal, MiB. */
  readonly swap_total: number;
}

/** The 15-minute load from /proc/loadavg's text ("0.10 0.20 0.30 1/100 1234"). */
export function parseLoadavg(text: string): number | undefined {
  const f = text.trim().split(/\s+/);
  const v = Number(f[2]);
  return f.length >= 3 && Number.isFinite(v) ? v : undefined;
}

/** /proc/meminfo's fields, in kB ("MemTotal:  24684092 kB" -> MemTotal: 24684092). */
export function parseMeminfo(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split("\n")) {
    const m = /^([A-Za-z0-9_()]+):\s+(\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

export class NodeStatsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "NodeStatsError";
  }
}

/** The stats and score from the texts of /proc/meminfo and /proc/loadavg. */
export function nodeStats(meminfo: string, loadavg: string): NodeStats {
  const load15 = parseLoadavg(loadavg);
  if (load15 === undefined) throw new NodeStatsError(`unreadable /proc/loadavg: ${JSON.stringify(loadavg.trim())}`);
  const mem = parseMeminfo(meminfo);
  if (!mem.MemTotal || mem.MemAvailable === undefined) throw new NodeStatsError("/proc/meminfo has no MemTotal or MemAvailable");
  const pct = (part: number, total: number) => (total > 0 ? Math.floor((100 * part) / total) : 0);
  const memAvail = pct(mem.MemAvailable, mem.MemTotal);
  const swapAvail = pct(mem.SwapFree ?? 0, mem.SwapTotal ?? 0);
  const score = Math.floor((Math.floor(100 / Math.max(load15, 1)) + 100 + memAvail + 2 * (100 + swapAvail)) / 7);
  return { score, load_15m: load15, mem_avail: memAvail, mem_total: Math.floor(mem.MemTotal / 1024), swap_avail: swapAvail, swap_total: Math.floor((mem.SwapTotal ?? 0) / 1024) };
}

/** This host's stats, read now. */
export function readNodeStats(): NodeStats {
  return nodeStats(readFileSync("/proc/meminfo", "utf8"), readFileSync("/proc/loadavg", "utf8"));
}

/** A node's `node score --format json` answer, or undefined when it is not one. */
export function parseNodeStats(text: string): NodeStats | undefined {
  try {
    const v = JSON.parse(text) as Partial<NodeStats>;
    return v && typeof v.score === "number" && Number.isFinite(v.score) ? (v as NodeStats) : undefined;
  } catch {
    return undefined;
  }
}
