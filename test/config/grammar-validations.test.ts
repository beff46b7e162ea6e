// osvc builds its Chevrotain lexers and parsers without the definition validations (a start-up cost
// of every command that compiles a template). The validations still run here: a broken token
// definition or an ambiguous grammar fails this test instead of going unnoticed.
import { describe, expect, it } from "vitest";
import { FileParser, ValueParser } from "../../grammar/parser.js";
import { makeFileLexer, makeValueLexer } from "../../grammar/tokens.js";

describe("the grammar passes Chevrotain's validations", () => {
  it("the file and value lexers have no definition error", () => {
    for (const lexer of [makeFileLexer(true), makeValueLexer(true)]) expect(lexer.lexerDefinitionErrors).toEqual([]);
  });

  it("the file and value parsers have no definition error (ambiguity, left recursion...: Chevrotain throws)", () => {
    expect(() => new FileParser(true)).not.toThrow();
    expect(() => new ValueParser(true)).not.toThrow();
  });

  it("the lexers and parsers osvc runs tokenize and parse a template the same way", () => {
    const text = "[DEFAULT]\nnodes = n1 n2\n\n[fs#1]\ntype = ext4\nmnt = /srv/{name}/$(1+{rindex})\n";
    const fast = makeFileLexer().tokenize(text);
    const checked = makeFileLexer(true).tokenize(text);
    expect(fast.tokens.map((t) => [t.tokenType.name, t.image])).toEqual(checked.tokens.map((t) => [t.tokenType.name, t.image]));
    expect(fast.errors).toEqual([]);
    const value = "/srv/{name}/$(1+{rindex})";
    const vFast = makeValueLexer().tokenize(value);
    expect(vFast.tokens.map((t) => t.image)).toEqual(makeValueLexer(true).tokenize(value).tokens.map((t) => t.image));
    const p = new ValueParser();
    p.input = vFast.tokens;
    const cst = p.value();
    expect(p.errors).toEqual([]);
    expect(cst.name).toBe("value");
  });
});
