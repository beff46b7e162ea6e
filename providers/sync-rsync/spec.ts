import { RSYNC_OPTIONS } from "../../src/core/argv.js";
import type { DriverSpec, KeywordSpec } from "../../src/core/schema.js";

/** Scheduling keywords shared by the sync drivers. */
export const syncCommonKeywords: KeywordSpec[] = [
  { name: "schedule", type: "string", scopable: true, text: "When the sync runs; defaults to DEFAULT.sync_schedule.", example: "@60" },
  { name: "max_delay", type: "duration", scopable: true, text: "The sync status turns warn when the last successful sync is older than this; defaults to DEFAULT.sync_max_delay.", example: "1d" },
];

export const syncRsyncSpec: DriverSpec = {
  group: "sync",
  type: "rsync",
  text: "Replicates files and directories to peer nodes with rsync over ssh. Nothing to provision; optional by default.",
  keywords: [
    { name: "src", type: "list", required: true, scopable: true, text: "Source paths (files or directories).", example: "/srv/{name}/data/" },
    { name: "dst", type: "string", required: true, scopable: true, text: "Destination path on the target nodes.", example: "/srv/{name}/data" },
    { name: "target", type: "list", required: true, candidates: ["nodes", "drpnodes", "local"], text: "Which peers receive the data: nodes, drpnodes, and/or local (dst on this node).", example: "nodes drpnodes" },
    { name: "options", type: "shlex", scopable: true, argv: { kind: "options", table: RSYNC_OPTIONS }, text: "Extra rsync options (options only: what is copied comes from src, where to from dst).", example: "--exclude=*.tmp" },
    { name: "reset_options", type: "bool", scopable: true, default: "false", text: "Use options instead of osvc's default rsync options rather than in addition to them." },
    { name: "snap", type: "bool", scopable: true, default: "false", text: "Sync from a snapshot of the source filesystem for a consistent copy." },
    { name: "dstfs", type: "string", scopable: true, text: "Skip the sync when this filesystem is not mounted on the target (protects the target's root filesystem).", example: "/srv/{name}" },
    { name: "bwlimit", type: "string", scopable: true, text: "Bandwidth limit passed to rsync --bwlimit (KiB/s, or with a unit).", example: "10m" },
    ...syncCommonKeywords,
    { name: "timeout", type: "duration", scopable: true, text: "Time allowed for one sync run.", example: "1h" },
  ],
};
