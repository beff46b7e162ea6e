// AST of a template and of one value, with source positions. Built from the CST.
import type { CstNode, IToken } from "chevrotain";
import { isStackOverflow, type Diagnostic, type SourceRange } from "../src/core/diagnostics.js";
import { OffsetMap, SourceFile } from "./source.js";
import { getFileLexer, getValueLexer, matchReference } from "./tokens.js";
import { getFileParser, getValueParser } from "./parser.js";

// ---------------------------------------------------------------- types

export interface TemplateAst {
  readonly source: SourceFile;
  readonly sections: SectionAst[];
}

export interface SectionAst {
  readonly name: string;
  readonly range: SourceRange; // the header (or the first key for an implicit DEFAULT)
  readonly implicit: boolean; // keys before any header
  readonly entries: EntryAst[];
}

export interface EntryAst {
  readonly key: string;
  readonly keyRange: SourceRange;
  readonly value: ValueAst;
}

export interface ValueAst {
  /** The value after comment stripping, unquoting and continuation joining. */
  readonly text: string;
  readonly quoted: boolean;
  readonly source: SourceFile;
  readonly map: OffsetMap;
  readonly range: SourceRange;
  /** Parsed lazily: literal text, references, markers, expressions. */
  parts?: ValuePart[];
  partsDiagnostics?: Diagnostic[];
}

export type ValuePart = TextPart | RefPart | MarkerPart | ExprPart;

interface PartBase {
  readonly start: number; // value offsets
  readonly end: number;
}
export interface TextPart extends PartBase {
  readonly kind: "text";
  readonly text: string;
}
export interface RefPart extends PartBase {
  readonly kind: "ref";
  readonly ref: RefAst;
}
export interface MarkerPart extends PartBase {
  readonly kind: "marker";
  readonly text: string;
  readonly name: string; // "allocate", or "" for <key=value,...>
  readonly attrs: Readonly<Record<string, string>>;
}
export interface ExprPart extends PartBase {
  readonly kind: "expr";
  /** Text between "$(" and ")". */
  readonly inner: string;
  readonly innerStart: number;
  /** References inside, with offsets relative to the value. */
  readonly refs: readonly RefPart[];
  /** The expression tree when it parsed (with references as atoms); null on a syntax error. */
  readonly ast: ExprAst | null;
}

export const REF_MODIFIERS = ["upper", "lower", "capitalize", "title", "swapcase", "uri_ip"] as const;
export type RefModifier = (typeof REF_MODIFIERS)[number];

export interface RefAst {
  readonly raw: string; // "{upper:#env.x[0]}"
  readonly modifier?: RefModifier;
  readonly count: boolean; // "#" prefix
  readonly name: string; // "env.x", "disk#0.exposed_devs", "nodename"
  readonly index?: { kind: "number"; n: number } | { kind: "ref"; ref: RefAst };
}

export type ExprAst =
  | { k: "int"; v: bigint; at: number }
  | { k: "float"; v: number; at: number }
  | { k: "str"; v: string; at: number }
  | { k: "bool"; v: boolean; at: number }
  | { k: "none"; at: number }
  | { k: "name"; v: string; at: number; dotted: boolean }
  | { k: "ref"; ref: RefAst; at: number }
  | { k: "tuple"; items: ExprAst[]; at: number }
  | { k: "unary"; op: "-" | "+" | "not"; x: ExprAst; at: number }
  | { k: "bin"; op: BinOp; l: ExprAst; r: ExprAst; at: number }
  | { k: "bool-op"; op: "and" | "or"; items: ExprAst[]; at: number }
  | { k: "cmp"; first: ExprAst; rest: { op: CmpOp; x: ExprAst }[]; at: number };

export type BinOp = "+" | "-" | "*" | "/" | "//" | "%" | "**" | "|" | "^" | "&";
export type CmpOp = "==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in";

// ---------------------------------------------------------------- helpers

type CstChildren = Record<string, (CstNode | IToken)[]>;

