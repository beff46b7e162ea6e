import type { DriverSpec } from "../../src/core/schema.js";
import { syncCommonKeywords } from "../sync-rsync/spec.js";

export const syncBtrfsSpec: DriverSpec = {
  group: "sync",
  type: "btrfs",
  text: "Replicates a btrfs subvolume to peer nodes with incremental snapshot send/receive. Optional by default.",
  keywords: [
    { name: "src", type: "string", required: true, scopable: true, text: "The source subvolume as <filesystem label>:<subvolume path>.", example: "{name}.fs.0:data" },
    { name: "dst", type: "string", required: true, scopable: true, text: "The destination subvolume on the targets as <filesystem label>:<subvolume path>.", example: "{name}.fs.0:data" },
    { name: "target", type: "list", required: true, candidates: ["nodes", "drpnodes"], text: "Which peers receive the data: nodes and/or drpnodes.", example: "drpnodes" },
    { name: "recursive", type: "bool", scopable: true, default: "false", text: "Also replicate the subvolumes nested in src." },
    { name: "keep", type: "int", scopable: true, default: "3", text: "How many replication snapshots to keep on the source and the targets." },
    ...syncCommonKeywords,
  ],
};
