// Template inputs: a file, "-" (stdin), an http(s) URL, YAML templates, --resource JSON.
import { readFile } from "node:fs/promises";
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode } from "yaml";
import type { Diagnostic } from "../core/diagnostics.js";
import { isResourceGroup, nextFreeIndex, type ResourceGroup } from "../core/rid.js";
import { OffsetMap, parseTemplate, SourceFile, type SectionAst, type TemplateAst } from "../../grammar/index.js";

export interface LoadedText {
  readonly name: string; // file path, URL, "<stdin>"
  readonly text: string;
}

export class InputError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "InputError";
  }
}

const URL_TIMEOUT_MS = 10_000;

/** Reads a template from a path, "-" for stdin, or an http(s) URL. */
export async function readInput(spec: string, opts: { stdin?: () => Promise<string>; timeoutMs?: number } = {}): Promise<LoadedText> {
  if (spec === "-") {
    const text = opts.stdin ? await opts.stdin() : await readStdin();
    return { name: "<stdin>", text };
  }
  if (/^https?:\/\//i.test(spec)) {
    const timeoutMs = opts.timeoutMs ?? URL_TIMEOUT_MS;
    let res: Response;
    try {
      res = await fetch(spec, { signal: AbortSignal.timeout(timeoutMs), redirect: "follow" });
    } catch (e) {
      const err = e as Error & { cause?: { code?: string; message?: string } };
      const why = err.name === "TimeoutError" ? `no answer within ${timeoutMs / 1000} s` : (err.cause?.code ?? err.cause?.message ?? err.message);
      throw new InputError(`cannot fetch template ${spec}: ${why}`, "Check the URL and that the server is reachable from this host, or download the file and pass its path.");
    }
    if (!res.ok) throw new InputError(`cannot fetch template ${spec}: HTTP ${res.status} ${res.statusText}`.trim(), "Check the URL.");
    return { name: spec, text: await res.text() };
  }
  try {
    return { name: spec, text: await readFile(spec, "utf8") };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new InputError(`template file not found: ${spec}`, "Check the path (relative paths are from the current directory).");
    if (code === "EISDIR") throw new InputError(`${spec} is a directory, not a template file`);
    if (code === "EACCES") throw new InputError(`permission denied reading ${spec}`);
    throw new InputError(`cannot read ${spec}: ${(e as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

function looksLikeYaml(name: string, text: string): boolean {
  if (/\.ya?ml$/i.test(name)) return true;
  if (/\.(conf|ini|template|cfg)$/i.test(name)) return false;
  for (const line of text.split("\n")) {
    const l = line.trim();
    if (!l || l.startsWith("#") || l.startsWith(";") || l === "---") continue;
    return /^[A-Za-z_][\w#.:@-]*:\s*$/.test(l) && !l.startsWith("[");
  }
  return false;
}

/** Parses INI or YAML text into a template AST. */
export function parseAny(loaded: LoadedText): { ast: TemplateAst; diagnostics: Diagnostic[] } {
  if (looksLikeYaml(loaded.name, loaded.text)) return parseYamlTemplate(loaded.text, loaded.name);
  return parseTemplate(loaded.text, loaded.name);
}

/** A YAML template: a mapping of section names to mappings of keys to scalars (lists are joined with spaces). */
export function parseYamlTemplate(text: string, file: string): { ast: TemplateAst; diagnostics: Diagnostic[] } {
  const source = new SourceFile(file, text);
  const diagnostics: Diagnostic[] = [];
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, keepSourceTokens: false, prettyErrors: false, uniqueKeys: false });
  for (const e of doc.errors) {
    diagnostics.push({ code: "E1020", severity: "error", summary: "YAML syntax error", detail: e.message.split("\n")[0], range: source.range(e.pos[0], e.pos[1]) });
  }
  const sections: SectionAst[] = [];
  const root = doc.contents;
  const rangeOf = (n: YamlNode | null | undefined) => {
    const r = n?.range;
    return r ? source.range(r[0], r[1]) : source.range(0, 0);
  };
  if (root && !isMap(root)) {
    diagnostics.push({ code: "E1021", severity: "error", summary: "a YAML template must be a mapping of sections", range: rangeOf(root), hint: "Write sections as top-level keys: DEFAULT:, fs#0:, env:." });
  } else if (root) {
    for (const item of root.items) {
      const keyNode = item.key as YamlNode;
      const name = isScalar(keyNode) ? String(keyNode.value) : "";
      const sec: SectionAst = { name, range: rangeOf(keyNode), implicit: false, entries: [] };
      const body = item.value as YamlNode | null;
      if (body && !isMap(body)) {
        diagnostics.push({ code: "E1021", severity: "error", summary: "a section must be a mapping of keywords", range: rangeOf(body) });
        continue;
      }
      for (const kv of body && isMap(body) ? body.items : []) {
        const k = kv.key as YamlNode;
        const v = kv.value as YamlNode | null;
        const key = isScalar(k) ? String(k.value) : "";
        let vtext = "";
        let vstart = v?.range?.[0] ?? k.range?.[1] ?? 0;
        if (v == null) vtext = "";
        else if (isScalar(v)) {
          vtext = v.value === null ? "" : String(v.value);
          if (v.type === "QUOTE_DOUBLE" || v.type === "QUOTE_SINGLE") vstart += 1;
        } else if (isSeq(v)) vtext = v.items.map((x) => (isScalar(x) ? String(x.value) : "")).join(" ");
        else {
          diagnostics.push({ code: "E1021", severity: "error", summary: "a keyword value must be a scalar or a list", range: rangeOf(v) });
          continue;
        }
        const map = OffsetMap.identity(vstart);
        sec.entries.push({
          key,
          keyRange: rangeOf(k),
          value: { text: vtext, quoted: false, source, map, range: v ? rangeOf(v) : rangeOf(k) },
        });
      }
      sections.push(sec);
    }
  }
  return { ast: { source, sections }, diagnostics };
}

/**
 * Turns --resource JSON objects into template text. "rtype" picks the group (DEFAULT and env
 * fill those sections); the rid is the group plus the smallest free index from `start`.
 * A "rid" key names the section explicitly (merge into it).
 */
export function resourcesToTemplate(jsons: readonly string[], opts: { existing?: Iterable<string>; start?: number } = {}): string {
  const used = new Set<string>(opts.existing ?? []);
  const sections = new Map<string, [string, string][]>();
  jsons.forEach((j, i) => {
    let obj: unknown;
    try {
      obj = JSON.parse(j);
    } catch (e) {
      throw new InputError(`--resource #${i + 1} is not valid JSON: ${(e as Error).message}`, `Quote the whole object for the shell: --resource '{"rtype": "fs", "type": "ext4", ...}'`);
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) throw new InputError(`--resource #${i + 1} must be a JSON object`);
    const o = obj as Record<string, unknown>;
    let section: string;
    if (typeof o.rid === "string") section = o.rid;
    else {
      const rtype = o.rtype === undefined ? "DEFAULT" : String(o.rtype);
      if (rtype === "DEFAULT" || rtype === "env") section = rtype;
      else if (isResourceGroup(rtype)) {
        section = `${rtype}#${nextFreeIndex(rtype as ResourceGroup, used, opts.start ?? 0)}`;
      } else {
        throw new InputError(`--resource #${i + 1}: unknown rtype "${rtype}"`, "Use DEFAULT, env, or a resource group: ip, volume, disk, fs, share, container, app, sync, task.");
      }
    }
    used.add(section);
    const entries = sections.get(section) ?? [];
    for (const [k, v] of Object.entries(o)) {
      if (k === "rtype" || k === "rid") continue;
      let text: string;
      if (v === null || v === undefined) text = "";
      else if (Array.isArray(v)) text = v.map(String).join(" ");
      else if (typeof v === "object") text = JSON.stringify(v);
      else text = String(v);
      if (/\n/.test(text)) text = text.split("\n").join("\n    ");
      entries.push([k, text]);
    }
    sections.set(section, entries);
  });
  let out = "";
  const order = [...sections.keys()].sort((a, b) => rank(a) - rank(b));
  for (const s of order) {
    out += `${out ? "\n" : ""}[${s}]\n`;
    for (const [k, v] of sections.get(s)!) out += `${k} = ${quoteIfNeeded(v)}\n`;
  }
  return out;
}

function rank(s: string): number {
  return s === "DEFAULT" ? 0 : s === "env" ? 2 : 1;
}

function quoteIfNeeded(v: string): string {
  if (/^\s|\s$/.test(v) || /\s[#;]/.test(v)) return v.includes('"') ? `\`${v}\`` : `"${v}"`;
  return v;
}
