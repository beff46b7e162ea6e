// What the engine works with: given by its caller (cli/ wires the concrete providers, the
// catalog and the store; DESIGN §2), never read from argv or the process.
import type { KeywordCatalog } from "../config/index.js";
import type { ProviderRegistry } from "../provider/registry.js";
import type { StateStore } from "../state/store.js";

export interface EngineContext {
  readonly store: StateStore;
  readonly registry: ProviderRegistry;
  readonly catalog: KeywordCatalog;
  readonly osvcVersion: string;
  /** Notes and warnings for the user (whole lines, newline included): the CLI writes them to stderr. */
  readonly notify: (text: string) => void;
}

/** A question the engine needs answered before it goes on (a destroy, acting on a backup state): true = "yes". */
export type Confirm = (question: string) => Promise<boolean>;

/** A refusal or a bad request the user can fix: printed as `error: message` and its hint, exit 1. */
export class EngineError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "EngineError";
  }
}
