// Orchestrated actions (DESIGN §8, the seed's provisioning): one object on several nodes, driven
// through each node's own `osvc <path> <action> --local --json` over the transport.
//
// provision: take the store lock (a new orchestration id, or resume the unfinished one), store
// the config, check every node answers (a fixed `true` over the link the action reuses, or the
// placement's facts), place (the leaders), then the leader(s) install the config and provision in
// ONE remote osvc (`create --config - --force --local --provision --leader --disable-rollback`,
// the text on stdin: they stay up), then the others IN PARALLEL the same without --leader (the
// node's provision stops its instance back to standby afterwards; standby resources stay up).
// Each node's config is installed before it acts, by the very process that acts (with --rid: a
// separate `create --config - --force --local` first, as create takes no --rid). Shared resources
// are created by the leader only; the others record them as `follow`. Each node's instance record
// comes from its final `action_result` event (no status read); the shared resources' records
// name the leader.
// unprovision/purge: the followers first (in parallel), the leader last (with --leader: it
// removes the shared resources). start: the leaders only. stop: every node.
//
// Failure: a leader fails or is unreachable -> stop, the followers untouched; a follower fails ->
// the others finish; the per-node results say which. Every record write is fenced by the lock.
// The orchestration record (phase, per-node state) lets the next run resume: the leaders already
// provisioned (asked live) are not run again.
import { randomUUID } from "node:crypto";
import { mapLimit } from "../core/limit.js";
import { gatherFacts } from "./facts.js";
import { place, type NodeFacts, type Placement, type PlacementPolicy, type Topology } from "./placement.js";
import { canonicalObject, checkName } from "./store/common.js";
import type { ClusterStore, InstanceRecord, NodeRunState, OrchestrationRecord, StoreLock } from "./store/types.js";
import type { NodeResult, TransportRunOptions } from "./transport.js";
import { shareVolumes } from "./volumes.js";
import type { ConfigEdit } from "../core/patch.js";
import { mergeWriteBacks, mirrorAllocations, writeBackEdits } from "./writeback.js";
import { releaseUnused, reservationWords, reserveFor, type AllocatingResource } from "./reserve.js";

export type ClusterAction = "provision" | "unprovision" | "start" | "stop" | "purge";

/** What the orchestrator needs of a transport: osvc on a node (its score too), and a fixed command (/proc/loadavg). */
export interface NodeRunner {
  osvc(node: string, words: readonly string[], opts?: TransportRunOptions): Promise<NodeResult>;
  run(node: string, argv: readonly string[], opts?: TransportRunOptions): Promise<NodeResult>;
}

export interface PlacementSpec {
  readonly placement: PlacementPolicy;
  readonly topology: Topology;
  readonly flexMin?: number;
  readonly flexMax?: number;
  readonly flexTarget?: number;
}

export interface OrchestrateRequest {
  /** The object path (validated here: it goes into the nodes' argv). */
  readonly object: string;
  readonly action: ClusterAction;
  /** The config text to install on every node (provision); absent: the stored one. */
  readonly config?: string;
  /** The object's nodes, in `nodes` order. */
  readonly nodes: readonly string[];
  readonly placement: PlacementSpec;
  readonly leaderNode?: string;
  /** Nodes acted on at once. */
  readonly parallelism: number;
  /** How long to wait for the store lock (ms). */
  readonly lockTimeoutMs?: number;
  /** How long a node waits for its own object lock (a run cut off earlier may still hold it). */
  readonly nodeLockTimeoutS?: number;
  /** A node's action time limit (ms). */
  readonly nodeTimeoutMs?: number;
  /** The rids with shared = true (recorded as the leader's once it succeeded). */
  readonly sharedRids?: readonly string[];
  /** Rids (validated) passed to the nodes' action. */
  readonly rids?: readonly string[];
  /** stop --force (standby resources too). */
  readonly force?: boolean;
  /** The command line, for the lock holder record. */
  readonly command: string;
  /** The vol objects of the object's volume resources: the leader's configs go to the followers (cluster/volumes.ts). */
  readonly volumes?: readonly string[];
  /** Its `ipname = <allocate>` resources: candidates reserved in the store before a node provisions (cluster/reserve.ts). */
  readonly allocating?: readonly AllocatingResource[];
}

