import type { DriverSpec, KeywordSpec } from "../../src/core/schema.js";
import { checkAllocate } from "../ip-host/network.js";
import { ipHostKeywords, ipnameAllocatable } from "../ip-host/spec.js";

/** The ip.host keywords that mean something else inside a container's namespace. */
const overrides: KeywordSpec[] = [
  ipnameAllocatable,
  {
    name: "ipdev",
    type: "string",
    scopable: true,
    aliases: ["dev"],
    text: "mode bridge: the Linux bridge, in the network namespace osvc runs in, the host end of the veth pair is attached to; unset, the host end is left unattached (the namespace is then only reachable through that veth). Modes macvlan and ipvlan-*: the interface (in osvc's namespace) the sub-interface hangs off; required.",
    example: "br0",
  },
  {
    name: "gateway",
    type: "string",
    scopable: true,
    text: "Default gateway inside the container's namespace: start sets the namespace's default route via it on nsdev (ip route replace).",
    example: "10.0.0.1",
  },
  {
    name: "netmask",
    type: "string",
    scopable: true,
    text: "Netmask, dotted (255.255.255.0) or as a prefix length (24). Unset: the prefix length of an address of the same family on the ipdev bridge, else /32 (/128 for IPv6).",
    example: "24",
  },
];

const netnsKeywords: KeywordSpec[] = [
  { name: "netns", type: "string", required: true, scopable: true, aliases: ["container_rid"], text: "The container resource whose network namespace receives the address (its lifecycle follows the container).", example: "container#0" },
  {
    name: "netns_path",
    type: "string",
    text: "Internal: filled by osvc from the container's outputs ({container#0.netns_path}): a path to the container's network namespace (/proc/<pid>/ns/net, /run/netns/<name>). May also be set directly.",
    example: "/run/netns/ns1",
  },
  {
    name: "mode",
    type: "string",
    scopable: true,
    default: "bridge",
    candidates: ["bridge", "dedicated", "macvlan", "ipvlan-l2", "ipvlan-l3", "ipvlan-l3s", "ovs"],
    text: "How the namespace interface is plugged: a veth pair whose host end joins the ipdev bridge (bridge), a macvlan (bridge mode) or ipvlan (l2, l3, l3s) sub-interface of ipdev created inside the namespace, the ipdev itself moved in (dedicated), or an openvswitch port (ovs). Runs here: bridge, macvlan, and ipvlan where the kernel has the ipvlan driver (these machines do not); dedicated and ovs are refused.",
  },
  { name: "nsdev", type: "string", scopable: true, text: "The interface name inside the namespace; defaults to the first free eth<N>.", example: "eth1" },
  { name: "macaddr", type: "string", scopable: true, text: "The MAC address of the namespace interface.", example: "02:42:0a:00:00:0a" },
  { name: "del_net_route", type: "bool", scopable: true, default: "false", text: "Do not keep the network route the kernel adds for the address inside the namespace (the address is added with noprefixroute)." },
  { name: "vlan_tag", type: "string", scopable: true, text: "VLAN tag of the openvswitch port (mode ovs only).", example: "100" },
  { name: "vlan_mode", type: "string", scopable: true, default: "native-untagged", candidates: ["access", "native-tagged", "native-untagged", "trunk"], text: "VLAN mode of the openvswitch port (mode ovs only)." },
];

const byName = new Map(overrides.map((k) => [k.name, k]));

export const ipNetnsSpec: DriverSpec = {
  group: "ip",
  type: "netns",
  check: checkAllocate,
  text: "An IP address inside the network namespace of a container resource. Start creates the namespace's interface (nsdev: a veth pair's end, or a macvlan/ipvlan of ipdev) and configures the address on it; stop deletes it.",
  keywords: [...ipHostKeywords.map((k) => byName.get(k.name) ?? k), ...netnsKeywords],
};

/** Upstream v2 name of ip.netns. */
export const ipDockerSpec: DriverSpec = {
  group: "ip",
  type: "docker",
  text: "Alias of ip.netns: an IP address inside the network namespace of a container resource.",
  keywords: ipNetnsSpec.keywords,
  aliasOf: "ip.netns",
};
