// Graphviz DOT rendering: one cluster per slot (driver group, or group:subset), the real
// dependency edges labelled with an abbreviated reason, group order drawn as dashed gray edges
// through a small point between two slots (linear in the number of resources). Keywords osvc
// fills by itself (ip.netns netns_path) are not shown: the user did not write them.
import type { EdgeKind, ResourceGraph } from "./graph.js";

export interface DotOptions {
  /** Graph name (the object path). */
  readonly name?: string;
  /** "LR" (default) or "TB". */
  readonly rankdir?: "LR" | "TB";
  /** Draw the driver-group order as dashed edges (default true). */
  readonly groupOrder?: boolean;
  /** Show the driver id under each rid (default true). */
  readonly drivers?: boolean;
}

function q(s: string): string {
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`;
}

const SHORT: Record<EdgeKind, string> = {
  reference: "ref",
  device: "dev",
  mount: "mnt",
  requires: "requires",
  netns: "netns",
  sequence: "seq",
};

function shortReason(kind: EdgeKind, keyword: string | undefined): string {
  switch (kind) {
    case "reference":
      return keyword ? `ref ${keyword}` : "ref";
    case "requires":
      return keyword ?? "requires";
    case "mount":
      return keyword === "volume_mounts" ? keyword : SHORT[kind];
    default:
      return SHORT[kind];
  }
}

export function toDot(graph: ResourceGraph, o: DotOptions = {}): string {
  const lines: string[] = [];
  lines.push(`digraph ${q(o.name ?? "osvc")} {`);
  lines.push(`  rankdir=${o.rankdir ?? "LR"};`);
  lines.push(`  compound=true;`);
  lines.push(`  node [shape=box, fontname="monospace", fontsize=10];`);
  lines.push(`  edge [fontname="monospace", fontsize=8];`);
  const slots = graph.slots();
  for (const s of slots) {
    lines.push(`  subgraph ${q(`cluster_${s.name}`)} {`);
    lines.push(`    label=${q(s.name)};`);
    lines.push(`    style=rounded; color=gray;`);
    for (const id of s.members) {
      const info = graph.info(id);
      const driver = info.resource.driver?.id ?? info.resource.type;
      let label = o.drivers === false || !driver ? id : `${id}\n${driver}`;
      if (info.linkedTo) label += `\n(with ${info.linkedTo})`;
      const attrs = [`label=${q(label)}`];
      if (info.disabled) attrs.push(`style=dashed`, `fontcolor=gray`, `xlabel="disabled"`);
      lines.push(`    ${q(id)} [${attrs.join(", ")}];`);
    }
    lines.push(`  }`);
  }
  for (const e of graph.edges()) {
    const written = e.reasons.filter((r) => !(r.keyword && graph.info(e.to).resource.keywords.get(r.keyword)?.origin === "default"));
    const reasons = written.length ? written : e.reasons.map((r) => ({ ...r, keyword: undefined, text: r.kind }));
    const label = [...new Set(reasons.map((r) => shortReason(r.kind, r.keyword)))].join(", ");
    lines.push(`  ${q(e.from)} -> ${q(e.to)} [label=${q(label)}, tooltip=${q(reasons.map((r) => r.text).join("; "))}];`);
  }
  if (o.groupOrder !== false) {
    for (let i = 1; i < slots.length; i++) {
      const b = `order:${slots[i].name}`;
      lines.push(`  ${q(b)} [shape=point, width=0.05, height=0.05, color=gray, label="", tooltip=${q(`${slots[i - 1].name} before ${slots[i].name}`)}];`);
      for (const m of slots[i - 1].members) lines.push(`  ${q(m)} -> ${q(b)} [style=dashed, color=gray, arrowhead=none];`);
      for (const m of slots[i].members) lines.push(`  ${q(b)} -> ${q(m)} [style=dashed, color=gray];`);
    }
  }
  lines.push(`}`);
  return lines.join("\n") + "\n";
}
