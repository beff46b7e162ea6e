// Chevrotain tokens and the two multi-mode lexers of the template language.
//
// 1. The file lexer splits the template into lines: modes "line" (section headers, keys,
//    comments, continuation indents) and "value" (the text after "=" or ":", with inline
//    comments and quoted runs). A continuation line is an indented line that directly
//    follows a key line (comment lines in between are skipped); a blank line ends a value.
// 2. The value lexer reads one assembled value: modes "value" (literal text, {references},
//    <markers>, "$(" opening an expression) and "expr" (the safe arithmetic language).
import { createToken, Lexer, type IToken, type TokenType, type CustomPatternMatcherFunc } from "chevrotain";

function sticky(re: RegExp): RegExp {
  return new RegExp(re.source, "y");
}

function atLineStart(text: string, offset: number): boolean {
  return offset === 0 || text.charCodeAt(offset - 1) === 10;
}

// ---------------------------------------------------------------- file lexer

export const Newline = createToken({ name: "Newline", pattern: /\n/, line_breaks: true });
export const NewlineInValue = createToken({
  name: "NewlineInValue",
  pattern: /\n/,
  line_breaks: true,
  pop_mode: true,
  categories: [Newline],
});

const commentRe = sticky(/[ \t]*[#;][^\n]*/);
export const Comment = createToken({
  name: "Comment",
  pattern: {
    exec: ((text, offset) => {
      if (!atLineStart(text, offset)) return null;
      commentRe.lastIndex = offset;
      return commentRe.exec(text);
    }) as CustomPatternMatcherFunc,
  },
  line_breaks: false,
  start_chars_hint: [" ", "\t", "#", ";"],
});

export const Delimiter = createToken({ name: "Delimiter", pattern: /[=:][ \t]*/, push_mode: "value" });
/** Category of every token of the value mode. */
export const ValuePart = createToken({ name: "ValuePart", pattern: Lexer.NA });
export const TripleQuoted = createToken({ name: "TripleQuoted", pattern: /"""[\s\S]*?"""/, line_breaks: true, categories: [ValuePart] });
export const InlineComment = createToken({ name: "InlineComment", pattern: /[ \t]+[#;][^\n]*/, categories: [ValuePart] });
export const Quoted = createToken({ name: "Quoted", pattern: /"[^"\n]*"|'[^'\n]*'|`[^`\n]*`/, categories: [ValuePart] });
export const Spaces = createToken({ name: "Spaces", pattern: /[ \t]+/, categories: [ValuePart] });
export const ValueText = createToken({ name: "ValueText", pattern: /[^ \t\n"'`]+|["'`]/, categories: [ValuePart] });

/** Tokens that can end a key line or a continuation line. */
const VALUE_LINE_TOKENS = new Set<TokenType>([Delimiter, TripleQuoted, InlineComment, Quoted, Spaces, ValueText]);

const contRe = sticky(/[ \t]+(?=[^ \t\n])/);
export const Continuation = createToken({
  name: "Continuation",
  pattern: {
    exec: ((text, offset, matched: IToken[]) => {
      if (!atLineStart(text, offset)) return null;
      contRe.lastIndex = offset;
      const m = contRe.exec(text);
      if (!m) return null;
      // Walk back over "Comment Newline" pairs; the line before must belong to a value.
      let i = matched.length - 1;
      if (i < 0 || matched[i].tokenType !== Newline && matched[i].tokenType !== NewlineInValue) return null;
      i--;
      while (i >= 1 && matched[i].tokenType === Comment) {
        i--;
        if (matched[i].tokenType !== Newline && matched[i].tokenType !== NewlineInValue) return null;
        i--;
      }
      if (i < 0) return null;
      const t = matched[i].tokenType;
      return VALUE_LINE_TOKENS.has(t) || t === Continuation ? m : null;
    }) as CustomPatternMatcherFunc,
  },
  line_breaks: false,
  push_mode: "value",
  start_chars_hint: [" ", "\t"],
});

export const Whitespace = createToken({ name: "Whitespace", pattern: /[ \t\r]+/, group: Lexer.SKIPPED });
export const Header = createToken({ name: "Header", pattern: /\[[^\n]*/ });
export const Key = createToken({ name: "Key", pattern: /[^\s=:[#;][^=:\n]*/ });

export const fileLexerDefinition = {
  modes: {
    line: [Newline, Comment, Continuation, Whitespace, Header, Delimiter, Key],
    value: [NewlineInValue, TripleQuoted, InlineComment, Quoted, Spaces, ValueText],
  },
  defaultMode: "line",
};

export const fileTokens: TokenType[] = [
  Newline,
  NewlineInValue,
  Comment,
  Continuation,
  Whitespace,
  Header,
  Delimiter,
  Key,
  TripleQuoted,
  InlineComment,
  Quoted,
  Spaces,
  ValueText,
  ValuePart,
];

// ---------------------------------------------------------------- value lexer

const REF_CHAR = /[\w#.:/]/;

/** Matches a reference token: {[modifier:][#]ref[[n]]}, where n may itself be a reference. */
export const matchReference: CustomPatternMatcherFunc = (text, offset) => {
  if (text.charCodeAt(offset) !== 123 /* { */) return null;
  let i = offset + 1;
  let body = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "}") break;
    if (c === "[") {
      // index: digits or a nested reference
      const close = text.indexOf("]", i);
      if (close < 0) return null;
      const inner = text.slice(i + 1, close);
      if (!/^\d+$/.test(inner)) {
        const nested = matchReference(inner, 0, [], {});
        if (!nested || nested[0].length !== inner.length) return null;
      }
      i = close + 1;
      continue;
    }
    if (!REF_CHAR.test(c)) return null;
    i++;
    body++;
  }
  if (i >= text.length || body === 0) return null;
  return [text.slice(offset, i + 1)] as [string];
};

export const Reference = createToken({
  name: "Reference",
  pattern: { exec: matchReference },
  line_breaks: false,
  start_chars_hint: ["{"],
});
export const ExprOpen = createToken({ name: "ExprOpen", pattern: /\$\(/, push_mode: "expr" });
/** "$$(" is a literal "$(" (for shell command substitution in commands). */
export const EscapedExprOpen = createToken({ name: "EscapedExprOpen", pattern: /\$\$\(/ });
export const Marker = createToken({
  name: "Marker",
  pattern: /<(?:allocate|[A-Za-z_][\w-]*=[^<>\s,]*(?:,[A-Za-z_][\w-]*=[^<>\s,]*)*)>/,
});
export const Text = createToken({ name: "Text", pattern: /[^{$<]+|[{$<]/, line_breaks: true });

export const ExprWhitespace = createToken({ name: "ExprWhitespace", pattern: /[ \t\r\n]+/, group: Lexer.SKIPPED, line_breaks: true });
export const NumberLit = createToken({ name: "NumberLit", pattern: /(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?/ });
export const StringLit = createToken({ name: "StringLit", pattern: /'[^'\n]*'|"[^"\n]*"/ });
export const Name = createToken({ name: "Name", pattern: /[A-Za-z_]\w*/ });
export const And = createToken({ name: "And", pattern: /and\b/, longer_alt: Name });
export const Or = createToken({ name: "Or", pattern: /or\b/, longer_alt: Name });
export const Not = createToken({ name: "Not", pattern: /not\b/, longer_alt: Name });
export const In = createToken({ name: "In", pattern: /in\b/, longer_alt: Name });
export const True = createToken({ name: "True", pattern: /True\b/, longer_alt: Name });
export const False = createToken({ name: "False", pattern: /False\b/, longer_alt: Name });
export const None = createToken({ name: "None", pattern: /None\b/, longer_alt: Name });

export const CompareOp = createToken({ name: "CompareOp", pattern: Lexer.NA });
export const Eq = createToken({ name: "Eq", pattern: /==/, categories: [CompareOp] });
export const Ne = createToken({ name: "Ne", pattern: /!=/, categories: [CompareOp] });
export const Le = createToken({ name: "Le", pattern: /<=/, categories: [CompareOp] });
export const Ge = createToken({ name: "Ge", pattern: />=/, categories: [CompareOp] });
export const Lt = createToken({ name: "Lt", pattern: /</, categories: [CompareOp] });
export const Gt = createToken({ name: "Gt", pattern: />/, categories: [CompareOp] });

export const AddOp = createToken({ name: "AddOp", pattern: Lexer.NA });
export const Plus = createToken({ name: "Plus", pattern: /\+/, categories: [AddOp] });
export const Minus = createToken({ name: "Minus", pattern: /-/, categories: [AddOp] });
export const MulOp = createToken({ name: "MulOp", pattern: Lexer.NA });
export const Pow = createToken({ name: "Pow", pattern: /\*\*/ });
export const Star = createToken({ name: "Star", pattern: /\*/, categories: [MulOp] });
export const FloorDiv = createToken({ name: "FloorDiv", pattern: /\/\//, categories: [MulOp] });
export const Slash = createToken({ name: "Slash", pattern: /\//, categories: [MulOp] });
export const Percent = createToken({ name: "Percent", pattern: /%/, categories: [MulOp] });
export const BitOr = createToken({ name: "BitOr", pattern: /\|/ });
export const BitXor = createToken({ name: "BitXor", pattern: /\^/ });
export const BitAnd = createToken({ name: "BitAnd", pattern: /&/ });
export const Comma = createToken({ name: "Comma", pattern: /,/ });
export const Dot = createToken({ name: "Dot", pattern: /\./ });
export const LParen = createToken({ name: "LParen", pattern: /\(/, push_mode: "expr" });
export const RParen = createToken({ name: "RParen", pattern: /\)/, pop_mode: true });
export const ExprJunk = createToken({ name: "ExprJunk", pattern: /[^\s]/ });

const exprModeTokens = [
  ExprWhitespace,
  Reference,
  NumberLit,
  StringLit,
  And,
  Or,
  Not,
  In,
  True,
  False,
  None,
  Name,
  Eq,
  Ne,
  Le,
  Ge,
  Lt,
  Gt,
  Pow,
  Star,
  FloorDiv,
  Slash,
  Percent,
  Plus,
  Minus,
  BitOr,
  BitXor,
  BitAnd,
  Comma,
  Dot,
  LParen,
  RParen,
  ExprJunk,
];

export const valueLexerDefinition = {
  modes: {
    value: [Reference, EscapedExprOpen, ExprOpen, Marker, Text],
    expr: exprModeTokens,
  },
  defaultMode: "value",
};

export const valueTokens: TokenType[] = [
  Reference,
  EscapedExprOpen,
  ExprOpen,
  Marker,
  Text,
  ...exprModeTokens,
  CompareOp,
  AddOp,
  MulOp,
];

let fileLexer: Lexer | undefined;
let valueLexer: Lexer | undefined;

/**
 * The lexers osvc runs skip Chevrotain's definition validations (a constructor cost paid by every
 * command that compiles a template); test/config/grammar-validations.test.ts builds them with the
 * validations on, so a broken token definition still fails the tests.
 */
export function makeFileLexer(validate = false): Lexer {
  return new Lexer(fileLexerDefinition, {
    positionTracking: "onlyOffset",
    recoveryEnabled: true,
    ensureOptimizations: false,
    skipValidations: !validate,
  });
}

export function makeValueLexer(validate = false): Lexer {
  return new Lexer(valueLexerDefinition, {
    positionTracking: "onlyOffset",
    recoveryEnabled: true,
    ensureOptimizations: false,
    skipValidations: !validate,
  });
}

export function getFileLexer(): Lexer {
  fileLexer ??= makeFileLexer();
  return fileLexer;
}

export function getValueLexer(): Lexer {
  valueLexer ??= makeValueLexer();
  return valueLexer;
}
