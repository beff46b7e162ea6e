// Executes a Plan: order, parallelism, journal, state after every step, rollback, interrupts.
// It receives a Plan and never parses a template.
import { mkdir } from "node:fs/promises";
import { resolveDeferred } from "../config/deferred.js";
import type { KwValue, Outputs } from "../core/value.js";
import { DESCENDING, type Plan, type ResourceChange } from "../plan/model.js";
import { ProviderError, type LogLevel, type Provider, type ProviderContext, type ResourceSpec } from "../provider/api.js";
import { createExec, ExecError, type Exec } from "../provider/exec.js";
import type { ProviderRegistry } from "../provider/registry.js";
import type { ResourceState, StateFile } from "../state/model.js";
import type { StateStore } from "../state/store.js";
import { runTriggers, type TriggerAction } from "./triggers.js";

export type ApplyEvent =
  | { type: "change_start"; rid: string; action: string; driver: string }
  | { type: "log"; rid?: string; level: LogLevel; message: string }
  | { type: "change_done"; rid: string; action: string; elapsedMs: number }
  | { type: "change_failed"; rid: string; action: string; elapsedMs: number; error: string; hint?: string }
  | { type: "change_skipped"; rid: string; action: string; reason: string }
  | { type: "rollback_start"; steps: number }
  | { type: "rollback_step"; rid: string; op: "stop" | "unprovision"; ok: boolean; error?: string }
  | { type: "interrupted" };

export interface ApplyInput {
  readonly plan: Plan;
  readonly registry: ProviderRegistry;
  readonly store: StateStore;
  readonly node: string;
  readonly parallelism: number;
  readonly disableRollback: boolean;
  /** Aborted on SIGINT: start nothing new, let running steps finish, save state. */
  readonly signal: AbortSignal;
  readonly emit: (e: ApplyEvent) => void;
  /** Installed as the object's config (the template sources applied). */
  readonly configText?: string;
  readonly osvcVersion: string;
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

function asOutputs(o: Record<string, unknown> | undefined): Outputs {
  return (o ?? {}) as Outputs;
}

function errorText(e: unknown): { error: string; hint?: string } {
  if (e instanceof ProviderError) return { error: e.message, hint: e.hint };
  if (e instanceof ExecError) return { error: e.message };
  if (e instanceof Error) return { error: e.message };
  return { error: String(e) };
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

  // State writes are serialized: each step's result is on disk before the next write starts.
  let writing: Promise<void> = Promise.resolve();
  const persist = (mutate: (s: StateFile) => void): Promise<void> => {
    writing = writing.then(async () => {
      const next: StateFile = structuredClone(state);
      mutate(next);
      next.updatedAt = new Date().toISOString();
      next.osvcVersion = input.osvcVersion;
      next.templateHash = plan.templateHash;
      const serial = await store.writeState(object, next, state.serial);
      state = { ...next, serial };
    });
    return writing;
  };
  const journal = (op: "intent" | "outcome", rid: string, action: string, ok?: boolean, error?: string) =>
    store.appendJournal(object, { run: runId, op, rid, action, ...(ok === undefined ? {} : { ok }), ...(error ? { error } : {}) });

  // Outputs known so far: recorded ones, then this run's.
  const outputs = new Map<string, Outputs>();
  for (const [rid, r] of Object.entries(state.resources)) outputs.set(rid, asOutputs(r.outputs));
  const lookup = (rid: string, attr: string): readonly string[] | undefined => {
    const v = outputs.get(rid)?.[attr];
    if (v === undefined) return undefined;
    return Array.isArray(v) ? (v as string[]) : [String(v)];
  };

  const makeCtx = (rid: string): ProviderContext => ({
    exec: input.exec ? input.exec((m) => emit({ type: "log", rid, level: "info", message: m })) : createExec(({ command, result }) => {
      if (!result) emit({ type: "log", rid, level: "info", message: command });
    }),
    log: (level, message) => emit({ type: "log", rid, level, message }),
    signal: input.signal,
    role: plan.role,
    objectName: object,
    nodename: input.node,
    varDir,
  });

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
    return { rid: ch.rid, driver: ch.driver, kw, recorded: asOutputs(state.resources[ch.rid]?.outputs ?? ch.priorOutputs) };
  };

