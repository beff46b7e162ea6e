// The apply's scheduler. Two phases. "down": unprovision, stop, and the removal half of a
// replace, dependents first and later driver groups first. "up": everything else, dependencies
// first, group by group. At most `parallelism` tasks act on the host at once (a task's slot is
// free as soon as its result is known, while its journal entry is written); a task whose
// predecessor failed or was skipped is skipped (with the reason); after a failure (unless told
// to go on) or an interrupt nothing new starts, the running tasks finish, and what is left is
// skipped.
import { DESCENDING, type ResourceChange } from "../plan/model.js";

/** What the scheduler reads of a change. */
export type Schedulable = Pick<ResourceChange, "rid" | "action" | "slot" | "dependsOn">;

export interface Task<C extends Schedulable = ResourceChange> {
  readonly id: string;
  readonly ch: C;
  readonly phase: "down" | "up";
}

/** A replace is two tasks (remove, then create); the other actions one, in their phase. */
export function buildTasks<C extends Schedulable>(changes: readonly C[]): Task<C>[] {
  const tasks: Task<C>[] = [];
  for (const ch of changes) {
    if (ch.action === "replace") tasks.push({ id: `${ch.rid}:down`, ch, phase: "down" }, { id: `${ch.rid}:up`, ch, phase: "up" });
    else tasks.push({ id: `${ch.rid}:${DESCENDING.has(ch.action) ? "down" : "up"}`, ch, phase: DESCENDING.has(ch.action) ? "down" : "up" });
  }
  return tasks;
}

/** The action a task shows: a replace's two halves are named. */
export function taskLabel(t: Task<Schedulable>): string {
  return t.ch.action === "replace" ? (t.phase === "down" ? "replace (remove)" : "replace (create)") : t.ch.action;
}

export interface ScheduleOptions<C extends Schedulable> {
  readonly parallelism: number;
  /** Aborted: start nothing new, let the running tasks finish. */
  readonly signal: AbortSignal;
  /** Keep starting independent tasks after a failure (--disable-rollback). */
  readonly continueOnFailure: boolean;
  /**
   * Runs a task. `settle(ok)` says its result as soon as it is known (its dependents may start
   * from then on); the promise ends when the task's bookkeeping is done.
   */
  readonly run: (t: Task<C>, settle: (ok: boolean) => void) => Promise<void>;
  /** A task that will not run, and why. */
  readonly skip: (t: Task<C>, reason: string) => void;
  /** The first time the signal is seen aborted. */
  readonly interrupted?: () => void;
}

type TaskStatus = "pending" | "running" | "done" | "failed" | "skipped";

/** Runs the tasks (ordered: down tasks first); interrupted: the signal stopped it. */
export async function schedule<C extends Schedulable>(tasks: readonly Task<C>[], opts: ScheduleOptions<C>): Promise<{ interrupted: boolean }> {
  const downTasks = tasks.filter((t) => t.phase === "down");
  const upTasks = tasks.filter((t) => t.phase === "up");
  const downByRid = new Map(downTasks.map((t) => [t.ch.rid, t]));
  const upByRid = new Map(upTasks.map((t) => [t.ch.rid, t]));
  const status = new Map<string, TaskStatus>(tasks.map((t) => [t.id, "pending"]));
  let stopLaunching = false;
  let interrupted = false;
  const onAbort = () => {
    if (!interrupted) {
      interrupted = true;
      stopLaunching = true;
      opts.interrupted?.();
    }
  };
  if (opts.signal.aborted) onAbort();
  opts.signal.addEventListener("abort", onAbort);

  // Unfinished and unsuccessful tasks per phase and slot (a handful of slots: cheap to scan).
  const open = { down: new Map<number, number>(), up: new Map<number, number>() };
  const bad = { down: new Map<number, string>(), up: new Map<number, string>() };
  for (const t of tasks) open[t.phase].set(t.ch.slot, (open[t.phase].get(t.ch.slot) ?? 0) + 1);
  const openWhere = (phase: "down" | "up", pred: (slot: number) => boolean) => {
    for (const [slot, n] of open[phase]) if (n > 0 && pred(slot)) return true;
    return false;
  };
  const badWhere = (phase: "down" | "up", pred: (slot: number) => boolean) => {
    for (const [slot, rid] of bad[phase]) if (pred(slot)) return rid;
    return undefined;
  };
  // Whether a task failed or was skipped since the last look for tasks that can no longer run.
  let newlyBad = true;
  const finish = (t: Task<C>, st: TaskStatus) => {
    status.set(t.id, st);
    open[t.phase].set(t.ch.slot, (open[t.phase].get(t.ch.slot) ?? 1) - 1);
    if (st === "failed" || st === "skipped") {
      newlyBad = true;
      if (!bad[t.phase].has(t.ch.slot)) bad[t.phase].set(t.ch.slot, t.ch.rid);
    }
  };
  // Down-phase dependents of a rid: the down tasks whose resource depends on it.
  const downDependents = new Map<string, Task<C>[]>();
  for (const t of downTasks) for (const d of t.ch.dependsOn) if (downByRid.has(d)) downDependents.set(d, [...(downDependents.get(d) ?? []), t]);

  const eligible = (t: Task<C>): boolean => {
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
  const blockedBy = (t: Task<C>): string | undefined => {
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

  // Running tasks (until their bookkeeping ends); `acting` counts those not settled yet: the
  // parallelism bounds the work on the host, so a settled task's slot is free at once.
  const running = new Map<string, Promise<void>>();
  let acting = 0;
  let wake = () => {};
  const launch = (t: Task<C>) => {
    status.set(t.id, "running");
    acting++;
    let failed = false;
    const settle = (ok: boolean) => {
      if (status.get(t.id) !== "running") return;
      failed = !ok;
      acting--;
      finish(t, ok ? "done" : "failed");
      if (failed && !opts.continueOnFailure) stopLaunching = true;
      wake();
    };
    const p = (async () => {
      try {
        await opts.run(t, settle);
      } catch {
        settle(false);
      } finally {
        settle(!failed);
        running.delete(t.id);
        wake();
      }
    })();
    running.set(t.id, p);
  };

  const ordered = [...downTasks, ...upTasks];
  const skipTask = (t: Task<C>, reason: string) => {
    finish(t, "skipped");
    opts.skip(t, reason);
  };
  // The tasks still pending, in order (scanned at each wake: it shrinks as tasks start).
  let pending = ordered;
  for (;;) {
    // Skip what can no longer run (only a failure or a skip makes a task unable to run).
    while (newlyBad) {
      newlyBad = false;
      for (const t of pending) {
        if (status.get(t.id) !== "pending") continue;
        const why = blockedBy(t);
        if (why) skipTask(t, why);
      }
    }
    if (!stopLaunching) {
      for (const t of pending) {
        if (acting >= Math.max(1, opts.parallelism)) break;
        if (status.get(t.id) === "pending" && eligible(t)) launch(t);
      }
    }
    pending = pending.filter((t) => status.get(t.id) === "pending");
    if (running.size === 0) break;
    // Until a task settles (its dependents may start, its slot is free) or ends.
    await new Promise<void>((r) => (wake = r));
  }
  opts.signal.removeEventListener("abort", onAbort);
  for (const t of ordered) if (status.get(t.id) === "pending") skipTask(t, interrupted ? "interrupted" : "stopped after a failure");
  return { interrupted };
}
