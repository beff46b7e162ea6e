// The inventory: the cluster's nodes and how to reach each one. An INI file in OpenSVC's
// cluster.conf shape where it has one ([cluster] name, nodes), plus reachability sections:
//
//   [cluster]
//   name = prod-eu
//   nodes = n1 n2 n3
//
//   [ssh]
//   config = /etc/osvc/ssh_config       # an ssh_config file (default: the user's ~/.ssh/config)
//   connect_timeout = 10                # seconds to set up a connection (default: 10)
//
//   [node.n2]
//   ssh = admin@n2.example.com          # an ssh destination (default: the node name, an ssh_config alias)
//   osvc = /opt/osvc/bin/osvc           # how to run osvc there, as shell words (default: osvc)
//   transport = ssh                     # ssh | local (default: local for this host's name without ssh =)
//
//   [store]                             # the cluster store (default: embedded, in the state root)
//   backend = etcd                      # embedded | etcd
//   endpoints = http://10.0.0.1:2379 http://10.0.0.2:2379
//   prefix = /osvc                      # etcd key prefix (default /osvc)
//   ca = /etc/osvc/etcd-ca.pem          # TLS files (https endpoints), relative to this file
//   cert = /etc/osvc/etcd-client.pem
//   key = /etc/osvc/etcd-client-key.pem
//   lock_ttl = 15                       # seconds a dead orchestrator keeps an object locked (etcd)
//
// It is found at `--cluster-config FILE`, else `<state root>/cluster.conf` when that file exists
// (as node.conf is, config/nodeconf.ts). Other sections and [cluster] keys of OpenSVC's file
// (secret, id, ...) are left alone. Problems are positioned diagnostics (codes E6xxx: cluster).
import { readFileSync } from "node:fs";
import { homedir, hostname } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { parseTemplate, type EntryAst, type SectionAst } from "../../grammar/index.js";
import type { Template } from "../config/template.js";
import type { EvaluatedTemplate } from "../config/evaluate.js";
import { shlexSplit } from "../core/convert.js";
import { suggestion, type Diagnostic, type SourceRange } from "../core/diagnostics.js";

export type TransportKind = "ssh" | "local";

export interface InventoryNode {
  /** Node name, lower case (as a template's nodes are). */
  readonly name: string;
  /** ssh destination: an ssh_config alias, host or user@host. */
  readonly ssh: string;
  /** The command that runs osvc on the node, as argv words. */
  readonly osvc: readonly string[];
  readonly transport: TransportKind;
  /** Where the node is named in [cluster] nodes. */
  readonly range?: SourceRange;
}

export interface Inventory {
  /** The file it was read from (for messages). */
  readonly file: string;
  /** The cluster name (OpenSVC's default: "default"). */
  readonly name: string;
  readonly nodes: readonly InventoryNode[];
  /** An ssh_config file for every ssh call (-F); absent: ssh's own default. */
  readonly sshConfig?: string;
  /** Seconds ssh waits for a new connection (ConnectTimeout); absent: the transport's default. */
  readonly connectTimeoutS?: number;
  /** The [store] section; absent: the embedded store. */
  readonly store?: StoreConfig;
}

export type StoreBackendName = "embedded" | "etcd";

export interface StoreConfig {
  readonly backend: StoreBackendName;
  /** etcd client URLs. */
  readonly endpoints: readonly string[];
  readonly prefix?: string;
  /** Absolute paths of TLS files. */
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly lockTtlS?: number;
  readonly range?: SourceRange;
}

export interface InventoryResult {
  /** Absent when there are errors. */
  readonly inventory?: Inventory;
  readonly diagnostics: Diagnostic[];
  readonly text: string;
}

export class InventoryError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "InventoryError";
  }
}

export const CLUSTER_CONFIG_FILE = "cluster.conf";
const DEFAULT_OSVC = ["osvc"];
const NODE_KEYS = ["ssh", "osvc", "transport"];
const SSH_KEYS = ["config", "connect_timeout"];
const STORE_KEYS = ["backend", "endpoints", "prefix", "ca", "cert", "key", "lock_ttl"];
/** A node name: a host name (letters, digits, dots, dashes, underscores). */
const NODE_NAME = /^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/;

function err(code: string, summary: string, range: SourceRange | undefined, extra: { detail?: string; hint?: string } = {}): Diagnostic {
  return { code, severity: "error", summary, ...(range ? { range } : {}), ...extra };
}

