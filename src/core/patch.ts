// Config write-back (DESIGN §3 markers): a provisioner that fills a value (an allocated address)
// hands the engine a patch of the object's config; the engine journals it, applies it to the
// installed config (validated) and records it with the resource's outputs.

/** One edit: set `[section] key = value`, or unset it (value undefined). `key` may carry a scope (`ipname@n1`). */
export interface ConfigEdit {
  readonly section: string;
  readonly key: string;
  readonly value?: string;
}

export type ConfigPatch = readonly ConfigEdit[];

/** The provision-time marker a provider replaces with the value it allocated. */
export const ALLOCATE_MARKER = "<allocate>";

/** One edit as a line (journal, recorded outputs): "set ip#0.ipname=10.0.0.2" or "unset ip#1.ipname". */
export function formatEdit(e: ConfigEdit): string {
  return e.value === undefined ? `unset ${e.section}.${e.key}` : `set ${e.section}.${e.key}=${e.value}`;
}

/** The inverse of formatEdit; undefined for a line it did not write. */
export function parseEdit(line: string): ConfigEdit | undefined {
  const m = /^(set|unset) ([^.\s=]+)\.([^=\s]+)(?:=(.*))?$/s.exec(line);
  if (!m) return undefined;
  if (m[1] === "set") return m[4] === undefined ? undefined : { section: m[2], key: m[3], value: m[4] };
  return m[4] === undefined ? { section: m[2], key: m[3] } : undefined;
}

/** A `<rid>.<keyword>[@scope]` target of cascade_allocation, or undefined when malformed. */
export function parseCascadeTarget(s: string): { section: string; key: string } | undefined {
  const m = /^([A-Za-z][\w-]*#[\w-]+|env|DEFAULT)\.([a-z_][a-z0-9_]*(?:@[\w.-]+)?)$/.exec(s.trim());
  return m ? { section: m[1], key: m[2] } : undefined;
}
