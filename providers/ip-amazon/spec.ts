import type { DriverSpec, KeywordSpec } from "../../src/core/schema.js";
import { ipHostKeywords } from "../ip-host/spec.js";

const amazonKeywords: KeywordSpec[] = [
  {
    name: "ipname",
    type: "string",
    scopable: true,
    aliases: ["name"],
    markers: true,
    text: "The private address assigned to ipdev's network interface. <allocate> allocates a new secondary private address at provision and writes it back here.",
    example: "<allocate>",
  },
  {
    name: "eip",
    type: "string",
    scopable: true,
    markers: true,
    text: "An elastic (public) address associated to the private address. <allocate> allocates one at provision and writes it back here.",
    example: "<allocate>",
  },
  {
    name: "cascade_allocation",
    type: "list",
    provisioning: true,
    text: "After allocation, set these keywords of other resources (<rid>.<keyword>[@scope]) to the allocated address.",
    example: "ip#1.ipname",
  },
  { name: "docker_daemon_ip", type: "bool", provisioning: true, default: "false", text: "Append --ip <allocated address> to DEFAULT.docker_daemon_args." },
];

const byName = new Map(amazonKeywords.map((k) => [k.name, k]));
const hostNames = new Set(ipHostKeywords.map((k) => k.name));

export const ipAmazonSpec: DriverSpec = {
  group: "ip",
  type: "amazon",
  text: "An Amazon EC2 secondary private address (and optional elastic address) on this instance's interface, allocated at provision with <allocate>.",
  keywords: [...ipHostKeywords.map((k) => byName.get(k.name) ?? k), ...amazonKeywords.filter((k) => !hostNames.has(k.name))],
};