/** The range of one whitespace-separated word of an entry's value, or of the whole value. */
function wordRanges(e: EntryAst): { word: string; range: SourceRange }[] {
  const v = e.value;
  const out: { word: string; range: SourceRange }[] = [];
  for (const m of v.text.matchAll(/\S+/g)) {
    const start = m.index ?? 0;
    const end = start + m[0].length;
    out.push({ word: m[0], range: v.source.range(v.map.toSource(start), v.map.toSource(end - 1) + 1) });
  }
  return out;
}

function lastEntry(s: SectionAst | undefined, key: string): EntryAst | undefined {
  if (!s) return undefined;
  let found: EntryAst | undefined;
  for (const e of s.entries) if (e.key.toLowerCase() === key) found = e;
  return found;
}

function checkKeys(s: SectionAst, known: readonly string[], out: Diagnostic[]): void {
  for (const e of s.entries) {
    const k = e.key.toLowerCase();
    if (known.includes(k)) continue;
    out.push(
      err("E6002", `unknown keyword "${e.key}" in [${s.name}]`, e.keyRange, {
        hint: suggestion(k, known) ?? `The keywords of [${s.name}] are: ${known.join(", ")}.`,
      }),
    );
  }
}

function expandHome(p: string, baseDir: string): string {
  const home = p === "~" || p.startsWith("~/") ? join(homedir(), p.slice(1)) : p;
  return isAbsolute(home) ? home : resolve(baseDir, home);
}

/** Parses cluster config text. `localName` is this host's name (a node of that name runs locally by default). */
export function parseInventory(text: string, file: string, opts: { localName?: string } = {}): InventoryResult {
  const parsed = parseTemplate(text, file);
  const diagnostics: Diagnostic[] = [...parsed.diagnostics];
  const sections = parsed.ast.sections;
  const cluster = sections.find((s) => s.name.toLowerCase() === "cluster");
  const localName = (opts.localName ?? hostname()).toLowerCase();

  // [cluster] nodes: the names, in order, each with its range.
  const nodesEntry = lastEntry(cluster, "nodes");
  const named = new Map<string, SourceRange>();
  if (!cluster) {
    diagnostics.push(err("E6001", "no [cluster] section", undefined, { detail: `${file} names no nodes.`, hint: "Add a [cluster] section with nodes = <name> <name> ..." }));
  } else if (!nodesEntry || !nodesEntry.value.text.trim()) {
    diagnostics.push(err("E6001", "[cluster] nodes is missing or empty", nodesEntry?.keyRange ?? cluster.range, { hint: "List the nodes: nodes = n1 n2 n3" }));
  } else {
    for (const { word, range } of wordRanges(nodesEntry)) {
      const name = word.toLowerCase();
      if (!NODE_NAME.test(name)) {
        diagnostics.push(err("E6003", `invalid node name "${word}"`, range, { hint: "A node name is a host name: letters, digits, dots, dashes." }));
      } else if (named.has(name)) {
        diagnostics.push(err("E6003", `node "${word}" is listed twice`, range, { hint: "Remove the duplicate." }));
      } else named.set(name, range);
    }
  }

  // [ssh]
  const sshSec = sections.find((s) => s.name.toLowerCase() === "ssh");
  let sshConfig: string | undefined;
  let connectTimeoutS: number | undefined;
  if (sshSec) {
    checkKeys(sshSec, SSH_KEYS, diagnostics);
    const c = lastEntry(sshSec, "config");
    if (c) {
      if (!c.value.text.trim()) diagnostics.push(err("E6004", "[ssh] config is empty", c.value.range, { hint: "Give the path of an ssh_config file, or remove the line." }));
      else sshConfig = expandHome(c.value.text.trim(), dirname(resolve(file)));
    }
    const t = lastEntry(sshSec, "connect_timeout");
    if (t) {
      const n = Number(t.value.text.trim());
      if (!/^\d+$/.test(t.value.text.trim()) || n < 1 || n > 3600) diagnostics.push(err("E6004", `invalid connect_timeout "${t.value.text}"`, t.value.range, { hint: "Seconds, a whole number from 1 to 3600." }));
      else connectTimeoutS = n;
    }
  }

  const store = parseStoreSection(sections.find((s) => s.name.toLowerCase() === "store"), file, diagnostics);

  // [node.<name>] sections.
  const perNode = new Map<string, SectionAst>();
  for (const s of sections) {
    const m = /^node\.(.+)$/i.exec(s.name);
    if (!m) continue;
    const name = m[1].toLowerCase();
    if (cluster && nodesEntry && !named.has(name)) {
      diagnostics.push(
        err("E6005", `[${s.name}] is not a node of the cluster`, s.range, {
          detail: `[cluster] nodes is: ${[...named.keys()].join(" ") || "(empty)"}.`,
          hint: suggestion(name, named.keys(), (x) => `[node.${x}]`) ?? `Add ${m[1]} to [cluster] nodes, or remove this section.`,
        }),
      );
      continue;
    }
    checkKeys(s, NODE_KEYS, diagnostics);
    perNode.set(name, s);
  }

  const nodes: InventoryNode[] = [];
  for (const [name, range] of named) {
    const s = perNode.get(name);
    const sshE = lastEntry(s, "ssh");
    const osvcE = lastEntry(s, "osvc");
    const trE = lastEntry(s, "transport");
    let ssh = name;
    if (sshE) {
      const v = sshE.value.text.trim();
      if (!v || /\s/.test(v) || v.startsWith("-")) {
        diagnostics.push(err("E6004", `invalid ssh destination "${sshE.value.text}"`, sshE.value.range, { hint: "One word: an ssh_config alias, a host name or user@host (not starting with -)." }));
      } else ssh = v;
    }
    let osvc: readonly string[] = DEFAULT_OSVC;
    if (osvcE) {
      const w = shlexSplit(osvcE.value.text);
      if (!w.ok) diagnostics.push(err("E6004", w.error, osvcE.value.range, { hint: w.hint ?? "Write the command as shell words." }));
      else if (w.value.length === 0) diagnostics.push(err("E6004", "[node] osvc is empty", osvcE.value.range, { hint: "Give the command that runs osvc on the node, e.g. /usr/local/bin/osvc." }));
      else osvc = w.value;
    }
    let transport: TransportKind = name === localName && !sshE ? "local" : "ssh";
    if (trE) {
      const t = trE.value.text.trim().toLowerCase();
      if (t === "ssh" || t === "local") transport = t;
      else diagnostics.push(err("E6004", `invalid transport "${trE.value.text}"`, trE.value.range, { hint: "transport is ssh or local." }));
    }
    nodes.push({ name, ssh, osvc, transport, range });
  }

  const nameEntry = lastEntry(cluster, "name");
  const ok = !diagnostics.some((d) => d.severity === "error");
  return {
    text,
    diagnostics,
    ...(ok ? { inventory: { file, name: nameEntry?.value.text.trim() || "default", nodes, ...(sshConfig ? { sshConfig } : {}), ...(connectTimeoutS ? { connectTimeoutS } : {}), ...(store ? { store } : {}) } } : {}),
  };
}

