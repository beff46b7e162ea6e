// The view of `osvc node ls`: a table, or one JSON document.
import type { NodeInfo } from "../../cluster/nodes.js";
import type { Colors } from "./color.js";

export function nodesJson(cluster: { name: string; file: string }, nodes: readonly NodeInfo[]): string {
  return JSON.stringify({ cluster: cluster.name, file: cluster.file, nodes }, null, 2) + "\n";
}

export function nodesTable(nodes: readonly NodeInfo[], c: Colors): string {
  const rows = nodes.map((n) => [n.name, n.transport, n.destination, n.reachable ? "yes" : "no", n.version ?? "-", n.error ?? ""]);
  const head = ["NODE", "TRANSPORT", "DESTINATION", "REACHABLE", "OSVC", "ERROR"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[], paint?: (i: number, s: string) => string) =>
    r
      .map((s, i) => (i === r.length - 1 ? s : s.padEnd(widths[i])))
      .map((s, i) => (paint ? paint(i, s) : s))
      .join("  ")
      .trimEnd();
  const out = [line(head, (_, s) => c.bold(s))];
  for (const [k, r] of rows.entries()) {
    const n = nodes[k];
    out.push(line(r, (i, s) => (i === 3 ? (n.reachable ? c.green(s) : c.red(s)) : i === 5 && s ? c.red(s) : s)));
  }
  return out.join("\n") + "\n";
}
