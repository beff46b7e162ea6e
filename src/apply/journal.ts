// The apply's journal: an intent on disk before each step runs (a failure to write it fails the
// step), an outcome after it. An outcome that cannot be written leaves the intent pending, which
// the next run resolves by probing: it is reported once, as a warning, and the run goes on.
import type { JournalInput } from "../state/store.js";

/** Where the entries go (StateStore.openJournal's writer). */
export interface JournalSink {
  append(entry: JournalInput): Promise<unknown>;
  close(): Promise<void>;
}

export interface RunJournal {
  /** Records that a step starts; rejects when it cannot be written (the step must not run). */
  intent(rid: string, action: string): Promise<void>;
  /** Records a step's outcome; never rejects (the first failure is reported through `warn`). */
  outcome(rid: string, action: string, ok: boolean, error?: string): Promise<void>;
  close(): Promise<void>;
}

/** The run id of an apply: its start time and pid. */
export function newRunId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:.TZ]/g, "").slice(0, 14)}-${process.pid}`;
}

export function runJournal(sink: JournalSink, run: string, warn: (rid: string, message: string) => void): RunJournal {
  const append = (op: "intent" | "outcome", rid: string, action: string, ok?: boolean, error?: string) =>
    sink.append({ run, op, rid, action, ...(ok === undefined ? {} : { ok }), ...(error ? { error } : {}) });
  let warned = false;
  return {
    intent: async (rid, action) => {
      await append("intent", rid, action);
    },
    outcome: async (rid, action, ok, error) => {
      try {
        await append("outcome", rid, action, ok, error);
      } catch (e) {
        if (!warned) warn(rid, `the journal records no outcome: ${e instanceof Error ? e.message : String(e)}`);
        warned = true;
      }
    },
    close: () => sink.close(),
  };
}
