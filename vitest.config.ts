import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "providers/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Every temp dir under one directory of the run; a test that leaves one fails the run.
    globalSetup: ["./test/helpers/tmp-guard.ts"],
    reporters: ["default", "./test/helpers/summary-reporter.ts"],
  },
});
