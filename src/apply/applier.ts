// Executes a Plan: order, parallelism, journal, state after every step, rollback, interrupts.
// It receives a Plan and never parses a template. The parts: the coalescing state writer
// (state-writer.ts), the run journal (journal.ts), one step on the host (steps.ts), the
// scheduler (scheduler.ts) and the undo stack (undo.ts); applyPlan composes them.
import { mkdir } from "node:fs/promises";
import type { Plan } from "../plan/model.js";
import type { LogLevel } from "../provider/api.js";
import type { Exec } from "../provider/exec.js";
import type { Allocations } from "../provider/api.js";
import type { ProviderRegistry } from "../provider/registry.js";
import { nodeAllocations } from "../state/allocs.js";
import type { ConfigWriter } from "./writeback.js";
import type { StateFile } from "../state/model.js";
import type { StateStore } from "../state/store.js";
import { newRunId, runJournal } from "./journal.js";
import { buildTasks, schedule, taskLabel, type Task } from "./scheduler.js";
import { stateWriter } from "./state-writer.js";
import { errorText, steps } from "./steps.js";
import { UndoStack } from "./undo.js";

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
  /** The addresses the orchestrator reserved for this node in the cluster store, per rid (Allocations.reserved). */
  readonly reserved?: Readonly<Record<string, readonly string[]>>;
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

/** The allocation records, each record taken or released told as an event. */
function reportingAllocations(inner: Allocations, emit: (e: ApplyEvent) => void, reserved: Allocations["reserved"]): Allocations {
  return {
    ...(reserved ?? inner.reserved ? { reserved: reserved ?? inner.reserved } : {}),
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
  const writer = stateWriter({
    initial: (await store.readState(object)) ?? store.newState(object, input.node, input.osvcVersion, plan.templateHash),
    write: (next, serial) => store.writeState(object, next, serial),
    stamp: (next) => {
      next.updatedAt = new Date().toISOString();
      next.osvcVersion = input.osvcVersion;
      next.templateHash = plan.templateHash;
    },
  });
  const varDir = store.varDir(object);
  await mkdir(varDir, { recursive: true, mode: 0o700 });
  if (input.configText !== undefined) await store.installConfig(object, input.configText);
  const journal = runJournal(await store.openJournal(object), newRunId(), (rid, message) => emit({ type: "log", rid, level: "warning", message }));
  const outcome = journal.outcome;
  // Steps done on the host whose state could not be written stay pending (the next run knows osvc
  // was creating them) until the rollback has undone them.
  const pendingUntilUndone = new Map<string, string>();
  const undo = new UndoStack();
  const allocations = reportingAllocations(input.allocations ?? nodeAllocations(store.root), emit, input.reserved);
  const runner = steps({
    plan, registry, store, node: input.node, writer, undo, emit, journal, allocations,
    ...(input.writeBack ? { writeBack: input.writeBack } : {}),
    ...(input.abort ? { abort: input.abort } : {}),
    ...(input.exec ? { exec: input.exec } : {}),
  });

  // ---------------------------------------------------------------- scheduling
  for (const c of plan.changes) if (c.action === "noop" && c.notice) emit({ type: "log", rid: c.rid, level: "info", message: c.notice });
  const tasks = buildTasks(plan.changes.filter((c) => c.action !== "noop"));
  const done: string[] = [];
  const failed: string[] = [];
  const skipped: string[] = [];
  const runTask = async (t: Task, settle: (ok: boolean) => void): Promise<void> => {
    const c = t.ch;
    emit({ type: "change_start", rid: c.rid, action: taskLabel(t), driver: c.driver });
    const started = performance.now();
    const jaction = c.action === "replace" ? `replace-${t.phase}` : c.action;
    let journaled = false;
    try {
      await journal.intent(c.rid, jaction);
      journaled = true;
      await runner.run(c, t.phase);
      settle(true);
      if (c.action !== "replace" || t.phase === "up") done.push(c.rid);
      await outcome(c.rid, jaction, true);
      emit({ type: "change_done", rid: c.rid, action: c.action === "replace" && t.phase === "down" ? "replace (removed)" : c.action, elapsedMs: Math.round(performance.now() - started) });
    } catch (e) {
      const { error, hint } = errorText(e);
      settle(false);
      failed.push(c.rid);
      if (runner.unrecorded.has(c.rid)) pendingUntilUndone.set(c.rid, jaction);
      else if (journaled) await outcome(c.rid, jaction, false, error);
      const spec = runner.specForSafe(c);
      if (t.phase === "up") {
        await runner.record(c, spec, { provisioned: c.observed?.provisioned === true && c.action !== "replace" ? true : c.action === "start" ? (writer.current().resources[c.rid]?.provisioned ?? null) : false, lastError: error }).catch(() => undefined);
      }
      emit({ type: "change_failed", rid: c.rid, action: taskLabel(t), elapsedMs: Math.round(performance.now() - started), error, hint });
    }
  };
  const { interrupted } = await schedule(tasks, {
    parallelism: input.parallelism,
    signal: input.signal,
    continueOnFailure: input.disableRollback,
    run: runTask,
    skip: (t, reason) => {
      if (!skipped.includes(t.ch.rid)) skipped.push(t.ch.rid);
      emit({ type: "change_skipped", rid: t.ch.rid, action: taskLabel(t), reason });
    },
    interrupted: () => emit({ type: "interrupted" }),
  });

  // ---------------------------------------------------------------- rollback
  let rolledBack: string[] = [];
  if (failed.length && !input.disableRollback && !interrupted && undo.size) {
    emit({ type: "rollback_start", steps: undo.size });
    const r = await undo.unwind({
      undo: async (step) => {
        const ctx = runner.makeCtx(step.rid);
        if (step.op === "stop") await step.provider.stop(ctx, step.spec);
        else await step.provider.unprovision(ctx, step.spec);
      },
      failed: async (step, e) => {
        const { error } = errorText(e);
        await outcome(step.rid, `rollback-${step.op}`, false, error);
        emit({ type: "rollback_step", rid: step.rid, op: step.op, ok: false, error });
      },
      // Undone on the host: the rollback goes on even when the state cannot record it.
      undone: async (step) => {
        await outcome(step.rid, `rollback-${step.op}`, true);
        const pendingAction = pendingUntilUndone.get(step.rid);
        if (pendingAction !== undefined) await outcome(step.rid, pendingAction, false, "its state could not be written; rolled back");
        await writer.persist((s) => {
          if (step.op === "unprovision") delete s.resources[step.rid];
        }).catch((e: unknown) => emit({ type: "log", rid: step.rid, level: "warning", message: `rolled back, but the state could not record it: ${errorText(e).error}` }));
        emit({ type: "rollback_step", rid: step.rid, op: step.op, ok: true });
      },
    });
    rolledBack = r.undone.map((step) => step.rid);
  }
  await runner.background();
  await writer.settled();
  await journal.close();
  return {
    ok: failed.length === 0 && !interrupted,
    interrupted,
    done,
    failed,
    skipped,
    rolledBack,
    elapsedMs: Math.round(performance.now() - t0),
    state: writer.current(),
  };
}