export type Role = "leader" | "follower";

export interface NodeOutcome {
  readonly node: string;
  readonly role: Role;
  readonly state: NodeRunState;
  readonly exitCode?: number;
  /** Why it failed, or was skipped, or is unreachable. */
  readonly error?: string;
  /** The node's final summary (its last apply_summary / action_result event). */
  readonly summary?: Record<string, unknown>;
  readonly durationMs?: number;
}

export interface OrchestrateResult {
  readonly ok: boolean;
  readonly id: string;
  readonly action: ClusterAction;
  readonly resumed: boolean;
  readonly leaders: readonly string[];
  readonly followers: readonly string[];
  readonly nodes: readonly NodeOutcome[];
  readonly error?: string;
}

/** What the orchestrator tells its view as it goes. */
export type ClusterEvent =
  | { readonly type: "orchestration"; readonly id: string; readonly action: ClusterAction; readonly resumed: boolean; readonly leaders: readonly string[]; readonly followers: readonly string[]; readonly scores?: Readonly<Record<string, number>> }
  | { readonly type: "phase"; readonly phase: string; readonly nodes: readonly string[] }
  | { readonly type: "node_event"; readonly node: string; readonly event: Record<string, unknown> }
  | { readonly type: "node_output"; readonly node: string; readonly stream: "stdout" | "stderr"; readonly line: string }
  | { readonly type: "node_result"; readonly node: string; readonly role: Role; readonly state: NodeRunState; readonly exit_code?: number; readonly error?: string; readonly duration_ms?: number }
  | { readonly type: "lock_wait"; readonly holder: string };

export interface OrchestrateDeps {
  readonly runner: NodeRunner;
  readonly store: ClusterStore;
  readonly emit: (e: ClusterEvent) => void;
}

export class OrchestrationError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "OrchestrationError";
  }
}

const DEFAULT_NODE_TIMEOUT_MS = 30 * 60_000;
const DEFAULT_NODE_LOCK_TIMEOUT_S = 300;
const STATUS_TIMEOUT_MS = 60_000;
/** How long a node has to answer the reachability check before a provision. */
const PROBE_TIMEOUT_MS = 60_000;

/** The parsed NDJSON lines of a node's output (other lines are kept as text). */
export function parseNdjson(text: string): { events: Record<string, unknown>[]; other: string[] } {
  const events: Record<string, unknown>[] = [];
  const other: string[] = [];
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    try {
      const v = JSON.parse(line) as unknown;
      if (v && typeof v === "object" && !Array.isArray(v)) {
        events.push(v as Record<string, unknown>);
        continue;
      }
    } catch {
      // a text line
    }
    other.push(line);
  }
  return { events, other };
}

function lastLine(s: string): string {
  const lines = s.trim().split("\n").map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? "";
}

/** Why a node's action failed: its failed changes (rid: error), else its last stderr line. */
function failureOf(events: readonly Record<string, unknown>[], stderr: string): string {
  const failed = events.filter((e) => e.type === "change_failed").map((e) => `${String(e.rid)}: ${String(e.error)}`);
  return failed.length ? failed.join("; ") : lastLine(stderr);
}

interface NodeStatusDoc {
  readonly avail?: string;
  readonly provisioned?: string;
  readonly resources?: readonly { rid: string; status: string; provisioned: boolean | null; flags?: string }[];
}

/** A node's live status (`print status --format json --local`), or why it could not be read. */
export async function nodeStatus(runner: NodeRunner, node: string, object: string, timeoutMs = STATUS_TIMEOUT_MS): Promise<{ status?: NodeStatusDoc; error?: string; unreachable?: boolean }> {
  const r = await runner.osvc(node, [object, "print", "status", "--format", "json", "--local"], { timeoutMs });
  if (r.unreachable) return { error: r.unreachable, unreachable: true };
  if (r.timedOut) return { error: `no answer within ${Math.round(timeoutMs / 1000)} s`, unreachable: true };
  if (r.exitCode !== 0) return { error: lastLine(r.stderr) || `exit code ${r.exitCode}` };
  try {
    return { status: JSON.parse(r.stdout) as NodeStatusDoc };
  } catch {
    return { error: "print status gave no JSON" };
  }
}

