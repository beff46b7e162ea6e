// The provider API (DESIGN §6). Providers import this file, exec.ts and core/ only.
import type { DriverSpec } from "../core/schema.js";
import type { Allocations } from "../core/alloc.js";
import type { ConfigPatch } from "../core/patch.js";

export type { AllocationRecord, Allocations } from "../core/alloc.js";
import type { KwValue, Outputs } from "../core/value.js";
import type { Exec } from "./exec.js";

/** One evaluated resource, as a provider sees it: every value resolved and converted. */
export interface ResourceSpec {
  readonly rid: string; // "fs#1"
  readonly driver: string; // "fs.ext4"
  /** Converted keyword values, defaults applied. Absent keywords are missing keys. */
  readonly kw: Readonly<Record<string, KwValue>>;
  /** Outputs recorded for this resource at the last apply (for idempotency and stop/unprovision). */
  readonly recorded?: Outputs;
  /**
   * The user's explicit consent for this resource (--allow-format, --allow-destroy <rid>); `replace`:
   * this unprovision is the removal half of a replace the plan allowed (--allow-replace for data).
   */
  readonly allow?: { readonly format?: boolean; readonly destroy?: boolean; readonly replace?: boolean };
}

export type LogLevel = "info" | "warning" | "error";

export interface ProviderContext {
  readonly exec: Exec;
  /** Logs one line for this resource (rendered as "INFO    <name>.<rid>   <message>"). */
  log(level: LogLevel, message: string): void;
  readonly signal: AbortSignal;
  readonly role: "leader" | "follower" | "solo";
  /** Object name (path) and node this runs for. */
  readonly objectName: string;
  readonly nodename: string;
  /** Per-object private directory on this node (var dir), created by the engine. */
  readonly varDir: string;
  /**
   * Hands over best-effort work that must not hold the resource up (a gratuitous ARP announce
   * that then idles for a second): the engine awaits it before the run ends. The work must not
   * reject; it logs its own failures. Where a context has no `background`, await the work.
   */
  readonly background?: (work: Promise<void>) => void;
  /** Reads a key of a cfg/sec object of the object's namespace (configs_/secrets_environment). */
  readonly readData?: DataReader;
  /**
   * Durably records facts about what this step just created on the host (`created_dir: true`),
   * merged into the resource's recorded outputs before the step ends. A provider calls it right
   * after it created something: an interrupted run is resumed from these facts (they come back in
   * `recorded`), never from "an intent was journaled", so osvc never takes what it found for its
   * own. Absent where nothing can be recorded (rollback, status); use `noteCreated`.
   */
  readonly recordFacts?: (facts: Outputs) => Promise<void>;
  /** The vol objects of the object's namespace (the volume driver); absent where none can be reached. */
  readonly volumes?: VolumeHost;
  /**
   * Writes keyword values back into the object's installed config (a provisioner that filled
   * `<allocate>`): journaled, applied (validated by re-compiling; temp file, fsync, rename, backup)
   * and recorded with the resource before the next resource runs. Absent where nothing can be
   * written (rollback, status): a provisioner that must write back refuses to run without it.
   */
  readonly writeBack?: (patch: ConfigPatch) => Promise<void>;
  /** The allocation records (addresses...) of this node, or of the cluster: create-if-absent. */
  readonly allocations?: Allocations;
}

/** What a volume resource sees of its vol object. */
export interface VolumeInfo {
  /** The vol object path ("<ns>/vol/<name>"). */
  readonly path: string;
  /** Its config is installed on this node. */
  readonly exists: boolean;
  /** The objects claiming it (DEFAULT.children). */
  readonly children: readonly string[];
  readonly pool?: string;
  /** Every resource of the vol is recorded provisioned. */
  readonly provisioned: boolean;
  /** The vol is up (its status, probed live). */
  readonly up: boolean;
  /** Why it is not up, when provisioned (its status: avail and the resources not up). */
  readonly down?: string;
  /** Its head: the mount point of its filesystem (or its directory). */
  readonly mnt?: string;
  readonly exposedDevs: readonly string[];
}

/** What the volume driver asks of a pool (size in bytes). */
export interface VolumeAllocation {
  readonly pool?: string;
  readonly type?: string;
  readonly size?: number;
  readonly access: string;
  readonly format: boolean;
}

/** The vol objects of one namespace on this node, as the volume driver drives them. */
export interface VolumeHost {
  /** Read-only. */
  info(name: string): Promise<VolumeInfo>;
  /** Writes the vol's config from the pool chosen for `req`, claimed by `consumer`; returns the pool name. */
  create(name: string, req: VolumeAllocation, consumer: string): Promise<string>;
  /** Adds (claim) or removes (unclaim) `consumer` in the vol's children. */
  claim(name: string, consumer: string): Promise<void>;
  unclaim(name: string, consumer: string): Promise<void>;
  /** Runs the vol's own action on this node (`osvc <vol> provision|start|stop --local`). */
  act(name: string, action: "provision" | "start" | "stop", log: (line: string) => void, opts?: { leader?: boolean }): Promise<void>;
}

/** Records what a provider just created (see ProviderContext.recordFacts); a no-op where unsupported. */
export async function noteCreated(ctx: ProviderContext, facts: Outputs): Promise<void> {
  if (ctx.recordFacts) await ctx.recordFacts(facts);
}

/** A key of a config (cfg) or secret (sec) object; throws ProviderError when missing. */
export type DataReader = (kind: "cfg" | "sec", name: string, key: string) => Promise<Buffer>;

