// Desired resources + recorded state + live probes -> Plan. Never mutates the host.
import type { Diagnostic } from "../core/diagnostics.js";
import { formatSize } from "../core/convert.js";
import type { KeywordSpec } from "../core/schema.js";
import type { KwValue, Outputs } from "../core/value.js";
import { resolveDeferred, type OutputLookup } from "../config/deferred.js";
import type { EvaluatedResource, EvaluatedTemplate } from "../config/evaluate.js";
import type { Observed, ProbeContext, Provider, ResourceSpec } from "../provider/api.js";
import type { ProviderRegistry } from "../provider/registry.js";
import type { ResourceState, StateFile } from "../state/model.js";
import { groupOrder, Rid } from "../core/rid.js";
import { PLAN_FORMAT_VERSION, STATUS_ONLY, type Action, type Destruction, type KeywordDiff, type Plan, type PlanMode, type ResourceChange } from "./model.js";

export interface PlanOptions {
  readonly refresh: boolean;
  readonly targets: readonly string[];
  readonly excludes: readonly string[];
  readonly allowReplace: readonly string[];
  /** --allow-format <rid>: a device holding data without a signature may be formatted. */
  readonly allowFormat?: readonly string[];
  /** --allow-destroy <rid>: data osvc did not create (files added to a directory) may be deleted. */
  readonly allowDestroy?: readonly string[];
  /** Plan the removal of everything recorded (osvc destroy). */
  readonly destroy: boolean;
  /** start/stop: the OpenSVC actions (default: converge, or destroy when `destroy`). */
  readonly mode?: PlanMode;
  /** stop: also stop standby resources. */
  readonly force?: boolean;
  /** --leader: this node creates shared resources. */
  readonly leader: boolean;
}

export interface DependencyView {
  /** Resources in apply order. */
  readonly order: readonly string[];
  /** Direct real dependencies of a resource. */
  deps(rid: string): readonly string[];
  /** Driver-group slot index of a resource. */
  slot(rid: string): number;
  /** Closure for --target (dependencies) and --exclude (dependents). */
  closure(rids: readonly string[], direction: "dependencies" | "dependents"): readonly string[];
}

export interface PlanInput {
  readonly evaluated: EvaluatedTemplate;
  readonly graph: DependencyView;
  readonly state: StateFile | null;
  readonly registry: ProviderRegistry;
  readonly probe: ProbeContext;
  readonly options: PlanOptions;
  readonly templateHash: string;
  readonly osvcVersion: string;
  readonly now?: string;
  /** Rids an interrupted apply was provisioning (journal intents without an outcome). */
  readonly interrupted?: ReadonlySet<string>;
}

/** Generic keywords that change no host object: recorded, never diffed. */
const NON_HOST_KEYWORDS = new Set(["comment", "tags", "subset", "monitor", "restart", "restart_delay", "optional", "standby", "shared", "encap", "provision", "unprovision", "disable", "type"]);

function isGenericKeyword(spec: KeywordSpec | undefined, name: string): boolean {
  if (NON_HOST_KEYWORDS.has(name)) return true;
  return /^(blocking_)?(pre|post)_/.test(name) || /_requires$/.test(name) || ["scsireserv", "prkey", "no_preempt_abort", "promote_rw"].includes(name) || spec === undefined;
}

