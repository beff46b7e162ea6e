// Evaluated resources -> ResourceGraph (DESIGN §4, semantics §8).
//
// Edges a -> b ("a up before b starts"):
//   - group order ip < volume < disk < fs < share < container < app < sync < task, default set
//     before named subsets (implicit, via slots and barrier nodes, see graph.ts);
//   - deferred references ({disk#0.exposed_devs[0]}) from the referenced resource;
//   - statically known devices (dev /dev/vg/lv exposed by a disk.lv, lv in a disk.vg's vg);
//   - fs/fs.directory under the nearest fs whose mount point/path is a parent directory;
//   - app resources with an integer `start` sequence, by sequence then rid (per set);
//   - start_requires / provision_requires;
//   - netns = container#N (ip.netns, ip.cni, containers): after that container. A linked ip
//     takes its container's slot, so group order cannot contradict the link.
// Same-slot resources are otherwise independent (they may run in parallel).
import path from "node:path";
import { alg, Graph } from "@dagrejs/graphlib";
import type { EvaluatedKeyword, EvaluatedResource, EvaluatedTemplate } from "../config/evaluate.js";
import { didYouMean, type Diagnostic } from "../core/diagnostics.js";
import { Rid } from "../core/rid.js";
import { compareSlots, ResourceGraph, slotName, type EdgeReason, type NodeInfo } from "./graph.js";
import { kahn } from "./order.js";

export interface BuildOptions {
  /** `*_requires` keywords that order (default: start_requires, provision_requires). */
  readonly orderingRequires?: readonly string[];
}

export interface BuildResult {
  readonly graph: ResourceGraph;
  readonly diagnostics: Diagnostic[];
}

export const CODE_CYCLE = "E2030";
export const CODE_UNKNOWN_REQUIRED = "W2031";
export const CODE_UNKNOWN_NETNS = "E2032";
export const CODE_MOUNT_ORDER = "W2033";

const DEFAULT_ORDERING_REQUIRES = ["start_requires", "provision_requires"];

interface PendingEdge {
  from: string;
  to: string;
  reason: EdgeReason;
}

function kw(r: EvaluatedResource, name: string): EvaluatedKeyword | undefined {
  return r.keywords.get(name);
}

/** Static text of a keyword: undefined when empty, deferred or holding markers. */
function staticText(r: EvaluatedResource, name: string): string | undefined {
  const k = kw(r, name);
  if (!k || (k.deferred && k.deferred.length > 0) || (k.markers && k.markers.length > 0)) return undefined;
  const t = k.text.trim();
  return t === "" ? undefined : t;
}

function staticList(r: EvaluatedResource, name: string): string[] {
  const k = kw(r, name);
  if (!k || (k.deferred && k.deferred.length > 0)) return [];
  if (Array.isArray(k.value)) return k.value as string[];
  return k.text.split(/\s+/).filter((w) => w !== "");
}

/** Absolute path, normalized, no trailing slash; undefined when not a plain absolute path. */
export function normalizePath(p: string | undefined): string | undefined {
  if (!p || !p.startsWith("/") || p.includes("{")) return undefined;
  const n = path.posix.normalize(p);
  return n.length > 1 && n.endsWith("/") ? n.slice(0, -1) : n;
}

function isDisabled(r: EvaluatedResource): boolean {
  const k = kw(r, "disable");
  return k?.value === true || (k?.value === undefined && /^(true|yes|y|1|on)$/i.test(k?.text.trim() ?? ""));
}

/** The `{...}` reference naming `rid` in a keyword's text, for edge wording. */
function referenceText(text: string, rid: string): string {
  for (const m of text.matchAll(/\{[^{}]*\}/g)) if (m[0].includes(rid)) return m[0];
  return `{${rid}...}`;
}

/** "rid[(state,...)] rid2 ..." -> [{rid, states}]. States may contain spaces ("stdby up"). */
export function parseRequires(text: string): { rid: string; states?: string }[] {
  const out: { rid: string; states?: string }[] = [];
  for (const m of text.matchAll(/([^\s(),]+)\s*(?:\(([^)]*)\))?/g)) out.push(m[2] !== undefined ? { rid: m[1], states: m[2].trim() } : { rid: m[1] });
  return out;
}

