// Chevrotain parsers: syntax only (CST). The AST is built in ast.ts.
import { CstParser, type CstNode, type IToken } from "chevrotain";
import * as T from "./tokens.js";

/** The line structure of a template. Every line form is accepted; meaning is checked by the AST builder. */
export class FileParser extends CstParser {
  /** `validate`: run Chevrotain's grammar validations (tests); osvc itself skips them (see makeFileLexer). */
  constructor(validate = false) {
    super(T.fileTokens, { recoveryEnabled: true, maxLookahead: 2, nodeLocationTracking: "onlyOffset", skipValidations: !validate });
    this.performSelfAnalysis();
  }

  template = this.RULE("template", () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Header) },
        { ALT: () => this.SUBRULE(this.entry) },
        { ALT: () => this.SUBRULE(this.continuationLine) },
        { ALT: () => this.SUBRULE(this.orphanValue) },
        { ALT: () => this.CONSUME(T.Comment) },
        { ALT: () => this.CONSUME(T.Newline) },
      ]);
    });
  });

  entry = this.RULE("entry", () => {
    this.CONSUME(T.Key);
    this.OPTION(() => {
      this.CONSUME(T.Delimiter);
      this.MANY(() => this.CONSUME(T.ValuePart));
    });
  });

  continuationLine = this.RULE("continuationLine", () => {
    this.CONSUME(T.Continuation);
    this.MANY(() => this.CONSUME(T.ValuePart));
  });

  /** "= value" with no key: reported by the AST builder. */
  orphanValue = this.RULE("orphanValue", () => {
    this.CONSUME(T.Delimiter);
    this.MANY(() => this.CONSUME(T.ValuePart));
  });
}

/** One value: literal text, references, markers and $(expressions). */
export class ValueParser extends CstParser {
  constructor(validate = false) {
    super(T.valueTokens, { recoveryEnabled: false, maxLookahead: 2, nodeLocationTracking: "onlyOffset", skipValidations: !validate });
    this.performSelfAnalysis();
  }

  value = this.RULE("value", () => {
    this.MANY(() => {
      this.OR([
        { ALT: () => this.CONSUME(T.Text) },
        { ALT: () => this.CONSUME(T.EscapedExprOpen) },
        { ALT: () => this.CONSUME(T.Reference) },
        { ALT: () => this.CONSUME(T.Marker) },
        { ALT: () => this.SUBRULE(this.exprBlock) },
      ]);
    });
  });

  exprBlock = this.RULE("exprBlock", () => {
    this.CONSUME(T.ExprOpen);
    this.SUBRULE(this.expression);
    this.CONSUME(T.RParen);
  });

  expression = this.RULE("expression", () => {
    this.SUBRULE(this.orExpr);
  });

  orExpr = this.RULE("orExpr", () => {
    this.SUBRULE(this.andExpr, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.Or);
      this.SUBRULE2(this.andExpr, { LABEL: "operands" });
    });
  });

  andExpr = this.RULE("andExpr", () => {
    this.SUBRULE(this.notExpr, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.And);
      this.SUBRULE2(this.notExpr, { LABEL: "operands" });
    });
  });

  notExpr = this.RULE("notExpr", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.Not);
          this.SUBRULE(this.notExpr);
        },
      },
      { ALT: () => this.SUBRULE(this.comparison) },
    ]);
  });

  comparison = this.RULE("comparison", () => {
    this.SUBRULE(this.bitOr, { LABEL: "operands" });
    this.MANY(() => {
      this.SUBRULE(this.compareOp, { LABEL: "ops" });
      this.SUBRULE2(this.bitOr, { LABEL: "operands" });
    });
  });

  compareOp = this.RULE("compareOp", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.CompareOp) },
      { ALT: () => this.CONSUME(T.In) },
      {
        ALT: () => {
          this.CONSUME(T.Not);
          this.CONSUME2(T.In);
        },
      },
    ]);
  });

  bitOr = this.RULE("bitOr", () => {
    this.SUBRULE(this.bitXor, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.BitOr);
      this.SUBRULE2(this.bitXor, { LABEL: "operands" });
    });
  });

  bitXor = this.RULE("bitXor", () => {
    this.SUBRULE(this.bitAnd, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.BitXor);
      this.SUBRULE2(this.bitAnd, { LABEL: "operands" });
    });
  });

  bitAnd = this.RULE("bitAnd", () => {
    this.SUBRULE(this.additive, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.BitAnd);
      this.SUBRULE2(this.additive, { LABEL: "operands" });
    });
  });

  additive = this.RULE("additive", () => {
    this.SUBRULE(this.multiplicative, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.AddOp);
      this.SUBRULE2(this.multiplicative, { LABEL: "operands" });
    });
  });

  multiplicative = this.RULE("multiplicative", () => {
    this.SUBRULE(this.unary, { LABEL: "operands" });
    this.MANY(() => {
      this.CONSUME(T.MulOp);
      this.SUBRULE2(this.unary, { LABEL: "operands" });
    });
  });

  unary = this.RULE("unary", () => {
    this.OR([
      {
        ALT: () => {
          this.CONSUME(T.AddOp);
          this.SUBRULE(this.unary);
        },
      },
      { ALT: () => this.SUBRULE(this.power) },
    ]);
  });

  power = this.RULE("power", () => {
    this.SUBRULE(this.atom);
    this.OPTION(() => {
      this.CONSUME(T.Pow);
      this.SUBRULE(this.unary);
    });
  });

  atom = this.RULE("atom", () => {
    this.OR([
      { ALT: () => this.CONSUME(T.NumberLit) },
      { ALT: () => this.CONSUME(T.StringLit) },
      { ALT: () => this.CONSUME(T.True) },
      { ALT: () => this.CONSUME(T.False) },
      { ALT: () => this.CONSUME(T.None) },
      { ALT: () => this.CONSUME(T.Reference) },
      { ALT: () => this.SUBRULE(this.name) },
      { ALT: () => this.SUBRULE(this.parenthesized) },
    ]);
  });

  /** A bare name is a string; "a.b" is rejected with a hint to quote it. */
  name = this.RULE("name", () => {
    this.CONSUME(T.Name);
    this.MANY(() => {
      this.CONSUME(T.Dot);
      this.OR([{ ALT: () => this.CONSUME2(T.Name) }, { ALT: () => this.CONSUME(T.NumberLit) }]);
    });
  });

  parenthesized = this.RULE("parenthesized", () => {
    this.CONSUME(T.LParen);
    this.OPTION(() => {
      this.SUBRULE(this.expression, { LABEL: "items" });
      this.MANY(() => {
        this.CONSUME(T.Comma);
        this.OPTION2(() => this.SUBRULE2(this.expression, { LABEL: "items" }));
      });
    });
    this.CONSUME(T.RParen);
  });
}

let fileParser: FileParser | undefined;
let valueParser: ValueParser | undefined;

export function getFileParser(): FileParser {
  fileParser ??= new FileParser();
  return fileParser;
}

export function getValueParser(): ValueParser {
  valueParser ??= new ValueParser();
  return valueParser;
}

export type { CstNode, IToken };
