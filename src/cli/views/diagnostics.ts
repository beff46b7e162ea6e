// Diagnostics as text: "file:line:col: error CODE: summary", the source line with a caret, detail and hint.
import { sortDiagnostics, type Diagnostic } from "../../core/diagnostics.js";
import type { SourceFile } from "../../../grammar/index.js";
import type { Colors } from "./color.js";

export function renderDiagnostic(d: Diagnostic, sources: ReadonlyMap<string, SourceFile>, c: Colors): string {
  const sev = d.severity === "error" ? c.red(c.bold("error")) : d.severity === "warning" ? c.yellow(c.bold("warning")) : c.cyan("info");
  const loc = d.range ? `${d.range.file}:${d.range.start.line}:${d.range.start.col}: ` : "";
  const out = [`${c.bold(loc)}${sev} ${c.dim(d.code)}: ${c.bold(d.summary)}`];
  const src = d.range ? sources.get(d.range.file) : undefined;
  if (d.range && src) {
    const line = d.range.start.line;
    const text = src.lineText(line).replace(/\t/g, " ");
    const num = String(line);
    const pad = " ".repeat(num.length);
    const endCol = d.range.end.line === line ? Math.max(d.range.end.col, d.range.start.col + 1) : text.length + 1;
    const width = Math.max(1, Math.min(endCol, text.length + 1) - d.range.start.col);
    out.push(`  ${c.dim(`${num} |`)} ${text}`);
    out.push(`  ${c.dim(`${pad} |`)} ${" ".repeat(d.range.start.col - 1)}${c.red("^" + "~".repeat(Math.max(0, width - 1)))}`);
  }
  if (d.detail) out.push(`  ${d.detail}`);
  if (d.hint) out.push(`  ${c.cyan("hint:")} ${d.hint}`);
  return out.join("\n");
}

export function renderDiagnostics(ds: readonly Diagnostic[], sources: ReadonlyMap<string, SourceFile>, c: Colors): string {
  const sorted = sortDiagnostics(ds);
  if (sorted.length === 0) return "";
  const errors = sorted.filter((d) => d.severity === "error").length;
  const warnings = sorted.filter((d) => d.severity === "warning").length;
  const body = sorted.map((d) => renderDiagnostic(d, sources, c)).join("\n\n");
  const summary = [errors ? c.red(`${errors} error${errors > 1 ? "s" : ""}`) : "", warnings ? c.yellow(`${warnings} warning${warnings > 1 ? "s" : ""}`) : ""].filter(Boolean).join(", ");
  return `${body}\n\n${summary}\n`;
}

export function diagnosticsJson(ds: readonly Diagnostic[]): unknown[] {
  return sortDiagnostics(ds).map((d) => ({
    code: d.code,
    severity: d.severity,
    summary: d.summary,
    detail: d.detail,
    hint: d.hint,
    file: d.range?.file,
    line: d.range?.start.line,
    col: d.range?.start.col,
    endLine: d.range?.end.line,
    endCol: d.range?.end.col,
  }));
}
