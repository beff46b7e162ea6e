// Saved plans (--out): the plan, the template sources it was made from, and the identity of the
// state it was made against. `apply` refuses a plan whose state or osvc version moved.
import { readFile, rename, writeFile } from "node:fs/promises";
import { createHash } from "node:crypto";
import type { Plan } from "./model.js";

export const PLANFILE_KIND = "osvc-plan";

export interface SavedPlan {
  readonly kind: typeof PLANFILE_KIND;
  readonly plan: Plan;
  /** The template sources, installed as the object's config when the plan is applied. */
  readonly sources: readonly { name: string; text: string }[];
  /** Options the plan was made with that apply must honour. */
  readonly path: string;
  readonly root: string;
  /** Checksum of the plan body: a hand-edited plan is refused. */
  readonly checksum: string;
}

function checksumOf(p: Omit<SavedPlan, "checksum">): string {
  return createHash("sha256").update(JSON.stringify([p.kind, p.plan, p.sources, p.path, p.root])).digest("hex");
}

export async function savePlan(file: string, body: Omit<SavedPlan, "kind" | "checksum">): Promise<void> {
  const withKind = { kind: PLANFILE_KIND, ...body } as const;
  const saved: SavedPlan = { ...withKind, checksum: checksumOf(withKind) };
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(saved, null, 1) + "\n", { mode: 0o600 });
  await rename(tmp, file);
}

export class PlanFileError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "PlanFileError";
  }
}

/** True when the file looks like a saved plan (so `apply FILE` can take a template or a plan). */
export async function isPlanFile(file: string): Promise<boolean> {
  try {
    const head = (await readFile(file, "utf8")).slice(0, 200);
    return head.includes(`"kind": "${PLANFILE_KIND}"`);
  } catch {
    return false;
  }
}

export async function loadPlan(file: string): Promise<SavedPlan> {
  let v: SavedPlan;
  try {
    v = JSON.parse(await readFile(file, "utf8")) as SavedPlan;
  } catch (e) {
    throw new PlanFileError(`${file} is not a readable plan file: ${(e as Error).message}`);
  }
  if (v.kind !== PLANFILE_KIND) throw new PlanFileError(`${file} is not an osvc plan file`);
  const { checksum, ...rest } = v;
  if (checksumOf(rest) !== checksum) throw new PlanFileError(`${file} was modified after it was saved`, "Make a new plan with `osvc plan --out`.");
  return v;
}

/** Refuses a saved plan when the state or osvc moved since it was made. */
export function checkStale(saved: SavedPlan, current: { lineage: string | null; serial: number; osvcVersion: string }): void {
  const p = saved.plan;
  if (p.osvcVersion !== current.osvcVersion) {
    throw new PlanFileError(`the plan was made by osvc ${p.osvcVersion}, this is osvc ${current.osvcVersion}`, "Make a new plan with this version.");
  }
  if (p.lineage !== null && current.lineage !== null && p.lineage !== current.lineage) {
    throw new PlanFileError(`the plan does not match the state of ${p.object}: it was made for another lineage (${p.lineage}, the state is ${current.lineage})`, "The object was destroyed and re-created since; make a new plan.");
  }
  if (p.lineage === null && current.lineage !== null) {
    throw new PlanFileError(`the plan is stale: it was made before ${p.object} had any state, and it has one now (serial ${current.serial})`, "Make a new plan with `osvc plan --out`.");
  }
  if (p.serial !== current.serial) {
    throw new PlanFileError(`the plan is stale: it was made against state serial ${p.serial}, the state is now at serial ${current.serial}`, "Something changed the object since the plan was made; review a new plan with `osvc plan --out`.");
  }
}
