// The node an evaluation is for: its name, and its node config ({node.*} references, cluster name).
import { hostname } from "node:os";
import { join } from "node:path";
import { loadNodeConfig, type NodeConfig } from "../config/nodeconf.js";
import { defaultRoot } from "../state/store.js";

export interface NodeEval {
  readonly nodename: string;
  readonly nodeConfig: NodeConfig;
}

/** The node named (--node), else the one the state recorded, else this host; its node config (default: <root>/node.conf). */
export function nodeEval(opts: { node?: string; nodeConfig?: string; root?: string }, recordedNode?: string): NodeEval {
  return { nodename: opts.node ?? recordedNode ?? hostname(), nodeConfig: loadNodeConfig(opts.nodeConfig, join(opts.root ?? defaultRoot(), "node.conf")) };
}
