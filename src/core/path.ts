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

const NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;

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
  if (!NAME_RE.test(name)) {
    return { ok: false, error: `invalid object name "${name}": use letters, digits, '.', '-' and '_'` };
  }
  if (!NAME_RE.test(namespace)) {
    return { ok: false, error: `invalid namespace "${namespace}"` };
  }
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
