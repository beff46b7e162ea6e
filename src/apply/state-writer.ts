// The apply's state writer: writes are serialized and coalesced. Mutations that arrive while a
// write is in flight are applied together in the next one; each caller resumes once its
// mutation is on disk (or learns that the write failed).
import type { StateFile } from "../state/model.js";
import { freezeResource } from "../state/store.js";

export interface StateWriterOptions {
  /** The state the first mutation applies to (the recorded one, or a new one). */
  readonly initial: StateFile;
  /** Writes the next state if the recorded serial is still `serial`; the new serial. */
  readonly write: (next: StateFile, serial: number) => Promise<number>;
  /** Stamps each written state (updatedAt, the osvc version, the template hash). */
  readonly stamp?: (next: StateFile) => void;
}

export interface StateWriter {
  /** The state as last written (the initial one before any write). */
  current(): StateFile;
  /** Applies a mutation to the next write; resolves once it is on disk. */
  persist(mutate: (s: StateFile) => void): Promise<void>;
  /** Resolves when no write is queued or in flight. */
  settled(): Promise<void>;
}

/**
 * The written state is copied on write: each write copies the top level and the resource map,
 * the mutations replace or delete entries (a mutation must never change a recorded resource in
 * place: recorded resources are frozen), and each new or replaced resource is copied once and
 * frozen, so the store renders and checks only what changed (freezeResource).
 */
function frozenCopy(s: StateFile): StateFile {
  const resources: StateFile["resources"] = {};
  for (const [rid, r] of Object.entries(s.resources)) resources[rid] = freezeResource(structuredClone(r));
  return { ...s, resources };
}

export function stateWriter(opts: StateWriterOptions): StateWriter {
  let state = frozenCopy(opts.initial);
  let queue: { mutate: (s: StateFile) => void; done: () => void; fail: (e: unknown) => void }[] = [];
  let flushing: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    while (queue.length) {
      const batch = queue;
      queue = [];
      try {
        const next: StateFile = { ...state, resources: { ...state.resources } };
        for (const m of batch) m.mutate(next);
        for (const rid in next.resources) {
          const r = next.resources[rid];
          if (r !== state.resources[rid] && r !== undefined) next.resources[rid] = freezeResource(structuredClone(r));
        }
        opts.stamp?.(next);
        const serial = await opts.write(next, state.serial);
        state = { ...next, serial };
        for (const m of batch) m.done();
      } catch (e) {
        for (const m of batch) m.fail(e);
      }
    }
    flushing = undefined;
  };
  return {
    current: () => state,
    persist: (mutate) =>
      new Promise<void>((done, fail) => {
        queue.push({ mutate, done, fail });
        flushing ??= flush();
      }),
    settled: async () => {
      while (flushing) await flushing;
    },
  };
}
