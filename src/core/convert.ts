// Converters: an evaluated raw keyword string -> a typed value.
// Pure functions, no throwing for user input: every converter returns a ConvertResult.

import type { KeywordType } from "./schema.js";

export type ConvertResult<T> = { ok: true; value: T } | { ok: false; error: string; hint?: string };

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** What convertValue may return, depending on the keyword type. */
export type ConvertedValue = string | number | boolean | string[] | JsonValue;

function ok<T>(value: T): ConvertResult<T> {
  return { ok: true, value };
}

function fail<T>(error: string, hint?: string): ConvertResult<T> {
  return hint === undefined ? { ok: false, error } : { ok: false, error, hint };
}

/** Quote a user value in a message. */
function q(s: string): string {
  return JSON.stringify(s);
}

// ---------------------------------------------------------------- bool

const TRUE_WORDS = new Set(["yes", "y", "true", "t", "1"]);
const FALSE_WORDS = new Set(["no", "n", "false", "f", "0", "0.0", "", "none", "[]", "{}"]);

/** true = yes y true t 1; false = no n false f 0 0.0 "" none (case-insensitive). */
export function parseBool(s: string): ConvertResult<boolean> {
  const w = s.trim().toLowerCase();
  if (TRUE_WORDS.has(w)) return ok(true);
  if (FALSE_WORDS.has(w)) return ok(false);
  return fail(`invalid boolean ${q(s)}`, "use one of: yes no true false y n t f 1 0 none");
}

/** Same as bool; an unset keyword (the third state) is handled by callers. */
export const parseTristate = parseBool;

// ---------------------------------------------------------------- size

const SIZE_POWERS: Readonly<Record<string, number>> = { k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };
const SIZE_UNITS_HINT =
  "a number with an optional unit: none or b (bytes); k m g t p e, ki/kib mi/mib gi/gib ti/tib pi/pib ei/eib (binary, x1024); kb mb gb tb pb eb (decimal, x1000). Example: 15g, 512m, 10mb";

/** Multiplier of a (lowercased) size unit, undefined if unknown. */
function sizeMultiplier(unit: string): number | undefined {
  if (unit === "" || unit === "b") return 1;
  const m = /^([kmgtpe])(i|ib|b)?$/.exec(unit);
  if (!m) return undefined;
  const power = SIZE_POWERS[m[1]];
  const base = m[2] === "b" ? 1000 : 1024;
  return base ** power;
}

/** The largest size: sizes are signed 64-bit integers upstream (8EiB is one byte too many). */
export const MAX_SIZE_EXCLUSIVE = 2 ** 63;

/**
 * Size in bytes, as upstream's converter (om3 util/sizeconv): units are case-insensitive: none/b =
 * bytes, k m g t p e and ki/kib ... are binary (x1024^n), kb mb gb tb pb eb are decimal (x1000^n).
 * The decimal mark is '.' or ',' (1,3kb = 1300). Computed in float64 and truncated, as upstream;
 * 8EiB and beyond is out of the 64-bit range: an error. An empty value is handled by callers (unset).
 */
export function parseSize(s: string): ConvertResult<number> {
  const text = s.trim();
  if (text === "") return fail("empty size", SIZE_UNITS_HINT);
  const m = /^(\d+(?:[.,]\d*)?|[.,]\d+)\s*([a-zA-Z]*)$/.exec(text);
  if (!m) {
    if (/^-/.test(text)) return fail(`invalid size ${q(s)}: a size cannot be negative`, SIZE_UNITS_HINT);
    return fail(`invalid size ${q(s)}`, SIZE_UNITS_HINT);
  }
  const unit = m[2].toLowerCase();
  const mult = sizeMultiplier(unit);
  if (mult === undefined) return fail(`invalid size ${q(s)}: unknown unit ${q(m[2])}`, SIZE_UNITS_HINT);
  const bytes = Math.trunc(Number(m[1].replace(",", ".")) * mult);
  if (!(bytes < MAX_SIZE_EXCLUSIVE)) return fail(`invalid size ${q(s)}: beyond the 64-bit range`, "the largest size is 8EiB minus one byte (9223372036854775807)");
  return ok(bytes);
}

