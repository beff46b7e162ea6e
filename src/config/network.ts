// An ip resource's `network = <name>` naming a `[network#<name>]` of the node config (om3's cluster
// networks): the keyword takes that network's subnet, so validate and the provider see a CIDR.
// Types: bridge (and any type giving `network`, a plain subnet), and routed_bridge: the network is
// split per node (om3), each node allocating in its own slice: its `subnet@<node>` when the
// network gives one (what om3 writes once), else the slice of `ips_per_node` addresses (default
// 1024) at the node's rank in `[cluster] nodes`.
import { DEFAULT_IPS_PER_NODE, nodeSlice, parseCidr } from "../core/cidr.js";
import type { Diagnostic } from "../core/diagnostics.js";
import type { EvaluatedKeyword } from "./evaluate.js";
import type { NodeConfig, NodeNetwork } from "./nodeconf.js";

/** A routed_bridge's subnet for `nodename`, or an error text and hint. */
function routedSubnet(name: string, net: NodeNetwork, nodename: string, nodeConfig: NodeConfig, where: string): string | { error: string; hint: string } {
  const given = net.subnets?.[nodename.toLowerCase()];
  if (given) return given;
  const hintSubnet = `or write subnet@${nodename} = <its slice, a CIDR> in [network#${name}] of ${where}`;
  if (!net.network) return { error: `[network#${name}] of ${where} has no network (its subnet) and no subnet@${nodename}`, hint: `add network = 10.100.0.0/16 (split per node) ${hintSubnet}` };
  const cidr = parseCidr(net.network);
  if ("error" in cidr) return cidr;
  const index = (nodeConfig.clusterNodes ?? []).indexOf(nodename.toLowerCase());
  if (index < 0) return { error: `network ${name} is a routed_bridge split per node, and ${nodename} is not in the [cluster] nodes of ${where}`, hint: `list it there (nodes = n1 n2 n3), ${hintSubnet}` };
  const ips = net.ipsPerNode === undefined ? DEFAULT_IPS_PER_NODE : Number(net.ipsPerNode);
  const slice = nodeSlice(cidr, ips, index);
  return "error" in slice ? { error: `network ${name}: ${slice.error}`, hint: slice.hint } : slice.text;
}

export function resolveNetwork(group: string, keywords: Map<string, EvaluatedKeyword>, nodeConfig: NodeConfig | undefined, nodename: string, diagnostics: Diagnostic[]): void {
  if (group !== "ip") return;
  const k = keywords.get("network");
  const name = typeof k?.value === "string" ? k.value.trim() : "";
  if (!k || !name || name.includes("/")) return;
  const net = nodeConfig?.networks?.[name];
  if (!net || !nodeConfig) return;
  const at = k.range ? { range: k.range } : {};
  const where = nodeConfig.file ?? "the node config";
  if (net.type === "routed_bridge") {
    const s = routedSubnet(name, net, nodename, nodeConfig, where);
    if (typeof s !== "string") diagnostics.push({ code: "E2029", severity: "error", summary: s.error, ...at, hint: s.hint });
    else keywords.set("network", { ...k, value: s, text: s, namedNetwork: { name, type: net.type } });
    return;
  }
  if (!net.network) {
    diagnostics.push({ code: "E2029", severity: "error", summary: `[network#${name}] of ${where} has no network (its subnet)`, ...at, hint: `add network = 10.99.0.0/24 to [network#${name}]` });
    return;
  }
  keywords.set("network", { ...k, value: net.network, text: net.network, namedNetwork: { name, type: net.type } });
}