function isToken(x: CstNode | IToken): x is IToken {
  return (x as IToken).image !== undefined;
}

function startOf(x: CstNode | IToken): number {
  return isToken(x) ? x.startOffset : (x.location?.startOffset ?? 0);
}

/** All children of a CST node in source order. */
function ordered(node: CstNode): (CstNode | IToken)[] {
  const all: (CstNode | IToken)[] = [];
  // A loop, not push(...spread): a template can have millions of children (stack overflow).
  for (const k of Object.keys(node.children)) for (const x of (node.children as CstChildren)[k]) all.push(x);
  return all.sort((a, b) => startOf(a) - startOf(b));
}

function tokens(node: CstNode, name: string): IToken[] {
  return ((node.children as CstChildren)[name] ?? []) as IToken[];
}

function nodes(node: CstNode, name: string): CstNode[] {
  return ((node.children as CstChildren)[name] ?? []) as CstNode[];
}

// ---------------------------------------------------------------- template

export interface ParseResult {
  readonly ast: TemplateAst;
  readonly diagnostics: Diagnostic[];
}

/** Parses a template's text. Never throws for bad input: problems are diagnostics. */
export function parseTemplate(text: string, file: string): ParseResult {
  const source = new SourceFile(file, text);
  const diagnostics: Diagnostic[] = [];
  const lexed = getFileLexer().tokenize(text);
  for (const e of lexed.errors) {
    diagnostics.push({
      code: "E1001",
      severity: "error",
      summary: "unexpected character",
      detail: `The character ${JSON.stringify(text.substr(e.offset, 1))} cannot start a line here.`,
      range: source.range(e.offset, e.offset + Math.max(1, e.length)),
    });
  }
  const parser = getFileParser();
  parser.input = lexed.tokens;
  const cst = parser.template();
  for (const e of parser.errors) {
    const off = Number.isFinite(e.token.startOffset) ? e.token.startOffset : text.length;
    diagnostics.push({
      code: "E1002",
      severity: "error",
      summary: "syntax error",
      detail: e.message,
      range: source.range(off, off + Math.max(1, e.token.image?.length ?? 1)),
    });
  }

  const sections: SectionAst[] = [];
  const byName = new Map<string, SectionAst>();
  let current: SectionAst | undefined;
  // After a broken header, keys are dropped until the next valid header (no cascade of errors).
  let skipping = false;
  let lastEntry: { entry: EntryAst; text: string; map: OffsetMap; end: number } | undefined;

  const openSection = (name: string, range: SourceRange, implicit: boolean): SectionAst => {
    const existing = byName.get(name);
    if (existing) return existing; // duplicate headers merge; later keys override
    const s: SectionAst = { name, range, implicit, entries: [] };
    byName.set(name, s);
    sections.push(s);
    return s;
  };

  const flushEntry = () => {
    if (!lastEntry) return;
    const { entry, text: vtext, map, end } = lastEntry;
    const value: ValueAst = { ...entry.value, text: vtext, map, range: source.range(entry.value.range.start.offset, end) };
    (entry as { value: ValueAst }).value = value;
    lastEntry = undefined;
  };

  for (const item of ordered(cst)) {
    if (isToken(item)) {
      if (item.tokenType.name === "Header") {
        flushEntry();
        const img = item.image.replace(/\r$/, "");
        const close = img.lastIndexOf("]");
        if (close < 0) {
          diagnostics.push({
            code: "E1003",
            severity: "error",
            summary: "section header is missing ']'",
            range: source.range(item.startOffset, item.startOffset + img.length),
            hint: `Write the header as [${img.slice(1).trim() || "DEFAULT"}].`,
          });
          current = undefined;
          skipping = true;
          continue;
        }
        const raw = img.slice(1, close);
        const name = raw.trim();
        if (!name) {
          diagnostics.push({
            code: "E1004",
            severity: "error",
            summary: "empty section name",
            range: source.range(item.startOffset, item.startOffset + close + 1),
            hint: "Name the section, e.g. [DEFAULT], [fs#0] or [env].",
          });
          current = undefined;
          skipping = true;
          continue;
        }
        skipping = false;
        const nameStart = item.startOffset + 1 + (raw.length - raw.trimStart().length);
        current = openSection(name, source.range(nameStart, nameStart + name.length), false);
      }
      // Comments and newlines carry no meaning.
      continue;
    }
    if (item.name === "entry") {
      flushEntry();
      const keyTok = tokens(item, "Key")[0];
      const key = keyTok.image.replace(/[ \t\r]+$/, "");
      const keyRange = source.range(keyTok.startOffset, keyTok.startOffset + key.length);
      const delim = tokens(item, "Delimiter")[0];
      if (!delim) {
        // "type loop": most likely a key and its value without the '='. Reported once, and read as
        // meant, so the rest of the section is not judged on a missing key (no cascade of errors).
        const meant = /^([A-Za-z_][\w.@#-]*)[ \t]+(\S.*)$/.exec(key);
        diagnostics.push({
          code: "E1005",
          severity: "error",
          summary: "expected '=' after the key",
          detail: `The line "${key}" has no '=' or ':' separating a key from its value.`,
          range: keyRange,
          hint: meant ? `Write "${meant[1]} = ${meant[2]}".` : `Write "${key} = <value>", or start the line with # to make it a comment.`,
        });
        if (meant && !skipping) {
          current ??= openSection("DEFAULT", keyRange, true);
          const valueStart = keyTok.startOffset + key.length - meant[2].length;
          const map = new OffsetMap();
          map.add(0, valueStart);
          const entry: EntryAst = { key: meant[1], keyRange: source.range(keyTok.startOffset, keyTok.startOffset + meant[1].length), value: { text: meant[2], quoted: false, source, map, range: source.range(valueStart, valueStart + meant[2].length) } };
          current.entries.push(entry);
        }
        continue;
      }
      if (skipping) continue;
      if (!current) {
        current = openSection("DEFAULT", keyRange, true);
      }
      const afterDelim = delim.startOffset + delim.image.length;
      const { text: vtext, map, quoted, end } = assembleValue(tokens(item, "ValuePart"), afterDelim);
      const value: ValueAst = { text: vtext, quoted, source, map, range: source.range(afterDelim, end) };
      const entry: EntryAst = { key, keyRange, value };
      current.entries.push(entry);
      lastEntry = { entry, text: vtext, map, end };
      continue;
    }
    if (item.name === "continuationLine") {
      const cont = tokens(item, "Continuation")[0];
      const afterIndent = cont.startOffset + cont.image.length;
      const line = assembleValue(tokens(item, "ValuePart"), afterIndent);
      if (!lastEntry) continue;
      if (line.text === "") continue;
      if (lastEntry.text === "") {
        lastEntry.text = line.text;
        lastEntry.map = line.map;
      } else {
        // Joined with "\n"; the newline maps to the indentation of the continuation line.
        const base = lastEntry.text.length;
        lastEntry.map.add(base, cont.startOffset);
        lastEntry.map.appendShifted(line.map, base + 1);
        lastEntry.text = `${lastEntry.text}\n${line.text}`;
      }
      lastEntry.end = line.end;
      continue;
    }
    if (item.name === "orphanValue") {
      flushEntry();
      const delim = tokens(item, "Delimiter")[0];
      diagnostics.push({
        code: "E1006",
        severity: "error",
        summary: "value without a key",
        range: source.range(delim.startOffset, delim.startOffset + 1),
        hint: "Put the keyword name before '=', e.g. \"mnt = /srv/data\".",
      });
    }
  }
  flushEntry();
  return { ast: { source, sections }, diagnostics };
}

/** Joins the value tokens of one line: strips the inline comment and trailing spaces, unwraps whole-value quotes. */
function assembleValue(parts: IToken[], lineValueStart: number): { text: string; map: OffsetMap; quoted: boolean; end: number } {
  const toks = parts.slice();
  while (toks.length && toks[toks.length - 1].tokenType.name === "InlineComment") toks.pop();
  // Trailing spaces and a trailing \r are not part of the value.
  while (toks.length && /^[ \t\r]*$/.test(toks[toks.length - 1].image)) toks.pop();
  if (toks.length && toks[toks.length - 1].tokenType.name === "ValueText") {
    const last = toks[toks.length - 1];
    if (last.image.endsWith("\r")) {
      toks[toks.length - 1] = { ...last, image: last.image.replace(/\r+$/, "") };
      if (toks[toks.length - 1].image === "") toks.pop();
    }
  }
  while (toks.length && /^[ \t]+$/.test(toks[toks.length - 1].image)) toks.pop();
  const map = new OffsetMap();
  if (toks.length === 0) {
    map.add(0, lineValueStart);
    return { text: "", map, quoted: false, end: lineValueStart };
  }
  const end = toks[toks.length - 1].startOffset + toks[toks.length - 1].image.length;
  if (toks.length === 1 && (toks[0].tokenType.name === "Quoted" || toks[0].tokenType.name === "TripleQuoted")) {
    const q = toks[0].tokenType.name === "TripleQuoted" ? 3 : 1;
    map.add(0, toks[0].startOffset + q);
    return { text: toks[0].image.slice(q, toks[0].image.length - q), map, quoted: true, end };
  }
  let text = "";
  for (const t of toks) {
    map.add(text.length, t.startOffset);
    text += t.image;
  }
  return { text, map, quoted: false, end };
}

// ---------------------------------------------------------------- values

const NEEDS_PARSE = /[{$<]/;

/** Parses a value into parts (memoized on the ValueAst). */
export function valueParts(v: ValueAst): { parts: ValuePart[]; diagnostics: Diagnostic[] } {
  if (v.parts) return { parts: v.parts, diagnostics: v.partsDiagnostics ?? [] };
  const { parts, diagnostics } = parseValueText(v.text, (o) => v.source.range(v.map.toSource(o), v.map.toSource(o) + 1));
  v.parts = parts;
  v.partsDiagnostics = diagnostics;
  return { parts, diagnostics };
}

/** Values holding `$(...)` that parsed without diagnostics, by text; expressions by text (parseExpressionText). */
const exprValueCache = new Map<string, ValuePart[]>();
const exprTextCache = new Map<string, { ast: ExprAst | null; error?: string; at?: number }>();
/** Entries per cache: past it, the cache starts over (a template rarely has this many distinct texts). */
const PARSE_CACHE_MAX = 50_000;

function remember<V>(cache: Map<string, V>, text: string, v: V): void {
  if (cache.size >= PARSE_CACHE_MAX) cache.clear();
  cache.set(text, v);
}

/** Parses value text; `rangeAt` maps a value offset to a source range for diagnostics. */
export function parseValueText(text: string, rangeAt: (offset: number) => SourceRange | undefined): { parts: ValuePart[]; diagnostics: Diagnostic[] } {
  if (!NEEDS_PARSE.test(text)) {
    return { parts: text ? [{ kind: "text", text, start: 0, end: text.length }] : [], diagnostics: [] };
  }
  if (!text.includes("$(")) return { parts: scanRefsAndMarkers(text), diagnostics: [] };
  const cached = exprValueCache.get(text);
  if (cached) return { parts: cached, diagnostics: [] };
  const diagnostics: Diagnostic[] = [];
  try {
    const r = parseExprValue(text, rangeAt, diagnostics);
    // Parts hold value offsets only: a text that parsed cleanly parses the same wherever it is
    // written (the same `$(...)` in every resource is parsed once). Diagnostics name their source.
    if (r.diagnostics.length === 0) remember(exprValueCache, text, r.parts);
    return r;
  } catch (e) {
    if (!isStackOverflow(e)) throw e;
    diagnostics.push(tooDeep(rangeAt(text.indexOf("$("))));
    return { parts: [{ kind: "text", text, start: 0, end: text.length }], diagnostics };
  }
}

function tooDeep(range: SourceRange | undefined): Diagnostic {
  return {
    code: "E1012",
    severity: "error",
    summary: "expression nested too deeply",
    detail: `Parentheses and unary operators nest more than ${MAX_NESTING} levels deep, or too deep where this value is used.`,
    range,
    hint: "Simplify the expression.",
  };
}

function parseExprValue(text: string, rangeAt: (offset: number) => SourceRange | undefined, diagnostics: Diagnostic[]): { parts: ValuePart[]; diagnostics: Diagnostic[] } {
  const deep = nestingTooDeep(text);
  if (deep >= 0) {
    diagnostics.push(tooDeep(rangeAt(deep)));
    return { parts: [{ kind: "text", text, start: 0, end: text.length }], diagnostics };
  }
  const lexed = getValueLexer().tokenize(text);
  const excess = tooManyTokens(lexed.tokens);
  if (excess) {
    diagnostics.push({
      code: "E1013",
      severity: "error",
      summary: "expression too long",
      detail: `The $( ) expressions of this value have more than ${MAX_EXPR_TOKENS} operators and operands.`,
      range: rangeAt(excess.startOffset),
      hint: "Split the computation, or write the result.",
    });
    return { parts: [{ kind: "text", text, start: 0, end: text.length }], diagnostics };
  }
  const parser = getValueParser();
  parser.input = lexed.tokens;
  const cst = parser.value();
  if (parser.errors.length > 0) {
    const e = parser.errors[0];
    const off = Number.isFinite(e.token.startOffset) ? e.token.startOffset : text.length;
    const openAt = text.lastIndexOf("$(", off);
    const atEnd = !Number.isFinite(e.token.startOffset) || e.token.tokenType?.name === "EOF";
    diagnostics.push({
      code: "E1010",
      severity: "error",
      summary: atEnd ? "unterminated $( expression" : "invalid expression",
      detail: atEnd
        ? "The expression has no closing ')'."
        : `Unexpected ${JSON.stringify(e.token.image)} in the $( ) expression.`,
      range: rangeAt(atEnd && openAt >= 0 ? openAt : off),
      hint: atEnd
        ? "Close it with ')', or write $$( for a literal \"$(\" (a shell command substitution)."
        : "Expressions accept numbers, 'strings', + - * / // % **, comparisons, and/or/not and parentheses. Write $$( for a literal \"$(\".",
    });
    // Keep the value usable: everything is literal text.
    return { parts: [{ kind: "text", text, start: 0, end: text.length }], diagnostics };
  }
  const parts: ValuePart[] = [];
  const pushText = (t: string, start: number) => {
    const last = parts[parts.length - 1];
    if (last && last.kind === "text" && last.end === start) {
      parts[parts.length - 1] = { kind: "text", text: last.text + t, start: last.start, end: start + t.length };
    } else parts.push({ kind: "text", text: t, start, end: start + t.length });
  };
  for (const item of ordered(cst)) {
    if (isToken(item)) {
      const s = item.startOffset;
      switch (item.tokenType.name) {
        case "Text":
          pushText(item.image, s);
          break;
        case "EscapedExprOpen":
          // "$$(" -> "$(": offsets stay those of the source.
          parts.push({ kind: "text", text: "$(", start: s, end: s + 3 });
          break;
        case "Reference":
          parts.push({ kind: "ref", ref: parseRef(item.image), start: s, end: s + item.image.length });
          break;
        case "Marker":
          parts.push(parseMarker(item.image, s));
          break;
      }
      continue;
    }
    // exprBlock
    const open = tokens(item, "ExprOpen")[0];
    const close = tokens(item, "RParen");
    const closeTok = close[close.length - 1];
    const innerStart = open.startOffset + 2;
    const end = closeTok.startOffset + 1;
    const inner = text.slice(innerStart, closeTok.startOffset);
    const exprNode = nodes(item, "expression")[0];
    const ast = buildExpr(exprNode, [], diagnostics, rangeAt);
    // References are substituted as text before evaluation, including inside 'strings'.
    const refs: RefPart[] = [];
    for (let i = inner.indexOf("{"); i >= 0; i = inner.indexOf("{", i + 1)) {
      const m = matchReference(inner, i, [], {});
      if (!m) continue;
      const img = m[0];
      refs.push({ kind: "ref", ref: parseRef(img), start: innerStart + i, end: innerStart + i + img.length });
      i += img.length - 1;
    }
    parts.push({ kind: "expr", inner, innerStart, refs, ast, start: open.startOffset, end });
  }
  return { parts, diagnostics };
}

const MARKER_RE = /<(?:allocate|[A-Za-z_][\w-]*=[^<>\s,]*(?:,[A-Za-z_][\w-]*=[^<>\s,]*)*)>/y;

/**
 * Values without "$(" are regular: literal text, references and markers. Scanning them directly
 * gives the same parts as the value lexer (same token patterns) without building a parse tree.
 */
function scanRefsAndMarkers(text: string): ValuePart[] {
  const parts: ValuePart[] = [];
  let textStart = 0;
  const flush = (end: number) => {
    if (end > textStart) parts.push({ kind: "text", text: text.slice(textStart, end), start: textStart, end });
  };
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 123 /* { */) {
      const m = matchReference(text, i, [], {});
      if (!m) continue;
      flush(i);
      const img = m[0];
      parts.push({ kind: "ref", ref: parseRef(img), start: i, end: i + img.length });
      i += img.length - 1;
      textStart = i + 1;
    } else if (c === 60 /* < */) {
      MARKER_RE.lastIndex = i;
      const m = MARKER_RE.exec(text);
      if (!m) continue;
      flush(i);
      parts.push(parseMarker(m[0], i));
      i += m[0].length - 1;
      textStart = i + 1;
    }
  }
  flush(text.length);
  return parts;
}

const MAX_NESTING = 48;

/** Offset where an expression nests deeper than MAX_NESTING (parentheses, unary signs, **), else -1. */
function nestingTooDeep(text: string): number {
  if (!text.includes("$(")) return -1;
  let depth = 0;
  let run = 0;
  let pows = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "(") depth++;
    else if (c === ")") depth = Math.max(0, depth - 1);
    if (c === "*" && text[i + 1] === "*") {
      // a ** b ** c nests to the right
      pows++;
      i++;
    } else if (c === "-" || c === "+" || c === "~") run++;
    else if (c === "n" && isNotWord(text, i)) {
      // "not not not ..." nests like unary signs
      run++;
      i += 2;
    } else if (c !== " " && c !== "\t") run = 0;
    if (depth > MAX_NESTING || run > MAX_NESTING * 4 || pows > MAX_NESTING * 4) return i;
  }
  return -1;
}

