// Data model of the embedded local state store (DESIGN §4).

export const STATE_FORMAT = 1 as const;

/** The per-object state file, `<root>/objects/<ns>/<kind>/<name>/state.json`. */
export interface StateFile {
  format: typeof STATE_FORMAT;
  /** UUID created with the object; never changes while the object exists. */
  lineage: string;
  /** Incremented on every write. A fresh, never written state has serial 0. */
  serial: number;
  /** Object path, as formatted by formatObjectPath. */
  object: string;
  node: string;
  osvcVersion: string;
  templateHash: string | null;
  /** ISO 8601. */
  updatedAt: string;
  resources: Record<string, ResourceState>;
}

export type ResourceStatus = "ready" | "tainted";

export interface ResourceState {
  rid: string;
  driver: string;
  /** null = not applicable for this driver. */
  provisioned: boolean | null;
  /** The converted keyword values applied. */
  inputs: Record<string, unknown>;
  /** Values known only after apply (loop device, allocated values). */
  outputs: Record<string, unknown>;
  status?: ResourceStatus;
  createdByOsvc?: boolean;
  shared?: boolean;
  /** Recorded as provisioned by a non-leader without acting. */
  follow?: boolean;
  provisionedAt?: string;
  updatedAt: string;
  lastError?: string;
  /** Rids this resource depended on when applied: orders its unprovision once it left the template. */
  dependsOn?: string[];
  /** Standby resource (kept up by stop). */
  standby?: boolean;
  /** Driver-group slot it was applied in: orders its removal once it left the template. */
  slot?: number;
}

export type JournalOp = "intent" | "outcome";

/** One line of `journal.ndjson`. */
export interface JournalEntry {
  ts: string;
  /** Run id (one per apply). */
  run: string;
  op: JournalOp;
  rid: string;
  action: string;
  /** Outcomes only. */
  ok?: boolean;
  error?: string;
}

/** Intents of one run that have no outcome: the step may or may not have happened. */
export interface PendingRun {
  run: string;
  intents: JournalEntry[];
}

/** A state store failure the user can act on (corrupt files, concurrent writers). */
export class StateError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(hint ? `${message}; ${hint}` : message);
    this.name = "StateError";
  }
}

type Json = Record<string, unknown>;

function isRecord(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function optional(o: Json, key: string, type: "string" | "boolean"): boolean {
  return o[key] === undefined || typeof o[key] === type;
}

/** Shape check of a parsed resource entry; returns a reason when invalid. */
export function resourceProblem(rid: string, r: unknown): string | undefined {
  if (!isRecord(r)) return `resource ${rid} is not an object`;
  if (r.rid !== rid) return `resource ${rid} has rid ${JSON.stringify(r.rid)}`;
  if (typeof r.driver !== "string") return `resource ${rid}: driver is not a string`;
  if (!(r.provisioned === null || typeof r.provisioned === "boolean")) return `resource ${rid}: provisioned is not a boolean or null`;
  if (!isRecord(r.inputs) || !isRecord(r.outputs)) return `resource ${rid}: inputs/outputs are not objects`;
  if (!(r.status === undefined || r.status === "ready" || r.status === "tainted")) return `resource ${rid}: bad status`;
  if (typeof r.updatedAt !== "string") return `resource ${rid}: updatedAt is not a string`;
  for (const k of ["createdByOsvc", "shared", "follow"]) {
    if (!optional(r, k, "boolean")) return `resource ${rid}: ${k} is not a boolean`;
  }
  for (const k of ["provisionedAt", "lastError"]) {
    if (!optional(r, k, "string")) return `resource ${rid}: ${k} is not a string`;
  }
  return undefined;
}

/** Parses and checks a state file; throws a plain Error with the reason when invalid. */
export function parseStateFile(text: string): StateFile {
  const v: unknown = JSON.parse(text);
  if (!isRecord(v)) throw new Error("not a JSON object");
  if (v.format !== STATE_FORMAT) throw new Error(`unsupported format ${JSON.stringify(v.format)} (expected ${STATE_FORMAT})`);
  if (typeof v.lineage !== "string" || v.lineage === "") throw new Error("lineage is missing");
  if (typeof v.serial !== "number" || !Number.isInteger(v.serial) || v.serial < 0) throw new Error("serial is not a non-negative integer");
  for (const k of ["object", "node", "osvcVersion", "updatedAt"]) {
    if (typeof v[k] !== "string") throw new Error(`${k} is not a string`);
  }
  if (!(v.templateHash === null || typeof v.templateHash === "string")) throw new Error("templateHash is not a string or null");
  if (!isRecord(v.resources)) throw new Error("resources is not an object");
  for (const [rid, r] of Object.entries(v.resources)) {
    const p = resourceProblem(rid, r);
    if (p) throw new Error(p);
  }
  return v as unknown as StateFile;
}

/** Parses one journal line; throws a plain Error when invalid. */
export function parseJournalEntry(text: string): JournalEntry {
  const v: unknown = JSON.parse(text);
  if (!isRecord(v)) throw new Error("not a JSON object");
  if (v.op !== "intent" && v.op !== "outcome") throw new Error(`bad op ${JSON.stringify(v.op)}`);
  for (const k of ["ts", "run", "rid", "action"]) {
    if (typeof v[k] !== "string") throw new Error(`${k} is not a string`);
  }
  if (!optional(v, "ok", "boolean") || !optional(v, "error", "string")) throw new Error("bad ok/error");
  return v as unknown as JournalEntry;
}