  const record = (ch: ResourceChange, spec: ResourceSpec, patch: Partial<ResourceState>) =>
    persist((s) => {
      const prev = s.resources[ch.rid];
      const now = new Date().toISOString();
      s.resources[ch.rid] = {
        rid: ch.rid,
        driver: ch.driver,
        provisioned: patch.provisioned !== undefined ? patch.provisioned : (prev?.provisioned ?? null),
        inputs: spec.kw as Record<string, unknown>,
        outputs: { ...(prev?.outputs ?? {}), ...(patch.outputs ?? {}) },
        status: "ready",
        shared: ch.shared ?? false,
        standby: ch.standby ?? false,
        dependsOn: [...ch.dependsOn],
        slot: ch.slot,
        updatedAt: now,
        ...(prev?.provisionedAt ? { provisionedAt: prev.provisionedAt } : {}),
        ...(prev?.createdByOsvc !== undefined ? { createdByOsvc: prev.createdByOsvc } : {}),
        ...patch,
        ...(patch.outputs ? { outputs: { ...(prev?.outputs ?? {}), ...patch.outputs } } : {}),
      };
      if (patch.lastError === undefined) delete s.resources[ch.rid].lastError;
    });

  const undo: UndoStep[] = [];

  const runChange = async (ch: ResourceChange): Promise<void> => {
    const provider = registry.get(ch.driver);
    if (!provider && !ch.stateOnly && ch.action !== "follow") throw new ProviderError(`no provider for ${ch.driver} runs on this host`);
    const ctx = makeCtx(ch.rid);
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
    const existedBefore = ch.observed?.provisioned === true;
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
        await record(ch, spec, { provisioned: true, outputs: out as Record<string, unknown>, createdByOsvc: !existedBefore, provisionedAt: new Date().toISOString() });
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
        const spec = specFor(ch);
        const prior = state.resources[ch.rid];
        const beforeSpec: ResourceSpec = { rid: ch.rid, driver: prior?.driver ?? ch.driver, kw: (prior?.inputs ?? {}) as Record<string, KwValue>, recorded: asOutputs(prior?.outputs) };
        const oldProvider = registry.get(beforeSpec.driver) ?? provider!;
        await oldProvider.unprovision(ctx, beforeSpec);
        await persist((s) => {
          delete s.resources[ch.rid];
        });
        const out = await provider!.provision(ctx, { ...spec, recorded: {} });
        outputs.set(ch.rid, { ...out });
        undo.push({ rid: ch.rid, op: "unprovision", provider: provider!, spec: { ...spec, recorded: out } });
        await record(ch, spec, { provisioned: true, outputs: out as Record<string, unknown>, createdByOsvc: true, provisionedAt: new Date().toISOString() });
        return;
      }
      case "unprovision": {
        const prior = state.resources[ch.rid];
        if (!ch.stateOnly) {
          const spec: ResourceSpec = { rid: ch.rid, driver: ch.driver, kw: (prior?.inputs ?? ch.inputs) as Record<string, KwValue>, recorded: asOutputs(prior?.outputs ?? ch.priorOutputs) };
          await around(spec.kw, "unprovision", () => provider!.unprovision(ctx, spec));
        }
        await persist((s) => {
          delete s.resources[ch.rid];
        });
        outputs.delete(ch.rid);
        if (ch.stateOnly) ctx.log("info", "forgotten (state only: nothing changed on the host)");
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
  const changes = plan.changes.filter((c) => c.action !== "noop");
  // Descending actions (unprovision, stop) run first, dependents before what they depend on.
  const removals = changes.filter((c) => DESCENDING.has(c.action));
  const others = changes.filter((c) => !DESCENDING.has(c.action));
  const inPlan = new Set(others.map((c) => c.rid));
  const status = new Map<string, "pending" | "running" | "done" | "failed" | "skipped">(changes.map((c) => [c.rid, "pending"]));
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

  const isFinished = (rid: string) => {
    const s = status.get(rid);
    return s === "done" || s === "failed" || s === "skipped";
  };
  const removalDependents = new Map<string, string[]>();
  for (const r of removals) for (const d of r.dependsOn) removalDependents.set(d, [...(removalDependents.get(d) ?? []), r.rid]);

  const eligible = (c: ResourceChange): boolean => {
    if (DESCENDING.has(c.action)) {
      if (!(removalDependents.get(c.rid) ?? []).every((x) => !status.has(x) || status.get(x) === "done")) return false;
      return removals.every((r) => r.slot <= c.slot || status.get(r.rid) === "done");
    }
    if (removals.some((r) => !isFinished(r.rid))) return false;
    for (const d of c.dependsOn) if (inPlan.has(d) && status.get(d) !== "done") return false;
    for (const o of others) if (o.slot < c.slot && status.get(o.rid) !== "done") return false;
    return true;
  };
  const blockedBy = (c: ResourceChange): string | undefined => {
    if (DESCENDING.has(c.action)) {
      const bad = (removalDependents.get(c.rid) ?? []).find((x) => status.get(x) === "failed" || status.get(x) === "skipped");
      if (bad) return `${bad} was not ${status.get(bad) === "skipped" ? "processed" : "stopped/unprovisioned"}`;
      const later = removals.find((r) => r.slot > c.slot && (status.get(r.rid) === "failed" || status.get(r.rid) === "skipped"));
      return later ? `${later.rid} (a later driver group) did not complete` : undefined;
    }
    const badRemoval = removals.find((r) => status.get(r.rid) === "failed" || status.get(r.rid) === "skipped");
    if (badRemoval) return `${badRemoval.rid} was not unprovisioned`;
    const dep = c.dependsOn.find((d) => inPlan.has(d) && (status.get(d) === "failed" || status.get(d) === "skipped"));
    if (dep) return `its dependency ${dep} did not complete`;
    const earlier = others.find((o) => o.slot < c.slot && (status.get(o.rid) === "failed" || status.get(o.rid) === "skipped"));
    return earlier ? `${earlier.rid} (an earlier driver group) did not complete` : undefined;
  };

  const running = new Map<string, Promise<void>>();
  const launch = (c: ResourceChange) => {
    status.set(c.rid, "running");
    emit({ type: "change_start", rid: c.rid, action: c.action, driver: c.driver });
    const started = performance.now();
    const p = (async () => {
      await journal("intent", c.rid, c.action);
      try {
        await runChange(c);
        status.set(c.rid, "done");
        done.push(c.rid);
        await journal("outcome", c.rid, c.action, true);
        emit({ type: "change_done", rid: c.rid, action: c.action, elapsedMs: Math.round(performance.now() - started) });
      } catch (e) {
        const { error, hint } = errorText(e);
        status.set(c.rid, "failed");
        failed.push(c.rid);
        await journal("outcome", c.rid, c.action, false, error);
        const spec = specForSafe(c);
        if (c.action !== "unprovision" && c.action !== "stop") {
          await record(c, spec, { provisioned: c.observed?.provisioned === true ? true : c.action === "start" ? (state.resources[c.rid]?.provisioned ?? null) : false, lastError: error }).catch(() => undefined);
        }
        emit({ type: "change_failed", rid: c.rid, action: c.action, elapsedMs: Math.round(performance.now() - started), error, hint });
        if (!input.disableRollback) stopLaunching = true;
      } finally {
        running.delete(c.rid);
      }
    })();
    running.set(c.rid, p);
  };

  const ordered = [...removals, ...others];
  for (;;) {
    // Skip what can no longer run.
    for (const c of ordered) {
      if (status.get(c.rid) !== "pending") continue;
      const why = blockedBy(c);
      if (why) {
        status.set(c.rid, "skipped");
        skipped.push(c.rid);
        emit({ type: "change_skipped", rid: c.rid, action: c.action, reason: why });
      }
    }
    if (!stopLaunching) {
      for (const c of ordered) {
        if (running.size >= Math.max(1, input.parallelism)) break;
        if (status.get(c.rid) === "pending" && eligible(c)) launch(c);
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  input.signal.removeEventListener("abort", onAbort);
  for (const c of ordered) {
    if (status.get(c.rid) === "pending") {
      status.set(c.rid, "skipped");
      skipped.push(c.rid);
      emit({ type: "change_skipped", rid: c.rid, action: c.action, reason: interrupted ? "interrupted" : "stopped after a failure" });
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
        rolledBack.push(step.rid);
        await journal("outcome", step.rid, `rollback-${step.op}`, true);
        await persist((s) => {
          if (step.op === "unprovision") delete s.resources[step.rid];
        });
        emit({ type: "rollback_step", rid: step.rid, op: step.op, ok: true });
      } catch (e) {
        const { error } = errorText(e);
        await journal("outcome", step.rid, `rollback-${step.op}`, false, error);
        emit({ type: "rollback_step", rid: step.rid, op: step.op, ok: false, error });
        // A failing undo stops the rollback: what is left is in the state and the journal.
        break;
      }
    }
  }
  await writing;
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
