// The apply's run journal, on a real state store's journal in a temp dir.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { newRunId, runJournal } from "../../src/apply/journal.js";
import { StateStore } from "../../src/state/store.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const OBJECT = "journal-test";

describe("run journal", () => {
  it("records an intent before and an outcome after each step; a step without an outcome stays pending", async () => {
    const d = mkdtempSync(join(tmpdir(), "osvc-journal-"));
    dirs.push(d);
    const s = new StateStore(d);
    const run = newRunId();
    const j = runJournal(await s.openJournal(OBJECT), run, () => undefined);
    await j.intent("disk#0", "provision");
    await j.outcome("disk#0", "provision", true);
    await j.intent("fs#0", "provision");
    await j.close();
    const entries = await s.readJournal(OBJECT);
    expect(entries.map((e) => [e.run, e.op, e.rid, e.action, e.ok])).toEqual([
      [run, "intent", "disk#0", "provision", undefined],
      [run, "outcome", "disk#0", "provision", true],
      [run, "intent", "fs#0", "provision", undefined],
    ]);
    const pending = await s.pendingIntents(OBJECT);
    expect(pending.flatMap((r) => r.intents.map((i) => i.rid))).toEqual(["fs#0"]);
  });

  it("an intent that cannot be written fails; an outcome that cannot be written warns once and goes on", async () => {
    const warnings: string[] = [];
    const sink = {
      append: () => Promise.reject(new Error("EIO")),
      close: () => Promise.resolve(),
    };
    const j = runJournal(sink, "r1", (rid, m) => warnings.push(`${rid}: ${m}`));
    await expect(j.intent("fs#0", "provision")).rejects.toThrow("EIO");
    await j.outcome("fs#0", "provision", true);
    await j.outcome("fs#1", "provision", false, "boom");
    expect(warnings).toEqual(["fs#0: the journal records no outcome: EIO"]);
  });
});
