// The engine's typed requests: what cli/ (from argv) and cluster/ ask of it. No options bag.
import type { PlanMode } from "../plan/model.js";
import type { Confirm } from "./context.js";

/** Which resources a plan covers and what the user allowed (--target, --allow-replace, ...). */
export interface PlanSelection {
  /** Probe the host (default), or trust the recorded state. */
  readonly refresh?: boolean;
  readonly targets?: readonly string[];
  readonly excludes?: readonly string[];
  readonly allowReplace?: readonly string[];
  readonly allowFormat?: readonly string[];
  readonly allowDestroy?: readonly string[];
  /** This node creates (and removes) shared resources. */
  readonly leader?: boolean;
}

/** A plan of one object's prepared template on this node. */
export interface PlanRequest extends PlanSelection {
  /** converge (default; destroy for a destroy plan), start or stop. */
  readonly mode?: PlanMode;
  /** stop: standby resources too; E3008 (a node the template does not name) waived. */
  readonly force?: boolean;
  /** The node was named on purpose (--node): E3008 waived. */
  readonly nodeNamed?: boolean;
  /** The [env] overrides the template was compiled with (part of the template hash). */
  readonly env?: Readonly<Record<string, string>>;
}

/** The object's lock around an action. */
export interface LockRequest {
  readonly object: string;
  /** The command line, recorded as the holder's. */
  readonly command: string;
  /** How long to wait for a held lock (ms); 0: fail at once. */
  readonly timeoutMs: number;
  /** Act on state.json.backup (state.json missing or corrupt) without asking. */
  readonly force?: boolean;
  /** Asked before acting on state.json.backup; absent: refused with a hint (no terminal to ask on). */
  readonly confirmBackup?: Confirm;
  /** Told while the lock is held by another run. */
  readonly onWait?: (text: string) => void;
}
