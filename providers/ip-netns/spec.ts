import type { DriverSpec, KeywordSpec } from "../../src/core/schema.js";
import { ipHostKeywords } from "../ip-host/spec.js";

const netnsKeywords: KeywordSpec[] = [
  { name: "netns", type: "string", required: true, scopable: true, aliases: ["container_rid"], text: "The container resource whose network namespace receives the address (its lifecycle follows the container).", example: "container#0" },
  {
    name: "mode",
    type: "string",
    scopable: true,
    default: "bridge",
    candidates: ["bridge", "dedicated", "macvlan", "ipvlan-l2", "ipvlan-l3", "ipvlan-l3s", "ovs"],
    text: "How the namespace interface is plugged: a veth into the ipdev bridge, the ipdev itself moved in (dedicated), a macvlan/ipvlan over ipdev, or an openvswitch port.",
  },
  { name: "nsdev", type: "string", scopable: true, text: "The interface name inside the namespace; defaults to the first free eth<N>.", example: "eth1" },
  { name: "macaddr", type: "string", scopable: true, text: "The MAC address of the namespace interface.", example: "02:42:0a:00:00:0a" },
  { name: "del_net_route", type: "bool", scopable: true, default: "false", text: "Remove the network route the kernel adds for the address inside the namespace." },
  { name: "vlan_tag", type: "string", scopable: true, text: "VLAN tag of the openvswitch port (mode ovs only).", example: "100" },
  { name: "vlan_mode", type: "string", scopable: true, default: "native-untagged", candidates: ["access", "native-tagged", "native-untagged", "trunk"], text: "VLAN mode of the openvswitch port (mode ovs only)." },
];

export const ipNetnsSpec: DriverSpec = {
  group: "ip",
  type: "netns",
  text: "An IP address inside the network namespace of a container resource. Start plugs an interface into the namespace and configures it, stop removes it.",
  keywords: [...ipHostKeywords, ...netnsKeywords],
};

/** Upstream v2 name of ip.netns. */
export const ipDockerSpec: DriverSpec = {
  group: "ip",
  type: "docker",
  text: "Alias of ip.netns: an IP address inside the network namespace of a container resource.",
  keywords: ipNetnsSpec.keywords,
  aliasOf: "ip.netns",
};