/** A number as text, exact for integers beyond 2^53 (String() would print 8646911284551352000 for 7.5EiB). */
export function exactNumber(n: number): string {
  return Number.isInteger(n) && !Number.isSafeInteger(n) ? BigInt(n).toString() : String(n);
}

const FORMAT_UNITS: ReadonlyArray<[string, number]> = [
  ["e", 1024 ** 6],
  ["p", 1024 ** 5],
  ["t", 1024 ** 4],
  ["g", 1024 ** 3],
  ["m", 1024 ** 2],
  ["k", 1024],
];

/**
 * A human size that parses back to exactly `bytes`: the shortest exact binary-unit form
 * ("15g", "512m", "1.5g"), else the plain byte count. Ties prefer an integer, then the larger unit.
 */
export function formatSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0 || !Number.isInteger(bytes)) return String(bytes);
  let best = exactNumber(bytes);
  let bestHasDot = false;
  for (const [u, mult] of FORMAT_UNITS) {
    const v = bytes / mult;
    if (v < 1) continue;
    // at most 3 decimals, and exact
    const str = Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
    if (Math.floor(Number(str) * mult) !== bytes) continue;
    const cand = str + u;
    const hasDot = str.includes(".");
    if (cand.length < best.length || (cand.length === best.length && bestHasDot && !hasDot)) {
      best = cand;
      bestHasDot = hasDot;
    }
  }
  return best;
}

// ---------------------------------------------------------------- duration

const DURATION_UNITS: Readonly<Record<string, number>> = { y: 31536000, w: 604800, d: 86400, h: 3600, m: 60, s: 1, ms: 0.001, us: 0.000001, ns: 0.000000001 };
const DURATION_HINT = "combine <n>y <n>w <n>d <n>h <n>m <n>s <n>ms, e.g. 1w2d3h4m5s, 1m30s, 500ms, -1m; a bare number is seconds";

/**
 * Seconds from "1w2d3h4m5s", "1m30s", "500ms", "1y" (365 days), or a bare number of seconds, with an
 * optional sign ("-1m" is -60), as upstream's converter (Go durations plus d, w, y).
 * An empty value is handled by callers (unset).
 */
export function parseDuration(s: string): ConvertResult<number> {
  const text = s.trim().toLowerCase();
  if (text === "") return fail("empty duration", DURATION_HINT);
  const sign = text.startsWith("-") ? -1 : 1;
  const body = /^[+-]/.test(text) ? text.slice(1) : text;
  if (/^(\d+(?:\.\d*)?|\.\d+)$/.test(body)) return ok(sign * Number(body) || 0);
  const re = /(\d+(?:\.\d*)?|\.\d+)\s*(ms|us|ns|y|w|d|h|m|s)\s*/y;
  let total = 0;
  let pos = 0;
  let parts = 0;
  while (pos < body.length) {
    re.lastIndex = pos;
    const m = re.exec(body);
    if (!m) return fail(`invalid duration ${q(s)}`, DURATION_HINT);
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    pos = re.lastIndex;
    parts++;
  }
  if (parts === 0) return fail(`invalid duration ${q(s)}`, DURATION_HINT);
  // avoid 0.30000000000000004-style noise from the ms part
  return ok(sign * (Math.round(total * 1e9) / 1e9) || 0);
}

// ---------------------------------------------------------------- shlex

/**
 * POSIX shell-word split: single quotes are literal, double quotes honour backslash escapes of
 * \ " $ ` and newline, a backslash outside quotes escapes the next character, backslash-newline
 * is removed. `#` is not a comment. No expansion of any kind.
 */
