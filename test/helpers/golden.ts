// Golden files: compare, or rewrite with UPDATE_GOLDEN=1 (npm run golden:accept); review the git diff.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { expect } from "vitest";

export const UPDATE = process.env.UPDATE_GOLDEN === "1";

export function golden(file: string, actual: string): void {
  if (UPDATE) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  if (!existsSync(file)) throw new Error(`golden file missing: ${file} (run npm run golden:accept and review the diff)`);
  expect(actual, `golden ${file}`).toBe(readFileSync(file, "utf8"));
}