/** [store]: the backend and, for etcd, its endpoints (http(s) URLs), prefix and TLS files. */
function parseStoreSection(sec: SectionAst | undefined, file: string, out: Diagnostic[]): StoreConfig | undefined {
  if (!sec) return undefined;
  checkKeys(sec, STORE_KEYS, out);
  const be = lastEntry(sec, "backend");
  const name = (be?.value.text.trim() ?? "embedded").toLowerCase();
  if (name !== "embedded" && name !== "etcd") {
    out.push(err("E6006", `invalid store backend "${be?.value.text ?? ""}"`, be?.value.range, { hint: suggestion(name, ["embedded", "etcd"]) ?? "backend is embedded or etcd." }));
    return undefined;
  }
  const endpoints: string[] = [];
  const ep = lastEntry(sec, "endpoints");
  for (const { word, range } of ep ? wordRanges(ep) : []) {
    let ok = false;
    try {
      const u = new URL(word);
      ok = (u.protocol === "http:" || u.protocol === "https:") && u.hostname !== "" && u.pathname === "/";
    } catch {
      ok = false;
    }
    if (ok) endpoints.push(word);
    else out.push(err("E6006", `invalid etcd endpoint "${word}"`, range, { hint: "An etcd client URL: http://host:2379 or https://host:2379." }));
  }
  if (name === "etcd" && endpoints.length === 0 && !out.some((d) => d.code === "E6006")) {
    out.push(err("E6006", "[store] backend = etcd needs endpoints", ep?.keyRange ?? be?.value.range ?? sec.range, { hint: "endpoints = http://127.0.0.1:2379 (the etcd members' client URLs)" }));
  }
  const prefixE = lastEntry(sec, "prefix");
  const prefix = prefixE?.value.text.trim();
  if (prefixE && (!prefix || !/^\/[A-Za-z0-9._/-]*$/.test(prefix) || prefix.includes("//"))) {
    out.push(err("E6006", `invalid store prefix "${prefixE.value.text}"`, prefixE.value.range, { hint: "An etcd key prefix starting with /, e.g. /osvc or /osvc/prod." }));
  }
  const tls: { ca?: string; cert?: string; key?: string } = {};
  for (const k of ["ca", "cert", "key"] as const) {
    const e = lastEntry(sec, k);
    if (!e) continue;
    if (!e.value.text.trim()) out.push(err("E6006", `[store] ${k} is empty`, e.value.range, { hint: "Give the path of a PEM file, or remove the line." }));
    else tls[k] = expandHome(e.value.text.trim(), dirname(resolve(file)));
  }
  if (Boolean(tls.cert) !== Boolean(tls.key)) {
    out.push(err("E6006", "[store] cert and key go together", (lastEntry(sec, "cert") ?? lastEntry(sec, "key"))?.keyRange, { hint: "Set both the client certificate and its key, or neither." }));
  }
  const ttlE = lastEntry(sec, "lock_ttl");
  let lockTtlS: number | undefined;
  if (ttlE) {
    const t = ttlE.value.text.trim();
    if (!/^\d+$/.test(t) || Number(t) < 2 || Number(t) > 3600) out.push(err("E6006", `invalid lock_ttl "${ttlE.value.text}"`, ttlE.value.range, { hint: "Seconds, a whole number from 2 to 3600 (default 15)." }));
    else lockTtlS = Number(t);
  }
  return { backend: name, endpoints, ...(prefix ? { prefix } : {}), ...tls, ...(lockTtlS ? { lockTtlS } : {}), range: sec.range };
}

