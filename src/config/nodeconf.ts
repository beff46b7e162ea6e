// The node config: what `{node.<keyword>}` and `{node.labels.<name>}` references read (opensvc-semantics
// §3.1), and the cluster name of `{clustername}`/`{fqdn}`. An INI file in OpenSVC's node.conf shape:
//
//   [node]
//   env = PRD
//   [cluster]
//   name = prod-eu
//   [labels]
//   az = fr1
//
// It is found at `--node-config FILE`, else `<state root>/node.conf` when that file exists (so that
// two node roots on one host, `--root`, are two nodes). Without one, {node.env} is upstream's
// default, TST, and the other node references stay verbatim with a warning.
import { readFileSync } from "node:fs";
import { parse } from "ini";

export interface NodeConfig {
  /** The file it was read from (for messages); undefined for the built-in defaults. */
  readonly file?: string;
  readonly node: Readonly<Record<string, string>>;
  readonly labels: Readonly<Record<string, string>>;
  readonly clustername?: string;
  /** `[network#<name>]` sections: the networks `network = <name>` of an ip resource names. */
  readonly networks?: Readonly<Record<string, NodeNetwork>>;
  /** `[cluster] nodes`: the cluster's nodes, in order (a routed_bridge's per-node split). */
  readonly clusterNodes?: readonly string[];
}

/** A `[network#<name>]` of the node config (om3's cluster networks). */
export interface NodeNetwork {
  readonly type: string;
  /** The subnet, in CIDR form. */
  readonly network?: string;
  /** routed_bridge: the addresses of each node's slice (`ips_per_node`, text as written). */
  readonly ipsPerNode?: string;
  /** routed_bridge: `subnet@<node>` keys, the slices already given (node -> CIDR). */
  readonly subnets?: Readonly<Record<string, string>>;
}

/**
 * The `[network#<name>]` sections (the ini reader takes `#` for a comment, so they are read here):
 * `type` (default bridge) and `network` (a CIDR); a routed_bridge's `ips_per_node` and `subnet@<node>`.
 */
export function parseNetworks(text: string): Record<string, NodeNetwork> {
  const out: Record<string, Record<string, string>> = {};
  let current: Record<string, string> | undefined;
  for (const line of text.split("\n")) {
    const h = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (h) {
      const m = /^network#(.+)$/.exec(h[1].trim());
      current = m ? (out[m[1].trim()] ??= {}) : undefined;
      continue;
    }
    const kv = /^\s*([A-Za-z_][\w]*(?:@[\w.-]+)?)\s*=\s*(.*?)\s*$/.exec(line);
    if (current && kv) current[kv[1].toLowerCase()] = kv[2];
  }
  return Object.fromEntries(
    Object.entries(out).map(([n, kw]) => {
      const subnets = Object.fromEntries(Object.entries(kw).flatMap(([k, v]) => (k.startsWith("subnet@") && v ? [[k.slice(7), v]] : [])));
      return [n, { type: kw.type || "bridge", ...(kw.network ? { network: kw.network } : {}), ...(kw.ips_per_node ? { ipsPerNode: kw.ips_per_node } : {}), ...(Object.keys(subnets).length ? { subnets } : {}) }];
    }),
  );
}

/** Upstream's default node keywords. */
export const NODE_DEFAULTS: Readonly<Record<string, string>> = { env: "TST" };

export class NodeConfigError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "NodeConfigError";
  }
}

function strings(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (!v || typeof v !== "object") return out;
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
    if (typeof x === "string" || typeof x === "number" || typeof x === "boolean") out[k.toLowerCase()] = String(x);
  }
  return out;
}

/** Parses node.conf text. Sections other than node, cluster and labels are ignored. */
export function parseNodeConfig(text: string, file?: string): NodeConfig {
  const data = parse(text) as Record<string, unknown>;
  const node = { ...NODE_DEFAULTS, ...strings(data.node) };
  const cluster = strings(data.cluster);
  const networks = parseNetworks(text);
  const clusterNodes = (cluster.nodes ?? "").split(/[\s,]+/).filter(Boolean).map((n) => n.toLowerCase());
  return { ...(file ? { file } : {}), node, labels: strings(data.labels), ...(cluster.name ? { clustername: cluster.name } : {}), ...(Object.keys(networks).length ? { networks } : {}), ...(clusterNodes.length ? { clusterNodes } : {}) };
}

/**
 * Reads the node config: `explicit` must exist; `fallback` (<root>/node.conf) is used only when
 * it exists. Neither: the defaults.
 */
export function loadNodeConfig(explicit: string | undefined, fallback: string | undefined): NodeConfig {
  const file = explicit ?? fallback;
  if (file) {
    let text: string | undefined;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (explicit || code !== "ENOENT") {
        const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a directory" : (e as Error).message;
        throw new NodeConfigError(`cannot read the node config ${file}: ${why}`, explicit ? "Check the --node-config path." : undefined);
      }
    }
    if (text !== undefined) return parseNodeConfig(text, file);
  }
  return { node: { ...NODE_DEFAULTS }, labels: {} };
}
