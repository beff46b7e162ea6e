// The safe $(expr) evaluator: Python numeric semantics on a tiny language.
// Numbers (ints are exact and unbounded), 'strings', bare names (their own name as a string),
// True/False/None, tuples, + - * / // % ** | ^ &, comparisons (chained), in / not in,
// and/or/not. No calls, no attribute access, no eval.
import type { ExprAst } from "../../grammar/index.js";

export type PyVal =
  | { t: "int"; v: bigint }
  | { t: "float"; v: number }
  | { t: "str"; v: string }
  | { t: "bool"; v: boolean }
  | { t: "none" }
  | { t: "tuple"; v: PyVal[] };

export class ExprError extends Error {
  constructor(
    message: string,
    readonly at: number,
  ) {
    super(message);
  }
}

const MAX_INT_BITS = 4096n;

/** The longest value (characters) an evaluation may produce: 1 MiB. */
export const MAX_VALUE_LENGTH = 1 << 20;

function checkLength(len: number, at: number): void {
  if (len > MAX_VALUE_LENGTH) throw new ExprError(`string result too long (${len} characters; the limit is ${MAX_VALUE_LENGTH})`, at);
}

function repeatStr(s: string, times: bigint, at: number): PyVal {
  const n = times > 0n ? times : 0n;
  if (s.length > 0 && n > 0n) checkLength(Number(n) * s.length, at);
  return { t: "str", v: n > 0n ? s.repeat(Number(n)) : "" };
}

function typeName(x: PyVal): string {
  return x.t === "none" ? "NoneType" : x.t;
}

function isNum(x: PyVal): x is { t: "int"; v: bigint } | { t: "float"; v: number } | { t: "bool"; v: boolean } {
  return x.t === "int" || x.t === "float" || x.t === "bool";
}

function asBig(x: PyVal): bigint {
  if (x.t === "int") return x.v;
  if (x.t === "bool") return x.v ? 1n : 0n;
  throw new Error("not an int");
}

function asFloat(x: PyVal): number {
  if (x.t === "float") return x.v;
  if (x.t === "int") return Number(x.v);
  if (x.t === "bool") return x.v ? 1 : 0;
  throw new Error("not a number");
}

function isIntLike(x: PyVal): boolean {
  return x.t === "int" || x.t === "bool";
}

export function truthy(x: PyVal): boolean {
  switch (x.t) {
    case "int":
      return x.v !== 0n;
    case "float":
      return x.v !== 0;
    case "str":
      return x.v.length > 0;
    case "bool":
      return x.v;
    case "none":
      return false;
    case "tuple":
      return x.v.length > 0;
  }
}

function floorDivBig(a: bigint, b: bigint): bigint {
  const q = a / b;
  return (a % b !== 0n) && ((a < 0n) !== (b < 0n)) ? q - 1n : q;
}

function pyEq(a: PyVal, b: PyVal): boolean {
  if (isNum(a) && isNum(b)) {
    if (isIntLike(a) && isIntLike(b)) return asBig(a) === asBig(b);
    return asFloat(a) === asFloat(b);
  }
  if (a.t !== b.t) return false;
  if (a.t === "str" && b.t === "str") return a.v === b.v;
  if (a.t === "none") return true;
  if (a.t === "tuple" && b.t === "tuple") return a.v.length === b.v.length && a.v.every((x, i) => pyEq(x, b.v[i]));
  return false;
}

