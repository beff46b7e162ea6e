// Applying a plan on this node: the interrupts (first: finish the running steps; second: end
// them; third: exit), the apply itself, and the earlier interrupted runs resolved after success.
import type { ConfigWriter } from "../apply/writeback.js";
import { applyPlan, type ApplyEvent, type ApplyResult } from "../apply/applier.js";
import type { Plan } from "../plan/model.js";
import { endRunning, noteInterrupt, runningCommands } from "../provider/exec.js";
import type { StateStore } from "../state/store.js";
import type { EngineContext } from "./context.js";

export interface ApplyRequest {
  readonly plan: Plan;
  /** Installed as the object's config (the template applied); absent: the installed one stays. */
  readonly configText?: string;
  /** Resources acted on at once. */
  readonly parallelism: number;
  readonly disableRollback: boolean;
  readonly emit: (e: ApplyEvent) => void;
  /** Called before the process exits at a third interrupt (the view closes its output). */
  readonly onExit?: () => void;
  /** Writes a provider's config patch into the installed config (write-back); absent: refused. */
  readonly writeBack?: ConfigWriter;
  /** The addresses the orchestrator reserved for this node in the cluster store, per rid (--allocated). */
  readonly reserved?: Readonly<Record<string, readonly string[]>>;
}

/** After an "abort now", the steps get this long to record their failure before osvc exits. */
const ABORT_EXIT_MS = 10_000;

/** Applies a plan under the process's interrupt handling. Call it under the object's lock. */
export async function apply(ctx: EngineContext, req: ApplyRequest): Promise<ApplyResult> {
  const { store } = ctx;
  const name = req.plan.object;
  const ac = new AbortController();
  const abortNow = new AbortController();
  let interrupts = 0;
  // Host commands run in their own process groups: a terminal's Ctrl-C reaches osvc only. The
  // first one starts nothing new and lets the running steps finish; the second one ends the
  // running commands (their steps fail and are recorded as such) and records the abort; a third
  // one, or commands that do not end, exit at once: the journal holds the steps in flight.
  const onSigint = (sig: NodeJS.Signals) => {
    noteInterrupt();
    interrupts++;
    if (interrupts === 1) return ac.abort();
    if (interrupts === 2) {
      const commands = runningCommands();
      ctx.notify(`\n${sig === "SIGINT" ? "second interrupt" : `second ${sig}`}: aborting now${commands.length ? `, ending ${commands.join("; ")}` : ""}\n`);
      abortNow.abort();
      void store
        .appendJournal(name, { run: `abort-${process.pid}`, op: "outcome", rid: "*", action: "abort", ok: false, error: `aborted by a second ${sig}${commands.length ? `; ended: ${commands.join("; ")}` : ""}` })
        .catch(() => undefined);
      void endRunning();
      setTimeout(() => process.exit(130), ABORT_EXIT_MS).unref();
      return;
    }
    req.onExit?.();
    process.exit(130);
  };
  // A hangup (a dropped ssh session) ends the output, not the work: the apply runs to its end.
  const onSighup = () => noteInterrupt(); // a command caught between its fork and setsid is run again
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  process.on("SIGHUP", onSighup);
  let r: ApplyResult;
  try {
    r = await applyPlan({
      plan: req.plan,
      registry: ctx.registry,
      store,
      node: req.plan.node,
      parallelism: req.parallelism,
      disableRollback: req.disableRollback,
      signal: ac.signal,
      abort: abortNow.signal,
      emit: req.emit,
      configText: req.configText,
      osvcVersion: ctx.osvcVersion,
      ...(req.writeBack ? { writeBack: req.writeBack } : {}),
      ...(req.reserved ? { reserved: req.reserved } : {}),
    });
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
    process.off("SIGHUP", onSighup);
  }
  if (r.ok) await resolveInterrupted(store, req.plan.object);
  return r;
}

/** The exit code of an apply: 0 ok, 130 interrupted, 1 failed. */
export function applyExitCode(r: ApplyResult): number {
  if (r.interrupted) return 130;
  return r.ok ? 0 : 1;
}

/** After a successful apply, earlier interrupted steps are resolved: record it and compact the journal. */
async function resolveInterrupted(store: StateStore, object: string): Promise<void> {
  const pending = await store.pendingIntents(object).catch(() => []);
  for (const r of pending) {
    for (const i of r.intents) {
      await store.appendJournal(object, { run: r.run, op: "outcome", rid: i.rid, action: i.action, ok: false, error: "interrupted; resolved by probing on a later apply" });
    }
  }
  await store.compactJournal(object).catch(() => 0);
}
