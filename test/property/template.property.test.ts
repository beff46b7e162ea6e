// Property-based robustness tests of the template language (parser + evaluator).
//
// Inputs come from three sources:
//  1. a grammar-aware arbitrary (sections, scoped keys, {refs}, $(expr), <markers>, quotes,
//     inline comments, continuation lines, CRLF, tabs, unicode, deliberate breakage);
//  2. mutations of the real seed templates in fixtures/seed/*.template;
//  3. fully random strings (binary unicode, and strings over the syntax alphabet).
//
// Properties: compile() and parseTemplate() never throw; every diagnostic range lies inside
// the input and names the input file; evaluation is deterministic; $(integer arithmetic)
// agrees with a BigInt reference implementation of Python semantics.
//
// Runs are deterministic: the seed is FC_SEED (default below) and is printed on failure by
// fast-check together with the counterexample path. Reproduce with
//   FC_SEED=<seed> npx vitest run test/property/template.property.test.ts
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, test } from "vitest";
import { parseTemplate } from "../../grammar/index.js";
import type { Diagnostic } from "../../src/core/diagnostics.js";
import type { CompileResult } from "../../src/config/index.js";
import { compile, evalKey } from "../helpers/compile.js";

const SEED = Number(process.env.FC_SEED ?? 0x05c_2024);
const RUNS = Number(process.env.FC_RUNS ?? 400);
const params = (numRuns = RUNS): fc.Parameters<unknown> => ({ seed: SEED, numRuns, endOnFailure: false });

const FILE = "prop.conf";
const HERE = dirname(fileURLToPath(import.meta.url));
const SEED_DIR = join(HERE, "../../fixtures/seed");
const SEEDS: string[] = readdirSync(SEED_DIR)
  .filter((f) => f.endsWith(".template"))
  .sort()
  .map((f) => readFileSync(join(SEED_DIR, f), "utf8"));

// ---------------------------------------------------------------- checks

function fmt(d: Diagnostic): string {
  return `${d.code} ${d.summary} @ ${JSON.stringify(d.range)}`;
}

/** Throws (with the offending diagnostic) when a range lies outside `text` or names another file. */
function checkRanges(text: string, file: string, diags: readonly Diagnostic[]): void {
  const lines = text.split("\n"); // "a\n" -> ["a", ""]: the final empty line is line 2
  const lineStarts: number[] = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  for (const d of diags) {
    const r = d.range;
    if (!r) continue;
    const bad = (why: string) => new Error(`diagnostic range ${why}: ${fmt(d)} (text length ${text.length}, ${lines.length} lines)`);
    if (r.file !== file) throw bad(`names file ${JSON.stringify(r.file)} instead of ${JSON.stringify(file)}`);
    for (const [name, p] of [["start", r.start], ["end", r.end]] as const) {
      if (!Number.isInteger(p.line) || !Number.isInteger(p.col) || !Number.isInteger(p.offset)) throw bad(`${name} is not integral`);
      if (p.line < 1 || p.line > lines.length) throw bad(`${name}.line out of 1..${lines.length}`);
      const len = lines[p.line - 1].length;
      if (p.col < 1 || p.col > len + 1) throw bad(`${name}.col out of 1..${len + 1}`);
      if (p.offset < 0 || p.offset > text.length) throw bad(`${name}.offset out of 0..${text.length}`);
      if (lineStarts[p.line - 1] + p.col - 1 !== p.offset) throw bad(`${name} line:col does not match its offset`);
    }
    if (r.start.offset > r.end.offset) throw bad("start.offset > end.offset");
  }
}

function safeCompile(text: string, file = FILE): CompileResult {
  try {
    return compile(text, { file, node: "n1" });
  } catch (e) {
    throw new Error(`compile() threw on ${JSON.stringify(text)}: ${(e as Error)?.stack ?? String(e)}`);
  }
}

function safeParse(text: string, file = FILE): ReturnType<typeof parseTemplate> {
  try {
    return parseTemplate(text, file);
  } catch (e) {
    throw new Error(`parseTemplate() threw on ${JSON.stringify(text)}: ${(e as Error)?.stack ?? String(e)}`);
  }
}