export function displayValue(v: unknown, spec?: KeywordSpec): KwValue {
  if (v === null || v === undefined) return null;
  if (spec?.type === "size" && typeof v === "number") return formatSize(v);
  if (Array.isArray(v)) return v.map(String);
  if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") return v;
  return JSON.stringify(v);
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

function outputsLookup(outputs: Map<string, Outputs>): OutputLookup {
  return (rid, attr) => {
    const o = outputs.get(rid);
    if (!o) return undefined;
    const v = o[attr];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? (v as string[]) : [String(v)];
  };
}

interface Desired {
  readonly resource: EvaluatedResource;
  readonly provider: Provider | undefined;
  readonly inputs: Record<string, KwValue>;
  readonly unknown: string[];
  readonly deferredTexts: Record<string, { text: string; type?: KeywordSpec["type"] }>;
  readonly specs: Map<string, KeywordSpec>;
}

/** Desired inputs of a resource; deferred ones resolved from known outputs when possible. */
export function desiredInputs(r: EvaluatedResource, lookup: OutputLookup): Omit<Desired, "resource" | "provider"> {
  const inputs: Record<string, KwValue> = {};
  const unknown: string[] = [];
  const deferredTexts: Record<string, { text: string; type?: KeywordSpec["type"] }> = {};
  const specs = new Map<string, KeywordSpec>();
  for (const [name, k] of r.keywords) {
    if (k.spec) specs.set(name, k.spec);
    if (k.deferred && k.deferred.length) {
      deferredTexts[name] = { text: k.text, type: k.spec?.type };
      const res = resolveDeferred(k.text, k.spec?.type, lookup);
      if (res.ok) inputs[name] = res.value;
      else unknown.push(name);
      continue;
    }
    if (k.value !== undefined) inputs[name] = k.value;
    else if (k.markers && k.markers.length) inputs[name] = k.text;
  }
  return { inputs, unknown, deferredTexts, specs };
}

/** What a change keeps of a probe: provisioned, up, and the lines `status` shows under the resource (problems, then the resource's own status log). */
function observedOf(o: Observed): NonNullable<ResourceChange["observed"]> {
  const log = [...(o.problems ?? []).map((p) => ({ level: p.level, message: p.message })), ...(o.log ?? [])];
  return { provisioned: o.provisioned, up: o.up, ...(log.length ? { log } : {}) };
}

function boolKw(r: EvaluatedResource, name: string, dflt = false): boolean {
  const v = r.keywords.get(name)?.value;
  return typeof v === "boolean" ? v : dflt;
}

export async function makePlan(input: PlanInput): Promise<Plan> {
  const { evaluated, graph, state, registry, options } = input;
  const diagnostics: Diagnostic[] = [];
  const multiNode = (evaluated.defaults.get("nodes")?.value as string[] | undefined)?.length ?? 1;
  const role: Plan["role"] = options.leader ? "leader" : multiNode > 1 ? "follower" : "solo";
  const recorded = state?.resources ?? {};

  // Selection: --target (with dependencies), --exclude (with dependents).
  const byRid = new Map(evaluated.resources.map((r) => [r.rid.toString(), r]));
  let selected = new Set(graph.order);
  if (options.targets.length) {
    for (const t of options.targets) if (!byRid.has(t) && !recorded[t]) diagnostics.push(unknownRid(t, "--target", [...byRid.keys()]));
    // Creating a target needs what it depends on; removing or stopping one needs its dependents gone first.
    const direction = options.destroy || options.mode === "destroy" || options.mode === "stop" ? "dependents" : "dependencies";
    selected = new Set([...graph.closure(options.targets.filter((t) => byRid.has(t)), direction), ...options.targets.filter((t) => recorded[t] && !byRid.has(t))]);
  }
  if (options.excludes.length) {
    for (const t of options.excludes) if (!byRid.has(t) && !recorded[t]) diagnostics.push(unknownRid(t, "--exclude", [...byRid.keys()]));
    for (const x of graph.closure(options.excludes.filter((t) => byRid.has(t)), "dependents")) selected.delete(x);
    for (const x of options.excludes) selected.delete(x);
  }
  // Resources only in the state (left the template) are selected unless targeting leaves them out.
  const isSelected = (rid: string) => (byRid.has(rid) ? selected.has(rid) : (options.targets.length === 0 || options.targets.includes(rid)) && !options.excludes.includes(rid));

  // Providers.
  const desired = new Map<string, Desired>();
  for (const rid of graph.order) {
    const r = byRid.get(rid);
    if (!r || !isSelected(rid)) continue;
    const provider = r.driver ? registry.get(r.driver.id) : undefined;
    if (r.driver && !provider && !boolKw(r, "disable")) {
      diagnostics.push({
        code: "E3001",
        severity: "error",
        summary: `no provider for ${r.driver.id} runs on this host`,
        detail: `[${rid}] uses the ${r.driver.id} driver: osvc knows its keywords, but cannot provision it here.`,
        range: r.range,
        hint: `Drivers that run here: ${registry.types.join(", ")}. Disable the resource (disable = true) to plan the rest.`,
      });
    }
    desired.set(rid, { resource: r, provider, inputs: {}, unknown: [], deferredTexts: {}, specs: new Map() });
  }

  // Refresh: probe in rounds, so that deferred inputs (a fs on {disk#0.exposed_devs[0]}) are
  // resolved from their dependency's fresh outputs before that resource is probed.
  const outputs = new Map<string, Outputs>();
  if (!options.refresh) for (const [rid, rec] of Object.entries(recorded)) outputs.set(rid, rec.outputs as Outputs);
  const lookup = outputsLookup(outputs);
  const observed = new Map<string, Observed>();
  const probeFailed = new Set<string>();
  const pending = new Set([...desired.keys()].filter((rid) => desired.get(rid)!.provider && !boolKw(desired.get(rid)!.resource, "disable")));
  const specOf = (rid: string): ResourceSpec => {
    const d = desired.get(rid)!;
    return { rid, driver: d.resource.driver!.id, kw: d.inputs, recorded: recorded[rid]?.outputs as Outputs | undefined };
  };
  const final = new Set<string>();
  const resolveAll = (rid: string) => {
    const d = desired.get(rid)!;
    desired.set(rid, { ...d, ...desiredInputs(d.resource, lookup) });
  };
  if (options.refresh && !options.destroy) {
    for (;;) {
      const ready: string[] = [];
      for (const rid of pending) {
        resolveAll(rid);
        if (desired.get(rid)!.unknown.length === 0) ready.push(rid);
      }
      for (const rid of ready) final.add(rid);
      if (ready.length === 0) break;
      const byDriver = new Map<Provider, string[]>();
      for (const rid of ready) {
        pending.delete(rid);
        const p = desired.get(rid)!.provider!;
        const list = byDriver.get(p);
        if (list) list.push(rid);
        else byDriver.set(p, [rid]);
      }
      await Promise.all(
        [...byDriver].map(async ([p, rids]) => {
          let obs: Observed[];
          try {
            obs = await p.probe(input.probe, rids.map(specOf));
          } catch (e) {
            // One driver that cannot look (a daemon down) must not hide the rest of the plan.
            for (const rid of rids) probeFailed.add(rid);
            const err = e as Error & { hint?: string };
            diagnostics.push({
              code: "E3006",
              severity: "error",
              summary: `cannot probe ${p.type} resources (${rids.join(", ")})`,
              detail: err.message,
              hint: err.hint,
            });
            return;
          }
          rids.forEach((rid, i) => {
            observed.set(rid, obs[i]);
            if (obs[i].outputs) outputs.set(rid, { ...obs[i].outputs });
          });
        }),
      );
    }
  }
  if (!options.refresh) {
    // Refresh off: trust the recorded state (provisioned and up as recorded), probe nothing.
    for (const rid of desired.keys()) {
      const rec = recorded[rid];
      observed.set(rid, rec && rec.provisioned !== false ? { provisioned: rec.provisioned, up: true } : { provisioned: false, up: false });
    }
  }
  // Inputs resolved in a probe round are final: what they refer to was probed before them, once.
  for (const rid of desired.keys()) if (!final.has(rid)) resolveAll(rid);

  // Actions.
  const mode: PlanMode = options.mode ?? (options.destroy ? "destroy" : "converge");
  const changes: ResourceChange[] = [];
  for (const [rid, d] of desired) {
    const o = observed.get(rid);
    let c: Decision;
    if (mode === "start" || mode === "stop") c = decideStartStop(mode, rid, d, o, recorded[rid], role, options);
    else c = decide(rid, d, o, recorded[rid], role, options, diagnostics, input.interrupted?.has(rid) ?? false);
    // A follower's instance ends its provision in standby (the seed: "rollbacked after
    // provisioned"): what it recorded and is down is where it should be, only standby resources
    // are started there.
    if (mode === "converge" && role === "follower" && c.action === "start" && recorded[rid] !== undefined && !boolKw(d.resource, "standby")) {
      c = { ...c, action: "noop", reason: "down: standby on a follower (the leader runs it)" };
    }
    if (probeFailed.has(rid)) c = { ...c, action: "noop", reason: "unknown: its driver could not probe the host (see the error above)", diff: [], blocked: "probe failed" };
    changes.push({ ...c, dependsOn: [...graph.deps(rid)], slot: graph.slot(rid) });
  }
  if (mode === "stop") {
    keepStandbyNeeds(changes, graph);
    changes.reverse();
  }
  cascadeReplace(changes, graph);
  markFormats(changes, observed, registry, options, diagnostics);

  // Recorded resources that left the template (or everything, for destroy): unprovision,
  // in reverse dependency order.
  const removals: ResourceChange[] = [];
  const destroyRids = mode === "start" || mode === "stop" ? [] : options.destroy ? Object.keys(recorded) : Object.keys(recorded).filter((rid) => !byRid.has(rid));
  for (const rid of destroyRids) {
    if (!isSelected(rid) && !(options.targets.includes(rid))) continue;
    const rec = recorded[rid];
    const provider = registry.get(rec.driver);
    if (!provider) {
      diagnostics.push({ code: "E3001", severity: "error", summary: `no provider for ${rec.driver} runs on this host`, detail: `${rid} is recorded in the state with the ${rec.driver} driver, and cannot be unprovisioned here.` });
    }
    const shared = rec.shared === true;
    // Not provisioned: only forgotten, unless an interrupted apply recorded creating part of it.
    const unfinished = rec.provisioned === false && input.interrupted?.has(rid) === true && hasFacts(rec);
    const stateOnly = (shared && role === "follower") || rec.follow === true || (rec.provisioned === false && !unfinished);
    // What it would delete is looked at on the host (read-only), unless the plan trusts the state.
    const destroys = stateOnly || !provider || !options.refresh ? undefined : await removalDestruction(provider, input.probe, rid, rec, options, diagnostics);
    removals.push({
      ...(destroys ? { destroys } : {}),
      rid,
      driver: rec.driver,
      action: "unprovision",
      reason: options.destroy ? (stateOnly ? (rec.provisioned === false ? "not provisioned: forget it" : "shared: left to the leader, forget it here") : "destroy") : "not in the template",
      // What it was applied with, less the keywords that change nothing on the host.
      diff: Object.entries(rec.inputs)
        .filter(([key]) => !isGenericKeyword({} as KeywordSpec, key) && key !== "stat_timeout")
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([key, v]) => ({ key, before: displayValue(v, provider?.spec.keywords.find((k) => k.name === key)) })),
      inputs: rec.inputs as Record<string, KwValue>,
      unknownInputs: [],
      deferredInputs: {},
      dependsOn: rec.dependsOn ?? [],
      priorOutputs: rec.outputs as Outputs,
      shared,
      standby: rec.standby,
      stateOnly,
      observed: { provisioned: rec.provisioned, up: false },
      slot: rec.slot ?? (byRid.has(rid) ? graph.slot(rid) : groupOrder(Rid.parse(rid)?.group ?? "task")),
    });
    if (options.destroy) {
      const i = changes.findIndex((c) => c.rid === rid);
      if (i >= 0) changes.splice(i, 1);
    }
  }
  if (options.destroy) changes.length = 0;
  // What is up is stopped before what it depends on goes, whatever is recorded: a resource marked
  // unprovisioned but up is probed (with its recorded inputs) and stopped, then forgotten.
  if (options.refresh) await markStopFirst(removals, recorded, registry, input.probe);
  // Reverse dependency order for removals: dependents first.
  const removalOrder = reverseDependencyOrder(removals, graph.order);

  const plan: Plan = {
    formatVersion: PLAN_FORMAT_VERSION,
    osvcVersion: input.osvcVersion,
    object: evaluated.path.namespace === "root" && evaluated.path.kind === "svc" ? evaluated.path.name : `${evaluated.path.namespace}/${evaluated.path.kind}/${evaluated.path.name}`,
    node: evaluated.nodename,
    createdAt: input.now ?? new Date().toISOString(),
    lineage: state?.lineage ?? null,
    serial: state?.serial ?? 0,
    templateHash: input.templateHash,
    role,
    changes: [...removalOrder, ...changes],
    diagnostics,
    options: {
      refresh: options.refresh,
      targets: options.targets,
      excludes: options.excludes,
      allowReplace: options.allowReplace,
      allowFormat: options.allowFormat ?? [],
      allowDestroy: options.allowDestroy ?? [],
      destroy: options.destroy,
      mode,
    },
  };
  return plan;
}

