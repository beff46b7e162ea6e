// Status model (reference §10): resource status, the 8-character flags, avail/overall merges.
import type { StatusLogLine } from "../provider/api.js";
import { STATUS_ONLY, type Plan, type ResourceChange } from "./model.js";

export type Status = "up" | "down" | "warn" | "n/a" | "undef" | "stdby up" | "stdby down";
type Merged = Status | "up+stdby" | "stdby up+down";

export interface ResourceStatus {
  readonly rid: string;
  readonly driver: string;
  readonly status: Status;
  readonly flags: string;
  readonly provisioned: boolean | null;
  readonly optional: boolean;
  readonly label: string;
  readonly note?: string;
  /** Status log lines (an app's check output with status_log). */
  readonly log?: readonly StatusLogLine[];
}

export interface ObjectStatus {
  readonly object: string;
  readonly node: string;
  readonly avail: Status;
  readonly overall: Status;
  readonly provisioned: "true" | "false" | "mixed" | "n/a";
  readonly resources: readonly ResourceStatus[];
}

/** Commutative merge of two statuses (reference §10.2); n/a and undef are identities. */
export function mergeStatus(a: Merged, b: Merged): Merged {
  if (a === "n/a" || a === "undef") return b === "undef" && a === "n/a" ? "n/a" : b;
  if (b === "n/a" || b === "undef") return a;
  if (a === "warn" || b === "warn") return "warn";
  const key = [a, b].sort().join("|");
  const table: Record<string, Merged> = {
    "up|up": "up",
    "down|up": "warn",
    "stdby up|up": "up+stdby",
    "stdby down|up": "warn",
    "down|down": "down",
    "down|stdby up": "stdby up+down",
    "down|stdby down": "stdby down",
    "stdby up|stdby up": "stdby up",
    "stdby down|stdby up": "warn",
    "stdby down|stdby down": "stdby down",
    "up|up+stdby": "up+stdby",
    "up+stdby|up+stdby": "up+stdby",
    "down|up+stdby": "warn",
    "stdby down|up+stdby": "warn",
    "stdby up|up+stdby": "up+stdby",
    "stdby up+down|up+stdby": "warn",
    "down|stdby up+down": "stdby up+down",
    "stdby up|stdby up+down": "stdby up+down",
    "stdby up+down|up": "warn",
    "stdby down|stdby up+down": "warn",
    "stdby up+down|stdby up+down": "stdby up+down",
  };
  return table[key] ?? "warn";
}

function finalize(m: Merged): Status {
  if (m === "up+stdby") return "up";
  if (m === "stdby up+down") return "stdby up";
  return m;
}

/** P: not provisioned as recorded by osvc ("set provisioned" or a successful start records it); /: no provisioner. */
export function flagsOf(c: ResourceChange, o: { disabled: boolean; monitor: boolean; encap: boolean; restart: number; running?: boolean; recorded?: boolean | null }): string {
  const prov = c.observed?.provisioned === null || o.recorded === null ? "/" : o.recorded ? "." : "P";
  const restart = o.restart <= 0 ? "." : o.restart >= 10 ? "+" : String(o.restart);
  return [o.running ? "R" : ".", o.monitor ? "M" : ".", o.disabled ? "D" : ".", c.optional ? "O" : ".", o.encap ? "E" : ".", prov, c.standby ? "S" : ".", restart].join("");
}

export function resourceStatus(c: ResourceChange, disabled: boolean): Status {
  if (disabled) return "n/a";
  if (c.blocked === "no provider") return "undef";
  if (!c.observed) return "down";
  const up = c.observed.up;
  if (c.standby) return up ? "stdby up" : "stdby down";
  return up ? "up" : "down";
}

/** Aggregates: avail (non-optional, excluding sync and task) and overall (all, warn on problems). */
export function aggregate(resources: readonly ResourceStatus[]): { avail: Status; overall: Status; provisioned: ObjectStatus["provisioned"] } {
  let avail: Merged = "n/a";
  let overall: Merged = "n/a";
  for (const r of resources) {
    const group = r.rid.split("#")[0];
    if (!r.optional && group !== "sync" && group !== "task") avail = mergeStatus(avail, r.status);
    overall = mergeStatus(overall, r.note ? mergeStatus(r.status, "warn") : r.status);
  }
  const provs = new Set(resources.filter((r) => r.provisioned !== null).map((r) => r.provisioned));
  const provisioned = provs.size === 0 ? "n/a" : provs.size > 1 ? "mixed" : provs.has(true) ? "true" : "false";
  return { avail: finalize(avail), overall: finalize(overall), provisioned };
}

export function planStatus(plan: Plan, info: (rid: string) => { disabled: boolean; monitor: boolean; encap: boolean; restart: number; label: string; recorded?: boolean | null }): ObjectStatus {
  const resources: ResourceStatus[] = plan.changes
    .filter((c) => !(c.action === "unprovision" && !plan.options.destroy))
    .map((c) => {
      const i = info(c.rid);
      const status = resourceStatus(c, i.disabled);
      return {
        rid: c.rid,
        driver: c.driver,
        status,
        flags: flagsOf(c, i),
        // A status-only resource (sync) has nothing to provision: it does not count in "provisioned".
        provisioned: c.reason === STATUS_ONLY ? null : i.recorded === undefined ? (i.disabled ? null : false) : i.recorded,
        optional: c.optional ?? false,
        label: i.label,
        note: c.blocked === "no provider" ? "no provider on this host" : undefined,
        ...(c.observed?.log?.length ? { log: c.observed.log } : {}),
      };
    });
  return { object: plan.object, node: plan.node, ...aggregate(resources), resources };
}
