// The apply's undo stack: what this run activated (created, started), undone in reverse order
// when a step fails. A failing undo stops the unwinding: undoing what lies beneath a resource
// that could not be undone (a disk under a fs still mounted) would act on a host in an unknown
// state; what is left stays in the state and the journal.
import type { Provider, ResourceSpec } from "../provider/api.js";

export interface UndoStep {
  readonly rid: string;
  readonly op: "stop" | "unprovision";
  readonly provider: Provider;
  readonly spec: ResourceSpec;
}

export interface UnwindHooks<S> {
  /** Undoes one step; throws when it fails. */
  readonly undo: (step: S) => Promise<void>;
  /** After a step was undone. */
  readonly undone: (step: S) => Promise<void>;
  /** When a step's undo failed (the unwinding stops there). */
  readonly failed: (step: S, error: unknown) => Promise<void>;
}

export interface UnwindResult<S> {
  /** The steps undone, in the order they were undone (the reverse of their push order). */
  readonly undone: readonly S[];
  /** The step whose undo failed, if one did. */
  readonly failed?: S;
  /** The steps not undone because of that failure (in unwinding order). */
  readonly left: readonly S[];
}

export class UndoStack<S = UndoStep> {
  private readonly steps: S[] = [];

  push(step: S): void {
    this.steps.push(step);
  }

  get size(): number {
    return this.steps.length;
  }

  /** Undoes the steps, last pushed first, until one fails. */
  async unwind(hooks: UnwindHooks<S>): Promise<UnwindResult<S>> {
    const order = [...this.steps].reverse();
    const undone: S[] = [];
    for (const [i, step] of order.entries()) {
      try {
        await hooks.undo(step);
      } catch (e) {
        await hooks.failed(step, e);
        return { undone, failed: step, left: order.slice(i + 1) };
      }
      undone.push(step);
      await hooks.undone(step);
    }
    return { undone, left: [] };
  }
}
