// Vitest global setup: every test's temp directory goes under one directory of this run (TMPDIR,
// which os.tmpdir() and the CLI's children honour); at the end, anything a test left there fails
// the run, and is removed unless something is still mounted below it.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

/** Mount points at or below dir (from /proc/self/mountinfo; octal escapes decoded). */
function mountsBelow(dir: string): string[] {
  const text = readFileSync("/proc/self/mountinfo", "utf8");
  return text
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((m): m is string => Boolean(m))
    .map((m) => m.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))))
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/** The entries a test run left in its temp directory, each removed when nothing is mounted below it. */
export function leftovers(runDir: string): string[] {
  const left = readdirSync(runDir).sort();
  for (const e of left) {
    const p = path.join(runDir, e);
    if (mountsBelow(p).length === 0) rmSync(p, { recursive: true, force: true });
  }
  return left;
}

/** The run's temp directory (set by the global setup below; read by the summary reporter). */
export const RUN_TMP_ENV = "OSVC_TEST_RUN_TMP";

/** Checks the run's temp directory: prints and returns the leftovers (the reporter counts them as failures). */
export function checkLeftovers(): string[] {
  const runDir = process.env[RUN_TMP_ENV];
  if (!runDir) return [];
  const left = leftovers(runDir);
  if (left.length) {
    process.exitCode = 1;
    process.stderr.write(`\nerror: tests left ${left.length} temp director${left.length === 1 ? "y" : "ies"} in ${runDir}: ${left.join(", ")} (clean up in afterEach/afterAll/onTestFinished)\n`);
  }
  return left;
}

export default function setup(): () => void {
  const runDir = mkdtempSync(path.join(os.tmpdir(), "osvc-test-run-"));
  // Traversable by the non-root user of the non-root tests (mkdtemp makes it 0700).
  chmodSync(runDir, 0o755);
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = runDir;
  process.env[RUN_TMP_ENV] = runDir;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    checkLeftovers(); // again: the reporter ran before the last teardowns (normally nothing is left by now)
    delete process.env[RUN_TMP_ENV];
    try {
      rmdirSync(runDir);
    } catch {
      /* something under it is still mounted: left for inspection (reported above) */
    }
  };
}