function escapeLvmName(s: string): string {
  return s.replace(/-/g, "--");
}

export function buildGraph(t: EvaluatedTemplate, opts: BuildOptions = {}): BuildResult {
  const diagnostics: Diagnostic[] = [];
  const orderingRequires = new Set(opts.orderingRequires ?? DEFAULT_ORDERING_REQUIRES);
  const resources = [...t.resources].sort((a, b) => Rid.compare(a.rid, b.rid));
  const byId = new Map<string, EvaluatedResource>();
  for (const r of resources) byId.set(r.rid.toString(), r);
  const ids = [...byId.keys()];
  const edges: PendingEdge[] = [];
  const add = (from: string, to: string, reason: EdgeReason): void => {
    edges.push({ from, to, reason });
  };

  // ---- nodes and slots (netns links first: they move ips into their container's slot)
  const ownSlot = new Map<string, string>();
  for (const [id, r] of byId) {
    const subset = staticText(r, "subset");
    ownSlot.set(id, slotName(r.rid.group, subset));
  }
  const linked = new Map<string, string>(); // ip -> container
  for (const [id, r] of byId) {
    if (r.rid.group !== "ip" && r.rid.group !== "container") continue;
    const k = kw(r, "netns");
    const target = staticText(r, "netns");
    if (!k || !target) continue;
    const nr = Rid.parse(target);
    if (!nr) continue; // host, none, a network name...
    if (nr.group !== "container" || !byId.has(target)) {
      diagnostics.push({
        code: CODE_UNKNOWN_NETNS,
        severity: "error",
        summary: "netns names no container resource",
        detail: `${id}: netns = ${target}, but ${nr.group !== "container" ? `${target} is not a container resource` : `there is no [${target}] section`}: there is no namespace to join, so starting ${id} would fail.`,
        range: k.range,
        hint: hintFor(target, ids.filter((i) => i.startsWith("container#") && i !== id)) ?? "Name a container resource of this object (netns = container#N), or host/none.",
      });
      continue;
    }
    add(target, id, { kind: "netns", text: `netns ${target}`, keyword: "netns", range: k.range });
    if (r.rid.group === "ip") linked.set(id, target);
  }
  const nodeSlot = (id: string): string => {
    // A linked ip follows its container's slot (resolving container-in-container links once).
    const c = linked.get(id);
    return c ? ownSlot.get(c)! : ownSlot.get(id)!;
  };
  const infos: NodeInfo[] = [];
  for (const [id, r] of byId) {
    const c = linked.get(id);
    infos.push({ id, rid: r.rid, resource: r, group: r.rid.group, slot: nodeSlot(id), disabled: isDisabled(r), ...(c ? { linkedTo: c } : {}) });
  }
  const slotOf = new Map(infos.map((i) => [i.id, i.slot]));

  // ---- deferred references
  for (const [id, r] of byId) {
    for (const map of [r.keywords, r.unknown]) {
      for (const k of map.values()) {
        for (const d of k.deferred ?? []) {
          if (!byId.has(d)) continue; // unknown references are reported by config/
          add(d, id, { kind: "reference", text: `reference ${referenceText(k.text, d)} in ${k.name}`, keyword: k.name, range: k.range });
        }
      }
    }
  }

  // ---- statically known devices
  const devOwner = new Map<string, string>(); // device path -> disk.lv rid
  const vgOwner = new Map<string, string>(); // vg name -> disk.vg rid
  for (const [id, r] of byId) {
    const drv = r.driver?.id;
    if (drv === "disk.lv") {
      const name = staticText(r, "name");
      const vg = staticText(r, "vg");
      if (name && vg) {
        devOwner.set(`/dev/${vg}/${name}`, id);
        devOwner.set(`/dev/mapper/${escapeLvmName(vg)}-${escapeLvmName(name)}`, id);
      }
    } else if (drv === "disk.vg") {
      const name = staticText(r, "name");
      if (name && !vgOwner.has(name)) vgOwner.set(name, id);
    }
  }
  const deviceEdge = (id: string, keyword: string, dev: string): void => {
    const k = kw(byId.get(id)!, keyword);
    const owner = devOwner.get(dev);
    if (owner && owner !== id) {
      add(owner, id, { kind: "device", text: `${keyword} ${dev} is exposed by ${owner}`, keyword, range: k?.range });
      return;
    }
    const m = /^\/dev\/([^/]+)\/[^/]+$/.exec(dev);
    const vgRid = m ? vgOwner.get(m[1]) : undefined;
    if (vgRid && vgRid !== id) add(vgRid, id, { kind: "device", text: `${keyword} ${dev} is in vg ${m![1]} of ${vgRid}`, keyword, range: k?.range });
  };
  if (devOwner.size > 0 || vgOwner.size > 0) {
    for (const [id, r] of byId) {
      const drv = r.driver?.id;
      if (r.rid.group === "fs") {
        const dev = staticText(r, "dev");
        if (dev) deviceEdge(id, "dev", dev);
      } else if (drv === "disk.vg") {
        for (const d of staticList(r, "pvs")) deviceEdge(id, "pvs", d);
      } else if (drv === "disk.md") {
        for (const d of staticList(r, "devs")) deviceEdge(id, "devs", d);
      } else if (drv === "disk.lv") {
        const vg = staticText(r, "vg");
        const owner = vg ? vgOwner.get(vg) : undefined;
        if (owner && owner !== id) add(owner, id, { kind: "device", text: `vg ${vg} is created by ${owner}`, keyword: "vg", range: kw(r, "vg")?.range });
      }
    }
  }

  // ---- filesystems on one device (btrfs subvolumes): one at a time, so that the first formats
  // the device and the next ones adopt it. Shallower mount points first, then rid: the same
  // direction as the nesting edges below, so no cycle.
  const byDev = new Map<string, string[]>();
  for (const [id, r] of byId) {
    if (r.rid.group !== "fs" || r.driver?.id === "fs.directory") continue;
    const dev = kw(r, "dev")?.text.trim();
    if (!dev) continue;
    byDev.set(dev, [...(byDev.get(dev) ?? []), id]);
  }
  const depth = (id: string) => (normalizePath(staticText(byId.get(id)!, "mnt")) ?? "").split("/").length;
  const slotOfId = new Map(infos.map((x) => [x.id, x.slot]));
  for (const [dev, ids] of byDev) {
    if (ids.length < 2) continue;
    const sorted = [...ids].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1];
      const next = sorted[i];
      if (slotOfId.get(prev) !== slotOfId.get(next)) continue;
      add(prev, next, { kind: "device", text: `dev ${dev} is shared with ${prev}`, keyword: "dev", range: kw(byId.get(next)!, "dev")?.range });
    }
  }

  // ---- fs nesting by mount point / path
  const slotIdx = new Map<string, number>();
  [...new Set(infos.map((i) => i.slot))].sort(compareSlots).forEach((s, i) => slotIdx.set(s, i));
  const byPath = new Map<string, { id: string; dir: boolean }[]>();
  for (const [id, r] of byId) {
    if (r.rid.group !== "fs") continue;
    const dir = r.driver?.id === "fs.directory";
    const p = normalizePath(staticText(r, dir ? "path" : "mnt") ?? staticText(r, dir ? "mnt" : "path"));
    if (!p) continue;
    const l = byPath.get(p);
    if (l) l.push({ id, dir });
    else byPath.set(p, [{ id, dir }]);
  }
  const mountKeyword = (id: string): EvaluatedKeyword | undefined => kw(byId.get(id)!, "mnt") ?? kw(byId.get(id)!, "path");
  const chains = new Map<string, string[]>();
  for (const [p, l] of byPath) {
    // Same path: earlier slot first, mounts before directories, then rid.
    l.sort((a, b) => slotIdx.get(slotOf.get(a.id)!)! - slotIdx.get(slotOf.get(b.id)!)! || Number(a.dir) - Number(b.dir) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const chain = l.map((x) => x.id);
    chains.set(p, chain);
    for (let i = 1; i < chain.length; i++) add(chain[i - 1], chain[i], { kind: "mount", text: `same mount point ${p}`, keyword: mountKeyword(chain[i])?.name, range: mountKeyword(chain[i])?.range });
  }
  for (const p of [...chains.keys()].sort()) {
    const head = chains.get(p)![0];
    const headSlot = slotIdx.get(slotOf.get(head)!)!;
    for (let a = path.posix.dirname(p); ; a = path.posix.dirname(a)) {
      if (a !== p) {
        const ch = chains.get(a);
        if (ch) {
          const tail = ch[ch.length - 1];
          const k = mountKeyword(head);
          if (slotIdx.get(slotOf.get(tail)!)! <= headSlot) {
            add(tail, head, { kind: "mount", text: `mount point ${p} is under ${a}`, keyword: k?.name, range: k?.range });
            break;
          }
          diagnostics.push({
            code: CODE_MOUNT_ORDER,
            severity: "warning",
            summary: "nested mount point set before its parent",
            detail: `${head} (${p}, set ${slotOf.get(head)}) is under ${tail} (${a}, set ${slotOf.get(tail)}), but its set runs first; the subset order wins and ${head} is not ordered after ${tail}.`,
            range: k?.range,
            hint: `Put ${head} in the same set as ${tail} or a later one.`,
          });
        }
      }
      if (a === "/") break;
    }
  }

  // ---- container volume_mounts: the host path's filesystem is there before the container starts
  for (const [id, r] of byId) {
    if (r.rid.group !== "container") continue;
    const k = kw(r, "volume_mounts");
    const headSlot = slotIdx.get(slotOf.get(id)!)!;
    for (const word of staticList(r, "volume_mounts")) {
      const src = normalizePath(word.split(":")[0]);
      if (!src || !src.startsWith("/")) continue; // a named volume
      for (let a = src; ; a = path.posix.dirname(a)) {
        const ch = chains.get(a);
        if (ch) {
          const tail = ch[ch.length - 1];
          if (tail !== id && slotIdx.get(slotOf.get(tail)!)! <= headSlot) add(tail, id, { kind: "mount", text: a === src ? `volume_mounts ${src} is provided by ${tail}` : `volume_mounts ${src} is under ${a}`, keyword: "volume_mounts", range: k?.range });
          break;
        }
        if (a === "/") break;
      }
    }
  }

  // ---- app start sequence numbers (per set)
  const seqBySlot = new Map<string, { id: string; seq: number }[]>();
  for (const [id, r] of byId) {
    if (r.rid.group !== "app") continue;
    const s = staticText(r, "start");
    if (!s || !/^\d+$/.test(s)) continue;
    const slot = slotOf.get(id)!;
    const l = seqBySlot.get(slot);
    if (l) l.push({ id, seq: Number(s) });
    else seqBySlot.set(slot, [{ id, seq: Number(s) }]);
  }
  for (const l of seqBySlot.values()) {
    l.sort((a, b) => a.seq - b.seq || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (let i = 1; i < l.length; i++) {
      const prev = l[i - 1];
      const cur = l[i];
      const k = kw(byId.get(cur.id)!, "start");
      const text = prev.seq === cur.seq ? `start sequence ${cur.seq}, then rid` : `start sequence ${prev.seq} < ${cur.seq}`;
      add(prev.id, cur.id, { kind: "sequence", text, keyword: "start", range: k?.range });
    }
  }

  // ---- *_requires
  for (const [id, r] of byId) {
    for (const k of [...r.keywords.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (!k.name.endsWith("_requires")) continue;
      const text = k.text.trim();
      if (text === "") continue;
      for (const req of parseRequires(text)) {
        if (!byId.has(req.rid)) {
          diagnostics.push({
            code: CODE_UNKNOWN_REQUIRED,
            severity: "warning",
            summary: "required resource does not exist",
            detail: `${id}: ${k.name} names ${req.rid}, which is not a resource of this object; the requirement is ignored.`,
            range: k.range,
            hint: hintFor(req.rid, ids),
          });
          continue;
        }
        if (!orderingRequires.has(k.name)) continue;
        add(req.rid, id, { kind: "requires", text: req.states !== undefined ? `${k.name} (${req.states})` : k.name, keyword: k.name, range: k.range });
      }
    }
  }

  const graph = new ResourceGraph(infos, edges);
  for (const d of cycleDiagnostics(graph)) diagnostics.push(d);
  return { graph, diagnostics };
}

function hintFor(word: string, candidates: readonly string[]): string | undefined {
  const m = didYouMean(word, candidates);
  return m ? `Did you mean "${m}"?` : undefined;
}

/** One E2030 per strongly connected component left by Kahn's algorithm, naming one cycle. */
export function cycleDiagnostics(graph: ResourceGraph): Diagnostic[] {
  const { complete, remaining } = kahn(graph);
  if (complete) return [];
  // Only nodes Kahn could not order can be on a cycle: search there (graphlib Tarjan).
  const rest = new Set(remaining);
  const sub = new Graph({ directed: true });
  for (const v of remaining) sub.setNode(v);
  for (const v of remaining) for (const w of graph.g.successors(v) ?? []) if (rest.has(w)) sub.setEdge(v, w);
  const sccs = alg.findCycles(sub);
  const out: Diagnostic[] = [];
  const named = sccs
    .map((scc) => nameCycle(graph, sub, scc))
    .filter((c): c is NonNullable<typeof c> => c !== undefined)
    .sort((a, b) => graph.compareIds(a.resources[0], b.resources[0]));
  for (const c of named) {
    const chain = [...c.resources, c.resources[0]].join(" -> ");
    out.push({
      code: CODE_CYCLE,
      severity: "error",
      summary: "dependency cycle",
      detail: `These resources wait for each other: ${chain} (${c.hops.join("; ")}). No order can start them.`,
      range: c.range,
      hint: "Remove one of the *_requires, references or netns links of the cycle; requirements against the group order (ip, volume, disk, fs, share, container, app, sync, task) cannot be met.",
    });
  }
  return out;
}

function nameCycle(
  graph: ResourceGraph,
  sub: Graph,
  scc: string[],
): { resources: string[]; hops: string[]; range?: Diagnostic["range"] } | undefined {
  const inScc = new Set(scc);
  const resources = scc.filter((v) => !graph.isBarrier(v)).sort((a, b) => graph.compareIds(a, b));
  if (resources.length === 0) return undefined;
  const start = resources[0];
  // BFS for the shortest path start -> ... -> start inside the component.
  const prev = new Map<string, string>();
  const queue = [start];
  let last: string | undefined;
  for (let i = 0; i < queue.length && last === undefined; i++) {
    const v = queue[i];
    const succ = (sub.successors(v) ?? []).filter((w) => inScc.has(w)).sort((a, b) => cmpNodes(graph, a, b));
    for (const w of succ) {
      if (w === start) {
        last = v;
        break;
      }
      if (prev.has(w)) continue;
      prev.set(w, v);
      queue.push(w);
    }
  }
  if (last === undefined) return undefined;
  const path: string[] = [last];
  while (path[path.length - 1] !== start) path.push(prev.get(path[path.length - 1])!);
  path.reverse(); // start ... last
  const full = [...path, start];
  // Collapse barriers: resources in order, hops worded with the reasons.
  const cycle = full.filter((v) => !graph.isBarrier(v));
  const hops: string[] = [];
  let range: Diagnostic["range"];
  for (let i = 0; i + 1 < cycle.length; i++) {
    const e = graph.edge(cycle[i], cycle[i + 1]);
    if (e) {
      hops.push(`${e.from} -> ${e.to}: ${e.reason}`);
      range ??= e.reasons.find((r) => r.range)?.range;
    } else {
      hops.push(`${cycle[i]} -> ${cycle[i + 1]}: group order`);
    }
  }
  return { resources: cycle.slice(0, -1), hops, range };
}

function cmpNodes(graph: ResourceGraph, a: string, b: string): number {
  return graph.slotIndex(a) - graph.slotIndex(b) || (a < b ? -1 : a > b ? 1 : 0);
}
