// Object paths: [<namespace>/<kind>/]<name>

export const OBJECT_KINDS = ["svc", "vol", "cfg", "sec"] as const;
/** Kinds that hold data keys ([data]) rather than resources. */
export const DATA_KINDS: readonly string[] = ["cfg", "sec"];
export type ObjectKind = (typeof OBJECT_KINDS)[number];

export interface ObjectPath {
  readonly namespace: string; // "root" for root objects
  readonly kind: ObjectKind;
  readonly name: string;
}

/**
 * Upstream's rules (om3 core/naming NewPathFromStrings, util/hostname IsValid): names and namespaces
 * are RFC 952 labels of 1 to 63 characters: lowercase letters, digits, '.' and '-', starting with a
 * letter or a digit (a name may start with a scaler slice number "<n>."). Kind names and "node" are
 * reserved names; "namespace" is reserved for root services.
 */
const LABEL_RE = /^[a-z0-9][a-z0-9.-]*$/;
const MAX_LABEL = 63;
const RESERVED_NAMES: ReadonlySet<string> = new Set(["svc", "vol", "cfg", "sec", "usr", "ccfg", "nscfg", "node"]);

/** Why a name or namespace is invalid, or undefined when it is valid. */
function labelError(what: "name" | "namespace", text: string, validated: string): string | undefined {
  if (text === "") return `empty ${what}`;
  if (validated === "") return `invalid ${what} "${text}": a name cannot be only digits and dots`;
  if (text !== text.toLowerCase()) return `invalid ${what} "${text}": uppercase letters are not allowed`;
  if (validated.length > MAX_LABEL) return `invalid ${what} "${text}": longer than ${MAX_LABEL} characters`;
  if (!LABEL_RE.test(validated)) return `invalid ${what} "${text}": use lowercase letters, digits, '.' and '-', starting with a letter or a digit`;
  return undefined;
}

export type PathParse = { ok: true; path: ObjectPath } | { ok: false; error: string };

export function parseObjectPath(text: string): PathParse {
  const parts = text.split("/");
  let namespace = "root";
  let kind: string = "svc";
  let name: string;
  if (parts.length === 1) {
    name = parts[0];
  } else if (parts.length === 3) {
    [namespace, kind, name] = parts;
  } else if (parts.length === 2) {
    // "<namespace>/<name>" is ambiguous; accept "<kind>/<name>" only for known kinds.
    if ((OBJECT_KINDS as readonly string[]).includes(parts[0])) {
      kind = parts[0];
      name = parts[1];
    } else {
      return { ok: false, error: `"${text}" is not a path: use <name> or <namespace>/<kind>/<name>` };
    }
  } else {
    return { ok: false, error: `"${text}" is not a path: use <name> or <namespace>/<kind>/<name>` };
  }
  if (!(OBJECT_KINDS as readonly string[]).includes(kind)) {
    return { ok: false, error: `unknown object kind "${kind}" in "${text}" (known: ${OBJECT_KINDS.join(", ")})` };
  }
  // A scaler slice "<n>.<name>": the slice number is not part of the validated name (as upstream).
  const nameErr = labelError("name", name, name.replace(/^[0-9.]+/, ""));
  if (nameErr) return { ok: false, error: nameErr };
  const nsErr = labelError("namespace", namespace, namespace);
  if (nsErr) return { ok: false, error: nsErr };
  if (RESERVED_NAMES.has(name)) return { ok: false, error: `invalid object name "${name}": a reserved name (${[...RESERVED_NAMES].join(", ")})` };
  if (namespace === "root" && kind === "svc" && name === "namespace") return { ok: false, error: `invalid object name "namespace": reserved for root services` };
  return { ok: true, path: { namespace, kind: kind as ObjectKind, name } };
}

export function formatObjectPath(p: ObjectPath): string {
  if (p.namespace === "root" && p.kind === "svc") return p.name;
  return `${p.namespace}/${p.kind}/${p.name}`;
}

/** The path implied by a template file name: "web1.conf" is "web1". */
export function pathFromFileName(file: string): string {
  const base = file.split("/").pop() ?? file;
  const dot = base.lastIndexOf(".");
  return dot > 0 ? base.slice(0, dot) : base;
}
