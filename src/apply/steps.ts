// One step of an apply: a change's phase run on the host through its provider (with its
// triggers), the state entry recorded after it, what it activated pushed on the undo stack, and
// the outputs it produced made available to the steps after it (deferred references).
import { resolveDeferred } from "../config/deferred.js";
import { parseObjectPath } from "../core/path.js";
import type { KwValue, Outputs } from "../core/value.js";
import type { Plan, ResourceChange } from "../plan/model.js";
import { formatEdit, type ConfigPatch } from "../core/patch.js";
import { desiredInputs } from "../plan/planner.js";
import { ProviderError, type Allocations, type ProviderContext, type ResourceSpec } from "../provider/api.js";
import { createExec, ExecError, type Exec } from "../provider/exec.js";
import type { ProviderRegistry } from "../provider/registry.js";
import type { ResourceState } from "../state/model.js";
import type { StateStore } from "../state/store.js";
import type { ApplyEvent } from "./applier.js";
import { dataReader } from "./data-reader.js";
import { volumeHost } from "./volumes.js";
import type { StateWriter } from "./state-writer.js";
import { runTriggers, type TriggerAction } from "./triggers.js";
import type { UndoStack } from "./undo.js";
import type { RunJournal } from "./journal.js";
import { foldEdits, type ConfigWriter } from "./writeback.js";

export interface StepsInput {
  readonly plan: Plan;
  readonly registry: ProviderRegistry;
  readonly store: StateStore;
  readonly node: string;
  readonly writer: StateWriter;
  readonly undo: UndoStack;
  readonly emit: (e: ApplyEvent) => void;
  /** The providers' signal ("abort now": their commands are ended). */
  readonly abort?: AbortSignal;
  /** The run's journal (a write-back is journaled like a step). */
  readonly journal: RunJournal;
  /** Allocation records providers allocate from. */
  readonly allocations: Allocations;
  /** Writes a provider's config patch into the installed config (absent: write-back refused). */
  readonly writeBack?: ConfigWriter;
  /** Test hook: a command runner other than the real one. */
  readonly exec?: (logger: (message: string) => void) => Exec;
}

export interface Steps {
  /** Runs one change's phase on the host and records it; throws when it fails. */
  run(ch: ResourceChange, phase: "down" | "up"): Promise<void>;
  /** The spec a change's provider gets, with the recorded inputs when a deferred one cannot be resolved. */
  specForSafe(ch: ResourceChange): ResourceSpec;
  /** Records a change's state entry (merged with the one recorded). */
  record(ch: ResourceChange, spec: ResourceSpec, patch: Partial<ResourceState>): Promise<void>;
  /** A provider context for a rid (the undo steps' too). */
  makeCtx(rid: string): ProviderContext;
  /** Steps done on the host whose state could not be written: their intents stay pending. */
  readonly unrecorded: ReadonlySet<string>;
  /** Settles the best-effort work providers handed over (announces). */
  background(): Promise<void>;
}

const NEVER_ABORTED = new AbortController().signal;

function asOutputs(o: Record<string, unknown> | undefined): Outputs {
  return (o ?? {}) as Outputs;
}

export function errorText(e: unknown): { error: string; hint?: string } {
  if (e instanceof ProviderError) return { error: e.message, hint: e.hint };
  if (e instanceof ExecError) return { error: e.message };
  if (e instanceof Error) return { error: e.message };
  return { error: String(e) };
}

export function steps(input: StepsInput): Steps {
  const { plan, registry, store, emit, writer, undo } = input;
  const object = plan.object;
  const persist = writer.persist;
  const varDir = store.varDir(object);
  // Steps done on the host whose state could not be written: their intents stay pending (the
  // next run knows osvc was creating them) until the rollback has undone them.
  const unrecorded = new Set<string>();

  // Outputs known so far: recorded ones, then this run's.
  const outputs = new Map<string, Outputs>();
  for (const [rid, r] of Object.entries(writer.current().resources)) outputs.set(rid, asOutputs(r.outputs));
  const lookup = (rid: string, attr: string): readonly string[] | undefined => {
    const v = outputs.get(rid)?.[attr];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? (v as string[]) : [String(v)];
  };

  // configs_/secrets_environment: keys of the cfg/sec objects of this object's namespace.
  const parsedPath = parseObjectPath(object);
  const readData = dataReader(store, parsedPath.ok ? parsedPath.path.namespace : "root");
  // volume resources: the vol objects of this namespace (apply/volumes.ts).
  const volumes = volumeHost({ store, namespace: parsedPath.ok ? parsedPath.path.namespace : "root", nodename: input.node, exec: createExec() });
  // Best-effort work providers handed over (announces): awaited before the run ends.
  const backgroundWork: Promise<void>[] = [];
  // Write-back: keyword values a provider wrote into the config this run, per rid, as re-evaluated
  // from the new config; the resources that run later (and the state) take them.
  const overrides = new Map<string, Record<string, KwValue>>();
  const writeBackFor = (rid: string, recordFacts?: (facts: Outputs) => Promise<void>) => async (patch: ConfigPatch): Promise<void> => {
    if (!input.writeBack) throw new ProviderError(`${rid}: this run cannot write values back into the config`);
    const action = `writeback ${patch.map(formatEdit).join("; ")}`;
    await input.journal.intent(rid, action);
    let written;
    try {
      written = await input.writeBack(patch);
    } catch (e) {
      await input.journal.outcome(rid, action, false, errorText(e).error);
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
    await input.journal.outcome(rid, action, true);
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
    volumes,
    background: (work) => {
      backgroundWork.push(work.catch((e: unknown) => emit({ type: "log", rid, level: "warning", message: errorText(e).error })));
    },
    ...(recordFacts ? { recordFacts } : {}),
    writeBack: writeBackFor(rid, recordFacts),
    allocations: input.allocations,
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
    return withOverrides({ rid: ch.rid, driver: ch.driver, kw, recorded: asOutputs(writer.current().resources[ch.rid]?.outputs ?? ch.priorOutputs), ...allowOf(ch.rid) });
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


  const run = async (ch: ResourceChange, phase: "down" | "up"): Promise<void> => {
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
        const before: ResourceSpec = { rid: ch.rid, driver: ch.driver, kw: (writer.current().resources[ch.rid]?.inputs ?? {}) as Record<string, KwValue>, recorded: spec.recorded };
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
          const prior = writer.current().resources[ch.rid];
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
        const prior = writer.current().resources[ch.rid];
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

  return { run, specForSafe, record, makeCtx: (rid) => makeCtx(rid), unrecorded, background: async () => void (await Promise.all(backgroundWork)) };
}
