// The plan: plain data. apply/ executes it and never re-derives decisions from a template.
import type { StatusLogLine } from "../provider/api.js";
import type { Diagnostic } from "../core/diagnostics.js";
import type { KeywordType } from "../core/schema.js";
import type { KwValue, Outputs } from "../core/value.js";

export const PLAN_FORMAT_VERSION = "1";

/** A closed set of actions, each with one symbol shared by every renderer. */
export type Action = "provision" | "update" | "replace" | "unprovision" | "start" | "stop" | "adopt" | "follow" | "noop";

/** Actions that run in reverse dependency order (dependents first). */
export const DESCENDING: ReadonlySet<Action> = new Set(["unprovision", "stop"]);

export const ACTION_SYMBOL: Readonly<Record<Action, string>> = {
  provision: "+",
  update: "~",
  replace: "-/+",
  unprovision: "-",
  start: ">",
  stop: "<",
  adopt: "=",
  follow: "&",
  noop: " ",
};

/** Display order of the closing summary: destructive first. */
export const SUMMARY_ORDER: readonly Action[] = ["unprovision", "replace", "stop", "provision", "update", "adopt", "start", "follow"];

export const ACTION_TEXT: Readonly<Record<Action, string>> = {
  provision: "will be provisioned",
  update: "will be updated in place",
  replace: "must be replaced",
  unprovision: "will be unprovisioned",
  start: "will be started",
  stop: "will be stopped",
  adopt: "will be adopted",
  follow: "will be recorded as provisioned by the leader",
  noop: "unchanged",
};

/** One keyword change. `before`/`after` are display values; UNKNOWN is "(known after apply)". */
export interface KeywordDiff {
  readonly key: string;
  readonly before?: KwValue;
  readonly after?: KwValue;
  readonly afterUnknown?: boolean;
  readonly sensitive?: boolean;
  /** This change forces a replace. */
  readonly forcesReplace?: boolean;
}

export interface ResourceChange {
  readonly rid: string;
  readonly driver: string;
  readonly action: Action;
  /** Why, in a few words ("not on the host", "mnt_opt changed", "not in the template"). */
  readonly reason: string;
  readonly diff: readonly KeywordDiff[];
  /** Desired converted inputs (deferred ones resolved where possible). */
  readonly inputs: Readonly<Record<string, KwValue>>;
  /** Keywords whose value is only known after apply (deferred references). */
  readonly unknownInputs: readonly string[];
  /** Raw texts of deferred inputs, resolved at apply time from dependencies' outputs. */
  readonly deferredInputs: Readonly<Record<string, { readonly text: string; readonly type?: KeywordType }>>;
  /** Driver-group slot (start natural order): a change runs after every change of earlier slots. */
  readonly slot: number;
  /** Rids this resource must wait for (apply order), and that must wait for it (destroy order). */
  readonly dependsOn: readonly string[];
  /** Recorded outputs before this plan (for unprovision/stop). */
  readonly priorOutputs?: Outputs;
  /**
   * An interrupted apply was provisioning it and recorded facts of what it created (priorOutputs):
   * this provision finishes that run's creation. What osvc created is known from those facts only.
   */
  readonly resumed?: boolean;
  /** The resource is data-bearing and a replace is refused unless allowed. */
  readonly blocked?: string;
  /** A replace only because what it sits on is replaced (a fs on a re-created disk). */
  readonly cascaded?: boolean;
  /** Data this change destroys on the host: shown with its own marker, refused unless allowed. */
  readonly destroys?: Destruction;
  readonly shared?: boolean;
  /** Only the state changes (a shared resource on a follower, a resource never provisioned). */
  readonly stateOnly?: boolean;
  /**
   * unprovision of a resource not recorded as provisioned but up on the host: it is stopped (not
   * unprovisioned) before what it depends on goes, then forgotten.
   */
  readonly stopFirst?: boolean;
  /** A line the apply log shows for this change even when it does nothing (why it is kept up). */
  readonly notice?: string;
  readonly standby?: boolean;
  readonly optional?: boolean;
  /** What the probe saw. */
  readonly observed?: { provisioned: boolean | null; up: boolean; log?: readonly StatusLogLine[] };
}

/** A destructive step of a change: a format of a device, a deletion of files. */
export interface Destruction {
  /** keep: what would be deleted holds data and is kept, for lack of consent (--allow-destroy). */
  readonly kind: "format" | "delete" | "keep";
  /** The device or path ("/dev/loop3", "the device of disk#0", "/srv/web/www"). */
  readonly target: string;
  /** What is there, in a few words ("blank: ...", "3 files (12 KiB)"). */
  readonly detail: string;
  /** Why it is refused (it holds data and the user did not allow it). */
  readonly refused?: string;
}

/** The marker of a destructive step in plan text ("will FORMAT /dev/loop3"). */
export function destructionText(d: Destruction): string {
  return `will ${d.kind === "format" ? "FORMAT" : d.kind === "delete" ? "DELETE" : "KEEP"} ${d.target}`;
}

/** The option that allows a refused destruction of this kind. */
export function allowFlag(d: Destruction): string {
  return d.kind === "format" ? "--allow-format" : "--allow-destroy";
}

export interface Plan {
  readonly formatVersion: string;
  readonly osvcVersion: string;
  readonly object: string; // path
  readonly node: string;
  readonly createdAt: string;
  /** State identity the plan was computed against: apply refuses a plan when these moved. */
  readonly lineage: string | null;
  readonly serial: number;
  readonly templateHash: string;
  readonly role: "leader" | "follower" | "solo";
  /** Changes in apply order (unprovisions first, in reverse dependency order). */
  readonly changes: readonly ResourceChange[];
  readonly diagnostics: readonly Diagnostic[];
  /** Options that shaped the plan. */
  readonly options: {
    readonly refresh: boolean;
    readonly targets: readonly string[];
    readonly excludes: readonly string[];
    readonly allowReplace: readonly string[];
    /** --allow-format <rid>: format a device that holds data without a signature. */
    readonly allowFormat?: readonly string[];
    /** --allow-destroy <rid>: delete data osvc did not create (files added to a directory). */
    readonly allowDestroy?: readonly string[];
    readonly destroy: boolean;
    readonly mode?: PlanMode;
  };
}

/** converge: make the host match (plan/apply); destroy: remove everything recorded;
 *  start/stop: the OpenSVC start and stop actions (no provisioning). */
export type PlanMode = "converge" | "destroy" | "start" | "stop";

/** The reason of a status-only resource's noop (sync: its own action runs it). */
export const STATUS_ONLY = "status only: `osvc <path> sync update` runs it";

export function hasChanges(p: Plan): boolean {
  return p.changes.some((c) => c.action !== "noop");
}

export function countByAction(p: Plan): Record<Action, number> {
  const out = { provision: 0, update: 0, replace: 0, unprovision: 0, start: 0, stop: 0, adopt: 0, follow: 0, noop: 0 } as Record<Action, number>;
  for (const c of p.changes) out[c.action]++;
  return out;
}