/** A node's instance record after an action: its provisioned flags (null: no provisioner, left out). */
function recordOf(node: string, prov: Readonly<Record<string, boolean | null>>, action: string, result: "ok" | "failed" | "interrupted", detail?: string): InstanceRecord {
  const now = new Date().toISOString();
  const provisioned: Record<string, boolean> = {};
  for (const [rid, p] of Object.entries(prov)) if (p !== null) provisioned[rid] = p;
  return { node, provisioned, avail: "unknown", lastAction: { action, result, at: now, ...(detail ? { detail } : {}) }, updatedAt: now };
}

/** True when every resource of the status is provisioned (the leader needs no new run). */
function fullyProvisioned(st: NodeStatusDoc | undefined): boolean {
  return !!st && st.provisioned === "true" && (st.resources ?? []).every((r) => r.provisioned !== false);
}

/** Marks the nodes that do not answer a fixed `true` as unreachable (the others are reachable). */
async function probe(runner: NodeRunner, nodes: readonly string[], parallelism: number, unreachable: Map<string, string>): Promise<void> {
  await mapLimit(nodes, parallelism, async (n) => {
    if (unreachable.has(n)) return;
    const r = await runner.run(n, ["true"], { timeoutMs: PROBE_TIMEOUT_MS });
    if (r.unreachable || r.timedOut) unreachable.set(n, r.unreachable ?? `no answer within ${Math.round(PROBE_TIMEOUT_MS / 1000)} s`);
  });
}

