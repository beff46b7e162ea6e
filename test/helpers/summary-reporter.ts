// Prints the plain closing line CI reads: "N passed, N failed[, N skipped]"; a temp directory a
// test left behind counts as a failure.
import type { Reporter, TestModule } from "vitest/node";
import { checkLeftovers } from "./tmp-guard.js";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const m of modules) {
      for (const t of m.children.allTests()) {
        const s = t.result().state;
        if (s === "passed") passed++;
        else if (s === "failed") failed++;
        else skipped++;
      }
      if (m.state() === "failed" && [...m.children.allTests()].length === 0) failed++;
    }
    failed += errors.length;
    failed += checkLeftovers().length; // temp directories a test left behind (test/helpers/tmp-guard.ts)
    process.stdout.write(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}\n`);
  }
}
