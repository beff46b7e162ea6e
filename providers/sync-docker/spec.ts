import type { DriverSpec } from "../../src/core/schema.js";
import { syncCommonKeywords } from "../sync-rsync/spec.js";

export const syncDockerSpec: DriverSpec = {
  group: "sync",
  type: "docker",
  text: "Replicates the images used by the object's docker containers to peer nodes. Optional by default.",
  keywords: [
    { name: "target", type: "list", required: true, candidates: ["nodes", "drpnodes"], text: "Which peers receive the images: nodes and/or drpnodes.", example: "nodes drpnodes" },
    ...syncCommonKeywords,
  ],
};