/** Everything observable of one evaluation, as plain strings. */
function snapshot(r: CompileResult): string[] {
  const out = r.diagnostics.map((d) => `diag ${d.code} ${d.severity} ${JSON.stringify(d.range ?? null)}`);
  const kw = (sec: string, m: ReadonlyMap<string, { text: string }>) => {
    for (const [k, v] of m) out.push(`${sec}.${k}=${v.text}`);
  };
  kw("DEFAULT", r.evaluated.defaults);
  kw("env", r.evaluated.env);
  for (const res of r.evaluated.resources) {
    kw(res.section, res.keywords);
    kw(`${res.section}(unknown)`, res.unknown);
  }
  for (const [s, m] of r.evaluated.others) kw(s, m);
  return out;
}

/** The whole robustness contract for one input. */
function robust(text: string, file = FILE): void {
  const p = safeParse(text, file);
  checkRanges(text, file, p.diagnostics);
  const r = safeCompile(text, file);
  checkRanges(text, file, r.diagnostics);
}

// ---------------------------------------------------------------- grammar-aware arbitrary

const UNICODE = ["é", "ß", "日本", "😀", "\u00a0", "\u200b", "Ω", "\ufeff", "ﬁ", "\u0301"];

const sectionName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("DEFAULT", "env", "fs#1", "fs#0", "disk#0", "disk#1", "disk#a", "container#0", "ip#0", "app#1", "task#t1", "sync#i0", "subset#fs:g1", "labels", "data") },
  { weight: 2, arbitrary: fc.tuple(fc.constantFrom("fs", "disk", "ip", "container", "app", "volume", "share", "sync", "task"), fc.oneof(fc.nat(99).map(String), fc.constantFrom("a", "x1", "", "#", "{rindex}"))).map(([d, i]) => `${d}#${i}`) },
  { weight: 1, arbitrary: fc.constantFrom("", "#1", "fs#", "fs#1#2", "[x]", "fs #1", "default", "Env", "dïsk#0", "fs#1 ", " fs#1", "fs#😀") },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
);

const header = fc.oneof(
  { weight: 8, arbitrary: sectionName.map((s) => `[${s}]`) },
  { weight: 1, arbitrary: sectionName.map((s) => `[${s}] # trailing`) },
  { weight: 1, arbitrary: sectionName.map((s) => `[${s}`) },
  { weight: 1, arbitrary: sectionName.map((s) => `  [${s}]`) },
);

const baseKey = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom("type", "dev", "mnt", "size", "nodes", "drpnodes", "env", "file", "mnt_opt", "vg", "name", "standby", "disable", "tags", "subset", "provision", "monitor", "restart", "orchestrate", "x", "i", "n", "app", "image", "comment", "pre_start", "volumes", "ipname", "devs") },
  { weight: 1, arbitrary: fc.constantFrom("", "a b", "k[0]", "{x}", "$(1)", "ké", "💥", "x.y", "#x") },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);

const key = fc.oneof(
  { weight: 6, arbitrary: baseKey },
  { weight: 3, arbitrary: fc.tuple(baseKey, fc.constantFrom("n1", "n2", "nodes", "drpnodes", "encapnodes", "", "n1@n2", "N1", "*")).map(([k, s]) => `${k}@${s}`) },
);

const refName = fc.constantFrom(
  "name", "svcname", "nodename", "namespace", "kind", "short_nodename", "rid", "rindex", "env.x", "env.i", "env.nope", "nodes", "drpnodes",
  "disk#0.exposed_devs", "disk#0.exposed_devs[0]", "fs#1.mnt", "fs#0.dev", "disk#1.size", "DEFAULT.app", "nodes[0]", "nodes[1]", "nodes[99]",
  "nodes[{env.i}]", "nodes[{rindex}]", "disk#{rindex}.size", "fs#1.mnt[0]", "env.x[0]", "dns", "clustername", "private_var", "a.b.c",
);

const ref = fc.oneof(
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom("", "", "", "upper:", "lower:", "capitalize:", "title:", "swapcase:", "uri_ip:", "bogus:"), fc.constantFrom("", "", "#"), refName).map(([m, c, n]) => `{${m}${c}${n}}`) },
  { weight: 2, arbitrary: fc.constantFrom("{", "}", "{}", "{nope", "{env.}", "{a[}", "{a[x]}", "{upper:}", "{{x}}", "{nodes[{nodes[{env.i}]}]}", "{#}", "{ name }", "{name}}", "{:x}", "{a[1][2]}", "{é}") },
);

