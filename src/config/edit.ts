// Edits of config text that keep everything else as written (comments, order, formatting):
// set keys in a section, remove sections, add a DEFAULT.id.
import { parseTemplate } from "../../grammar/index.js";

function quote(v: string): string {
  if (v.includes("\n")) return v.split("\n").join("\n    ");
  if (/^\s|\s$/.test(v) || /\s[#;]/.test(v)) return v.includes('"') ? `\`${v}\`` : `"${v}"`;
  return v;
}

interface Span {
  start: number; // offset of the line start
  end: number; // offset after the last line's newline
}

function lineStart(text: string, offset: number): number {
  const i = text.lastIndexOf("\n", offset - 1);
  return i < 0 ? 0 : i + 1;
}

function lineEnd(text: string, offset: number): number {
  const i = text.indexOf("\n", offset);
  return i < 0 ? text.length : i + 1;
}

function sectionSpans(text: string): Map<string, { header: Span; body: Span }> {
  const { ast } = parseTemplate(text, "<edit>");
  const spans = new Map<string, { header: Span; body: Span }>();
  const headers: { name: string; at: number }[] = [];
  for (const s of ast.sections) {
    if (s.implicit) continue;
    const hs = lineStart(text, s.range.start.offset);
    headers.push({ name: s.name, at: hs });
  }
  headers.sort((a, b) => a.at - b.at);
  headers.forEach((h, i) => {
    const headerEnd = lineEnd(text, h.at);
    const next = i + 1 < headers.length ? headers[i + 1].at : text.length;
    if (!spans.has(h.name)) spans.set(h.name, { header: { start: h.at, end: headerEnd }, body: { start: headerEnd, end: next } });
  });
  return spans;
}

/** Sets keys of a section (replacing every written occurrence of a key), adding the section if needed. */
export function setKeys(text: string, section: string, values: Readonly<Record<string, string>>): string {
  const { ast } = parseTemplate(text, "<edit>");
  const sec = ast.sections.find((s) => s.name === section);
  let out = text;
  const pending = new Map(Object.entries(values));
  if (sec) {
    // Replace existing entries, last first so offsets stay valid.
    const edits: { start: number; end: number; line: string }[] = [];
    for (const e of sec.entries) {
      if (!(e.key in values)) continue;
      const start = lineStart(text, e.keyRange.start.offset);
      const end = lineEnd(text, Math.max(e.value.range.end.offset - 1, e.keyRange.end.offset));
      const first = !edits.some((x) => x.line.startsWith(`${e.key} =`));
      edits.push({ start, end, line: first ? `${e.key} = ${quote(values[e.key])}\n` : "" });
      pending.delete(e.key);
    }
    for (const ed of edits.sort((a, b) => b.start - a.start)) out = out.slice(0, ed.start) + ed.line + out.slice(ed.end);
    if (pending.size) {
      const spans = sectionSpans(out);
      const span = spans.get(section);
      const insertAt = span ? trimBodyEnd(out, span.body) : out.length;
      const lines = [...pending].map(([k, v]) => `${k} = ${quote(v)}\n`).join("");
      out = out.slice(0, insertAt) + lines + out.slice(insertAt);
    }
    return out;
  }
  const lines = [...pending].map(([k, v]) => `${k} = ${quote(v)}\n`).join("");
  if (section === "DEFAULT") return `[DEFAULT]\n${lines}\n${out}`;
  return `${out}${out === "" || out.endsWith("\n\n") ? "" : out.endsWith("\n") ? "\n" : "\n\n"}[${section}]\n${lines}`;
}

/** The end of a section body, before its trailing blank lines. */
function trimBodyEnd(text: string, body: Span): number {
  let end = body.end;
  while (end > body.start) {
    const ls = lineStart(text, end - 1);
    if (text.slice(ls, end).trim() !== "") break;
    end = ls;
  }
  if (end > 0 && text[end - 1] !== "\n") return end;
  return end;
}

/** Removes whole sections (header and body). */
export function removeSections(text: string, names: readonly string[]): string {
  const spans = sectionSpans(text);
  const cut = names.map((n) => spans.get(n)).filter((x): x is { header: Span; body: Span } => x !== undefined).sort((a, b) => b.header.start - a.header.start);
  let out = text;
  for (const c of cut) out = out.slice(0, c.header.start) + out.slice(c.body.end);
  return out.replace(/\n{3,}/g, "\n\n");
}

export function sectionNames(text: string): string[] {
  return parseTemplate(text, "<edit>").ast.sections.map((s) => s.name);
}

/** Removes every written occurrence of keys of a section; returns the new text and the keys found. */
export function unsetKeys(text: string, section: string, keys: readonly string[]): { text: string; removed: string[] } {
  const { ast } = parseTemplate(text, "<edit>");
  const cuts: { start: number; end: number }[] = [];
  const removed = new Set<string>();
  for (const sec of ast.sections.filter((s) => s.name === section)) {
    for (const e of sec.entries) {
      if (!keys.includes(e.key)) continue;
      cuts.push({ start: lineStart(text, e.keyRange.start.offset), end: lineEnd(text, Math.max(e.value.range.end.offset - 1, e.keyRange.end.offset)) });
      removed.add(e.key);
    }
  }
  let out = text;
  for (const c of cuts.sort((a, b) => b.start - a.start)) out = out.slice(0, c.start) + out.slice(c.end);
  return { text: out, removed: [...removed] };
}

/** The value of a key as written (the last occurrence wins, as when the config is read), or undefined. */
export function writtenValue(text: string, section: string, key: string): string | undefined {
  const { ast } = parseTemplate(text, "<edit>");
  let found: string | undefined;
  for (const sec of ast.sections.filter((s) => s.name === section)) for (const e of sec.entries) if (e.key === key) found = e.value.text;
  return found;
}
