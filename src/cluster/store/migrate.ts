// Moving an object's cluster records from one store to another (embedded <-> etcd) without losing
// one: both objects are locked (source first), the source is read as one snapshot, the target's
// records are replaced by it in one fenced batch, then read back and compared; a move then removes
// the source's records (still under its lock). A target holding newer records than the source is
// refused unless forced.
import { canonicalJson, isEmpty, newestStamp } from "./common.js";
import { StoreError, type ClusterStore, type ObjectRecords, type StoreOp } from "./types.js";

export interface MigrateOptions {
  /** Overwrite a target whose records are newer than the source's. */
  readonly force?: boolean;
  readonly command?: string;
  readonly lockTimeoutMs?: number;
  /** A move: once the target's copy is verified, the source's records are removed (under its lock). */
  readonly removeSource?: boolean;
}

export interface MigrateResult {
  readonly object: string;
  readonly copied: { config: boolean; instances: number; shared: number; orchestration: boolean };
  /** The target's records before (what was replaced). */
  readonly replaced: ObjectRecords;
  /** The source's records were removed (a move). */
  readonly removedSource: boolean;
}

function opsOf(rec: ObjectRecords): StoreOp[] {
  const ops: StoreOp[] = [{ op: "purge" }];
  if (rec.config) ops.push({ op: "config", text: rec.config.text });
  for (const r of Object.values(rec.instances)) ops.push({ op: "instance", record: r });
  for (const r of Object.values(rec.shared)) ops.push({ op: "shared", record: r });
  if (rec.orchestration) ops.push({ op: "orchestration", record: rec.orchestration });
  return ops;
}

/** The records as compared: the config's write time is the target's own. */
function comparable(rec: ObjectRecords): string {
  const { config, ...rest } = rec;
  return canonicalJson({ ...rest, config: config ? { text: config.text, sha256: config.sha256 } : undefined });
}

export async function migrateObject(from: ClusterStore, to: ClusterStore, object: string, opts: MigrateOptions = {}): Promise<MigrateResult> {
  const req = { command: opts.command ?? `osvc ${object} migrate ${from.backend} -> ${to.backend}` };
  const lockOpts = { timeoutMs: opts.lockTimeoutMs ?? 0 };
  const src = await from.lock(object, req, lockOpts);
  try {
    const dst = await to.lock(object, req, lockOpts);
    try {
      const rec = await from.readObject(object);
      if (isEmpty(rec)) throw new StoreError(`the ${from.backend} store holds no record of ${object}`, "Nothing to migrate; check the object path.");
      const before = await to.readObject(object);
      const srcStamp = newestStamp(rec);
      const dstStamp = newestStamp(before);
      if (!opts.force && !isEmpty(before) && dstStamp > srcStamp) {
        throw new StoreError(
          `the ${to.backend} store holds newer records of ${object} (${dstStamp}) than the ${from.backend} store (${srcStamp})`,
          "Migrating would lose them: migrate the other way, or force it.",
        );
      }
      await dst.write(opsOf(rec));
      const after = await to.readObject(object);
      if (comparable(after) !== comparable(rec)) {
        throw new StoreError(`the records of ${object} read back from the ${to.backend} store differ from the ${from.backend} store's`, "The source is untouched; run the migration again.");
      }
      if (opts.removeSource) await src.write([{ op: "purge" }]);
      return {
        object: rec.object,
        copied: { config: Boolean(rec.config), instances: Object.keys(rec.instances).length, shared: Object.keys(rec.shared).length, orchestration: Boolean(rec.orchestration) },
        replaced: before,
        removedSource: Boolean(opts.removeSource),
      };
    } finally {
      await dst.release();
    }
  } finally {
    await src.release();
  }
}