const exprAtom = fc.oneof(
  fc.nat(1000).map(String),
  fc.constantFrom("1.5", ".5", "1e3", "'a'", '"b"', "True", "False", "None", "x", "{rindex}", "{env.i}", "{#nodes}", "(1, 2)", "()", "'s'*3"),
);
const exprOp = fc.constantFrom("+", "-", "*", "/", "//", "%", "**", "==", "<", "in", "not in", "and", "or", "|", "^", "&", " if ", " else ");
const goodExpr = fc.tuple(exprAtom, fc.array(fc.tuple(exprOp, exprAtom), { maxLength: 4 })).map(([a, rest]) => a + rest.map(([o, b]) => ` ${o} ${b}`).join(""));
const expr = fc.oneof(
  { weight: 5, arbitrary: goodExpr.map((e) => `$(${e})`) },
  { weight: 2, arbitrary: fc.constantFrom("$(", "$()", "$(1+", "$(1//0)", "$(1%0)", "$(2**100000)", "$(2**5000)", "$('a'+1)", "$(1 +* 2)", "$((1)", "$(1))", "$$(echo x)", "$(x.y)", "$(f(1))", "$(\"unterminated)", "$(1\n+2)", "$(-0.0)", "$(1e999)", "$(10**20/3)") },
);

const marker = fc.constantFrom("<allocate>", "<size=5>", "<size=5,x=y>", "<size=>", "<bad", "<size-5>", "<>", "<allocate", "<é=1>");

const quoted = fc.oneof(
  fc.constantFrom('"a b"', "'x y'", "`z`", '"', "'", '""', '"""tri\nple"""', '"""open', '"{name}"', "'$(1+1)'"),
);

const word = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("/srv/data", "ext4", "10m", "true", "no", "n1", "n1 n2", "loop", "TST", "defaults,noatime", "a=b", "x:y", "\\", "%", "@", "=", ":") },
  { weight: 2, arbitrary: fc.constantFrom(...UNICODE) },
  { weight: 1, arbitrary: fc.string({ maxLength: 6 }) },
);

const valuePart = fc.oneof(
  { weight: 6, arbitrary: word },
  { weight: 4, arbitrary: ref },
  { weight: 3, arbitrary: expr },
  { weight: 1, arbitrary: marker },
  { weight: 1, arbitrary: quoted },
);

const sep = fc.constantFrom("", "", " ", " ", "\t", "  ");
const value = fc.array(fc.tuple(valuePart, sep), { maxLength: 5 }).map((ps) => ps.map(([p, s]) => p + s).join(""));
const inlineComment = fc.oneof({ weight: 5, arbitrary: fc.constant("") }, { weight: 1, arbitrary: fc.constantFrom(" # x", "\t; y", " #", " # {name} $(1)", "# not a comment") });
const delimiter = fc.constantFrom(" = ", "=", " =", "= ", ": ", ":", " = \t", "==");

const continuation = fc.tuple(fc.constantFrom("\t", "  ", "    ", " \t"), value).map(([ind, v]) => ind + v);

const entryLines = fc
  .tuple(key, delimiter, value, inlineComment, fc.array(continuation, { maxLength: 2 }))
  .map(([k, d, v, c, cont]) => [`${k}${d}${v}${c}`, ...cont]);

const otherLine = fc.constantFrom("", "", "   ", "\t", "# comment", "; comment", "  # indented comment", "junk line without delimiter", "=value without key", "\ufeff", "\r");

const sectionLines = fc
  .tuple(header, fc.array(fc.oneof({ weight: 5, arbitrary: entryLines }, { weight: 1, arbitrary: otherLine.map((l) => [l]) }), { maxLength: 6 }))
  .map(([h, es]) => [h, ...es.flat()]);

/** A sane preamble so references have something to resolve against. */
const preamble = fc.constantFrom(
  [],
  ["[DEFAULT]", "nodes = n1 n2", "env = TST"],
  ["[DEFAULT]", "nodes = n1 n2", "[env]", "x = hello", "i = 1"],
);

const eol = fc.constantFrom("\n", "\n", "\n", "\r\n");

