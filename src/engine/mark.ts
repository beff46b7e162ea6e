// `set provisioned|unprovisioned`: the state's provisioned flags set by hand (nothing on the host changes).
import type { EvaluatedTemplate } from "../config/index.js";
import { desiredInputs } from "../plan/planner.js";
import type { ResourceState } from "../state/model.js";
import type { EngineContext } from "./context.js";

export interface MarkRequest {
  readonly object: string;
  /** The object's installed config, evaluated for this node. */
  readonly evaluated: EvaluatedTemplate;
  /** Only these rids (default: every resource). */
  readonly rids: readonly string[];
  readonly provisioned: boolean;
  /** Told of each rid as it is marked. */
  readonly onMarked?: (rid: string) => void;
}

/** Marks the resources provisioned or not in the state (a new state when none is recorded). Call it under the object's lock. */
export async function markProvisioned(ctx: EngineContext, req: MarkRequest): Promise<void> {
  const { store } = ctx;
  const { object, provisioned: value } = req;
  const state = (await store.readState(object)) ?? store.newState(object, req.evaluated.nodename, "", null);
  const next = structuredClone(state);
  const now = new Date().toISOString();
  for (const r of req.evaluated.resources) {
    const rid = r.rid.toString();
    if (req.rids.length && !req.rids.includes(rid)) continue;
    const prev = next.resources[rid];
    const { inputs } = desiredInputs(r, () => undefined);
    const entry: ResourceState = {
      ...(prev ?? {}),
      rid,
      driver: r.driver?.id ?? `${r.rid.group}.${r.type ?? "?"}`,
      provisioned: value,
      inputs: prev?.inputs ?? (inputs as Record<string, unknown>),
      outputs: prev?.outputs ?? {},
      createdByOsvc: prev?.createdByOsvc ?? false,
      updatedAt: now,
    };
    next.resources[rid] = entry;
    req.onMarked?.(rid);
  }
  next.updatedAt = now;
  await store.writeState(object, next, state.serial);
}
