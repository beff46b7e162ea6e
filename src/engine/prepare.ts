// A compiled template -> its resource graph and the dependency view the planner walks.
import { createHash } from "node:crypto";
import type { CompileResult } from "../config/index.js";
import { hasErrors, type Diagnostic } from "../core/diagnostics.js";
import { buildGraph, closure, topoOrder, type ResourceGraph } from "../graph/index.js";
import type { DependencyView } from "../plan/planner.js";

export interface Prepared {
  compiled: CompileResult;
  graph: ResourceGraph;
  view: DependencyView;
  diagnostics: Diagnostic[];
}

/** Prepared, or the diagnostics that stop it (compile or graph errors). */
export type PrepareResult = { readonly ok: true; readonly prepared: Prepared } | { readonly ok: false; readonly diagnostics: Diagnostic[] };

export function dependencyView(graph: ResourceGraph): DependencyView {
  const order = topoOrder(graph);
  return {
    order,
    deps: (rid) => graph.dependencies(rid),
    slot: (rid) => graph.slotIndex(rid),
    closure: (rids, dir) => closure(graph, rids, dir),
  };
}

/** Graph and diagnostics of a compiled template. */
export function prepare(compiled: CompileResult): PrepareResult {
  const diagnostics = [...compiled.diagnostics];
  if (!compiled.ok) return { ok: false, diagnostics };
  const { graph, diagnostics: gd } = buildGraph(compiled.evaluated);
  for (const d of gd) diagnostics.push(d);
  if (hasErrors(gd)) return { ok: false, diagnostics };
  return { ok: true, prepared: { compiled, graph, view: dependencyView(graph), diagnostics } };
}

/** What the state records as the template applied: its sources and [env] overrides. */
export function templateHash(c: CompileResult, env: Readonly<Record<string, string>>): string {
  const h = createHash("sha256");
  for (const s of c.sources) h.update(s.name).update("\0").update(s.text).update("\0");
  h.update(JSON.stringify(env));
  return h.digest("hex").slice(0, 16);
}
