// config/: template text -> evaluated resources. Never runs a command.
import { hasErrors, type Diagnostic } from "../core/diagnostics.js";
import type { ObjectPath } from "../core/path.js";
import type { TemplateAst } from "../../grammar/index.js";
import { KeywordCatalog } from "./catalog.js";
import { compileTemplate } from "./compile.js";
import type { EvalContext, EvaluatedTemplate } from "./evaluate.js";
import { parseAny, type LoadedText } from "./load.js";
import { Template } from "./template.js";

export { KeywordCatalog } from "./catalog.js";
export { compileTemplate } from "./compile.js";
export { Evaluator, DEFERRED_ATTRS } from "./evaluate.js";
export type { EvalContext, EvaluatedKeyword, EvaluatedResource, EvaluatedTemplate } from "./evaluate.js";
export { readInput, parseAny, parseYamlTemplate, resourcesToTemplate, InputError } from "./load.js";
export type { LoadedText } from "./load.js";
export { renderConfig, renderRawConfig, type RenderFormat } from "./render.js";
export { Template } from "./template.js";

export interface CompileResult {
  readonly template: Template;
  readonly evaluated: EvaluatedTemplate;
  readonly diagnostics: Diagnostic[];
  readonly ok: boolean;
  readonly sources: readonly LoadedText[];
}

/** Parses one or more texts (later ones add or override sections) and evaluates for a node. */
export function compileTexts(texts: readonly LoadedText[], ctx: EvalContext): CompileResult {
  const diagnostics: Diagnostic[] = [];
  const template = new Template();
  for (const t of texts) {
    const parsed: { ast: TemplateAst; diagnostics: Diagnostic[] } = parseAny(t);
    for (const d of parsed.diagnostics) diagnostics.push(d);
    template.addAst(parsed.ast, diagnostics);
  }
  const evaluated = compileTemplate(template, ctx);
  for (const d of evaluated.diagnostics) diagnostics.push(d);
  return { template, evaluated, diagnostics, ok: !hasErrors(diagnostics), sources: texts };
}

export type { ObjectPath };