/** Grammar-aware random templates. */
const templateArb = fc
  .tuple(
    fc.array(otherLine, { maxLength: 2 }),
    preamble,
    fc.array(sectionLines, { minLength: 0, maxLength: 6 }),
    fc.oneof(fc.constant("\n"), fc.constant("\r\n"), fc.constant(""), eol), // file ending
    fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.infiniteStream(eol) }),
  )
  .map(([lead, pre, secs, end, mixed]) => {
    const lines = [...lead, ...pre, ...secs.flat()];
    if (!mixed) return lines.join("\n") + end;
    let out = "";
    lines.forEach((l, i) => (out += l + (i < lines.length - 1 ? mixed.next().value : "")));
    return out + end;
  });

// ---------------------------------------------------------------- mutated seed templates

const mutationChar = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("{", "}", "[", "]", "$", "(", ")", "<", ">", "=", ":", "#", ";", '"', "'", "`", "\n", "\r", "\t", " ", "\\", "@", ".", ",", "*", "/", "%") },
  { weight: 2, arbitrary: fc.constantFrom("a", "0", "9", "_", "-") },
  { weight: 1, arbitrary: fc.constantFrom(...UNICODE) },
  { weight: 1, arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 2 }) },
);

type Mutation =
  | { k: "ins"; at: number; s: string }
  | { k: "del"; at: number; n: number }
  | { k: "dupLine"; at: number }
  | { k: "delLine"; at: number }
  | { k: "swapLines"; at: number; to: number }
  | { k: "insLines"; at: number; s: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ k: fc.constant("ins" as const), at: fc.nat(), s: mutationChar }) },
  { weight: 3, arbitrary: fc.record({ k: fc.constant("del" as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("dupLine" as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant("delLine" as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("swapLines" as const), at: fc.nat(), to: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("insLines" as const), at: fc.nat(), s: fc.oneof(entryLines.map((l) => l.join("\n")), sectionLines.map((l) => l.join("\n"))) }) },
);

function mutate(text: string, m: Mutation): string {
  switch (m.k) {
    case "ins": {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + m.s + text.slice(at);
    }
    case "del": {
      if (!text.length) return text;
      const at = m.at % text.length;
      return text.slice(0, at) + text.slice(at + m.n);
    }
    default: {
      const lines = text.split("\n");
      const at = m.at % lines.length;
      if (m.k === "dupLine") lines.splice(at, 0, lines[at]);
      else if (m.k === "delLine") lines.splice(at, 1);
      else if (m.k === "insLines") lines.splice(at, 0, m.s);
      else {
        const to = m.to % lines.length;
        [lines[at], lines[to]] = [lines[to], lines[at]];
      }
      return lines.join("\n");
    }
  }
}

const mutatedSeed = fc
  .tuple(fc.nat(SEEDS.length - 1), fc.array(mutation, { minLength: 1, maxLength: 12 }), fc.boolean())
  .map(([i, ms, crlf]) => {
    const base = crlf ? SEEDS[i].replace(/\n/g, "\r\n") : SEEDS[i];
    return ms.reduce(mutate, base);
  });

// ---------------------------------------------------------------- fully random strings

const SYNTAX = [..."[]{}()$<>=:#;@\"'`\\ \t\n\r.,*/%+-_", "a", "b", "x", "0", "1", "9", "é", "😀", "\u0000", "\ufeff"];
const randomText = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 200 }),
  fc.string({ unit: "grapheme", maxLength: 80 }),
  fc.string({ unit: fc.constantFrom(...SYNTAX), maxLength: 300 }),
  fc.tuple(fc.constantFrom("[DEFAULT]\n", "[env]\n", "[fs#1]\nx = ", "[env]\nx = $(", "[env]\nx = {"), fc.string({ unit: fc.constantFrom(...SYNTAX), maxLength: 200 })).map(([a, b]) => a + b),
);

// ---------------------------------------------------------------- properties

