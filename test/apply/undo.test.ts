// The apply's undo stack.
import { describe, expect, it } from "vitest";
import { UndoStack } from "../../src/apply/undo.js";

interface Step {
  readonly rid: string;
  readonly fails?: boolean;
}

function stack(steps: Step[]): UndoStack<Step> {
  const u = new UndoStack<Step>();
  for (const s of steps) u.push(s);
  return u;
}

describe("undo stack", () => {
  it("unwinds in reverse order", async () => {
    const u = stack([{ rid: "disk#0" }, { rid: "fs#0" }, { rid: "app#0" }]);
    expect(u.size).toBe(3);
    const undone: string[] = [];
    const r = await u.unwind({
      undo: async (s) => void undone.push(s.rid),
      undone: async () => undefined,
      failed: async () => undefined,
    });
    expect(undone).toEqual(["app#0", "fs#0", "disk#0"]);
    expect(r.undone.map((s) => s.rid)).toEqual(["app#0", "fs#0", "disk#0"]);
    expect(r.failed).toBeUndefined();
    expect(r.left).toEqual([]);
  });

  it("stops at a failing undo and reports it: what lies beneath is left (a disk under a fs still mounted)", async () => {
    const u = stack([{ rid: "disk#0" }, { rid: "fs#0", fails: true }, { rid: "app#0" }]);
    const seen: string[] = [];
    const r = await u.unwind({
      undo: async (s) => {
        seen.push(s.rid);
        if (s.fails) throw new Error(`${s.rid} is busy`);
      },
      undone: async (s) => void seen.push(`undone ${s.rid}`),
      failed: async (s, e) => void seen.push(`failed ${s.rid}: ${(e as Error).message}`),
    });
    expect(seen).toEqual(["app#0", "undone app#0", "fs#0", "failed fs#0: fs#0 is busy"]);
    expect(r.failed?.rid).toBe("fs#0");
    expect(r.left.map((s) => s.rid)).toEqual(["disk#0"]);
  });
});
