// Helpers both backends share: canonical object paths, names checked before they become keys or
// file names, the holder record, and applying a batch of ops to an object's records.
import { createHash } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { parseObjectPath } from "../../core/path.js";
import { StoreError, type ConfigRecord, type InstanceRecord, type LockHolderRecord, type LockRequest, type ObjectRecords, type OrchestrationRecord, type SharedRecord, type StoreOp } from "./types.js";

/** `<namespace>/<kind>/<name>` for any accepted spelling of an object path; throws StoreError. */
export function canonicalObject(object: string): string {
  const p = parseObjectPath(object);
  if (!p.ok) throw new StoreError(`invalid object path: ${p.error}`);
  return `${p.path.namespace}/${p.path.kind}/${p.path.name}`;
}

/** A node name, rid or allocation key: printable, no whitespace, no "/" except in alloc keys. */
export function checkName(what: "node" | "rid" | "alloc key", value: string): string {
  const bad = what === "alloc key" ? /[\s\\]|^\/|\/$|\/\/|(^|\/)\.\.?($|\/)/ : /[\s/\\]|^\.\.?$/;
  if (!value || value.length > 255 || bad.test(value) || /[\x00-\x1f\x7f]/.test(value)) {
    throw new StoreError(`invalid ${what} ${JSON.stringify(value)}`);
  }
  return value;
}

export function sha256(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

export function configRecord(text: string, at = new Date().toISOString()): ConfigRecord {
  return { text, sha256: sha256(text), updatedAt: at };
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? "unknown");
  }
}

export function makeHolder(id: string, req: LockRequest, since = new Date().toISOString()): LockHolderRecord {
  return {
    id,
    user: currentUser(),
    host: hostname(),
    pid: process.pid,
    command: req.command,
    ...(req.orchestrationId ? { orchestrationId: req.orchestrationId } : {}),
    since,
  };
}

export function parseHolderRecord(raw: string): LockHolderRecord | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockHolderRecord>;
    if (typeof v !== "object" || v === null || typeof v.id !== "string" || typeof v.pid !== "number") return undefined;
    return {
      id: v.id,
      user: typeof v.user === "string" ? v.user : "unknown",
      host: typeof v.host === "string" ? v.host : "unknown",
      pid: v.pid,
      command: typeof v.command === "string" ? v.command : "unknown command",
      ...(typeof v.orchestrationId === "string" ? { orchestrationId: v.orchestrationId } : {}),
      since: typeof v.since === "string" ? v.since : "an unknown time",
    };
  } catch {
    return undefined;
  }
}

export function emptyRecords(object: string): ObjectRecords {
  return { object, instances: {}, shared: {} };
}

/** The records after a batch of ops (pure; checks names). */
export function applyOps(rec: ObjectRecords, ops: readonly StoreOp[], at = new Date().toISOString()): ObjectRecords {
  let out: ObjectRecords = rec;
  for (const o of ops) {
    switch (o.op) {
      case "config":
        out = { ...out, config: configRecord(o.text, at) };
        break;
      case "instance":
        out = { ...out, instances: { ...out.instances, [checkName("node", o.record.node)]: o.record } };
        break;
      case "deleteInstance": {
        const { [o.node]: _gone, ...rest } = out.instances;
        out = { ...out, instances: rest };
        break;
      }
      case "shared":
        out = { ...out, shared: { ...out.shared, [checkName("rid", o.record.rid)]: o.record } };
        break;
      case "deleteShared": {
        const { [o.rid]: _gone, ...rest } = out.shared;
        out = { ...out, shared: rest };
        break;
      }
      case "orchestration":
        out = { ...out, orchestration: o.record };
        break;
      case "deleteOrchestration": {
        const { orchestration: _gone, ...rest } = out;
        out = rest;
        break;
      }
      case "purge":
        out = emptyRecords(out.object);
        break;
    }
  }
  return out;
}

/** True when the object has no record at all. */
export function isEmpty(rec: ObjectRecords): boolean {
  return !rec.config && !rec.orchestration && Object.keys(rec.instances).length === 0 && Object.keys(rec.shared).length === 0;
}

/** The newest updatedAt/startedAt of the records ("" when empty): what migration compares. */
export function newestStamp(rec: ObjectRecords): string {
  const stamps = [
    rec.config?.updatedAt,
    rec.orchestration?.updatedAt,
    ...Object.values(rec.instances).map((r) => r.updatedAt),
    ...Object.values(rec.shared).map((r) => r.updatedAt),
  ].filter((s): s is string => typeof s === "string");
  return stamps.sort().at(-1) ?? "";
}

/** A deterministic JSON form of the records (keys sorted) for comparisons. */
export function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  if (v && typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(v);
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A lock's lost-signal plumbing: an AbortController plus the promise `lost`. */
export class LostSignal {
  private readonly ctl = new AbortController();
  private resolveLost!: (e: Error) => void;
  readonly lost: Promise<Error> = new Promise((r) => (this.resolveLost = r));
  get signal(): AbortSignal {
    return this.ctl.signal;
  }
  get error(): Error | undefined {
    return this.ctl.signal.aborted ? (this.ctl.signal.reason as Error) : undefined;
  }
  fire(e: Error): void {
    if (this.ctl.signal.aborted) return;
    this.ctl.abort(e);
    this.resolveLost(e);
  }
}

/**
 * The record-level writes of a lock, both backends: each is one fenced `write` of one op. A
 * backend's lock implements `write` (fenced) and `readConfig` (the stored config record).
 */
export abstract class FencedRecords {
  abstract write(ops: readonly StoreOp[]): Promise<void>;
  protected abstract readConfig(): Promise<ConfigRecord | null | undefined>;

  async putConfig(text: string): Promise<ConfigRecord> {
    await this.write([{ op: "config", text }]);
    return (await this.readConfig()) ?? configRecord(text);
  }

  putInstance(record: InstanceRecord): Promise<void> {
    return this.write([{ op: "instance", record }]);
  }

  putShared(record: SharedRecord): Promise<void> {
    return this.write([{ op: "shared", record }]);
  }

  putOrchestration(record: OrchestrationRecord): Promise<void> {
    return this.write([{ op: "orchestration", record }]);
  }
}
