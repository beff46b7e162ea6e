// The only import point of the grammar for src/.
export { parseTemplate, valueParts, parseValueText, parseExpressionText, parseRef, REF_MODIFIERS } from "./ast.js";
export type {
  TemplateAst,
  SectionAst,
  EntryAst,
  ValueAst,
  ValuePart,
  TextPart,
  RefPart,
  MarkerPart,
  ExprPart,
  RefAst,
  RefModifier,
  ExprAst,
  BinOp,
  CmpOp,
  ParseResult,
} from "./ast.js";
export { SourceFile, OffsetMap } from "./source.js";
