// SourceFile's offsets -> line:col: the line table (found with indexOf) and the lookup that starts
// from the last line found give what counting newlines one character at a time gives, in any order
// of asking (the parser asks in increasing order, a diagnostic anywhere).
import fc from "fast-check";
import { expect, test } from "vitest";
import { SourceFile } from "../../grammar/source.js";

function naive(text: string, offset: number): { line: number; col: number; offset: number } {
  const o = Math.max(0, Math.min(offset, text.length));
  let line = 1;
  let start = 0;
  for (let i = 0; i < o; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      start = i + 1;
    }
  }
  return { line, col: o - start + 1, offset: o };
}

const texts = fc.array(fc.oneof(fc.constantFrom("\n", "\r\n", "[disk#0]", "a = b", " ", "é", ""), fc.string({ maxLength: 6 })), { maxLength: 40 }).map((p) => p.join(""));

test("pos() and range() match a count of newlines, asked in any order, out-of-range offsets clamped", () => {
  fc.assert(
    fc.property(texts, fc.array(fc.integer({ min: -3, max: 400 }), { maxLength: 60 }), (text, offsets) => {
      const src = new SourceFile("t.conf", text);
      for (const o of offsets) expect(src.pos(o)).toEqual(naive(text, o));
      const sorted = [...offsets].sort((a, b) => a - b);
      for (const o of sorted) expect(src.pos(o)).toEqual(naive(text, o));
      for (let i = 0; i + 1 < offsets.length; i += 2) {
        const [a, b] = [offsets[i], offsets[i + 1]];
        expect(src.range(a, b)).toEqual({ file: "t.conf", start: naive(text, a), end: naive(text, Math.max(a, b)) });
      }
      expect(src.lineStarts[0]).toBe(0);
      expect(src.lineStarts.length).toBe(text.split("\n").length);
    }),
    { numRuns: 400 },
  );
});
