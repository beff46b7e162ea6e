// An ip resource's `network = <name>` naming a `[network#<name>]` of the node config (om3's cluster
// networks): the keyword takes that network's subnet, so validate and the provider see a CIDR.
// Types: bridge (and any type giving `network`, a plain subnet). routed_bridge (a per-node split of
// the subnet) is not supported here: an error says so.
import type { Diagnostic } from "../core/diagnostics.js";
import type { EvaluatedKeyword } from "./evaluate.js";
import type { NodeConfig } from "./nodeconf.js";

export function resolveNetwork(group: string, keywords: Map<string, EvaluatedKeyword>, nodeConfig: NodeConfig | undefined, diagnostics: Diagnostic[]): void {
  if (group !== "ip") return;
  const k = keywords.get("network");
  const name = typeof k?.value === "string" ? k.value.trim() : "";
  if (!k || !name || name.includes("/")) return;
  const net = nodeConfig?.networks?.[name];
  if (!net) return;
  const at = k.range ? { range: k.range } : {};
  const where = nodeConfig?.file ?? "the node config";
  if (net.type === "routed_bridge") {
    diagnostics.push({ code: "E2029", severity: "error", summary: `network ${name} is a routed_bridge: its per-node subnets are not supported here`, ...at, hint: `use a bridge network (type = bridge in [network#${name}] of ${where}), or write the node's subnet as a CIDR` });
    return;
  }
  if (!net.network) {
    diagnostics.push({ code: "E2029", severity: "error", summary: `[network#${name}] of ${where} has no network (its subnet)`, ...at, hint: `add network = 10.99.0.0/24 to [network#${name}]` });
    return;
  }
  keywords.set("network", { ...k, value: net.network, text: net.network });
}
