// The spawn helper's failure paths, on real processes: the helper killed while a command runs,
// osvc killed with SIGKILL while a command runs, and a python3 that cannot run the helper.
// (Every Exec behaviour is also run through the helper in exec.test.ts.)
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { alive } from "../helpers/proc.js";
import { createExec, endRunning, prestartHelper } from "../../src/provider/exec.js";
import { HELPER_SOURCE, helperPid, helperUnusable, waitStatus } from "../../src/provider/spawn-helper.js";
import { ROOT } from "../helpers/cli.js";

const exec = createExec();


async function until(cond: () => boolean, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
  return cond();
}

const leftovers: number[] = [];
afterEach(() => {
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // gone
    }
  }
});

function parentOf(stat: string): number {
  return Number(stat.replace(/\(.*\)/, "x").split(/\s+/)[3]);
}

describe("spawn helper", () => {
  it("a process starts its first 4 commands itself, then through the helper (a plan's one probe never starts python)", async () => {
    expect(helperPid()).toBeUndefined();
    for (let i = 0; i < 4; i++) expect(parentOf((await exec("cat", ["/proc/self/stat"])).stdout)).toBe(process.pid);
    expect(helperPid()).toBeUndefined();
    const fifth = await exec("cat", ["/proc/self/stat"]);
    expect(helperPid()).toBeGreaterThan(0);
    expect(parentOf(fifth.stdout)).toBe(helperPid());
  });

  it("decodes wait statuses as waitpid reports them", () => {
    expect(waitStatus(0)).toEqual({ exitCode: 0 });
    expect(waitStatus(3 << 8)).toEqual({ exitCode: 3 });
    expect(waitStatus(9)).toEqual({ signal: "SIGKILL" });
    expect(waitStatus(15 | 0x80)).toEqual({ signal: "SIGTERM" }); // core dumped bit
  });

  it("is fixed code run isolated: no template value can reach it as code", () => {
    // The source is a constant; requests are parsed as NUL-separated data (argv, env, cwd, stdin).
    expect(HELPER_SOURCE).not.toMatch(/\beval\(|\bexec\(|shell=True/);
    expect(HELPER_SOURCE).toMatch(/start_new_session=True, restore_signals=True, close_fds=True/);
    expect(HELPER_SOURCE).toMatch(/os\.posix_spawn\(path, argv, env, file_actions=acts, setsid=True, setsigdef=\(SIGPIPE, SIGXFSZ\)\)/);
  });

  it("argument values that look like shell syntax or options stay single arguments", async () => {
    const args = ["$(touch /tmp/osvc-never)", "; rm -rf /", "a\nb", "--help", " spaced ", "", "é€"];
    const r = await exec("/usr/bin/printf", ["[%s]", ...args]);
    expect(r.stdout).toBe(args.map((a) => `[${a}]`).join(""));
    expect(existsSync("/tmp/osvc-never")).toBe(false);
  });

  it("feeds a large input and captures a large output whole (no deadlock between the pipes)", async () => {
    const input = `${"x".repeat(1023)}\n`.repeat(3 * 1024); // 3 MiB
    const r = await exec("cat", [], { input });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.length).toBe(input.length);
    expect(r.stdout === input).toBe(true);
  });

  it("a helper killed while a command runs: the command fails saying so, its group is killed, the next command starts a new helper", async () => {
    expect((await exec("true", [])).exitCode).toBe(0);
    const first = helperPid()!;
    expect(first).toBeGreaterThan(0);
    let pid = 0;
    const p = exec("sh", ["-c", "echo $$; exec sleep 65"], { onLine: (_s, l) => (pid = Number(l)) });
    expect(await until(() => pid > 0)).toBe(true);
    leftovers.push(pid);
    process.kill(first, "SIGKILL");
    const r = await p;
    expect(r.exitCode).toBe(-1);
    expect(r.stderr).toMatch(new RegExp(`spawn helper ended while this command ran \\(.*SIGKILL.*\\); its process group ${pid} was killed`));
    expect(await until(() => !alive(pid)), `sleep 65 (pid ${pid}) still runs`).toBe(true);
    const again = await exec("cat", ["/proc/self/stat"]);
    expect(again.exitCode).toBe(0);
    expect(helperPid()).not.toBe(first);
    expect(parentOf(again.stdout)).toBe(helperPid());
    expect(helperUnusable()).toBeUndefined();
  });

  it("a command still queued in a starting helper is ended by endRunning() and by its timeout as soon as it starts", async () => {
    const freshHelper = async () => {
      if (helperPid()) process.kill(helperPid()!, "SIGKILL");
      expect(await until(() => helperPid() === undefined)).toBe(true);
      prestartHelper(); // python takes ~15 ms to start: the next command waits in its pipe, no pid yet
    };
    await freshHelper();
    const p = exec("sleep", ["67"]);
    expect(await endRunning(500)).toEqual([]); // nothing had a pid to end yet
    const r = await p;
    expect(r.signal).toBe("SIGTERM");
    expect(r.durationMs).toBeLessThan(10_000);
    await freshHelper();
    const t = await exec("sleep", ["68"], { timeoutMs: 1 });
    expect(t.timedOut).toBe(true);
    expect(t.signal).toBe("SIGTERM");
    expect(t.durationMs).toBeLessThan(10_000);
  }, 30_000);

  it("osvc killed with SIGKILL: its commands in flight finish (their output still read), one past its timeout is ended, then the helper exits (a daemon's pipes do not hold it)", async () => {
    // A separate node process runs commands through the compiled Exec, then is SIGKILLed: none of
    // its own exit handlers run. A step's command must not be cut halfway (a mkfs would leave a
    // device with data and no signature): it finishes, as when osvc forked it itself.
    const dir = mkdtempSync(path.join(os.tmpdir(), "osvc-helper-kill-"));
    const done = path.join(dir, "done");
    // Writes 1 MB to its stdout after osvc is gone: with nobody reading it would die of SIGPIPE.
    const finishing = `echo $$; sleep 1; head -c 1000000 /dev/zero; echo ok > '${done}'`;
    const script = [
      `Promise.all([import(${JSON.stringify(path.join(ROOT, "dist/src/provider/exec.js"))}), import(${JSON.stringify(path.join(ROOT, "dist/src/provider/spawn-helper.js"))})]).then(([m, h]) => {`,
      "  m.prestartHelper();",
      "  const exec = m.createExec();",
      `  exec("sh", ["-c", ${JSON.stringify(finishing)}], { onLine: (_s, l) => l.length < 20 && console.log("A", l) });`,
      `  exec("sh", ["-c", "echo $$; exec sleep 66"], { timeoutMs: 1500, onLine: (_s, l) => console.log("B", l) });`,
      // Ends at once, but leaves a daemon holding its output pipes: not waited for once osvc is gone.
      `  exec("sh", ["-c", "echo $$; sleep 40 & exit 0"], { onLine: (_s, l) => console.log("C", l) });`,
      "  setTimeout(() => console.log('HELPER', h.helperPid()), 300);",
      "});",
    ].join("\n");
    const node = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, OSVC_SPAWN: "" } });
    const seen: Record<string, number> = {};
    node.stdout.setEncoding("utf8").on("data", (d: string) => {
      for (const m of d.matchAll(/^(A|B|C|HELPER) (\d+)$/gm)) seen[m[1]] = Number(m[2]);
    });
    try {
      expect(await until(() => seen.A > 0 && seen.B > 0 && seen.C > 0 && seen.HELPER > 0, 20_000), JSON.stringify(seen)).toBe(true);
      leftovers.push(seen.A, seen.B, seen.C);
      node.kill("SIGKILL");
      const killedAt = Date.now();
      expect(await until(() => existsSync(done), 10_000), "the command in flight did not finish (cut, or SIGPIPE)").toBe(true);
      expect(readFileSync(done, "utf8")).toBe("ok\n");
      expect(await until(() => !alive(seen.B), 10_000), `sleep 66 (pid ${seen.B}) outlived its 1.5 s timeout`).toBe(true);
      expect(Date.now() - killedAt).toBeLessThan(9_000);
      expect(await until(() => !alive(seen.HELPER), 10_000), "the helper stayed after its last command (waiting for the pipes of the daemon C left?)").toBe(true);
    } finally {
      node.kill("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("spawn helper: a python3 that cannot run it", () => {
  it("hands the commands back unstarted, and they start directly (for the rest of the process)", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "osvc-nopython-"));
    const fake = path.join(dir, "python3");
    writeFileSync(fake, "#!/bin/sh\necho 'Python 3.6: no pidfd_open' >&2\nexit 3\n");
    chmodSync(fake, 0o755);
    const savedMode = process.env.OSVC_SPAWN;
    delete process.env.OSVC_SPAWN;
    process.env.OSVC_SPAWN_PYTHON = fake;
    try {
      // This file's module state is its own (vitest isolates files): no helper ran yet in it
      // other than the tests above, whose helper is replaced here by the fake python3 once it ends.
      if (helperPid()) process.kill(helperPid()!, "SIGKILL");
      await until(() => helperPid() === undefined);
      const [a, b] = await Promise.all([exec("cat", ["/proc/self/stat"]), exec("sh", ["-c", "echo ok"])]);
      expect(a.exitCode).toBe(0);
      expect(parentOf(a.stdout)).toBe(process.pid);
      expect(b.stdout).toBe("ok\n");
      expect(helperUnusable()).toMatch(/python3 ended \(exit code 3\): Python 3.6: no pidfd_open/);
      const c = await exec("cat", ["/proc/self/stat"]);
      expect(parentOf(c.stdout)).toBe(process.pid);
    } finally {
      delete process.env.OSVC_SPAWN_PYTHON;
      if (savedMode === undefined) delete process.env.OSVC_SPAWN;
      else process.env.OSVC_SPAWN = savedMode;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
