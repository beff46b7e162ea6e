// What `validate` checks beyond compiling: everything plan would find without touching the host
// (the dependency graph: *_requires cycles, netns links, mount order), and --strict for CI.
import type { CompileResult } from "../config/index.js";
import { hasErrors, type Diagnostic } from "../core/diagnostics.js";
import { buildGraph } from "../graph/index.js";

/** The compile result with the graph's diagnostics added; with `strict`, warnings count as errors. */
export function gateCompiled(r: CompileResult, strict = false): CompileResult {
  let diagnostics: Diagnostic[] = [...r.diagnostics];
  diagnostics.push(...buildGraph(r.evaluated).diagnostics);
  if (strict) diagnostics = diagnostics.map((d) => (d.severity === "warning" ? { ...d, severity: "error", summary: `${d.summary} (an error with --strict)` } : d));
  return { ...r, diagnostics, ok: !hasErrors(diagnostics) };
}
