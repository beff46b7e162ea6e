// Diagnostics are data: collected, never thrown for user mistakes.
// Codes are grouped by layer: 1xxx lex/parse, 2xxx evaluation/keywords/graph,
// 3xxx plan, 4xxx apply/provider, 5xxx state/CLI.

export type Severity = "error" | "warning" | "info";

export interface SourcePos {
  readonly line: number; // 1-based
  readonly col: number; // 1-based
  readonly offset: number; // 0-based, in the source text
}

export interface SourceRange {
  readonly file: string;
  readonly start: SourcePos;
  readonly end: SourcePos; // exclusive
}

export interface Diagnostic {
  readonly code: string;
  readonly severity: Severity;
  /** Short, fixed wording. */
  readonly summary: string;
  /** What is wrong and why, in full sentences. */
  readonly detail?: string;
  /** How to fix it ("did you mean ..."). */
  readonly hint?: string;
  readonly range?: SourceRange;
}

export class DiagnosticBag {
  readonly items: Diagnostic[] = [];

  add(d: Diagnostic): void {
    this.items.push(d);
  }

  addAll(ds: Iterable<Diagnostic>): void {
    for (const d of ds) this.items.push(d);
  }

  error(code: string, summary: string, range?: SourceRange, extra: { detail?: string; hint?: string } = {}): void {
    this.add({ code, severity: "error", summary, range, ...extra });
  }

  warning(code: string, summary: string, range?: SourceRange, extra: { detail?: string; hint?: string } = {}): void {
    this.add({ code, severity: "warning", summary, range, ...extra });
  }

  get hasErrors(): boolean {
    return this.items.some((d) => d.severity === "error");
  }

  get errors(): Diagnostic[] {
    return this.items.filter((d) => d.severity === "error");
  }
}

export function hasErrors(ds: readonly Diagnostic[]): boolean {
  return ds.some((d) => d.severity === "error");
}

/** Stable order for output: by file, position, then code. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => {
    const fa = a.range?.file ?? "";
    const fb = b.range?.file ?? "";
    if (fa !== fb) return fa < fb ? -1 : 1;
    const oa = a.range?.start.offset ?? -1;
    const ob = b.range?.start.offset ?? -1;
    if (oa !== ob) return oa - ob;
    return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
  });
}

/** Thrown only for osvc bugs: impossible states. */
export class InternalError extends Error {
  constructor(message: string) {
    super(`internal error (this is an osvc bug): ${message}`);
    this.name = "InternalError";
  }
}

/** A user-facing failure that carries diagnostics (used at layer boundaries only). */
export class DiagnosticsError extends Error {
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map((d) => d.summary).join("; "));
    this.name = "DiagnosticsError";
  }
}

/**
 * True for V8's "Maximum call stack size exceeded". Explicit limits bound every recursion on
 * template input (nesting, reference chains); this is the safety net at the same boundaries,
 * turned into a positioned diagnostic there, never a crash.
 */
export function isStackOverflow(e: unknown): boolean {
  return e instanceof RangeError && /call stack/i.test(e.message);
}

/** Levenshtein distance, small inputs only (keyword names). */
export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  if (m === 0) return n;
  if (n === 0) return m;
  let prev = new Array<number>(n + 1);
  let cur = new Array<number>(n + 1);
  for (let j = 0; j <= n; j++) prev[j] = j;
  for (let i = 1; i <= m; i++) {
    cur[0] = i;
    for (let j = 1; j <= n; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
    }
    [prev, cur] = [cur, prev];
  }
  return prev[n];
}

/** Every candidate at the smallest distance (within the same bound as didYouMean), sorted. */
export function closestCandidates(word: string, candidates: Iterable<string>): string[] {
  const max = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  let best = Infinity;
  let out: string[] = [];
  for (const c of candidates) {
    if (Math.abs(word.length - c.length) > max) continue; // too far by length alone (and a long word stays cheap)
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d > max) continue;
    if (d < best) {
      best = d;
      out = [c];
    } else if (d === best) out.push(c);
  }
  return out.sort();
}

/** "Did you mean x?" or "Did you mean one of: x, y?", or undefined. */
export function suggestion(word: string, candidates: Iterable<string>, quote = (s: string) => `"${s}"`): string | undefined {
  const c = closestCandidates(word, candidates);
  if (c.length === 0) return undefined;
  return c.length === 1 ? `Did you mean ${quote(c[0])}?` : `Did you mean one of: ${c.map(quote).join(", ")}?`;
}

/** The closest candidate within a distance proportional to the word length. */
export function didYouMean(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const max = Math.max(1, Math.min(3, Math.floor(word.length / 3)));
  for (const c of candidates) {
    if (Math.abs(word.length - c.length) > max) continue;
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD || (d === bestD && best !== undefined && c < best)) {
      bestD = d;
      best = c;
    }
  }
  return bestD <= max ? best : undefined;
}