describe(`template robustness (FC_SEED=${SEED})`, () => {
  test("grammar-aware templates: parse/compile never throw, ranges are inside the input", () => {
    fc.assert(fc.property(templateArb, (t) => robust(t)), params());
  });

  test("mutated seed templates: parse/compile never throw, ranges are inside the input", () => {
    for (const s of SEEDS) robust(s); // the seeds themselves
    fc.assert(fc.property(mutatedSeed, (t) => robust(t)), params());
  });

  test("fully random strings: parse/compile never throw, ranges are inside the input", () => {
    fc.assert(fc.property(randomText, (t) => robust(t)), params());
  });

  test("random strings read as YAML (by file name): compile never throws, ranges are inside the input", () => {
    const yamlish = fc.oneof(
      randomText,
      fc.tuple(fc.constantFrom("DEFAULT:\n  ", "fs#1:\n  ", "env:\n  x: "), fc.string({ unit: fc.constantFrom(...SYNTAX, "-", "|", ">", "&", "*", "!", "?"), maxLength: 120 })).map(([a, b]) => a + b),
    );
    fc.assert(
      fc.property(yamlish, (t) => {
        const r = safeCompile(t, "prop.yaml");
        checkRanges(t, "prop.yaml", r.diagnostics);
      }),
      params(300),
    );
  });

  test("deeply nested input does not overflow the stack", () => {
    const deep = fc.tuple(fc.integer({ min: 1, max: 3000 }), fc.constantFrom("expr-parens", "expr-unary", "ref-index", "brackets", "power")).map(([n, kind]) => {
      switch (kind) {
        case "expr-parens":
          return `[env]\nx = $(${"(".repeat(n)}1${")".repeat(n)})\n`;
        case "expr-unary":
          return `[env]\nx = $(${"-".repeat(n)}1)\n`;
        case "power":
          return `[env]\nx = $(${Array(n).fill("1").join("**")})\n`;
        case "ref-index":
          return `[env]\ni = 0\nx = ${"{nodes[".repeat(n)}{env.i}${"]}".repeat(n)}\n`;
        default:
          return `${"[".repeat(n)}fs#1${"]".repeat(n)}\nx = ${"{".repeat(n)}\n`;
      }
    });
    fc.assert(fc.property(deep, (t) => robust(t)), params(60));
  });

  test("evaluation is deterministic (compile twice: same diagnostics and evaluated texts)", () => {
    const inputs = fc.oneof({ weight: 3, arbitrary: templateArb }, { weight: 2, arbitrary: mutatedSeed });
    fc.assert(
      fc.property(inputs, (t) => {
        const a = snapshot(safeCompile(t));
        const b = snapshot(safeCompile(t));
        expect(b).toEqual(a);
      }),
      params(300),
    );
  });
});

// ---------------------------------------------------------------- $(expr) vs a BigInt reference

type E =
  | { k: "lit"; v: bigint }
  | { k: "neg"; x: E }
  | { k: "bin"; op: "+" | "-" | "*" | "//" | "%"; l: E; r: E }
  | { k: "pow"; b: E; e: bigint };

class RefDivZero extends Error {}

/** Python semantics on unbounded ints: floor division and modulo take the sign of the divisor. */
function refEval(e: E): bigint {
  switch (e.k) {
    case "lit":
      return e.v;
    case "neg":
      return -refEval(e.x);
    case "pow":
      return refEval(e.b) ** e.e;
    case "bin": {
      const a = refEval(e.l);
      const b = refEval(e.r);
      switch (e.op) {
        case "+":
          return a + b;
        case "-":
          return a - b;
        case "*":
          return a * b;
        case "//":
        case "%": {
          if (b === 0n) throw new RefDivZero();
          let q = a / b; // truncates toward zero
          if (a % b !== 0n && a < 0n !== b < 0n) q -= 1n;
          return e.op === "//" ? q : a - q * b;
        }
      }
    }
  }
}

// Python precedence: + - (1) < * // % (2) < unary - (3) < ** (4) < atom (5).
function prec(e: E): number {
  return e.k === "lit" ? 5 : e.k === "pow" ? 4 : e.k === "neg" ? 3 : e.op === "+" || e.op === "-" ? 1 : 2;
}

/**
 * Prints with the parentheses Python needs, plus random redundant ones (`extra` is consumed
 * as a stream of booleans) and random spacing.
 */
