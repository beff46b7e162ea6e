// force-unlock: names the holder; refuses while the holder is alive on this host (unless --force);
// removes a lock whose holder cannot be checked (another host).
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { ROOT, runCli } from "../helpers/cli.js";
import { spawnScript } from "../helpers/e2e.js";
import { cleanup, makeTempDir } from "../helpers/host.js";
import { afterEach } from "vitest";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

const STORE = pathToFileURL(`${ROOT}dist/src/state/store.js`).href;

describe("force-unlock", () => {
  it("shows the holder, refuses a live one unless --force, removes a foreign host's lock", async () => {
    const root = makeTempDir("osvc-unlock-");
    const name = `ul${process.pid}`;
    expect(runCli(["force-unlock", name, "--root", root]).stdout).toMatch(/is not locked/);
    const holder = await spawnScript(
      `import { StateStore } from ${JSON.stringify(STORE)};
await new StateStore(${JSON.stringify(root)}).lock(${JSON.stringify(name)}, { timeoutMs: 0, command: "holder test" });
console.log("locked " + process.pid);
setTimeout(() => process.exit(0), 30000);`,
      /locked \d+/,
    );
    try {
      const refused = runCli(["force-unlock", name, "--root", root, "--auto-approve"]);
      expect(refused.code).toBe(1);
      expect(refused.stdout).toMatch(new RegExp(`locked by pid ${holder.pid} on host \\S+ \\(holder test\\)`));
      expect(refused.stderr).toMatch(/is alive on this host/);
      const forced = runCli(["force-unlock", name, "--root", root, "--auto-approve", "--force"]);
      expect(forced.code, forced.stderr).toBe(0);
      expect(existsSync(path.join(root, "objects/root/svc", name, "lock"))).toBe(false);
    } finally {
      holder.kill();
      await holder.exited;
    }
    // A lock left by another host cannot be checked from here: force-unlock removes it.
    const dir = path.join(root, "objects/root/svc", name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, "lock"), JSON.stringify({ pid: 1, host: "elsewhere", startedAt: "2026-01-01T00:00:00Z", command: "osvc apply x", procStart: null, bootId: null, token: "t" }));
    const r = runCli(["force-unlock", name, "--root", root, "--auto-approve"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/locked by pid 1 on host elsewhere/);
    expect(existsSync(path.join(dir, "lock"))).toBe(false);
  });
});