/** Runs best-effort work in the background when the context allows it, else awaits it. */
export async function inBackground(ctx: ProviderContext, work: Promise<void>): Promise<void> {
  if (ctx.background) ctx.background(work);
  else await work;
}

export interface StatusLogLine {
  readonly level: "info" | "warning" | "error";
  readonly message: string;
}

/** What a read-only probe found on the host. */
/** A problem a probe found; `keyword` names the keyword it is about (diagnostics point at its line). */
export interface ProbeProblem {
  readonly level: "warning" | "error";
  readonly message: string;
  readonly hint?: string;
  readonly keyword?: string;
}

export interface Observed {
  /** The thing exists (file created, filesystem formatted, container created...). null: no provisioner (n/a). */
  readonly provisioned: boolean | null;
  /** Active: attached, mounted, address configured, process running. */
  readonly up: boolean;
  /** Current values of keywords the provider can read back (for drift and in-place updates). */
  readonly actual?: Readonly<Record<string, KwValue>>;
  /** Outputs that can be computed from the host (loop device of a file...). */
  readonly outputs?: Outputs;
  /** Problems found without acting (a foreign filesystem signature...). Errors block provisioning. */
  /** What the probe found worth saying. */
  readonly problems?: readonly ProbeProblem[];
  /** Status log lines shown under the resource by `status` (an app's check output with status_log). */
  readonly log?: readonly StatusLogLine[];
  /**
   * What a format would destroy: the device a provision would format (fs.*, no signature), or the
   * existing backing file of a device not attached yet (disk.loop), sampled read-only.
   */
  readonly content?: DeviceContent;
}

/** A device's content, as far as a format is concerned. */
export interface DeviceContent {
  /** The device (or image file) looked at. */
  readonly device: string;
  /** A signature blkid found (a filesystem type, a partition table): mkfs never runs over it. */
  readonly signature?: string;
  /** No signature and only zeros in every sampled region. */
  readonly blank: boolean;
  /** What was found, in a few words ("non-zero data at offset 4096 ..."). */
  readonly detail: string;
}

/** What removing a resource would delete on the host, found read-only before the plan is shown. */
export interface RemovalImpact {
  /** The path or device deleted. */
  readonly target: string;
  /** What it holds ("3 files, 12 KiB"). */
  readonly detail: string;
  /** It holds data (not only what osvc created empty): removal needs --allow-destroy <rid>. */
  readonly data: boolean;
}

export interface Provider {
  /** Driver id: "disk.loop", "fs.ext4", "ip.netns", "app.forking"... */
  readonly type: string;
  readonly spec: DriverSpec;
  /** Keywords whose change can be applied in place with update(); others need replace (data-bearing) or restart. */
  readonly updatable?: readonly string[];
  /** Holds data: a replace is refused unless explicitly allowed. */
  readonly dataBearing?: boolean;
  /** Provision formats the device named by this keyword ("dev") when it holds no signature. */
  readonly formats?: string;
  /** Read-only: what unprovision would delete (fs.directory: the files under the directory). */
  removalImpact?(ctx: ProbeContext, r: ResourceSpec): Promise<RemovalImpact | undefined>;
  /** Batched, read-only. Returns one Observed per resource, same order. */
  probe(ctx: ProbeContext, resources: readonly ResourceSpec[]): Promise<Observed[]>;
  /**
   * Starts, in the background, the read-only listing its probe asks for first, for its probe to use
   * (`osvc plan` calls it for the drivers the recorded state names, while the template compiles).
   * Errors are left for the probe to report.
   */
  prefetch?(exec: Exec): void;
  /** Idempotent. Must refuse to overwrite data it did not create. Leaves the resource up. */
  provision(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs>;
  /** Destroys what provision created. Deleting something already gone is success. */
  unprovision(ctx: ProviderContext, r: ResourceSpec): Promise<void>;
  start(ctx: ProviderContext, r: ResourceSpec): Promise<Outputs>;
  stop(ctx: ProviderContext, r: ResourceSpec): Promise<void>;
  /** In-place change of updatable keywords (remount options, chmod). */
  update?(ctx: ProviderContext, r: ResourceSpec, before: ResourceSpec): Promise<Outputs>;
  /** Read-only key/value facts about the resource (an app's `info` command), for `print resinfo`. */
  info?(ctx: ProbeContext, r: ResourceSpec): Promise<readonly ResourceInfo[]>;
  /**
   * Status only: apply never provisions, starts, stops or unprovisions it; its probe reports
   * status (sync resources). Its own action is `syncUpdate`.
   */
  readonly statusOnly?: boolean;
  /** `osvc <path> sync update`: replicate to the peers (local paths or nodes over ssh). */
  syncUpdate?(ctx: ProviderContext, r: ResourceSpec, peers: readonly SyncPeer[]): Promise<Outputs>;
}

/** A sync destination: this node ("local"), or a peer node reached over ssh by its name. */
export interface SyncPeer {
  readonly node: string;
  readonly local: boolean;
  /** ssh client config file for the peers (node config `[node] ssh_config`). */
  readonly sshConfig?: string;
}

export interface ResourceInfo {
  readonly key: string;
  readonly value: string;
}

/** Probes get exec and identity, but no logger side effects beyond debug. */
export interface ProbeContext {
  readonly exec: Exec;
  readonly objectName: string;
  readonly nodename: string;
  readonly varDir: string;
  readonly readData?: DataReader;
  readonly volumes?: VolumeHost;
}

/** A provider failure meant for the user: message, optional hint. */
export class ProviderError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "ProviderError";
  }
}
