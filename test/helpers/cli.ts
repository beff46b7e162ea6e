// Runs the compiled CLI (npm test builds first), as a user would: bin/osvc.js run as a command (its
// launcher line: node without NODE_EXTRA_CA_CERTS, from the build's start-up snapshot).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

// From test/helpers/ (vitest) or dist/test/helpers/ (a compiled bench using the test cluster).
const up2 = fileURLToPath(new URL("../../", import.meta.url));
export const ROOT = /[\\/]dist[\\/]$/.test(up2) ? fileURLToPath(new URL("../../../", import.meta.url)) : up2;
export const BIN = `${ROOT}bin/osvc.js`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: readonly string[], opts: { input?: string; env?: Record<string, string>; cwd?: string; timeoutMs?: number } = {}): CliResult {
  const r = spawnSync(BIN, [...args], {
    cwd: opts.cwd ?? ROOT,
    input: opts.input,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined, ...opts.env },
    timeout: opts.timeoutMs ?? 60_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