/**
 * What depends on a replaced resource is replaced with it: a filesystem on a re-created disk must
 * come down before the disk goes, and be created again on the new one.
 */
function cascadeReplace(changes: ResourceChange[], graph: DependencyView): void {
  const index = new Map(changes.map((c, i) => [c.rid, i]));
  for (const c of [...changes]) {
    if (c.action !== "replace" || c.blocked) continue;
    for (const dep of graph.closure([c.rid], "dependents")) {
      const i = index.get(dep);
      if (dep === c.rid || i === undefined) continue;
      const d = changes[i];
      if (!["noop", "start", "update"].includes(d.action) || d.observed?.provisioned === false) continue;
      changes[i] = { ...d, action: "replace", reason: `depends on ${c.rid}, which is replaced`, blocked: undefined, cascaded: true };
    }
  }
}

/** The resources a deferred value reads from ("{disk#0.exposed_devs[0]}" -> disk#0). */
function referencedRids(text: string): string[] {
  return [...new Set([...text.matchAll(/\{([a-z]+#[A-Za-z0-9_]+)\./g)].map((m) => m[1]))];
}

/**
 * A provision that formats a device (fs.*) says so with its own marker, and is refused when the
 * device holds data without a signature, unless --allow-format <rid>. When the device is only
 * known after apply, what the resources providing it found decides (a disk created by this apply
 * is blank; an existing backing file was sampled by its probe).
 */
function markFormats(changes: ResourceChange[], observed: ReadonlyMap<string, Observed>, registry: ProviderRegistry, options: PlanOptions, diagnostics: Diagnostic[]): void {
  const byRid = new Map(changes.map((c) => [c.rid, c]));
  changes.forEach((ch, i) => {
    if (ch.action !== "provision") return;
    const kw = registry.get(ch.driver)?.formats;
    if (!kw) return;
    const o = observed.get(ch.rid);
    let d: (Destruction & { blank: boolean }) | undefined;
    if (o?.content) {
      d = { kind: "format", target: o.content.device, detail: o.content.detail, blank: o.content.blank };
    } else if (!o && ch.unknownInputs.includes(kw)) {
      for (const dep of referencedRids(ch.deferredInputs[kw]?.text ?? "")) {
        const c = observed.get(dep)?.content;
        const dc = byRid.get(dep);
        if (c?.signature) return; // mkfs never runs over a signature: the filesystem is adopted or refused at apply
        if (c) d = { kind: "format", target: `the device of ${dep} (${c.device}, known after apply)`, detail: c.detail, blank: c.blank };
        else if (dc && (dc.action === "provision" || dc.action === "replace") && dc.observed?.provisioned !== true) {
          d = { kind: "format", target: `the device of ${dep} (known after apply)`, detail: `created blank by this apply`, blank: true };
        } else d = { kind: "format", target: `the device of ${dep} (known after apply)`, detail: "checked blank right before mkfs", blank: true };
      }
    }
    if (!d) return;
    const { blank, ...destroys } = d;
    if (!blank && !(options.allowFormat ?? []).includes(ch.rid)) {
      diagnostics.push({
        code: "E3010",
        severity: "error",
        summary: `${ch.rid}: refusing to format ${d.target}, which holds data`,
        detail: `It holds ${d.detail}. osvc formats only a device it created blank, or one shown blank.`,
        hint: `Check that dev points to the intended device; if its content is really not needed, pass --allow-format ${ch.rid}.`,
      });
      changes[i] = { ...ch, destroys: { ...destroys, refused: `it holds ${d.detail}` } };
      return;
    }
    changes[i] = { ...ch, destroys };
  });
}

/** What removing a recorded resource deletes (fs.directory: files under it); data is kept unless --allow-destroy <rid>. */
async function removalDestruction(provider: Provider, probe: ProbeContext, rid: string, rec: ResourceState, options: PlanOptions, diagnostics: Diagnostic[]): Promise<Destruction | undefined> {
  if (!provider.removalImpact) return undefined;
  let impact;
  try {
    impact = await provider.removalImpact(probe, { rid, driver: rec.driver, kw: rec.inputs as Record<string, KwValue>, recorded: rec.outputs as Outputs });
  } catch (e) {
    const err = e as Error & { hint?: string };
    diagnostics.push({ code: "E3011", severity: "error", summary: `${rid}: cannot tell what unprovisioning it would delete`, detail: err.message, hint: err.hint });
    return { kind: "delete", target: "(unknown)", detail: err.message, refused: "its content could not be checked" };
  }
  if (!impact?.data) return undefined;
  if ((options.allowDestroy ?? []).includes(rid)) return { kind: "delete", target: impact.target, detail: impact.detail };
  // osvc created it, but not what is in it now: kept, and said so (the provider keeps it too).
  return { kind: "keep", target: impact.target, detail: `it holds ${impact.detail} osvc did not create; pass --allow-destroy ${rid} to delete them` };
}

/**
 * stop: a standby resource is kept up, and so is everything it needs (the disk under a standby
 * fs): stopping that would fail or pull the device from under it.
 */
function keepStandbyNeeds(changes: ResourceChange[], graph: DependencyView): void {
  const index = new Map(changes.map((c, i) => [c.rid, i]));
  for (const c of changes.filter((x) => x.standby && x.action === "noop" && x.observed?.up)) {
    for (const dep of graph.closure([c.rid], "dependencies")) {
      const i = index.get(dep);
      if (dep === c.rid || i === undefined || changes[i].action !== "stop") continue;
      const reason = `kept up: the standby resource ${c.rid} needs it (--force stops both)`;
      changes[i] = { ...changes[i], action: "noop", reason, notice: reason };
    }
  }
}

/** Removals only forgotten (not provisioned) that are up on the host: stop them first. */
async function markStopFirst(removals: ResourceChange[], recorded: Record<string, ResourceState>, registry: ProviderRegistry, probe: ProbeContext): Promise<void> {
  const byProvider = new Map<Provider, ResourceChange[]>();
  for (const ch of removals) {
    if (!ch.stateOnly || recorded[ch.rid]?.provisioned !== false || recorded[ch.rid]?.follow) continue;
    const p = registry.get(ch.driver);
    if (p && !p.statusOnly) byProvider.set(p, [...(byProvider.get(p) ?? []), ch]);
  }
  await Promise.all(
    [...byProvider].map(async ([p, list]) => {
      // A probe that cannot look leaves the change as it was (forget only); the state says why.
      const obs = await p.probe(probe, list.map((ch) => ({ rid: ch.rid, driver: ch.driver, kw: ch.inputs, recorded: ch.priorOutputs }))).catch(() => undefined);
      list.forEach((ch, i) => {
        if (!obs?.[i]?.up) return;
        const at = removals.indexOf(ch);
        removals[at] = { ...ch, stopFirst: true, reason: "not recorded as provisioned, but up: stop it, then forget it", observed: { provisioned: false, up: true } };
      });
    }),
  );
}

function unknownRid(rid: string, flag: string, known: string[]): Diagnostic {
  return { code: "E3004", severity: "error", summary: `${flag} ${rid}: no such resource`, hint: known.length ? `Known resources: ${known.join(", ")}.` : undefined };
}

function reverseDependencyOrder(removals: ResourceChange[], order: readonly string[]): ResourceChange[] {
  // Dependents are removed before what they depend on: a DFS post-order on "is depended on by".
  const byRid = new Map(removals.map((r) => [r.rid, r]));
  const dependents = new Map<string, string[]>();
  for (const r of removals) for (const d of r.dependsOn) if (byRid.has(d)) dependents.set(d, [...(dependents.get(d) ?? []), r.rid]);
  const pos = new Map(order.map((rid, i) => [rid, i]));
  const sorted = [...removals].sort((a, b) => b.slot - a.slot || (pos.get(b.rid) ?? -1) - (pos.get(a.rid) ?? -1) || (a.rid < b.rid ? 1 : -1));
  const out: ResourceChange[] = [];
  const done = new Set<string>();
  const visit = (rid: string, stack: Set<string>) => {
    if (done.has(rid) || stack.has(rid)) return;
    stack.add(rid);
    for (const dep of (dependents.get(rid) ?? []).sort().reverse()) visit(dep, stack);
    stack.delete(rid);
    done.add(rid);
    out.push(byRid.get(rid)!);
  };
  for (const r of sorted) visit(r.rid, new Set());
  return out;
}

type Decision = Omit<ResourceChange, "dependsOn" | "slot">;

/** The provider recorded facts of what it created (ProviderContext.recordFacts) for this resource. */
function hasFacts(rec: ResourceState | undefined): boolean {
  return rec !== undefined && Object.keys(rec.outputs).length > 0;
}

function decide(rid: string, d: Desired, o: Observed | undefined, rec: ResourceState | undefined, role: Plan["role"], options: PlanOptions, diagnostics: Diagnostic[], interrupted: boolean): Decision {
  const r = d.resource;
  const driver = r.driver?.id ?? `${r.rid.group}.${r.type ?? "?"}`;
  const shared = boolKw(r, "shared");
  const standby = boolKw(r, "standby");
  const optional = boolKw(r, "optional");
  const p = d.provider;
  const base = {
    rid,
    driver,
    inputs: d.inputs,
    unknownInputs: d.unknown,
    deferredInputs: d.deferredTexts,
    priorOutputs: rec?.outputs as Outputs | undefined,
    shared,
    standby,
    optional,
    // Not probed (a dependency is down): what the state recorded.
    observed: o ? observedOf(o) : { provisioned: rec?.provisioned === true, up: false },
  };
  const make = (action: Action, reason: string, diff: KeywordDiff[] = [], blocked?: string): Decision => ({ ...base, action, reason, diff, blocked });
  const specOf = (k: string) => d.specs.get(k);
  const allAfter = (): KeywordDiff[] =>
    Object.keys({ ...d.inputs, ...Object.fromEntries(d.unknown.map((u) => [u, null])) })
      .filter((k) => !isGenericKeyword(specOf(k), k) && r.keywords.get(k)?.origin !== "default")
      .sort()
      .map((k) => (d.unknown.includes(k) ? { key: k, afterUnknown: true } : { key: k, after: displayValue(d.inputs[k], specOf(k)), sensitive: specOf(k)?.sensitive }));

  if (boolKw(r, "disable")) return make("noop", "disabled");
  if (!p) return make("noop", "no provider on this host", [], "no provider");
  if (p.statusOnly) return make("noop", STATUS_ONLY);
  if (rec?.provisioned && rec.driver !== driver && !(shared && role === "follower")) {
    // Another driver (fs type ext4 -> xfs): what the new driver's probe sees (a foreign filesystem)
    // is the thing being replaced, not a problem or a missing resource.
    const diff: KeywordDiff[] = [{ key: "type", before: rec.driver, after: driver, forcesReplace: true }];
    return replaceOrBlock(rid, p, diff, `type changed (${rec.driver} -> ${driver})`, options, diagnostics, make);
  }
  for (const pr of o?.problems ?? []) {
    diagnostics.push({
      code: pr.level === "error" ? "E3003" : "W3003",
      severity: pr.level,
      summary: `${rid}: ${pr.message}`,
      range: (pr.keyword ? r.keywords.get(pr.keyword)?.range : undefined) ?? r.range,
      hint: pr.hint,
    });
  }
  if (shared && role === "follower") {
    if (rec?.provisioned) return make("noop", "shared: provisioned by the leader");
    return make("follow", "shared resource: created by the leader (--leader), recorded here");
  }
  const provisionEnabled = r.keywords.get("provision")?.value !== false;
  if (!o) {
    // Not probed: a dependency it needs is not there yet.
    const waiting = d.unknown.length ? ` (${d.unknown.join(", ")} known after apply)` : "";
    if (rec?.provisioned) return make("start", `recorded as provisioned; starts after its dependencies${waiting}`);
    if (!provisionEnabled) return make("noop", "provision = false");
    return make("provision", `not on the host${waiting}`, allAfter());
  }
  if (o.provisioned === false) {
    if (!provisionEnabled) {
      diagnostics.push({ code: "W3005", severity: "warning", summary: `${rid} is not provisioned and has provision = false`, detail: "osvc will not create it; create it by hand, then `osvc <path> set provisioned --rid " + rid + "`.", range: r.range });
      return make("noop", "provision = false");
    }
    return make("provision", rec?.provisioned ? "recorded as provisioned, but missing on the host" : "not on the host", allAfter());
  }
  if (interrupted && o.provisioned !== null && !rec?.provisioned && hasFacts(rec)) {
    // An interrupted apply was creating it and recorded what it created: finish that. Without such
    // facts, what exists was found on the host (adopted below), whatever the journal intended.
    return { ...make("provision", "an interrupted apply was provisioning it: finish it (osvc owns only what it recorded creating)", allAfter()), resumed: true };
  }
  if (!rec || rec.provisioned === false || (rec.provisioned === null && o.provisioned === true)) {
    if (o.provisioned === null) return o.up ? make("adopt", "running, not recorded yet") : make("start", "not running", allAfter());
    // What exists may differ from the template (an image of another size): adopted as it is, and said.
    const found = driftOf(o, d, [], specOf, p);
    const differs = found.length ? `; differs from the template: ${found.map((x) => `${x.key} is ${x.before}, not ${x.after}${x.forcesReplace ? " (kept as is: not changeable in place)" : ""}`).join(", ")}` : "";
    const after = allAfter().map((x) => found.find((f) => f.key === x.key) ?? x);
    return make("adopt", `${o.up ? "exists on the host, not recorded: adopt it" : "exists on the host, not recorded: adopt and start it"}${differs}`, after);
  }
  // Recorded and present: compare inputs, then the host's actual values.
  const diff: KeywordDiff[] = [];
  const keys = new Set([...Object.keys(rec.inputs), ...Object.keys(d.inputs), ...d.unknown]);
  for (const k of [...keys].sort()) {
    const spec = specOf(k);
    if (isGenericKeyword(spec, k)) continue;
    if (d.unknown.includes(k)) continue; // resolved at apply time; its dependency is not up yet
    const before = rec.inputs[k];
    const after = d.inputs[k];
    if (sameValue(before, after)) continue;
    diff.push({ key: k, before: displayValue(before, spec), after: displayValue(after, spec), sensitive: spec?.sensitive, forcesReplace: !(p.updatable ?? []).includes(k) });
  }
  const drift = driftOf(o, d, diff, specOf, p);
  if (rec.driver !== driver) {
    const all = [{ key: "type", before: rec.driver, after: driver, forcesReplace: true }, ...diff];
    return replaceOrBlock(rid, p, all, `driver changes from ${rec.driver} to ${driver}`, options, diagnostics, make);
  }
  const forcing = diff.filter((x) => x.forcesReplace);
  if (forcing.length) return replaceOrBlock(rid, p, diff, `${forcing.map((x) => x.key).join(", ")} cannot change in place`, options, diagnostics, make);
  if (diff.length || drift.length) {
    const reason = diff.length ? `${diff.map((x) => x.key).join(", ")} changed` : `${drift.map((x) => x.key).join(", ")} changed outside osvc`;
    if (drift.some((x) => x.forcesReplace)) return make("noop", `drift in ${drift.map((x) => x.key).join(", ")} (not updatable in place; left as is)`);
    return make("update", reason, [...diff, ...drift]);
  }
  if (!o.up) return make("start", standby ? "standby resource is down" : "provisioned but down");
  return make("noop", "up to date");
}

/** What the host has (the probe's actual values) that differs from the template, less what the template itself changes. */
function driftOf(o: Observed, d: Desired, diff: readonly KeywordDiff[], specOf: (k: string) => KeywordSpec | undefined, p: Provider): KeywordDiff[] {
  const drift: KeywordDiff[] = [];
  for (const [k, actual] of Object.entries(o.actual ?? {})) {
    if (diff.some((x) => x.key === k)) continue;
    const want = d.inputs[k];
    if (want === undefined || sameValue(actual, want)) continue;
    drift.push({ key: k, before: displayValue(actual, specOf(k)), after: displayValue(want, specOf(k)), forcesReplace: !(p.updatable ?? []).includes(k) });
  }
  return drift;
}

function decideStartStop(mode: "start" | "stop", rid: string, d: Desired, o: Observed | undefined, rec: ResourceState | undefined, role: Plan["role"], options: PlanOptions): Decision {
  const r = d.resource;
  const base = {
    rid,
    driver: r.driver?.id ?? `${r.rid.group}.${r.type ?? "?"}`,
    inputs: d.inputs,
    unknownInputs: d.unknown,
    deferredInputs: d.deferredTexts,
    priorOutputs: rec?.outputs as Outputs | undefined,
    shared: boolKw(r, "shared"),
    standby: boolKw(r, "standby"),
    optional: boolKw(r, "optional"),
    observed: o ? observedOf(o) : undefined,
    diff: [] as KeywordDiff[],
  };
  if (boolKw(r, "disable")) return { ...base, action: "noop", reason: "disabled" };
  if (!d.provider) return { ...base, action: "noop", reason: "no provider on this host", blocked: "no provider" };
  if (d.provider.statusOnly) return { ...base, action: "noop", reason: STATUS_ONLY };
  // A shared resource (a SAN disk, its filesystem) is the leader's: a follower neither starts it
  // (two nodes mounting one filesystem) nor stops it (the leader's loop device, mount...).
  if (role === "follower" && (base.shared || rec?.follow === true)) return { ...base, action: "noop", reason: "shared: the leader's (--leader acts on it)" };
  if (mode === "start") {
    if (o?.up) return { ...base, action: "noop", reason: "already up" };
    return { ...base, action: "start", reason: o ? "down" : "its dependencies are down" };
  }
  const probeError = o?.problems?.find((p) => p.level === "error");
  if (!o?.up && probeError && rec && rec.provisioned !== false && !sameInputs(rec.inputs, d.inputs)) {
    // The current config cannot even be probed (a user that does not exist here): what runs was
    // started with the recorded inputs, so it is stopped with them, never left up as "down".
    if (base.standby && !options.force) return { ...base, action: "noop", reason: "standby: kept up (--force stops it)" };
    const reason = `the current config cannot be probed (${probeError.message}): stopped as recorded at provision`;
    return { ...base, inputs: rec.inputs as Record<string, KwValue>, unknownInputs: [], deferredInputs: {}, action: "stop", reason };
  }
  if (!o?.up) return { ...base, action: "noop", reason: "already down" };
  if (base.standby && !options.force) return { ...base, action: "noop", reason: "standby: kept up (--force stops it)" };
  return { ...base, action: "stop", reason: "up" };
}

function sameInputs(a: Record<string, unknown>, b: Record<string, unknown>): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (JSON.stringify(a[k]) !== JSON.stringify(b[k])) return false;
  return true;
}

function replaceOrBlock(
  rid: string,
  p: Provider,
  diff: KeywordDiff[],
  reason: string,
  options: PlanOptions,
  diagnostics: Diagnostic[],
  make: (action: Action, reason: string, diff?: KeywordDiff[], blocked?: string) => Decision,
): Decision {
  if (p.dataBearing && !options.allowReplace.includes(rid)) {
    const why = `replacing ${rid} destroys the data it holds`;
    diagnostics.push({
      code: "E3002",
      severity: "error",
      summary: `${rid} must be replaced, which destroys its data`,
      detail: `${reason}. ${p.type} holds data: osvc refuses to replace it without your explicit consent.`,
      hint: `Revert the change, or pass --allow-replace ${rid} to destroy and re-create it.`,
    });
    return make("replace", reason, diff, why);
  }
  return make("replace", reason, diff);
}
