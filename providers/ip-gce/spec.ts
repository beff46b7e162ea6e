import type { DriverSpec, KeywordSpec } from "../../src/core/schema.js";
import { ipHostKeywords } from "../ip-host/spec.js";

const gceKeywords: KeywordSpec[] = [
  { name: "routename", type: "string", scopable: true, text: "The gce route routing the address to this instance; defaults to a name derived from the address.", example: "{name}-vip" },
  { name: "gce_zone", type: "string", scopable: true, text: "The gce zone of the instance.", example: "europe-west1-b" },
];

export const ipGceSpec: DriverSpec = {
  group: "ip",
  type: "gce",
  text: "A Google Compute Engine address routed to this instance (alias ip plus a gce route), moved with the service.",
  keywords: [...ipHostKeywords, ...gceKeywords],
};
