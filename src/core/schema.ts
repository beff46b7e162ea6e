// Keyword schemas: the vocabulary shared by config/ (validation, evaluation),
// provider/ and providers/ (each driver declares its keywords).
import type { ArgvRule } from "./argv.js";
import type { ValueFormat } from "./formats.js";
import type { KwValue } from "./value.js";

/** How a raw string is converted once references and expressions are resolved. */
export type KeywordType =
  | "string"
  | "bool"
  | "tristate" // bool or unset
  | "int"
  | "float"
  | "size" // "15G", "512m", "10kib" -> bytes
  | "duration" // "1w2d3h4m5s", bare number = seconds -> seconds
  | "list" // whitespace split
  | "list_lower"
  | "set" // whitespace split, de-duplicated
  | "shlex" // POSIX shell words
  | "octal" // file mode, e.g. "0755" or "1777"
  | "json";

/** Lookup mode between a resource section and [DEFAULT]. */
export type Inherit = "leaf2head" | "head2leaf" | "leaf" | "head";

export interface KeywordSpec {
  readonly name: string;
  readonly type: KeywordType;
  /** Default as raw template text (may contain references, e.g. "{name}-vol-{rindex}"). */
  readonly default?: string;
  readonly required?: boolean;
  /** Accepts kw@node, kw@nodes, kw@drpnodes, kw@encapnodes. */
  readonly scopable?: boolean;
  /** Only used by provision. */
  readonly provisioning?: boolean;
  /** Allowed values (after conversion to string). */
  readonly candidates?: readonly string[];
  /** Masked in plans and logs. */
  readonly sensitive?: boolean;
  readonly inherit?: Inherit; // default leaf2head
  readonly aliases?: readonly string[];
  /** One or two sentences for `osvc keywords`. */
  readonly text: string;
  readonly example?: string;
  /** Accepts provision-time markers such as <allocate> or <size=15>. */
  readonly markers?: boolean;
  readonly deprecated?: string;
  /** The value becomes words of a command line: options only (checked with the tool's option table) or one operand. */
  readonly argv?: ArgvRule;
  /** A format checked at validate (a user name, KEY=VALUE words), where a bad value would only fail at run time. */
  readonly format?: ValueFormat;
}

export interface DriverSpec {
  /** Resource group ("disk") or "DEFAULT" for object-level keywords. */
  readonly group: string;
  /** Driver type within the group ("loop"); "" for DEFAULT. */
  readonly type: string;
  /** One-line description. */
  readonly text: string;
  /** Driver-specific keywords (generic resource keywords are added by config/). */
  readonly keywords: readonly KeywordSpec[];
  /** Another driver id this one is an alias of ("disk.lvm" -> "disk.vg"). */
  readonly aliasOf?: string;
  /**
   * Checks across keywords that need no host (validate runs them): `get` returns a keyword's
   * converted value (undefined when unset, deferred or invalid).
   */
  readonly check?: (get: (name: string) => KwValue | undefined) => readonly ResourceProblem[];
}

/** What a driver's check found: at a keyword (else the section header). */
export interface ResourceProblem {
  readonly severity: "error" | "warning";
  readonly keyword?: string;
  readonly message: string;
  readonly hint?: string;
}

export function driverId(spec: Pick<DriverSpec, "group" | "type">): string {
  return spec.type ? `${spec.group}.${spec.type}` : spec.group;
}
