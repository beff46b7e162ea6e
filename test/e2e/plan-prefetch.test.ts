// `osvc plan` starts the loop listing its probe needs while the template compiles (Provider.prefetch):
// seen from outside, through a `losetup` earlier on the PATH that records each call and runs the
// real one. A plan lists once (the prefetched listing serves the probe); a plan from the recorded
// state alone (--refresh false) runs no command at all. And prefetchProbes resolves only once the
// listing's command was forked, so that the compile which follows cannot hold it back.
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listLoops } from "../../providers/disk-loop/provider.js";
import { BUILTIN_PROVIDERS } from "../../providers/index.js";
import { prefetchProbes } from "../../src/engine/index.js";
import { createExec } from "../../src/provider/exec.js";
import { ProviderRegistry } from "../../src/provider/registry.js";
import type { StateFile } from "../../src/state/model.js";
import { BIN, ROOT } from "../helpers/cli.js";
import { loopsUnder, mountsUnder, sandbox, show } from "../helpers/e2e.js";

/** The commands this process started that still exist (running, or ended and not yet reaped), by name. */
function myChildren(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const [comm, rest] = [stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")), stat.slice(stat.lastIndexOf(")") + 2).split(" ")];
      if (Number(rest[1]) === process.pid) out.push(comm);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe("prefetchProbes", () => {
  const before = process.env.OSVC_SPAWN;
  beforeAll(() => {
    process.env.OSVC_SPAWN = "direct"; // plan's first commands start so: a fork of this process
  });
  afterAll(() => {
    if (before === undefined) delete process.env.OSVC_SPAWN;
    else process.env.OSVC_SPAWN = before;
  });

  it("resolves once the listing's command runs: the compile that follows cannot delay it", async () => {
    const state = { resources: { "disk#0": { driver: "disk.loop" } } } as unknown as StateFile;
    await prefetchProbes(new ProviderRegistry(BUILTIN_PROVIDERS), state);
    // Synchronously, as a compile would run: the command exists already (not reaped before the
    // event loop's next turn).
    expect(myChildren()).toContain("losetup");
    await listLoops(createExec()); // the prefetched listing, taken and ended
  });
});

describe("osvc plan and the loop listing", () => {
  it("lists the loop devices once per plan, and never with --refresh false", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-prefetch-");
    const name = `prefetch${process.pid}`;
    const tpl = sb.write(
      "t.conf",
      [0, 1].flatMap((i) => [`[disk#${i}]`, "type = loop", `file = ${sb.at(`d${i}.img`)}`, "size = 8m", "", `[fs#${i}]`, "type = ext4", `dev = {disk#${i}.exposed_devs[0]}`, `mnt = ${sb.at(`m${i}`)}`, ""]).join("\n"),
    );
    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(0);

    const shims = sb.at("shims");
    const calls = sb.at("losetup-calls");
    mkdirSync(shims);
    const real = spawnSync("sh", ["-c", "command -v losetup"], { encoding: "utf8" }).stdout.trim();
    writeFileSync(path.join(shims, "losetup"), `#!/bin/sh\necho "$*" >> '${calls}'\nexec '${real}' "$@"\n`);
    chmodSync(path.join(shims, "losetup"), 0o755);
    const plan = (extra: readonly string[]) =>
      spawnSync(process.execPath, [BIN, "plan", tpl, "--path", name, "--detailed-exitcode", "--root", sb.root, ...extra], {
        cwd: ROOT,
        encoding: "utf8",
        env: { ...process.env, NO_COLOR: "1", PATH: `${shims}:${process.env.PATH ?? ""}` },
      });

    const off = plan(["--refresh", "false"]);
    expect(off.status, off.stdout + off.stderr).toBe(0);
    expect(existsSync(calls)).toBe(false);

    const on = plan([]);
    expect(on.status, on.stdout + on.stderr).toBe(0);
    expect(on.stdout).toContain("No changes.");
    expect(readFileSync(calls, "utf8").trim().split("\n")).toEqual(["-l -J -O NAME,BACK-FILE,BACK-INO"]);

    // The state is read once: the template compiles with it (recorded write-backs) and the plan
    // is made from it (a plan takes no lock; a second read only cost a parse).
    const stateFile = path.join(sb.objectDir(name), "state.json");
    const trace = sb.at("plan.strace");
    const traced = spawnSync("strace", ["-f", "-e", "trace=openat", "-o", trace, process.execPath, BIN, "plan", tpl, "--path", name, "--root", sb.root], { cwd: ROOT, encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
    expect(traced.status, traced.stdout + traced.stderr).toBe(0);
    expect(readFileSync(trace, "utf8").split("\n").filter((l) => l.includes(`"${stateFile}"`))).toHaveLength(1);

    // Read from the backup (state.json damaged): said once, and planned from it.
    const good = readFileSync(stateFile);
    writeFileSync(stateFile, "{");
    const fromBackup = plan(["--refresh", "false"]);
    writeFileSync(stateFile, good);
    expect([0, 2], fromBackup.stdout + fromBackup.stderr).toContain(fromBackup.status);
    expect(fromBackup.stderr.split(`${stateFile} is corrupt`)).toHaveLength(2);
    expect(fromBackup.stderr).toContain(`using ${stateFile}.backup`);

    const d = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(d.code, show(d)).toBe(0);
    expect(loopsUnder(sb.dir)).toEqual([]);
    expect(mountsUnder(sb.dir)).toEqual([]);
  });
});
