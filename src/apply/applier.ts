// Executes a Plan: order, parallelism, journal, state after every step, rollback, interrupts.
// It receives a Plan and never parses a template.
import { mkdir } from "node:fs/promises";
import { resolveDeferred } from "../config/deferred.js";
import { parseObjectPath } from "../core/path.js";
import type { KwValue, Outputs } from "../core/value.js";
import { DESCENDING, type Plan, type ResourceChange } from "../plan/model.js";
import { ProviderError, type LogLevel, type Provider, type ProviderContext, type ResourceSpec } from "../provider/api.js";
import { createExec, ExecError, type Exec } from "../provider/exec.js";
import type { ProviderRegistry } from "../provider/registry.js";
import type { ResourceState, StateFile } from "../state/model.js";
import { dataReader } from "./data-reader.js";
import type { StateStore } from "../state/store.js";
import { runTriggers, type TriggerAction } from "./triggers.js";
import { desiredInputs } from "../plan/planner.js";
import { formatEdit, type ConfigPatch } from "../core/patch.js";
import type { Allocations } from "../provider/api.js";
import { nodeAllocations } from "../state/allocs.js";
import { foldEdits, type ConfigWriter } from "./writeback.js";

export type ApplyEvent =
  | { type: "change_start"; rid: string; action: string; driver: string }
  | { type: "log"; rid?: string; level: LogLevel; message: string }
  | { type: "change_done"; rid: string; action: string; elapsedMs: number }
  | { type: "change_failed"; rid: string; action: string; elapsedMs: number; error: string; hint?: string }
  | { type: "change_skipped"; rid: string; action: string; reason: string }
  | { type: "rollback_start"; steps: number }
  | { type: "rollback_step"; rid: string; op: "stop" | "unprovision"; ok: boolean; error?: string }
  | { type: "interrupted" }
  /** A provider's values written back into the installed config (the edits as lines). */
  | { type: "writeback"; rid: string; edits: string[] }
  /** An allocation record taken or released (an orchestrator mirrors it into the cluster store). */
  | { type: "allocation"; op: "allocate" | "free"; key: string; owner: string };

export interface ApplyInput {
  readonly plan: Plan;
  readonly registry: ProviderRegistry;
  readonly store: StateStore;
  readonly node: string;
  readonly parallelism: number;
  readonly disableRollback: boolean;
  /** Aborted on SIGINT: start nothing new, let running steps finish, save state. */
  readonly signal: AbortSignal;
  /**
   * Aborted at a second SIGINT ("abort now"): providers get it as their context's signal, and the
   * commands running with it are ended. The first SIGINT (`signal`) never reaches the commands.
   */
  readonly abort?: AbortSignal;
  readonly emit: (e: ApplyEvent) => void;
  /** Installed as the object's config (the template sources applied). */
  readonly configText?: string;
  readonly osvcVersion: string;
  /**
   * Writes a provider's config patch into the installed config and re-evaluates the object (write-back,
   * apply/writeback.ts). Absent: a provisioner that must write back refuses to run.
   */
  readonly writeBack?: ConfigWriter;
  /** Allocation records providers allocate from; default: the node's, under the state root. */
  readonly allocations?: Allocations;
  /** Test hook: a command runner other than the real one. */
  readonly exec?: (logger: (message: string) => void) => Exec;
}

export interface ApplyResult {
  readonly ok: boolean;
  readonly interrupted: boolean;
  readonly done: string[];
  readonly failed: string[];
  readonly skipped: string[];
  readonly rolledBack: string[];
  readonly elapsedMs: number;
  readonly state: StateFile;
}

interface UndoStep {
  readonly rid: string;
  readonly op: "stop" | "unprovision";
  readonly provider: Provider;
  readonly spec: ResourceSpec;
}

const NEVER_ABORTED = new AbortController().signal;

function asOutputs(o: Record<string, unknown> | undefined): Outputs {
  return (o ?? {}) as Outputs;
}

