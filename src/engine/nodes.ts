// The nodes an object names (`nodes`, `drpnodes`), as evaluated for this node.
import type { EvaluatedTemplate } from "../config/index.js";

/** The words of a node-list keyword of [DEFAULT] (a list, or a whitespace-separated string). */
export function listedNodes(ev: EvaluatedTemplate, keyword: "nodes" | "drpnodes"): string[] {
  const v = ev.defaults.get(keyword)?.value;
  return Array.isArray(v) ? v.map(String) : typeof v === "string" && v.trim() ? v.trim().split(/\s+/) : [];
}