function pyCmp(a: PyVal, b: PyVal, at: number, op: string): number {
  if (isNum(a) && isNum(b)) {
    if (isIntLike(a) && isIntLike(b)) {
      const x = asBig(a);
      const y = asBig(b);
      return x < y ? -1 : x > y ? 1 : 0;
    }
    const x = asFloat(a);
    const y = asFloat(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.t === "str" && b.t === "str") return a.v < b.v ? -1 : a.v > b.v ? 1 : 0;
  throw new ExprError(`'${op}' not supported between ${typeName(a)} and ${typeName(b)}`, at);
}

function checkBig(v: bigint, at: number): { t: "int"; v: bigint } {
  const bits = BigInt((v < 0n ? -v : v).toString(2).length);
  if (bits > MAX_INT_BITS) throw new ExprError("integer result too large", at);
  return { t: "int", v };
}

function binary(op: string, a: PyVal, b: PyVal, at: number): PyVal {
  const unsupported = () => new ExprError(`unsupported operand types for ${op}: ${typeName(a)} and ${typeName(b)}`, at);
  switch (op) {
    case "+":
      if (a.t === "str" && b.t === "str") {
        checkLength(a.v.length + b.v.length, at);
        return { t: "str", v: a.v + b.v };
      }
      if (a.t === "tuple" && b.t === "tuple") return { t: "tuple", v: a.v.concat(b.v) };
      break;
    case "*":
      if (a.t === "str" && isIntLike(b)) return repeatStr(a.v, asBig(b), at);
      if (isIntLike(a) && b.t === "str") return repeatStr(b.v, asBig(a), at);
      break;
    case "%":
      if (a.t === "str") throw new ExprError("string formatting with % is not supported", at);
      break;
  }
  if (!isNum(a) || !isNum(b)) throw unsupported();
  const ints = isIntLike(a) && isIntLike(b);
  switch (op) {
    case "+":
      return ints ? checkBig(asBig(a) + asBig(b), at) : { t: "float", v: asFloat(a) + asFloat(b) };
    case "-":
      return ints ? checkBig(asBig(a) - asBig(b), at) : { t: "float", v: asFloat(a) - asFloat(b) };
    case "*":
      return ints ? checkBig(asBig(a) * asBig(b), at) : { t: "float", v: asFloat(a) * asFloat(b) };
    case "/": {
      const d = asFloat(b);
      if (d === 0) throw new ExprError("division by zero", at);
      if (ints) {
        // Exact when both fit; Python's true division rounds correctly.
        return { t: "float", v: Number(asBig(a)) / Number(asBig(b)) };
      }
      return { t: "float", v: asFloat(a) / d };
    }
    case "//":
      if (ints) {
        if (asBig(b) === 0n) throw new ExprError("integer division by zero", at);
        return { t: "int", v: floorDivBig(asBig(a), asBig(b)) };
      } else {
        const d = asFloat(b);
        if (d === 0) throw new ExprError("float floor division by zero", at);
        return { t: "float", v: Math.floor(asFloat(a) / d) };
      }
    case "%":
      if (ints) {
        const y = asBig(b);
        if (y === 0n) throw new ExprError("integer modulo by zero", at);
        const x = asBig(a);
        return { t: "int", v: x - floorDivBig(x, y) * y };
      } else {
        const x = asFloat(a);
        const y = asFloat(b);
        if (y === 0) throw new ExprError("float modulo", at);
        return { t: "float", v: x - y * Math.floor(x / y) };
      }
    case "**":
      if (ints && asBig(b) >= 0n) {
        if (asBig(b) > 100_000n) throw new ExprError("exponent too large", at);
        return checkBig(asBig(a) ** asBig(b), at);
      }
      if (asFloat(a) === 0 && asFloat(b) < 0) throw new ExprError("0.0 cannot be raised to a negative power", at);
      return { t: "float", v: Math.pow(asFloat(a), asFloat(b)) };
    case "|":
    case "^":
    case "&": {
      if (!ints) throw unsupported();
      if (a.t === "bool" && b.t === "bool") {
        const r = op === "|" ? a.v || b.v : op === "&" ? a.v && b.v : a.v !== b.v;
        return { t: "bool", v: r };
      }
      const x = asBig(a);
      const y = asBig(b);
      return { t: "int", v: op === "|" ? x | y : op === "&" ? x & y : x ^ y };
    }
  }
  throw unsupported();
}

function contains(container: PyVal, item: PyVal, at: number): boolean {
  if (container.t === "tuple") return container.v.some((x) => pyEq(x, item));
  if (container.t === "str") {
    if (item.t !== "str") throw new ExprError(`'in <string>' requires string as left operand, not ${typeName(item)}`, at);
    return container.v.includes(item.v);
  }
  throw new ExprError(`argument of type '${typeName(container)}' is not iterable`, at);
}

/** Values of reference atoms, when they were substituted without re-parsing. */
export type RefValues = ReadonlyMap<string, PyVal>;

export function evalExpr(node: ExprAst, refs?: RefValues): PyVal {
  const evalExpr = (n: ExprAst): PyVal => evalNode(n, refs);
  return evalNode(node, refs);

  function evalNode(node: ExprAst, refs?: RefValues): PyVal {
  switch (node.k) {
    case "int":
      return { t: "int", v: node.v };
    case "float":
      return { t: "float", v: node.v };
    case "str":
      return { t: "str", v: node.v };
    case "bool":
      return { t: "bool", v: node.v };
    case "none":
      return { t: "none" };
    case "name":
      return { t: "str", v: node.v };
    case "ref": {
      // References are substituted as text before an expression is evaluated, or given here
      // when their text is a plain number or word (the same result as substituting the text).
      const v = refs?.get(node.ref.raw);
      if (v) return v;
      throw new ExprError(`unresolved reference ${node.ref.raw}`, node.at);
    }
    case "tuple":
      return { t: "tuple", v: node.items.map(evalExpr) };
    case "unary": {
      const x = evalExpr(node.x);
      if (node.op === "not") return { t: "bool", v: !truthy(x) };
      if (!isNum(x)) throw new ExprError(`bad operand type for unary ${node.op}: ${typeName(x)}`, node.at);
      if (node.op === "+") return x.t === "bool" ? { t: "int", v: asBig(x) } : x;
      return x.t === "float" ? { t: "float", v: -x.v } : { t: "int", v: -asBig(x) };
    }
    case "bin":
      return binary(node.op, evalExpr(node.l), evalExpr(node.r), node.at);
    case "bool-op": {
      let last: PyVal = { t: "none" };
      for (const item of node.items) {
        last = evalExpr(item);
        if (node.op === "and" && !truthy(last)) return last;
        if (node.op === "or" && truthy(last)) return last;
      }
      return last;
    }
    case "cmp": {
      let left = evalExpr(node.first);
      for (const { op, x } of node.rest) {
        const right = evalExpr(x);
        let ok: boolean;
        switch (op) {
          case "==":
            ok = pyEq(left, right);
            break;
          case "!=":
            ok = !pyEq(left, right);
            break;
          case "<":
            ok = pyCmp(left, right, node.at, op) < 0;
            break;
          case "<=":
            ok = pyCmp(left, right, node.at, op) <= 0;
            break;
          case ">":
            ok = pyCmp(left, right, node.at, op) > 0;
            break;
          case ">=":
            ok = pyCmp(left, right, node.at, op) >= 0;
            break;
          case "in":
            ok = contains(right, left, node.at);
            break;
          case "not in":
            ok = !contains(right, left, node.at);
            break;
        }
        if (!ok) return { t: "bool", v: false };
        left = right;
      }
      return { t: "bool", v: true };
    }
  }
  }
}

/** Counts reference atoms in an expression tree. */
export function countRefAtoms(node: ExprAst): number {
  switch (node.k) {
    case "ref":
      return 1;
    case "tuple":
      return node.items.reduce((a, x) => a + countRefAtoms(x), 0);
    case "unary":
      return countRefAtoms(node.x);
    case "bin":
      return countRefAtoms(node.l) + countRefAtoms(node.r);
    case "bool-op":
      return node.items.reduce((a, x) => a + countRefAtoms(x), 0);
    case "cmp":
      return countRefAtoms(node.first) + node.rest.reduce((a, r) => a + countRefAtoms(r.x), 0);
    default:
      return 0;
  }
}

/** The atom a substituted text parses to, when it is one plain token; undefined otherwise. */
export function atomOf(text: string): PyVal | undefined {
  if (/^\d+$/.test(text)) return { t: "int", v: BigInt(text) };
  if (/^\d+\.\d*$|^\d*\.\d+$/.test(text)) return { t: "float", v: Number(text) };
  if (/^[A-Za-z_]\w*$/.test(text) && !["and", "or", "not", "in", "True", "False", "None"].includes(text)) return { t: "str", v: text };
  return undefined;
}

function floatRepr(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  if (Number.isInteger(v) && Math.abs(v) < 1e16) return `${v}.0`;
  const s = String(v);
  // Python writes 1e+16 where JS writes 10000000000000000 (up to 1e21).
  if (/^-?\d+$/.test(s)) {
    const e = v.toExponential();
    return e.replace(/\.0+e/, "e").replace(/e\+?(-?)(\d)$/, "e+$10$2").replace("e+-", "e-");
  }
  return s.replace(/e([+-])(\d)$/, "e$10$2");
}

/** Python's str() of a value: what is substituted into surrounding text. */
export function pyStr(x: PyVal): string {
  switch (x.t) {
    case "int":
      return x.v.toString();
    case "float":
      return floatRepr(x.v);
    case "str":
      return x.v;
    case "bool":
      return x.v ? "True" : "False";
    case "none":
      return "None";
    case "tuple": {
      const items = x.v.map((i) => (i.t === "str" ? `'${i.v}'` : pyStr(i)));
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
    }
  }
}

/** The JS value kept when a whole keyword value is one expression. */
export function pyToJs(x: PyVal): string | number | boolean | null {
  switch (x.t) {
    case "int":
      return Number(x.v);
    case "float":
      return x.v;
    case "bool":
      return x.v;
    case "none":
      return null;
    default:
      return pyStr(x);
  }
}