function isNotWord(text: string, i: number): boolean {
  return text.startsWith("not", i) && !/\w/.test(text[i - 1] ?? "") && !/\w/.test(text[i + 3] ?? "");
}

/** Tokens an expression may have: bounds the parse tree (a + b + ... nests to the left) and its evaluation. */
export const MAX_EXPR_TOKENS = 2000;

/** The token past MAX_EXPR_TOKENS inside $( ) expressions (all of them when `inExpr`: an expression's text). */
function tooManyTokens(tokens: readonly IToken[], inExpr = false): IToken | undefined {
  let n = 0;
  let depth = inExpr ? 1 : 0;
  for (const t of tokens) {
    const name = t.tokenType.name;
    if (depth === 0) {
      if (name === "ExprOpen") depth = 1;
      continue;
    }
    if (name === "LParen") depth++;
    else if (name === "RParen" && !inExpr) depth--;
    if (++n > MAX_EXPR_TOKENS) return t;
  }
  return undefined;
}

export function parseRef(image: string): RefAst {
  let body = image.slice(1, -1);
  let modifier: RefModifier | undefined;
  const colon = body.indexOf(":");
  if (colon > 0) {
    const m = body.slice(0, colon);
    if ((REF_MODIFIERS as readonly string[]).includes(m)) {
      modifier = m as RefModifier;
      body = body.slice(colon + 1);
    }
  }
  let count = false;
  if (body.startsWith("#")) {
    count = true;
    body = body.slice(1);
  }
  let index: RefAst["index"];
  if (body.endsWith("]")) {
    const open = body.indexOf("[");
    if (open > 0) {
      const inner = body.slice(open + 1, -1);
      if (/^\d+$/.test(inner)) index = { kind: "number", n: Number(inner) };
      else if (inner.startsWith("{")) index = { kind: "ref", ref: parseRef(inner) };
      body = body.slice(0, open);
    }
  }
  return { raw: image, modifier, count, name: body, index };
}

