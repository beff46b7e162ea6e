// Diagnostics as text: "file:line:col: error CODE: summary", the source line with a caret, detail and hint.
// The output of one run is bounded whatever the template: at most MAX_PRINTED diagnostics (errors
// first), long fields and source lines clipped, a source line shown once for consecutive diagnostics.
import { sortDiagnostics, type Diagnostic } from "../../core/diagnostics.js";
import type { SourceFile } from "../../../grammar/index.js";
import type { Colors } from "./color.js";

/** Diagnostics printed per run; the rest are counted ("N more"). */
export const MAX_PRINTED = 100;
const MAX_SUMMARY = 300;
const MAX_TEXT = 1000;
/** Characters of a source line shown around the caret. */
const EXCERPT_WIDTH = 120;

/** `s`, cut to `max` characters with a note of what was left out. */
export function clip(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length - max} more characters)`;
}

/** The part of a source line shown: a window around [startCol, endCol), with the caret columns in it. */
function excerpt(text: string, startCol: number, endCol: number): { text: string; col: number; width: number } {
  const width = Math.max(1, Math.min(endCol, text.length + 1) - startCol);
  if (text.length <= EXCERPT_WIDTH) return { text, col: startCol, width };
  const from = Math.max(0, Math.min(startCol - 1 - 20, text.length - EXCERPT_WIDTH));
  const to = from + EXCERPT_WIDTH;
  const head = from > 0 ? "…" : "";
  const tail = to < text.length ? "…" : "";
  const col = startCol - from + head.length;
  return { text: head + text.slice(from, to) + tail, col, width: Math.max(1, Math.min(width, to - startCol + 2)) };
}

export function renderDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, SourceFile>, c: Colors, showSource = true): string {
  const sev = d.severity === "error" ? c.red(c.bold("error")) : d.severity === "warning" ? c.yellow(c.bold("warning")) : c.cyan("info");
  const loc = d.range ? `${d.range.file}:${d.range.start.line}:${d.range.start.col}: ` : "";
  const out = [`${c.bold(loc)}${sev} ${c.dim(d.code)}: ${c.bold(clip(d.summary, MAX_SUMMARY))}`];
  const src = d.range && showSource ? sources.get(d.range.file) : undefined;
  if (d.range && src) {
    const line = d.range.start.line;
    const full = src.lineText(line);
    // Only around the window is copied (a line can be megabytes long).
    const text = full.slice(0, d.range.start.col + EXCERPT_WIDTH * 2).replace(/\t/g, " ");
    const num = String(line);
    const pad = " ".repeat(num.length);
    const endCol = d.range.end.line === line ? Math.max(d.range.end.col, d.range.start.col + 1) : text.length + 1;
    const shown = excerpt(text, d.range.start.col, endCol);
    out.push(`  ${c.dim(`${num} |`)} ${shown.text}`);
    out.push(`  ${c.dim(`${pad} |`)} ${" ".repeat(shown.col - 1)}${c.red("^" + "~".repeat(Math.max(0, shown.width - 1)))}`);
  }
  if (d.detail) out.push(`  ${clip(d.detail, MAX_TEXT)}`);
  if (d.hint) out.push(`  ${c.cyan("hint:")} ${clip(d.hint, MAX_TEXT)}`);
  return out.join("\n");
}

/** The diagnostics to show: errors first, at most MAX_PRINTED, in source order. */
export function selectPrinted(sorted: readonly Diagnostic[]): Diagnostic[] {
  if (sorted.length <= MAX_PRINTED) return [...sorted];
  const keep = new Set<Diagnostic>();
  for (const sev of ["error", "warning", "info"] as const) {
    for (const d of sorted) {
      if (keep.size >= MAX_PRINTED) break;
      if (d.severity === sev) keep.add(d);
    }
  }
  return sorted.filter((d) => keep.has(d));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

export function renderDiagnostics(ds: readonly Diagnostic[], sources: ReadonlyMap<string, SourceFile>, c: Colors): string {
  const sorted = sortDiagnostics(ds);
  if (sorted.length === 0) return "";
  const errors = sorted.filter((d) => d.severity === "error").length;
  const warnings = sorted.filter((d) => d.severity === "warning").length;
  const printed = selectPrinted(sorted);
  const blocks: string[] = [];
  let lastLine = "";
  for (const d of printed) {
    const at = d.range ? `${d.range.file}:${d.range.start.line}:${d.range.start.col}:${d.range.end.line}:${d.range.end.col}` : "";
    // Consecutive diagnostics at the same place show the source line once (a caret elsewhere is shown).
    blocks.push(renderDiagnostic(d, sources, c, at === "" || at !== lastLine));
    lastLine = at;
  }
  const hidden = sorted.length - printed.length;
  if (hidden > 0) {
    const hiddenErrors = errors - printed.filter((d) => d.severity === "error").length;
    blocks.push(c.dim(`... and ${hidden} more not shown (${plural(hiddenErrors, "error")}, ${plural(hidden - hiddenErrors, "warning")}): fix these first.`));
  }
  const summary = [errors ? c.red(plural(errors, "error")) : "", warnings ? c.yellow(plural(warnings, "warning")) : ""].filter(Boolean).join(", ");
  return `${blocks.join("\n\n")}\n\n${summary}\n`;
}

/** Diagnostics as JSON data: every field clipped, at most MAX_JSON entries (the count of the rest is returned). */
export const MAX_JSON = 1000;

export function diagnosticsJson(ds: readonly Diagnostic[]): unknown[] {
  return sortDiagnostics(ds).slice(0, MAX_JSON).map((d) => ({
    code: d.code,
    severity: d.severity,
    summary: clip(d.summary, MAX_SUMMARY),
    detail: d.detail === undefined ? undefined : clip(d.detail, MAX_TEXT),
    hint: d.hint === undefined ? undefined : clip(d.hint, MAX_TEXT),
    file: d.range?.file,
    line: d.range?.start.line,
    col: d.range?.start.col,
    endLine: d.range?.end.line,
    endCol: d.range?.end.col,
  }));
}
