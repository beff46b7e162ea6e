import type { DriverSpec, KeywordSpec } from "../../src/core/schema.js";

/** Keywords shared by every ip driver (ip.host, ip.netns, ip.amazon, ip.gce build on them). */
export const ipHostKeywords: KeywordSpec[] = [
  { name: "ipname", type: "string", scopable: true, aliases: ["name"], text: "The address (IPv4 or IPv6) or a DNS name resolving to it; empty means not provisioned yet.", example: "10.0.0.10" },
  { name: "ipdev", type: "string", required: true, scopable: true, aliases: ["dev"], text: "The network interface the address is added to.", example: "eth0" },
  { name: "netmask", type: "string", scopable: true, text: "Netmask, dotted (255.255.255.0) or as a prefix length (24).", example: "24" },
  { name: "gateway", type: "string", scopable: true, provisioning: true, text: "Default gateway set for the address (with provisioner = collector, written by the provisioner)." },
  { name: "network", type: "string", scopable: true, text: "The network the address belongs to, used by allocating provisioners.", example: "10.0.0.0" },
  { name: "provisioner", type: "string", provisioning: true, candidates: ["collector"], text: "collector: allocate the address at provision and write ipname, netmask and gateway back into the config." },
  { name: "dns_update", type: "bool", scopable: true, default: "false", text: "Update the cluster DNS record of ipname at start." },
  { name: "dns_name_suffix", type: "string", scopable: true, text: "Suffix appended to the object name to form the DNS record name updated when dns_update is set." },
  { name: "wait_dns", type: "duration", scopable: true, default: "0", text: "Wait up to this long for the DNS record to resolve before start." },
  { name: "check_carrier", type: "bool", scopable: true, default: "true", text: "Refuse to start, and report down, when the interface has no carrier." },
  { name: "alias", type: "bool", scopable: true, default: "true", text: "Add the address as a stacked alias (eth0:1) rather than a secondary address." },
  { name: "expose", type: "list", scopable: true, text: "Ports exposed on this address, as <port>/<proto>[:<host port>], for load-balancer registration.", example: "80/tcp 443/tcp" },
];

export const ipHostSpec: DriverSpec = {
  group: "ip",
  type: "host",
  text: "An IP address on a host network interface. Start adds it (after checking nobody answers it), stop removes it.",
  keywords: ipHostKeywords,
};