/**
 * Reads the cluster config: `explicit` (--cluster-config) must exist; `fallback`
 * (<root>/cluster.conf) is used only when it exists. Neither: undefined.
 */
export function loadInventory(explicit: string | undefined, fallback: string | undefined, opts: { localName?: string } = {}): InventoryResult | undefined {
  const file = explicit ?? fallback;
  if (!file) return undefined;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (!explicit && code === "ENOENT") return undefined;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a directory" : (e as Error).message;
    throw new InventoryError(`cannot read the cluster config ${file}: ${why}`, explicit ? "Check the --cluster-config path." : undefined);
  }
  return parseInventory(text, file, opts);
}

/** The default place of the cluster config under a state root. */
export function defaultInventoryFile(root: string): string {
  return join(root, CLUSTER_CONFIG_FILE);
}

export function inventoryNode(inv: Inventory, name: string): InventoryNode | undefined {
  const n = name.toLowerCase();
  return inv.nodes.find((x) => x.name === n);
}

/**
 * Every node a compiled template names in DEFAULT `nodes` and `drpnodes` must be a node of the
 * inventory: one diagnostic per unknown name, at the name when the value is literal, else at the
 * keyword's value. `*` (every node) always resolves.
 */
export function checkTemplateNodes(template: Template, evaluated: EvaluatedTemplate, inv: Inventory): Diagnostic[] {
  const out: Diagnostic[] = [];
  const known = inv.nodes.map((n) => n.name);
  for (const kw of ["nodes", "drpnodes"]) {
    const ev = evaluated.defaults.get(kw);
    if (!ev || ev.origin === "default") continue;
    const key = template.sections.get("DEFAULT")?.byBase.get(kw)?.find((k) => k.scope === undefined);
    const literal = key && key.entry.value.text === ev.text ? wordRanges(key.entry) : undefined;
    const words: { word: string; range?: SourceRange }[] = literal ?? ev.text.split(/\s+/).filter(Boolean).map((word) => ({ word, range: ev.range }));
    for (const { word, range } of words) {
      const name = word.toLowerCase();
      if (name === "*" || known.includes(name)) continue;
      out.push(
        err("E6010", `node "${word}" is not in the cluster config`, range, {
          detail: `${kw} names ${word}, but ${inv.file} lists: ${known.join(" ")}.`,
          hint: suggestion(name, known) ?? `Add ${word} to [cluster] nodes in ${inv.file}, or remove it from ${kw}.`,
        }),
      );
    }
  }
  return out;
}