function parseMarker(image: string, start: number): MarkerPart {
  const inner = image.slice(1, -1);
  if (inner === "allocate") return { kind: "marker", text: image, name: "allocate", attrs: {}, start, end: start + image.length };
  const attrs: Record<string, string> = {};
  for (const kv of inner.split(",")) {
    const eq = kv.indexOf("=");
    attrs[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  return { kind: "marker", text: image, name: "", attrs, start, end: start + image.length };
}

// ---------------------------------------------------------------- expressions

function buildExpr(
  node: CstNode,
  refs: RefPart[],
  diagnostics: Diagnostic[],
  rangeAt: (offset: number) => SourceRange | undefined,
): ExprAst | null {
  let failed = false;
  const fail = (at: number, summary: string, hint?: string) => {
    failed = true;
    diagnostics.push({ code: "E1011", severity: "error", summary, range: rangeAt(at), hint });
  };
  const walk = (n: CstNode): ExprAst => {
    const at = n.location?.startOffset ?? 0;
    const ch = n.children as CstChildren;
    switch (n.name) {
      case "expression":
        return walk(ch.orExpr[0] as CstNode);
      case "orExpr":
      case "andExpr": {
        const items = (ch.operands as CstNode[]).map(walk);
        return items.length === 1 ? items[0] : { k: "bool-op", op: n.name === "orExpr" ? "or" : "and", items, at };
      }
      case "notExpr":
        if (ch.Not) return { k: "unary", op: "not", x: walk((ch.notExpr as CstNode[])[0]), at };
        return walk((ch.comparison as CstNode[])[0]);
      case "comparison": {
        const operands = (ch.operands as CstNode[]).map(walk);
        if (operands.length === 1) return operands[0];
        const ops = (ch.ops as CstNode[]).map((o): CmpOp => {
          const oc = o.children as CstChildren;
          if (oc.Not) return "not in";
          if (oc.In) return "in";
          return (oc.CompareOp[0] as IToken).image as CmpOp;
        });
        return { k: "cmp", first: operands[0], rest: ops.map((op, i) => ({ op, x: operands[i + 1] })), at };
      }
      case "bitOr":
      case "bitXor":
      case "bitAnd":
      case "additive":
      case "multiplicative": {
        const operands = (ch.operands as CstNode[]).map(walk);
        const opToks = ordered(n).filter((x): x is IToken => isToken(x));
        let acc = operands[0];
        for (let i = 1; i < operands.length; i++) {
          acc = { k: "bin", op: opToks[i - 1].image as BinOp, l: acc, r: operands[i], at: opToks[i - 1].startOffset };
        }
        return acc;
      }
      case "unary":
        if (ch.AddOp) return { k: "unary", op: (ch.AddOp[0] as IToken).image as "-" | "+", x: walk((ch.unary as CstNode[])[0]), at };
        return walk((ch.power as CstNode[])[0]);
      case "power": {
        const base = walk((ch.atom as CstNode[])[0]);
        if (ch.Pow) return { k: "bin", op: "**", l: base, r: walk((ch.unary as CstNode[])[0]), at: (ch.Pow[0] as IToken).startOffset };
        return base;
      }
      case "atom": {
        const t = ordered(n)[0];
        if (!isToken(t)) return walk(t);
        switch (t.tokenType.name) {
          case "NumberLit":
            if (/^\d+$/.test(t.image)) return { k: "int", v: BigInt(t.image), at: t.startOffset };
            return { k: "float", v: Number(t.image), at: t.startOffset };
          case "StringLit":
            return { k: "str", v: t.image.slice(1, -1), at: t.startOffset };
          case "True":
            return { k: "bool", v: true, at: t.startOffset };
          case "False":
            return { k: "bool", v: false, at: t.startOffset };
          case "None":
            return { k: "none", at: t.startOffset };
          case "Reference": {
            const ref = parseRef(t.image);
            refs.push({ kind: "ref", ref, start: t.startOffset, end: t.startOffset + t.image.length });
            return { k: "ref", ref, at: t.startOffset };
          }
        }
        return { k: "none", at: t.startOffset };
      }
      case "name": {
        const parts = ordered(n).filter((x): x is IToken => isToken(x));
        const dotted = parts.length > 1;
        if (dotted) {
          const txt = parts.map((p) => p.image).join("");
          fail(at, "invalid expression: attribute access is not allowed", `Strings with dots need quoting: '${txt}'.`);
          return { k: "name", v: txt, at, dotted };
        }
        return { k: "name", v: parts[0].image, at, dotted };
      }
      case "parenthesized": {
        const items = ((ch.items ?? []) as CstNode[]).map(walk);
        const commas = (ch.Comma ?? []).length;
        if (items.length === 1 && commas === 0) return items[0];
        return { k: "tuple", items, at };
      }
    }
    fail(at, "invalid expression");
    return { k: "none", at };
  };
  const ast = walk(node);
  return failed ? null : ast;
}

/** Parses an expression's text (after references were substituted). */
export function parseExpressionText(text: string): { ast: ExprAst | null; error?: string; at?: number } {
  const cached = exprTextCache.get(text);
  if (cached) return cached;
  let r: { ast: ExprAst | null; error?: string; at?: number };
  try {
    r = parseExpressionTextUnsafe(text);
  } catch (e) {
    if (!isStackOverflow(e)) throw e;
    r = { ast: null, error: "expression nested too deeply", at: 0 };
  }
  remember(exprTextCache, text, r);
  return r;
}

function parseExpressionTextUnsafe(text: string): { ast: ExprAst | null; error?: string; at?: number } {
  const deep = nestingTooDeep(`$(${text}`);
  if (deep >= 0) return { ast: null, error: "expression nested too deeply", at: Math.max(0, deep - 2) };
  const lexed = getValueLexer().tokenize(text, "expr");
  const excess = tooManyTokens(lexed.tokens, true);
  if (excess) return { ast: null, error: `expression too long (more than ${MAX_EXPR_TOKENS} operators and operands)`, at: excess.startOffset };
  const parser = getValueParser();
  parser.input = lexed.tokens;
  const cst = parser.expression();
  if (parser.errors.length > 0) {
    const e = parser.errors[0];
    const at = Number.isFinite(e.token.startOffset) ? e.token.startOffset : text.length;
    return { ast: null, error: Number.isFinite(e.token.startOffset) ? `unexpected ${JSON.stringify(e.token.image)}` : "unexpected end", at };
  }
  const diags: Diagnostic[] = [];
  const ast = buildExpr(cst, [], diags, () => undefined);
  if (!ast) return { ast: null, error: diags[0]?.hint ? `${diags[0].summary}. ${diags[0].hint}` : (diags[0]?.summary ?? "invalid expression") };
  return { ast };
}
