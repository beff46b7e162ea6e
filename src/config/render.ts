// The config as written (print config) and fully evaluated (print config --eval): INI, JSON or
// YAML. The evaluated form collapses scopes; the raw form keeps keys and values as written.
import { stringify as yamlStringify } from "yaml";
import { exactNumber } from "../core/convert.js";
import { formatObjectPath, type ObjectPath } from "../core/path.js";
import type { KwValue } from "../core/value.js";
import type { EvaluatedKeyword, EvaluatedTemplate } from "./evaluate.js";
import type { Template } from "./template.js";

export type RenderFormat = "ini" | "json" | "yaml";

type Sections = [string, [string, EvaluatedKeyword][]][];

/** Keys written in the section (or given with --env), in the order they were written. */
function written(m: ReadonlyMap<string, EvaluatedKeyword>): [string, EvaluatedKeyword][] {
  const pos = (k: EvaluatedKeyword) => k.range?.start.offset ?? Number.MAX_SAFE_INTEGER;
  return [...m.entries()].filter(([, k]) => k.origin === "section" || k.origin === "env-override").sort((a, b) => pos(a[1]) - pos(b[1]));
}

function sections(t: EvaluatedTemplate): Sections {
  const out: Sections = [];
  const d = written(t.defaults);
  if (d.length) out.push(["DEFAULT", d]);
  for (const r of t.resources) out.push([r.section, [...written(r.keywords), ...written(r.unknown)]]);
  for (const [name, kws] of t.others) out.push([name, written(kws)]);
  const e = written(t.env);
  if (e.length) out.push(["env", e]);
  return out;
}

function typed(k: EvaluatedKeyword): KwValue | string | number | boolean | null {
  if (k.deferred || (k.markers && k.markers.length)) return k.text;
  if (k.typed !== undefined && (k.value === undefined || typeof k.value === typeof k.typed)) return k.typed;
  return k.value === undefined ? k.text : k.value;
}

function iniValue(text: string): string {
  if (text.includes("\n")) return text.split("\n").join("\n    ");
  if (/^\s|\s$/.test(text) || /\s[#;]/.test(text)) return text.includes('"') ? `\`${text}\`` : `"${text}"`;
  return text;
}

export function renderConfig(t: EvaluatedTemplate, format: RenderFormat): string {
  const secs = sections(t);
  if (format === "ini") {
    const lines: string[] = [];
    for (const [name, kws] of secs) {
      if (lines.length) lines.push("");
      lines.push(`[${name}]`);
      for (const [k, v] of kws) lines.push(v.text === "" ? `${k} =` : `${k} = ${iniValue(v.text)}`);
    }
    return lines.join("\n") + "\n";
  }
  const obj: Record<string, unknown> = {};
  for (const [name, kws] of secs) {
    const o: Record<string, unknown> = {};
    for (const [k, v] of kws) o[k] = typed(v);
    obj[name] = o;
  }
  obj.metadata = { path: formatObjectPath(t.path), name: t.path.name, namespace: t.path.namespace, kind: t.path.kind, node: t.nodename };
  return serialize(obj, format);
}

/**
 * The config as written, as upstream's `print config --format json|yaml` without --eval: every
 * section with its keys (scoped ones as key@scope) and raw values, references and $(...) unevaluated,
 * plus metadata. `ini` is the text itself, printed by the caller.
 */
export function renderRawConfig(t: Template, path: ObjectPath, format: Exclude<RenderFormat, "ini">): string {
  const obj: Record<string, unknown> = {};
  for (const [name, sec] of t.sections) {
    const o: Record<string, string> = {};
    for (const [k, key] of sec.keys) o[k] = key.entry.value.text;
    obj[name] = o;
  }
  obj.metadata = { path: formatObjectPath(path), name: path.name, namespace: path.namespace, kind: path.kind };
  return serialize(obj, format);
}

const BIG = "\u0000osvc-big:";

/** JSON or YAML; integers beyond 2^53 (sizes up to 8EiB) are printed exactly, not rounded. */
function serialize(obj: Record<string, unknown>, format: Exclude<RenderFormat, "ini">): string {
  const unsafe = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && !Number.isSafeInteger(v);
  if (format === "json") {
    const text = JSON.stringify(obj, (_k, v: unknown) => (unsafe(v) ? BIG + exactNumber(v) : v), 2);
    return text.replace(/"\\u0000osvc-big:(-?\d+)"/g, "$1") + "\n";
  }
  const big = (v: unknown): unknown => {
    if (unsafe(v)) return BigInt(v);
    if (Array.isArray(v)) return v.map(big);
    if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, big(x)]));
    return v;
  };
  return yamlStringify(big(obj), { lineWidth: 0 });
}
