// How it works: a helper node process takes the object's lock through the compiled StateStore (dist/src/state/store.js) and holds it; `osvc apply --lock-timeout` of the same object must then fail after the timeout naming the holder (pid, command), or wait for the release and succeed.
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers/cli.js";
import { modeOf, runCliAsync, sandbox, show, spawnScript } from "../helpers/e2e.js";

const STORE = pathToFileURL(`${ROOT}dist/src/state/store.js`).href;

/** Source of a process that takes the lock of `object`, prints "locked <pid>", holds it `holdMs`, releases it, prints "released". */
function holderScript(root: string, object: string, holdMs: number): string {
  return `
import { StateStore } from ${JSON.stringify(STORE)};
const lock = await new StateStore(${JSON.stringify(root)}).lock(${JSON.stringify(object)}, { timeoutMs: 0, command: "holder test" });
console.log("locked " + process.pid);
setTimeout(async () => { await lock.release(); console.log("released"); process.exit(0); }, ${holdMs});
`;
}

describe("two concurrent applies of one object", () => {
  it("the second one fails after --lock-timeout 1s, naming the holder", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-lock-busy-");
    const name = "e2e-lock-busy";
    const dir = sb.at("www");
    const tpl = sb.write("t.conf", `[fs#0]\ntype = directory\npath = ${dir}\nperm = 0750\n`);
    const holder = await spawnScript(holderScript(sb.root, name, 30_000), /locked \d+/);
    try {
      const r = await runCliAsync(["apply", tpl, "--path", name, "--auto-approve", "--lock-timeout", "1s", "--root", sb.root]);
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`object ${name} is locked by pid ${holder.pid} on host \\S+ \\(holder test\\)`));
      // it waited about the timeout (plus the CLI's own start-up, ~0.5 s, more on a loaded host), not more
      expect(r.elapsedMs).toBeGreaterThanOrEqual(1000);
      expect(r.elapsedMs).toBeLessThan(5000);
      // and did nothing
      expect(existsSync(dir)).toBe(false);
      expect(r.stdout).not.toMatch(/^INFO /m);
    } finally {
      holder.kill();
      await holder.exited;
    }
  });

  it("with --lock-timeout 10s it waits for the holder to release the lock, then applies", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-lock-wait-");
    const name = "e2e-lock-wait";
    const dir = sb.at("www");
    const tpl = sb.write("t.conf", `[fs#0]\ntype = directory\npath = ${dir}\nperm = 0750\n`);
    const holder = await spawnScript(holderScript(sb.root, name, 1000), /locked \d+/);
    try {
      const r = await runCliAsync(["apply", tpl, "--path", name, "--auto-approve", "--lock-timeout", "10s", "--root", sb.root]);
      expect(r.code, show(r)).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`waiting for the lock of ${name}: held by pid ${holder.pid} \\(holder test\\)`));
      expect(holder.stdout()).toContain("released");
      expect(r.stdout).toContain("Apply complete:");
      expect(modeOf(dir)).toBe("750");
      expect(await holder.exited).toBe(0);
    } finally {
      holder.kill();
      await holder.exited;
    }
  });
});