/** Runs one orchestrated action. Throws OrchestrationError / StoreError before any node acted. */
export async function orchestrate(req: OrchestrateRequest, deps: OrchestrateDeps): Promise<OrchestrateResult> {
  const object = canonicalObject(req.object);
  for (const n of req.nodes) checkName("node", n);
  for (const r of req.rids ?? []) if (!/^[A-Za-z0-9_.:-]+#[A-Za-z0-9_.-]+$/.test(r)) throw new OrchestrationError(`invalid rid ${JSON.stringify(r)}`);
  const { store, runner, emit } = deps;

  // The orchestration to resume is decided under the lock: a run that waited for another one
  // must see where that one ended, not what it was doing when this one started waiting. The
  // lock's holder record names the orchestration id, so a guess that proves wrong is retaken.
  const resumable = (r: OrchestrationRecord | undefined) => (r && r.action === req.action && r.phase !== "done" && r.phase !== "failed" ? r : undefined);
  const deadline = Date.now() + (req.lockTimeoutMs ?? 0);
  let resume = resumable(await store.getOrchestration(object));
  for (let attempt = 1; ; attempt++) {
    const id = resume?.id ?? randomUUID();
    const lock = await store.lock(object, { command: req.command, orchestrationId: id }, {
      timeoutMs: Math.max(0, deadline - Date.now()),
      onWait: (h) => emit({ type: "lock_wait", holder: `${h.user}@${h.host} pid ${h.pid} (${h.command})${h.orchestrationId ? ` orchestration ${h.orchestrationId}` : ""}, lock id ${h.id}` }),
    });
    try {
      const current = resumable(await store.getOrchestration(object));
      if (current?.id !== resume?.id && attempt < 3) {
        resume = current;
        continue; // released below, then retaken under the right id
      }
      return await run(req, deps, lock, object, current?.id ?? id, current);
    } finally {
      await lock.release();
    }
  }
}

async function run(req: OrchestrateRequest, deps: OrchestrateDeps, lock: StoreLock, object: string, id: string, resume: OrchestrationRecord | undefined): Promise<OrchestrateResult> {
  const { store, runner, emit } = deps;
  const parallelism = Math.max(1, req.parallelism);
  const nodeLockS = req.nodeLockTimeoutS ?? DEFAULT_NODE_LOCK_TIMEOUT_S;
  const nodeTimeoutMs = req.nodeTimeoutMs ?? DEFAULT_NODE_TIMEOUT_MS;
  const outcomes = new Map<string, NodeOutcome>();
  const states: Record<string, NodeRunState> = Object.fromEntries(req.nodes.map((n) => [n, resume?.nodes[n] === "ok" ? "ok" : "pending"]));
  const startedAt = resume?.startedAt ?? new Date().toISOString();
  let phase = resume?.phase ?? "start";
  let leaders: readonly string[] = [];
  const record = async () => {
    await lock.putOrchestration({ id, action: req.action, leaders, phase, nodes: { ...states }, startedAt, updatedAt: new Date().toISOString() });
  };
  const setPhase = async (p: string, nodes: readonly string[]) => {
    phase = p;
    await record();
    emit({ type: "phase", phase: p, nodes });
  };

  // The config: given (provision/create), else the stored one.
  let config = req.config ?? (await store.getConfig(object))?.text;
  const unreachable = new Map<string, string>();

  // Install the config on `nodes` (a write-back's merged config), at most `parallelism` at once.
  const installOn = (nodes: readonly string[], text: string) =>
    mapLimit(nodes.filter((n) => !unreachable.has(n)), parallelism, async (n) => {
      const r = await runner.osvc(n, [object, "create", "--config", "-", "--force", "--local", "--lock-timeout", `${nodeLockS}s`], { input: text, timeoutMs: (nodeLockS + 60) * 1000 });
      if (r.unreachable || r.timedOut) unreachable.set(n, r.unreachable ?? "no answer");
      else if (r.exitCode !== 0) throw new OrchestrationError(`installing the config of ${object} on ${n} failed: ${lastLine(r.stderr) || lastLine(r.stdout) || `exit code ${r.exitCode}`}`);
    });
  // Provision: the config is stored, and installed on each node by the node's own action (below).
  // Which nodes answer is known before placing (an unreachable leader stops the run before
  // anything is done): the placement's facts ask every node; else a fixed `true` each, in parallel
  // (it opens the ssh master the action reuses).
  const gathersFacts = !req.leaderNode && (req.placement.placement === "load avg" || req.placement.placement === "score");
  if (req.action === "provision") {
    if (config === undefined) throw new OrchestrationError(`no config for ${object} in the cluster store`, `Create it: osvc ${object} create --config <file> --provision`);
    await lock.putConfig(config);
    if (!gathersFacts) await probe(runner, req.nodes, parallelism, unreachable);
  }
  // write-back (issue 11): the edits the leaders' providers wrote into their installed configs.
  const writeBacks = new Map<string, ConfigEdit[]>();
  /** Commits the nodes' edits to the store (fenced) and installs the merged config on `nodes`. */
  const shareWriteBacks = async (nodes: readonly string[]) => {
    if (config === undefined || ![...writeBacks.values()].some((e) => e.length)) return;
    config = mergeWriteBacks(config, writeBacks, req.nodes);
    writeBacks.clear();
    await lock.putConfig(config);
    await installOn(nodes, config);
  };

  // Placement: the recorded leaders when resuming or when shared resources are recorded, else the policy.
  const { facts } = req.leaderNode ? { facts: {} as Record<string, NodeFacts> } : await gatherFacts(runner, req.nodes, req.placement.placement, parallelism, unreachable);
  for (const n of req.nodes) facts[n] = { ...(facts[n] ?? { name: n }), name: n, reachable: !unreachable.has(n) };
  const shared = await store.getShared(object);
  const sharedOwner = Object.values(shared)[0]?.node;
  const pinned = req.leaderNode ?? (resume?.leaders[0] && req.nodes.includes(resume.leaders[0]) ? resume.leaders[0] : sharedOwner && req.nodes.includes(sharedOwner) ? sharedOwner : undefined);
  let placement: Placement;
  try {
    // A recorded leader stays the leader; unreachable, it stops the run below (never replaced by a guess).
    const placeFacts = pinned && !req.leaderNode ? { ...facts, [pinned]: { ...facts[pinned], reachable: true } } : facts;
    placement = place({ path: object, nodes: req.nodes, ...req.placement, facts: placeFacts, ...(pinned ? { leaderNode: pinned } : {}) });
  } catch (e) {
    throw new OrchestrationError((e as Error).message, "Pass --leader-node N to choose the leader explicitly.");
  }
  leaders = placement.leaders;
  const followers = placement.followers;
  const scores = Object.fromEntries(placement.ranks.flatMap((n) => (facts[n]?.score !== undefined ? [[n, facts[n].score]] : [])));
  emit({ type: "orchestration", id, action: req.action, resumed: !!resume, leaders, followers, ...(Object.keys(scores).length ? { scores } : {}) });
  const roleOf = (n: string): Role => (leaders.includes(n) ? "leader" : "follower");

  const finish = async (error?: string): Promise<OrchestrateResult> => {
    const nodes = req.nodes.map((n) => outcomes.get(n) ?? { node: n, role: roleOf(n), state: states[n] });
    const ok = !error && nodes.every((o) => o.state === "ok");
    await setPhase(ok ? "done" : "failed", []);
    return { ok, id, action: req.action, resumed: !!resume, leaders, followers, nodes, ...(error ? { error } : {}) };
  };

  const unreachableLeaders = [...new Set([...placement.unreachableLeaders, ...leaders.filter((n) => unreachable.has(n))])];
  if (unreachableLeaders.length && (req.action === "provision" || req.action === "start")) {
    for (const n of req.nodes) {
      states[n] = unreachable.has(n) ? "unreachable" : "skipped";
      outcomes.set(n, { node: n, role: roleOf(n), state: states[n], error: unreachable.get(n) ?? "not run: a leader is unreachable" });
    }
    return finish(`the leader ${unreachableLeaders.join(", ")} is unreachable: nothing was done (pass --leader-node N to choose another leader)`);
  }
  for (const [n, why] of unreachable) {
    states[n] = "unreachable";
    outcomes.set(n, { node: n, role: roleOf(n), state: "unreachable", error: why });
  }

  const provisionedOf = new Map<string, Record<string, boolean | null>>();
  /** Runs the action on one node and records its instance. */
  const act = async (n: string, words: readonly string[], role: Role): Promise<NodeOutcome> => {
    states[n] = "running";
    await record();
    // <allocate> (issue 11): the node picks only among addresses the cluster store reserved for it.
    const reservation = req.action === "provision" && req.allocating?.length ? await reserveFor(lock, object, n, n === leaders[0], req.allocating) : undefined;
    if (reservation?.problems.length) {
      await releaseUnused(lock, reservation, []);
      const o: NodeOutcome = { node: n, role, state: "failed", error: reservation.problems.join("; ") };
      states[n] = o.state;
      outcomes.set(n, o);
      emit({ type: "node_result", node: n, role, state: o.state, error: o.error! });
      await record();
      return o;
    }
    // provision: the config installed by the same remote osvc (`create ... --provision`), on stdin;
    // with --rid (create takes none), by its own `create` first.
    const installing = req.action === "provision" && config !== undefined;
    if (installing && req.rids?.length) {
      const o = await install(n, role);
      if (o) return o;
    }
    const verb = installing && !req.rids?.length ? ["create", "--config", "-", "--force", "--provision", ...words.slice(1)] : words;
    // The node's output live, line by line as it comes: its events, and its text lines (a plan shown before it acts).
    const onLine = (stream: "stdout" | "stderr", line: string) => {
      if (!line.trim()) return;
      const ev = stream === "stdout" ? parseNdjson(line).events[0] : undefined;
      emit(ev ? { type: "node_event", node: n, event: ev } : { type: "node_output", node: n, stream, line });
    };
    const argv = [object, ...verb, ...(reservation ? reservationWords(reservation) : []), "--local", "--json", "--lock-timeout", `${nodeLockS}s`, ...(req.rids?.length ? ["--rid", req.rids.join(",")] : [])];
    const r = await runner.osvc(n, argv, {
      timeoutMs: nodeTimeoutMs,
      signal: lock.signal,
      onLine,
      ...(installing && !req.rids?.length ? { input: config } : {}),
    });
    const { events } = parseNdjson(r.stdout);
    writeBacks.set(n, writeBackEdits(events));
    const summary = [...events].reverse().find((e) => e.type === "action_result" || e.type === "apply_summary");
    let o: NodeOutcome;
    if (r.unreachable || r.timedOut) o = { node: n, role, state: "unreachable", error: r.unreachable ?? `no answer within ${Math.round(nodeTimeoutMs / 1000)} s`, durationMs: r.durationMs };
    else if (r.exitCode !== 0) o = { node: n, role, state: "failed", exitCode: r.exitCode, error: failureOf(events, r.stderr) || `exit code ${r.exitCode}`, ...(summary ? { summary } : {}), durationMs: r.durationMs };
    else o = { node: n, role, state: "ok", exitCode: 0, ...(summary ? { summary } : {}), durationMs: r.durationMs };
    // allocations (issue 11): the node's records mirrored into the cluster store; a conflict fails it.
    const conflicts = await mirrorAllocations(lock, n, events);
    // A node that did not answer may still be using one: its reservations stay (a later run takes them back).
    if (reservation && !r.unreachable && !r.timedOut) await releaseUnused(lock, reservation, events);
    if (conflicts.length) o = { ...o, state: "failed", error: conflicts.join("; ") };
    states[n] = o.state;
    outcomes.set(n, o);
    emit({ type: "node_result", node: n, role, state: o.state, ...(o.exitCode !== undefined ? { exit_code: o.exitCode } : {}), ...(o.error ? { error: o.error } : {}), ...(o.durationMs !== undefined ? { duration_ms: Math.round(o.durationMs) } : {}) });
    // The instance record from the node's own final result (its state's provisioned flags): no
    // second round trip. avail is only known from a status read (print status reads it live).
    const result = [...events].reverse().find((e) => e.type === "action_result");
    const prov = result?.provisioned && typeof result.provisioned === "object" ? (result.provisioned as Record<string, boolean | null>) : undefined;
    if (o.state !== "unreachable") {
      if ((req.action === "purge" && o.state === "ok") || (prov && Object.keys(prov).length === 0)) await lock.write([{ op: "deleteInstance", node: n }]);
      else if (prov) await lock.putInstance(recordOf(n, prov, req.action, o.state === "ok" ? "ok" : "failed", o.error));
    }
    if (prov) provisionedOf.set(n, prov);
    await record();
    return o;
  };
  /** --rid: installs the config on a node before its action; a failure is the node's outcome. */
  const install = async (n: string, role: Role): Promise<NodeOutcome | undefined> => {
    const r = await runner.osvc(n, [object, "create", "--config", "-", "--force", "--local", "--lock-timeout", `${nodeLockS}s`], { input: config, timeoutMs: (nodeLockS + 60) * 1000, signal: lock.signal });
    if (!r.unreachable && !r.timedOut && r.exitCode === 0) return undefined;
    const o: NodeOutcome = r.unreachable || r.timedOut ? { node: n, role, state: "unreachable", error: r.unreachable ?? "no answer" } : { node: n, role, state: "failed", exitCode: r.exitCode, error: `installing the config failed: ${lastLine(r.stderr) || lastLine(r.stdout) || `exit code ${r.exitCode}`}` };
    states[n] = o.state;
    outcomes.set(n, o);
    emit({ type: "node_result", node: n, role, state: o.state, ...(o.exitCode !== undefined ? { exit_code: o.exitCode } : {}), ...(o.error ? { error: o.error } : {}) });
    await record();
    return o;
  };
  const inParallel = (nodes: readonly string[], words: (n: string) => readonly string[]) =>
    mapLimit(nodes.filter((n) => !unreachable.has(n)), parallelism, (n) => act(n, words(n), roleOf(n)));
  const leaderWords = (n: string, base: string) => (n === leaders[0] ? [base, "--leader", "--disable-rollback"] : [base, "--disable-rollback"]);

  switch (req.action) {
    case "provision": {
      await setPhase("leaders", leaders);
      for (const n of leaders) {
        // Resuming: a leader already provisioned (asked live) is not run again.
        if (resume && states[n] === "ok" && fullyProvisioned((await nodeStatus(runner, n, object)).status)) {
          outcomes.set(n, { node: n, role: "leader", state: "ok", error: undefined });
          emit({ type: "node_result", node: n, role: "leader", state: "ok" });
          continue;
        }
        const o = await act(n, leaderWords(n, "provision"), "leader");
        if (o.state !== "ok") {
          for (const f of req.nodes) if (!outcomes.has(f)) ((states[f] = "skipped"), outcomes.set(f, { node: f, role: roleOf(f), state: "skipped", error: "not run: the leader failed" }));
          return finish(`the leader ${n} failed: the other nodes were left untouched`);
        }
      }
      // The shared resources: created by the leader, recorded as follow elsewhere.
      const leaderProv = leaders[0] ? (provisionedOf.get(leaders[0]) ?? (await nodeStatus(runner, leaders[0], object)).status?.resources?.reduce<Record<string, boolean | null>>((m, r) => ({ ...m, [r.rid]: r.provisioned }), {})) : undefined;
      const sharedOps = (req.sharedRids ?? []).filter((rid) => leaderProv?.[rid] === true).map((rid) => ({ op: "shared" as const, record: { rid, node: leaders[0], outputs: {}, updatedAt: new Date().toISOString() } }));
      if (sharedOps.length) await lock.write(sharedOps);
      // vol branch: the vols the leader created reach the store and the followers before they act.
      if (req.volumes?.length && leaders[0]) {
        const problems = await shareVolumes({ volumes: req.volumes, leader: leaders[0], followers: followers.filter((n) => !unreachable.has(n)), parallelism, command: req.command, orchestrationId: id, nodeLockTimeoutS: nodeLockS }, { runner, store });
        for (const line of problems) emit({ type: "node_output", node: leaders[0], stream: "stderr", line });
      }
      await shareWriteBacks(req.nodes); // every node holds the leaders' config before the followers act
      await setPhase("followers", followers);
      await inParallel(followers, () => ["provision"]);
      await shareWriteBacks(req.nodes); // a flex follower's own address (ipname@node)
      return finish();
    }
    case "unprovision":
    case "purge": {
      await setPhase("followers", followers);
      await inParallel(followers, () => [req.action]);
      const failed = followers.some((n) => states[n] !== "ok");
      if (failed) {
        for (const n of leaders) if (!outcomes.has(n)) ((states[n] = "skipped"), outcomes.set(n, { node: n, role: "leader", state: "skipped", error: "not run: a follower failed (the shared resources stay)" }));
        return finish("a follower failed: the leader's (shared) resources were left in place");
      }
      await setPhase("leaders", leaders);
      for (const n of leaders) {
        if (unreachable.has(n)) continue;
        await act(n, n === leaders[0] ? [req.action, "--leader"] : [req.action], "leader");
      }
      if (leaders.every((n) => states[n] === "ok")) {
        await lock.write(Object.keys(await store.getShared(object)).map((rid) => ({ op: "deleteShared" as const, rid })));
      }
      if (req.action === "unprovision") await shareWriteBacks(req.nodes); // <allocate> back on every node
      const res = await finish();
      if (res.ok && req.action === "purge") await lock.write([{ op: "purge" }]);
      return res;
    }
    case "start": {
      await setPhase("leaders", leaders);
      await inParallel(leaders, (n) => leaderWords(n, "start").filter((w) => w !== "--disable-rollback"));
      for (const n of followers) if (!outcomes.has(n)) ((states[n] = "ok"), outcomes.set(n, { node: n, role: "follower", state: "ok", error: undefined }));
      return finish();
    }
    case "stop": {
      await setPhase("all", req.nodes);
      await inParallel(req.nodes, (n) => ["stop", ...(n === leaders[0] ? ["--leader"] : []), ...(req.force ? ["--force"] : [])]);
      return finish();
    }
  }
}