function show(e: E, extra: () => boolean, sp: () => string): string {
  const wrap = (x: E, need: boolean) => {
    const s = show(x, extra, sp);
    return need || extra() ? `(${sp()}${s}${sp()})` : s;
  };
  switch (e.k) {
    case "lit":
      return e.v.toString();
    case "neg":
      return `-${sp()}${wrap(e.x, prec(e.x) < 3)}`;
    case "pow":
      // the base binds tighter than unary minus; `**` is right-associative
      return `${wrap(e.b, prec(e.b) <= 4)}${sp()}**${sp()}${e.e}`;
    case "bin": {
      const p = prec(e);
      return `${wrap(e.l, prec(e.l) < p)}${sp()}${e.op}${sp()}${wrap(e.r, prec(e.r) <= p)}`;
    }
  }
}

const arithArb: fc.Arbitrary<E> = fc.letrec<{ e: E }>((tie) => ({
  e: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    { weight: 3, arbitrary: fc.bigInt({ min: 0n, max: 50n }).map((v): E => ({ k: "lit", v })) },
    { weight: 1, arbitrary: tie("e").map((x): E => ({ k: "neg", x })) },
    { weight: 1, arbitrary: fc.tuple(tie("e"), fc.bigInt({ min: 0n, max: 3n })).map(([b, e]): E => ({ k: "pow", b, e })) },
    { weight: 4, arbitrary: fc.tuple(fc.constantFrom("+", "-", "*", "//", "%") as fc.Arbitrary<"+" | "-" | "*" | "//" | "%">, tie("e"), tie("e")).map(([op, l, r]): E => ({ k: "bin", op, l, r })) },
  ),
})).e;

describe(`$(expr) integer arithmetic (FC_SEED=${SEED})`, () => {
  test("matches a BigInt reference with Python floor semantics", () => {
    fc.assert(
      fc.property(arithArb, fc.infiniteStream(fc.boolean()), fc.infiniteStream(fc.constantFrom("", "", " ", "  ")), (e, bools, spaces) => {
        let n = 0;
        const extra = () => n++ % 3 === 0 && bools.next().value; // about 1 in 6 redundant parentheses
        const src = show(e, extra, () => spaces.next().value);
        let want: bigint | "div0";
        try {
          want = refEval(e);
        } catch (err) {
          if (!(err instanceof RefDivZero)) throw err;
          want = "div0";
        }
        const text = `[env]\nv = $(${src})\n`;
        let r: ReturnType<typeof evalKey>;
        try {
          r = evalKey(text, "env", "v");
        } catch (err) {
          throw new Error(`evalKey threw on ${JSON.stringify(text)}: ${(err as Error)?.stack ?? String(err)}`);
        }
        const errors = r.diagnostics.filter((d) => d.severity === "error");
        if (want === "div0") {
          expect(errors.length, `expected a division-by-zero error for $(${src})`).toBeGreaterThan(0);
        } else if (want.toString(2).length > 4000) {
          // beyond the evaluator's integer size limit: an error is acceptable, a wrong value is not
          if (errors.length === 0) expect(r.text, `$(${src})`).toBe(want.toString());
        } else {
          expect(errors.map(fmt), `$(${src})`).toEqual([]);
          expect(r.text, `$(${src})`).toBe(want.toString());
        }
      }),
      params(500),
    );
  });

  test("reference self-check against known Python results", () => {
    const lit = (v: number): E => ({ k: "lit", v: BigInt(v) });
    const bin = (op: "+" | "-" | "*" | "//" | "%", l: E, r: E): E => ({ k: "bin", op, l, r });
    const neg = (x: E): E => ({ k: "neg", x });
    expect(refEval(bin("//", lit(7), neg(lit(2))))).toBe(-4n); // 7 // -2
    expect(refEval(bin("%", neg(lit(7)), lit(3)))).toBe(2n); // -7 % 3
    expect(refEval(bin("%", lit(7), neg(lit(3))))).toBe(-2n); // 7 % -3
    const minusPow: E = neg({ k: "pow", b: lit(2), e: 2n });
    expect(show(minusPow, () => false, () => "")).toBe("-2**2");
    expect(refEval(minusPow)).toBe(-4n);
    const powOfNeg: E = { k: "pow", b: neg(lit(2)), e: 2n };
    expect(show(powOfNeg, () => false, () => "")).toBe("(-2)**2");
    expect(refEval(powOfNeg)).toBe(4n);
    expect(show(bin("-", lit(1), bin("-", lit(2), lit(3))), () => false, () => "")).toBe("1-(2-3)");
  });
});