function errorText(e: unknown): { error: string; hint?: string } {
  if (e instanceof ProviderError) return { error: e.message, hint: e.hint };
  if (e instanceof ExecError) return { error: e.message };
  if (e instanceof Error) return { error: e.message };
  return { error: String(e) };
}

/** The allocation records, each record taken or released told as an event. */
function reportingAllocations(inner: Allocations, emit: (e: ApplyEvent) => void): Allocations {
  return {
    async allocate(key, record) {
      const r = await inner.allocate(key, record);
      if (r.created) emit({ type: "allocation", op: "allocate", key, owner: record.owner });
      return r;
    },
    async freeAlloc(key, owner) {
      const freed = await inner.freeAlloc(key, owner);
      if (freed) emit({ type: "allocation", op: "free", key, owner });
      return freed;
    },
    getAlloc: (key) => inner.getAlloc(key),
  };
}

export async function applyPlan(input: ApplyInput): Promise<ApplyResult> {
  const t0 = performance.now();
  const { plan, registry, store, emit } = input;
  const object = plan.object;
  const runId = `${new Date().toISOString().replace(/[-:.TZ]/g, "").slice(0, 14)}-${process.pid}`;

  let state: StateFile = (await store.readState(object)) ?? store.newState(object, input.node, input.osvcVersion, plan.templateHash);
  const varDir = store.varDir(object);
  await mkdir(varDir, { recursive: true, mode: 0o700 });
  if (input.configText !== undefined) await store.installConfig(object, input.configText);

  // State writes are serialized and coalesced: mutations that arrive while a write is in flight
  // are applied together in the next one. Each caller resumes once its mutation is on disk.
  let queue: { mutate: (s: StateFile) => void; done: () => void; fail: (e: unknown) => void }[] = [];
  let flushing: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    while (queue.length) {
      const batch = queue;
      queue = [];
      try {
        const next: StateFile = structuredClone(state);
        for (const m of batch) m.mutate(next);
        next.updatedAt = new Date().toISOString();
        next.osvcVersion = input.osvcVersion;
        next.templateHash = plan.templateHash;
        const serial = await store.writeState(object, next, state.serial);
        state = { ...next, serial };
        for (const m of batch) m.done();
      } catch (e) {
        for (const m of batch) m.fail(e);
      }
    }
    flushing = undefined;
  };
  const persist = (mutate: (s: StateFile) => void): Promise<void> =>
    new Promise<void>((done, fail) => {
      queue.push({ mutate, done, fail });
      flushing ??= flush();
    });
  const settled = async () => {
    while (flushing) await flushing;
  };
  const journalWriter = await store.openJournal(object);
  const journal = (op: "intent" | "outcome", rid: string, action: string, ok?: boolean, error?: string) =>
    journalWriter.append({ run: runId, op, rid, action, ...(ok === undefined ? {} : { ok }), ...(error ? { error } : {}) });
  // An intent must be on disk before its step runs (a failure fails the step); an outcome that
  // cannot be written leaves the intent pending, which the next run resolves by probing.
  let journalWarned = false;
  const outcome = async (rid: string, action: string, ok: boolean, error?: string): Promise<void> => {
    try {
      await journal("outcome", rid, action, ok, error);
    } catch (e) {
      if (!journalWarned) emit({ type: "log", rid, level: "warning", message: `the journal records no outcome: ${errorText(e).error}` });
      journalWarned = true;
    }
  };
  // Steps done on the host whose state could not be written: their intents stay pending (the
  // next run knows osvc was creating them) until the rollback has undone them.
  const unrecorded = new Set<string>();
  const pendingUntilUndone = new Map<string, string>();

  // Outputs known so far: recorded ones, then this run's.
  const outputs = new Map<string, Outputs>();
  for (const [rid, r] of Object.entries(state.resources)) outputs.set(rid, asOutputs(r.outputs));
  const lookup = (rid: string, attr: string): readonly string[] | undefined => {
    const v = outputs.get(rid)?.[attr];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? (v as string[]) : [String(v)];
  };

  // configs_/secrets_environment: keys of the cfg/sec objects of this object's namespace.
  const parsedPath = parseObjectPath(object);
  const readData = dataReader(store, parsedPath.ok ? parsedPath.path.namespace : "root");
  // Best-effort work providers handed over (announces): awaited before the run ends.
  const backgroundWork: Promise<void>[] = [];
  // Write-back: keyword values a provider wrote into the config this run, per rid, as re-evaluated
  // from the new config; the resources that run later (and the state) take them.
  const overrides = new Map<string, Record<string, KwValue>>();
  const allocations = reportingAllocations(input.allocations ?? nodeAllocations(store.root), emit);
  const writeBackFor = (rid: string, recordFacts?: (facts: Outputs) => Promise<void>) => async (patch: ConfigPatch): Promise<void> => {
    if (!input.writeBack) throw new ProviderError(`${rid}: this run cannot write values back into the config`);
    const action = `writeback ${patch.map(formatEdit).join("; ")}`;
    await journal("intent", rid, action);
    let written;
    try {
      written = await input.writeBack(patch);
    } catch (e) {
      await outcome(rid, action, false, errorText(e).error);
      throw e;
    }
    for (const r of written.evaluated.resources) {
      const rrid = r.rid.toString();
      const fresh = desiredInputs(r, lookup).inputs;
      const planned = plan.changes.find((c) => c.rid === rrid)?.inputs ?? {};
      const changed: Record<string, KwValue> = {};
      for (const [k, v] of Object.entries(fresh)) if (JSON.stringify(v) !== JSON.stringify(planned[k])) changed[k] = v;
      if (Object.keys(changed).length) overrides.set(rrid, changed);
      else overrides.delete(rrid);
    }
    await outcome(rid, action, true);
    emit({ type: "writeback", rid, edits: written.patch.map(formatEdit) });
    if (recordFacts) await recordFacts({ writeback: foldEdits(outputs.get(rid)?.writeback, written.patch) });
  };
  const withOverrides = (spec: ResourceSpec): ResourceSpec => {
    const o = overrides.get(spec.rid);
    return o ? { ...spec, kw: { ...spec.kw, ...o } } : spec;
  };
  const makeCtx = (rid: string, recordFacts?: (facts: Outputs) => Promise<void>): ProviderContext => ({
    exec: input.exec ? input.exec((m) => emit({ type: "log", rid, level: "info", message: m })) : createExec(({ command, result }) => {
      if (!result) emit({ type: "log", rid, level: "info", message: command });
    }),
    log: (level, message) => emit({ type: "log", rid, level, message }),
    signal: input.abort ?? NEVER_ABORTED,
    role: plan.role,
    objectName: object,
    nodename: input.node,
    varDir,
    readData,
    background: (work) => {
      backgroundWork.push(work.catch((e: unknown) => emit({ type: "log", rid, level: "warning", message: errorText(e).error })));
    },
    ...(recordFacts ? { recordFacts } : {}),
    writeBack: writeBackFor(rid, recordFacts),
    allocations,
  });

  /** The user's consent for a rid (--allow-format, --allow-destroy), as the provider sees it. */
  const allowOf = (rid: string): Pick<ResourceSpec, "allow"> => {
    const format = (plan.options.allowFormat ?? []).includes(rid);
    const destroy = (plan.options.allowDestroy ?? []).includes(rid);
    return format || destroy ? { allow: { ...(format ? { format } : {}), ...(destroy ? { destroy } : {}) } } : {};
  };

  // Facts a provider records mid-step (what it created): merged into the resource's outputs on
  // disk at once, the provisioned flag untouched (a new entry is not provisioned yet).
  /** What a state entry takes from the change itself (the rest: provisioned, inputs, outputs). */
  const entryOf = (ch: ResourceChange) => ({
    rid: ch.rid,
    driver: ch.driver,
    status: "ready" as const,
    shared: ch.shared ?? false,
    standby: ch.standby ?? false,
    dependsOn: [...ch.dependsOn],
    slot: ch.slot,
    updatedAt: new Date().toISOString(),
  });

  const factsRecorder = (ch: ResourceChange) => (facts: Outputs): Promise<void> => {
    outputs.set(ch.rid, { ...(outputs.get(ch.rid) ?? {}), ...facts });
    return persist((s) => {
      const prev = s.resources[ch.rid];
      s.resources[ch.rid] = prev
        ? { ...prev, outputs: { ...prev.outputs, ...facts }, updatedAt: new Date().toISOString() }
        : { ...entryOf(ch), provisioned: ch.observed?.provisioned === null ? null : false, inputs: { ...specForSafe(ch).kw }, outputs: { ...facts } };
    });
  };

  const replacedThisRun = new Set<string>();
  const specFor = (ch: ResourceChange): ResourceSpec => {
    const kw: Record<string, KwValue> = { ...ch.inputs };
    for (const k of ch.unknownInputs) {
      const d = ch.deferredInputs[k];
      if (!d) continue;
      const r = resolveDeferred(d.text, d.type, lookup);
      if (r.ok) kw[k] = r.value;
      else if (r.unknown) throw new ProviderError(`${k} of ${ch.rid} is still unknown: ${r.waitingFor.join(", ")} provided no value`);
      else throw new ProviderError(`${k} of ${ch.rid}: ${r.error}`);
    }
    // A reference resolved at plan time to a resource this run replaced (a fs on the disk it
    // re-created) takes the new value: the old one names a device that no longer exists.
    if (replacedThisRun.size) {
      const fresh = (rid: string, attr: string) => (replacedThisRun.has(rid) ? lookup(rid, attr) : undefined);
      for (const [k, d] of Object.entries(ch.deferredInputs)) {
        if (ch.unknownInputs.includes(k)) continue;
        const r = resolveDeferred(d.text, d.type, fresh);
        if (r.ok) kw[k] = r.value;
      }
    }
    return withOverrides({ rid: ch.rid, driver: ch.driver, kw, recorded: asOutputs(state.resources[ch.rid]?.outputs ?? ch.priorOutputs), ...allowOf(ch.rid) });
  };

  const record = (ch: ResourceChange, spec: ResourceSpec, patch: Partial<ResourceState>) =>
    persist((s) => {
      const prev = s.resources[ch.rid];
      s.resources[ch.rid] = {
        ...entryOf(ch),
        provisioned: patch.provisioned !== undefined ? patch.provisioned : (prev?.provisioned ?? null),
        inputs: spec.kw as Record<string, unknown>,
        outputs: { ...(prev?.outputs ?? {}), ...(patch.outputs ?? {}) },
        ...(prev?.provisionedAt ? { provisionedAt: prev.provisionedAt } : {}),
        ...(prev?.createdByOsvc !== undefined ? { createdByOsvc: prev.createdByOsvc } : {}),
        ...patch,
        ...(patch.outputs ? { outputs: { ...(prev?.outputs ?? {}), ...patch.outputs } } : {}),
      };
      if (patch.lastError === undefined) delete s.resources[ch.rid].lastError;
    });

  const undo: UndoStep[] = [];

  const runChange = async (ch: ResourceChange, phase: "down" | "up"): Promise<void> => {
    const provider = registry.get(ch.driver);
    if (!provider && !ch.stateOnly && ch.action !== "follow") throw new ProviderError(`no provider for ${ch.driver} runs on this host`);
    const ctx = makeCtx(ch.rid, factsRecorder(ch));
    const triggers = (kw: Readonly<Record<string, KwValue>>, action: TriggerAction) => {
      const env = { OSVC_PATH: object, OSVC_NAME: object.split("/").pop() ?? object, OSVC_RID: ch.rid, OSVC_ACTION: action, OSVC_NODENAME: input.node };
      return {
        pre: () => runTriggers(kw, "pre", action, { exec: ctx.exec, log: ctx.log, env }),
        post: () => runTriggers(kw, "post", action, { exec: ctx.exec, log: ctx.log, env }),
      };
    };
    const around = async <T>(kw: Readonly<Record<string, KwValue>>, action: TriggerAction, fn: () => Promise<T>): Promise<T> => {
      const t = triggers(kw, action);
      await t.pre();
      const out = await fn();
      await t.post();
      return out;
    };
    const wasDown = ch.observed ? !ch.observed.up : true;
    // What this run created can be undone; a resumed provision finishes an earlier run's creation
    // (its undo removes only what the recorded facts say osvc created).
    const existedBefore = ch.observed?.provisioned === true && !ch.resumed;
    switch (ch.action) {
      case "follow": {
        const spec = specForSafe(ch);
        await record(ch, spec, { provisioned: true, follow: true });
        ctx.log("info", "shared resource: recorded as provisioned (the leader creates it)");
        return;
      }
      case "provision": {
        const spec = specFor(ch);
        const out = await around(spec.kw, "provision", () => provider!.provision(ctx, spec));
        outputs.set(ch.rid, { ...(outputs.get(ch.rid) ?? {}), ...out });
        if (!existedBefore) undo.push({ rid: ch.rid, op: "unprovision", provider: provider!, spec: { ...spec, recorded: out } });
        unrecorded.add(ch.rid);
        await record(ch, withOverrides(spec), { provisioned: true, outputs: out as Record<string, unknown>, createdByOsvc: !existedBefore, provisionedAt: new Date().toISOString() });
        unrecorded.delete(ch.rid);
        return;
      }
      case "adopt":
      case "start": {
        const spec = specFor(ch);
        const out = await around(spec.kw, "start", () => provider!.start(ctx, spec));
        outputs.set(ch.rid, { ...(outputs.get(ch.rid) ?? {}), ...out });
        if (wasDown) undo.push({ rid: ch.rid, op: "stop", provider: provider!, spec: { ...spec, recorded: { ...spec.recorded, ...out } } });
        // A resource that starts fine is provisioned.
        const provisioned = ch.observed?.provisioned === null ? null : true;
        await record(ch, spec, { provisioned, outputs: out as Record<string, unknown>, ...(ch.action === "adopt" ? { createdByOsvc: false } : {}) });
        return;
      }
      case "update": {
        const spec = specFor(ch);
        const before: ResourceSpec = { rid: ch.rid, driver: ch.driver, kw: (state.resources[ch.rid]?.inputs ?? {}) as Record<string, KwValue>, recorded: spec.recorded };
        if (!provider!.update) throw new ProviderError(`${ch.driver} cannot update in place`);
        const out = await provider!.update(ctx, spec, before);
        outputs.set(ch.rid, { ...(outputs.get(ch.rid) ?? {}), ...out });
        await record(ch, spec, { provisioned: true, outputs: out as Record<string, unknown> });
        return;
      }
      case "replace": {
        if (ch.blocked) throw new ProviderError(`refused: ${ch.blocked}`, `pass --allow-replace ${ch.rid}`);
        if (phase === "down") {
          // The old one goes in the descending phase, after its dependents went down.
          const prior = state.resources[ch.rid];
          const beforeSpec: ResourceSpec = { rid: ch.rid, driver: prior?.driver ?? ch.driver, kw: (prior?.inputs ?? {}) as Record<string, KwValue>, recorded: asOutputs(prior?.outputs), ...(ch.cascaded ? allowOf(ch.rid) : { allow: { ...allowOf(ch.rid).allow, replace: true } }) };
          const oldProvider = registry.get(beforeSpec.driver) ?? provider!;
          await around(beforeSpec.kw, "unprovision", () => oldProvider.unprovision(ctx, beforeSpec));
          await persist((s) => {
            delete s.resources[ch.rid];
          });
          outputs.delete(ch.rid);
          return;
        }
        // The replace was allowed (--allow-replace for data): what the old one held may be formatted over.
        const base = specFor(ch);
        const spec: ResourceSpec = { ...base, allow: { ...base.allow, format: true } };
        const out = await around(spec.kw, "provision", () => provider!.provision(ctx, { ...spec, recorded: {} }));
        outputs.set(ch.rid, { ...out });
        replacedThisRun.add(ch.rid);
        undo.push({ rid: ch.rid, op: "unprovision", provider: provider!, spec: { ...spec, recorded: out } });
        unrecorded.add(ch.rid);
        await record(ch, spec, { provisioned: true, outputs: out as Record<string, unknown>, createdByOsvc: true, provisionedAt: new Date().toISOString() });
        unrecorded.delete(ch.rid);
        return;
      }
      case "unprovision": {
        const prior = state.resources[ch.rid];
        if (ch.stateOnly && ch.stopFirst) {
          const spec: ResourceSpec = { rid: ch.rid, driver: ch.driver, kw: (prior?.inputs ?? ch.inputs) as Record<string, KwValue>, recorded: asOutputs(prior?.outputs ?? ch.priorOutputs) };
          ctx.log("info", "up, though not recorded as provisioned: stopped before what it depends on");
          await around(spec.kw, "stop", () => provider!.stop(ctx, spec));
        }
        if (!ch.stateOnly) {
          const spec: ResourceSpec = { rid: ch.rid, driver: ch.driver, kw: (prior?.inputs ?? ch.inputs) as Record<string, KwValue>, recorded: asOutputs(prior?.outputs ?? ch.priorOutputs), ...allowOf(ch.rid) };
          await around(spec.kw, "unprovision", () => provider!.unprovision(ctx, spec));
        }
        await persist((s) => {
          delete s.resources[ch.rid];
        });
        outputs.delete(ch.rid);
        if (ch.stateOnly) ctx.log("info", ch.stopFirst ? "forgotten (stopped, not unprovisioned: it was not recorded as provisioned)" : "forgotten (state only: nothing changed on the host)");
        return;
      }
      case "stop": {
        const spec = specForSafe(ch);
        await around(spec.kw, "stop", () => provider!.stop(ctx, spec));
        return;
      }
      case "noop":
        return;
    }
  };

  const specForSafe = (ch: ResourceChange): ResourceSpec => {
    try {
      return specFor(ch);
    } catch {
      return { rid: ch.rid, driver: ch.driver, kw: ch.inputs };
    }
  };

  // ---------------------------------------------------------------- scheduling
  // Two phases. "down": unprovision, stop, and the removal half of a replace, dependents first and
  // later driver groups first. "up": everything else, dependencies first, group by group.
  interface Task {
    readonly id: string;
    readonly ch: ResourceChange;
    readonly phase: "down" | "up";
  }
  for (const c of plan.changes) if (c.action === "noop" && c.notice) emit({ type: "log", rid: c.rid, level: "info", message: c.notice });
  const changes = plan.changes.filter((c) => c.action !== "noop");
  const tasks: Task[] = [];
  for (const ch of changes) {
    if (ch.action === "replace") tasks.push({ id: `${ch.rid}:down`, ch, phase: "down" }, { id: `${ch.rid}:up`, ch, phase: "up" });
    else tasks.push({ id: `${ch.rid}:${DESCENDING.has(ch.action) ? "down" : "up"}`, ch, phase: DESCENDING.has(ch.action) ? "down" : "up" });
  }
  const downTasks = tasks.filter((t) => t.phase === "down");
  const upTasks = tasks.filter((t) => t.phase === "up");
  const downByRid = new Map(downTasks.map((t) => [t.ch.rid, t]));
  const upByRid = new Map(upTasks.map((t) => [t.ch.rid, t]));
  type TaskStatus = "pending" | "running" | "done" | "failed" | "skipped";
  const status = new Map<string, TaskStatus>(tasks.map((t) => [t.id, "pending"]));
  const done: string[] = [];
  const failed: string[] = [];
  const skipped: string[] = [];
  let stopLaunching = false;
  let interrupted = false;
  const onAbort = () => {
    if (!interrupted) {
      interrupted = true;
      stopLaunching = true;
      emit({ type: "interrupted" });
    }
  };
  if (input.signal.aborted) onAbort();
  input.signal.addEventListener("abort", onAbort);

  // Unfinished and unsuccessful tasks per phase and slot (a handful of slots: cheap to scan).
  const open = { down: new Map<number, number>(), up: new Map<number, number>() };
  const bad = { down: new Map<number, string>(), up: new Map<number, string>() };
  for (const t of tasks) open[t.phase].set(t.ch.slot, (open[t.phase].get(t.ch.slot) ?? 0) + 1);
  const openWhere = (phase: "down" | "up", pred: (slot: number) => boolean) => [...open[phase]].some(([slot, n]) => n > 0 && pred(slot));
  const badWhere = (phase: "down" | "up", pred: (slot: number) => boolean) => [...bad[phase]].find(([slot]) => pred(slot))?.[1];
  const finish = (t: Task, st: TaskStatus) => {
    status.set(t.id, st);
    open[t.phase].set(t.ch.slot, (open[t.phase].get(t.ch.slot) ?? 1) - 1);
    if ((st === "failed" || st === "skipped") && !bad[t.phase].has(t.ch.slot)) bad[t.phase].set(t.ch.slot, t.ch.rid);
  };
  // Down-phase dependents of a rid: the down tasks whose resource depends on it.
  const downDependents = new Map<string, Task[]>();
  for (const t of downTasks) for (const d of t.ch.dependsOn) if (downByRid.has(d)) downDependents.set(d, [...(downDependents.get(d) ?? []), t]);

  const eligible = (t: Task): boolean => {
    if (t.phase === "down") {
      if (!(downDependents.get(t.ch.rid) ?? []).every((x) => status.get(x.id) === "done")) return false;
      return !openWhere("down", (slot) => slot > t.ch.slot);
    }
    if (openWhere("down", () => true)) return false;
    for (const d of t.ch.dependsOn) {
      const dt = upByRid.get(d);
      if (dt && status.get(dt.id) !== "done") return false;
    }
    return !openWhere("up", (slot) => slot < t.ch.slot);
  };
  const blockedBy = (t: Task): string | undefined => {
    if (t.phase === "down") {
      const b = (downDependents.get(t.ch.rid) ?? []).find((x) => status.get(x.id) === "failed" || status.get(x.id) === "skipped");
      if (b) return `${b.ch.rid} did not go down first`;
      const later = badWhere("down", (slot) => slot > t.ch.slot);
      return later ? `${later} (a later driver group) did not go down` : undefined;
    }
    const downBad = badWhere("down", () => true);
    if (downBad) return `${downBad} did not go down`;
    for (const d of t.ch.dependsOn) {
      const dt = upByRid.get(d);
      const st = dt ? status.get(dt.id) : undefined;
      if (st === "failed" || st === "skipped") return `its dependency ${d} did not complete`;
    }
    const earlier = badWhere("up", (slot) => slot < t.ch.slot);
    return earlier ? `${earlier} (an earlier driver group) did not complete` : undefined;
  };

  const running = new Map<string, Promise<void>>();
  const label = (t: Task) => (t.ch.action === "replace" ? (t.phase === "down" ? "replace (remove)" : "replace (create)") : t.ch.action);
  const launch = (t: Task) => {
    const c = t.ch;
    status.set(t.id, "running");
    emit({ type: "change_start", rid: c.rid, action: label(t), driver: c.driver });
    const started = performance.now();
    const p = (async () => {
      const jaction = c.action === "replace" ? `replace-${t.phase}` : c.action;
      let journaled = false;
      try {
        await journal("intent", c.rid, jaction);
        journaled = true;
        await runChange(c, t.phase);
        finish(t, "done");
        if (c.action !== "replace" || t.phase === "up") done.push(c.rid);
        await outcome(c.rid, jaction, true);
        emit({ type: "change_done", rid: c.rid, action: c.action === "replace" && t.phase === "down" ? "replace (removed)" : c.action, elapsedMs: Math.round(performance.now() - started) });
      } catch (e) {
        const { error, hint } = errorText(e);
        finish(t, "failed");
        failed.push(c.rid);
        if (unrecorded.has(c.rid)) pendingUntilUndone.set(c.rid, jaction);
        else if (journaled) await outcome(c.rid, jaction, false, error);
        const spec = specForSafe(c);
        if (t.phase === "up") {
          await record(c, spec, { provisioned: c.observed?.provisioned === true && c.action !== "replace" ? true : c.action === "start" ? (state.resources[c.rid]?.provisioned ?? null) : false, lastError: error }).catch(() => undefined);
        }
        emit({ type: "change_failed", rid: c.rid, action: label(t), elapsedMs: Math.round(performance.now() - started), error, hint });
        if (!input.disableRollback) stopLaunching = true;
      } finally {
        running.delete(t.id);
      }
    })();
    running.set(t.id, p);
  };

  const ordered = [...downTasks, ...upTasks];
  for (;;) {
    // Skip what can no longer run.
    for (const t of ordered) {
      if (status.get(t.id) !== "pending") continue;
      const why = blockedBy(t);
      if (why) {
        finish(t, "skipped");
        if (!skipped.includes(t.ch.rid)) skipped.push(t.ch.rid);
        emit({ type: "change_skipped", rid: t.ch.rid, action: label(t), reason: why });
      }
    }
    if (!stopLaunching) {
      for (const t of ordered) {
        if (running.size >= Math.max(1, input.parallelism)) break;
        if (status.get(t.id) === "pending" && eligible(t)) launch(t);
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  input.signal.removeEventListener("abort", onAbort);
  for (const t of ordered) {
    if (status.get(t.id) === "pending") {
      finish(t, "skipped");
      if (!skipped.includes(t.ch.rid)) skipped.push(t.ch.rid);
      emit({ type: "change_skipped", rid: t.ch.rid, action: label(t), reason: interrupted ? "interrupted" : "stopped after a failure" });
    }
  }

  // ---------------------------------------------------------------- rollback
  const rolledBack: string[] = [];
  if (failed.length && !input.disableRollback && !interrupted && undo.length) {
    emit({ type: "rollback_start", steps: undo.length });
    for (const step of [...undo].reverse()) {
      const ctx = makeCtx(step.rid);
      try {
        if (step.op === "stop") await step.provider.stop(ctx, step.spec);
        else await step.provider.unprovision(ctx, step.spec);
      } catch (e) {
        const { error } = errorText(e);
        await outcome(step.rid, `rollback-${step.op}`, false, error);
        emit({ type: "rollback_step", rid: step.rid, op: step.op, ok: false, error });
        // A failing undo stops the rollback: what is left is in the state and the journal.
        break;
      }
      // Undone on the host: the rollback goes on even when the state cannot record it.
      rolledBack.push(step.rid);
      await outcome(step.rid, `rollback-${step.op}`, true);
      const pendingAction = pendingUntilUndone.get(step.rid);
      if (pendingAction !== undefined) await outcome(step.rid, pendingAction, false, "its state could not be written; rolled back");
      await persist((s) => {
        if (step.op === "unprovision") delete s.resources[step.rid];
      }).catch((e: unknown) => emit({ type: "log", rid: step.rid, level: "warning", message: `rolled back, but the state could not record it: ${errorText(e).error}` }));
      emit({ type: "rollback_step", rid: step.rid, op: step.op, ok: true });
    }
  }
  await Promise.all(backgroundWork);
  await settled();
  await journalWriter.close();
  return {
    ok: failed.length === 0 && !interrupted,
    interrupted,
    done,
    failed,
    skipped,
    rolledBack,
    elapsedMs: Math.round(performance.now() - t0),
    state,
  };
}