export function shlexSplit(s: string): ConvertResult<string[]> {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let i = 0;
  const n = s.length;
  while (i < n) {
    const c = s[i];
    if (c === " " || c === "\t" || c === "\n" || c === "\r") {
      if (inWord) {
        words.push(cur);
        cur = "";
        inWord = false;
      }
      i++;
      continue;
    }
    if (c === "\\") {
      if (i + 1 >= n) return fail(`invalid shell words ${q(s)}: trailing backslash`, "escape it as \\\\ or quote it");
      const next = s[i + 1];
      if (next === "\n") {
        i += 2;
        continue;
      }
      cur += next;
      inWord = true;
      i += 2;
      continue;
    }
    if (c === "'") {
      const end = s.indexOf("'", i + 1);
      if (end < 0) return fail(`invalid shell words ${q(s)}: unterminated single quote`, "close the ' quote");
      cur += s.slice(i + 1, end);
      inWord = true;
      i = end + 1;
      continue;
    }
    if (c === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const d = s[i];
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === "\\" && i + 1 < n) {
          const e = s[i + 1];
          if (e === "\n") {
            i += 2;
            continue;
          }
          if (e === "\\" || e === '"' || e === "$" || e === "`") {
            cur += e;
            i += 2;
            continue;
          }
        }
        cur += d;
        i++;
      }
      if (!closed) return fail(`invalid shell words ${q(s)}: unterminated double quote`, 'close the " quote');
      inWord = true;
      continue;
    }
    cur += c;
    inWord = true;
    i++;
  }
  if (inWord) words.push(cur);
  return ok(words);
}

// ---------------------------------------------------------------- lists

/** Whitespace split; an empty string is an empty list. */
export function parseList(s: string): ConvertResult<string[]> {
  const t = s.trim();
  return ok(t === "" ? [] : t.split(/\s+/));
}

export function parseListLower(s: string): ConvertResult<string[]> {
  return ok(s.trim() === "" ? [] : s.trim().toLowerCase().split(/\s+/));
}

/** Whitespace split, de-duplicated, first occurrence order kept. */
export function parseSet(s: string): ConvertResult<string[]> {
  const l = parseList(s);
  if (!l.ok) return l;
  return ok([...new Set(l.value)]);
}

// ---------------------------------------------------------------- numbers

/** Decimal integer with an optional sign. */
export function parseInt10(s: string): ConvertResult<number> {
  const t = s.trim();
  if (!/^[+-]?\d+$/.test(t)) return fail(`invalid integer ${q(s)}`, "use a decimal integer, e.g. 0, 3, -1");
  const v = Number(t);
  if (!Number.isSafeInteger(v)) return fail(`invalid integer ${q(s)}: out of range`);
  return ok(v === 0 ? 0 : v); // no -0
}

export function parseFloatValue(s: string): ConvertResult<number> {
  const t = s.trim();
  if (!/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(t)) return fail(`invalid number ${q(s)}`, "use a decimal number, e.g. 1.5");
  return ok(Number(t));
}

/** File mode: 1-4 octal digits, optionally with a leading 0; normalized to 4 digits ("0755", "1777"). */
export function parseOctal(s: string): ConvertResult<string> {
  const t = s.trim();
  const m = /^0?([0-7]{1,4})$/.exec(t);
  if (!m) return fail(`invalid octal mode ${q(s)}`, "use 1 to 4 octal digits, e.g. 755, 0755, 1777");
  return ok(m[1].padStart(4, "0"));
}

export function parseJson(s: string): ConvertResult<JsonValue> {
  try {
    return ok(JSON.parse(s) as JsonValue);
  } catch (e) {
    return fail(`invalid JSON ${q(s)}: ${e instanceof Error ? e.message : String(e)}`);
  }
}

// ---------------------------------------------------------------- dispatch

/** Convert an evaluated raw string to the typed value of a keyword type. */
export function convertValue(raw: string, type: KeywordType): ConvertResult<ConvertedValue> {
  switch (type) {
    case "string":
      return ok(raw);
    case "bool":
      return parseBool(raw);
    case "tristate":
      return parseTristate(raw);
    case "int":
      return parseInt10(raw);
    case "float":
      return parseFloatValue(raw);
    case "size":
      return parseSize(raw);
    case "duration":
      return parseDuration(raw);
    case "list":
      return parseList(raw);
    case "list_lower":
      return parseListLower(raw);
    case "set":
      return parseSet(raw);
    case "shlex":
      return shlexSplit(raw);
    case "octal":
      return parseOctal(raw);
    case "json":
      return parseJson(raw);
    default: {
      const never: never = type;
      return fail(`unknown keyword type ${q(String(never))}`);
    }
  }
}
