// Source text with a line index: offsets -> line:col, ranges, excerpts.
import type { SourcePos, SourceRange } from "../src/core/diagnostics.js";

export class SourceFile {
  private starts: number[] | undefined;
  /** The line of the last position found: the parser asks in increasing order, mostly on the same or the next line. */
  private lastLine = 0;

  constructor(
    readonly file: string,
    readonly text: string,
  ) {}

  /** Offsets of the line starts, found at the first position asked for (a file shown only when a diagnostic names it). */
  get lineStarts(): readonly number[] {
    if (!this.starts) {
      // indexOf per line, not a loop per character: this runs cold (interpreted) in most osvc runs.
      const starts = [0];
      for (let i = this.text.indexOf("\n"); i >= 0; i = this.text.indexOf("\n", i + 1)) starts.push(i + 1);
      this.starts = starts;
    }
    return this.starts;
  }

  pos(offset: number): SourcePos {
    const o = Math.max(0, Math.min(offset, this.text.length));
    const starts = this.lineStarts;
    let lo = this.lastLine;
    if (starts[lo] <= o && (lo + 1 >= starts.length || o < starts[lo + 1])) return { line: lo + 1, col: o - starts[lo] + 1, offset: o };
    lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= o) lo = mid;
      else hi = mid - 1;
    }
    this.lastLine = lo;
    return { line: lo + 1, col: o - starts[lo] + 1, offset: o };
  }

  range(start: number, end: number): SourceRange {
    return { file: this.file, start: this.pos(start), end: this.pos(Math.max(start, end)) };
  }

  lineText(line: number): string {
    const starts = this.lineStarts;
    const s = starts[line - 1];
    if (s === undefined) return "";
    const e = line < starts.length ? starts[line] - 1 : this.text.length;
    return this.text.slice(s, e).replace(/\r$/, "");
  }
}

/**
 * Maps offsets of an assembled value string (after comment stripping, unquoting and
 * joining continuation lines) back to offsets in the source file.
 */
export class OffsetMap {
  // Segments sorted by valueStart: value offsets [valueStart, next.valueStart) map linearly from sourceStart.
  private readonly segs: { valueStart: number; sourceStart: number }[] = [];

  add(valueStart: number, sourceStart: number): void {
    this.segs.push({ valueStart, sourceStart });
  }

  toSource(valueOffset: number): number {
    const segs = this.segs;
    if (segs.length === 0) return 0;
    let lo = 0;
    let hi = segs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (segs[mid].valueStart <= valueOffset) lo = mid;
      else hi = mid - 1;
    }
    const s = segs[lo];
    return s.sourceStart + Math.max(0, valueOffset - s.valueStart);
  }

  /** Appends the segments of another map, shifted by `delta` value offsets. */
  appendShifted(other: OffsetMap, delta: number): void {
    for (const s of other.segs) this.segs.push({ valueStart: s.valueStart + delta, sourceStart: s.sourceStart });
  }

  /** A map where value offset 0 is `sourceStart`. */
  static identity(sourceStart: number): OffsetMap {
    const m = new OffsetMap();
    m.add(0, sourceStart);
    return m;
  }
}
