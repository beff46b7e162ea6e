// The one Exec: commands run in their own process group (a terminal's Ctrl-C reaches osvc only),
// a signal that ends a command is named, and a timeout or endRunning() ends the whole group.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { alive } from "../helpers/proc.js";
import { createExec, endRunning, ExecError, exitText, prestartHelper, resolveCommand, runningCommands } from "../../src/provider/exec.js";
import { helperPid, helperUnusable } from "../../src/provider/spawn-helper.js";

const exec = createExec();


/** Busy for `ms` milliseconds, without giving the event loop a turn. */
function spinFor(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

async function gone(pid: number, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  return !alive(pid);
}

describe("resolveCommand: each command's path is found once", () => {
  it("finds the first executable regular file on PATH, like execvp, and never a relative entry's", () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "osvc-exec-"));
    try {
      const a = path.join(dir, "a");
      const b = path.join(dir, "b");
      mkdirSync(a);
      mkdirSync(b);
      writeFileSync(path.join(a, "tool"), "#!/bin/sh\n", { mode: 0o644 }); // not executable: skipped
      mkdirSync(path.join(a, "dirtool")); // a directory: skipped
      writeFileSync(path.join(b, "tool"), "#!/bin/sh\n", { mode: 0o755 });
      expect(resolveCommand("tool", `${a}:${b}`)).toBe(path.join(b, "tool"));
      expect(resolveCommand("dirtool", `${a}:${b}`)).toBeUndefined();
      expect(resolveCommand("tool", `relative:${b}`)).toBeUndefined();
      expect(resolveCommand("/bin/sh", `${a}:${b}`)).toBeUndefined();
      expect(resolveCommand("osvc-no-such-command", `${a}:${b}`)).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

});

// Every case runs both ways commands start: through the spawn helper (the default) and directly
// (OSVC_SPAWN=direct, and where python3 is missing).
for (const mode of ["helper", "direct"] as const) {
  describe(`spawning ${mode === "helper" ? "through the helper" : "directly (OSVC_SPAWN=direct)"}`, () => {
    const before = process.env.OSVC_SPAWN;
    beforeAll(() => {
      if (mode === "direct") process.env.OSVC_SPAWN = "direct";
      else {
        delete process.env.OSVC_SPAWN;
        prestartHelper(); // as apply and destroy do (else the first few commands start directly)
      }
    });
    afterAll(() => {
      if (before === undefined) delete process.env.OSVC_SPAWN;
      else process.env.OSVC_SPAWN = before;
    });

    it("starts commands the way it says (parent: the helper, or osvc itself)", async () => {
      const [, , , ppid] = (await exec("cat", ["/proc/self/stat"])).stdout.replace(/\(.*\)/, "x").trim().split(/\s+/).map(Number);
      if (mode === "direct") expect(ppid).toBe(process.pid);
      else {
        expect(helperUnusable()).toBeUndefined();
        expect(ppid).toBe(helperPid());
        expect(readFileSync(`/proc/${ppid}/cmdline`, "utf8").split("\0").slice(0, 3)).toEqual([expect.stringMatching(/python3/), "-I", "-S"]);
      }
    });

    describe("createExec", () => {
      it("runs each command as the leader of its own process group and session", async () => {
        const r = await exec("cat", ["/proc/self/stat"]);
        expect(r.exitCode).toBe(0);
        const [pid, , , , pgrp, session] = r.stdout.replace(/\(.*\)/, "x").trim().split(/\s+/).map(Number);
        expect(pgrp).toBe(pid);
        expect(session).toBe(pid);
        expect(pgrp).not.toBe(process.pid);
      });

      it("starts each command with default signal dispositions (and, through the helper, only its own stdin, stdout and stderr open), with or without a working directory or input", async () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "osvc-exec-fds-"));
        try {
          // SigIgn: the signals ignored (a hex mask); python and node ignore SIGPIPE (13) and SIGXFSZ (25) themselves.
          const script = 'grep "^SigIgn" /proc/self/status; ls /proc/self/fd';
          for (const opts of [{}, { cwd: dir }, { input: "x" }, { cwd: dir, input: "x" }]) {
            const r = await exec("sh", ["-c", script], opts);
            expect(r.exitCode, JSON.stringify(opts)).toBe(0);
            const [ign, ...fds] = r.stdout.trim().split("\n");
            const mask = BigInt(`0x${ign.split(/\s+/)[1]}`);
            for (const sig of [13n, 25n]) expect(mask & (1n << (sig - 1n)), `${JSON.stringify(opts)}: signal ${sig} ignored`).toBe(0n);
            // 0, 1, 2, and the one ls opens to read /proc/self/fd. Started directly, a command also
            // gets what osvc itself inherited open (here from the test runner): Node cannot close it.
            if (mode === "helper") expect(fds.map(Number).filter((fd) => fd > 2).length, `${JSON.stringify(opts)}: ${fds.join(" ")}`).toBeLessThanOrEqual(1);
          }
        } finally {
          rmSync(dir, { recursive: true });
        }
      });

      it("a command's process is started within one turn of the event loop (osvc plan starts its listings so, then compiles without a break)", async () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "osvc-exec-turn-"));
        try {
          const marker = path.join(dir, "started");
          const done = exec("sh", ["-c", 'echo > "$1"', "sh", marker]);
          await new Promise((r) => setImmediate(r));
          // From here on, nothing of this process runs but this loop: only a command already
          // handed to the system can write the marker.
          const deadline = Date.now() + 10_000;
          while (!existsSync(marker) && Date.now() < deadline) spinFor(5);
          expect(existsSync(marker), "the command had not started after one turn of the event loop").toBe(true);
          expect((await done).exitCode).toBe(0);
        } finally {
          rmSync(dir, { recursive: true });
        }
      });

      it("names the signal that ended a command, never 'exit code -1'", async () => {
        const r = await exec("sh", ["-c", "kill -INT $$"]);
        expect(r.signal).toBe("SIGINT");
        expect(r.exitCode).toBe(130);
        expect(exitText(r)).toBe("killed by SIGINT");
        expect(new ExecError(r).message).toBe("sh -c 'kill -INT $$': killed by SIGINT");
      });

      it("a timeout ends the command's whole process group", async () => {
        const r = await exec("sh", ["-c", "sleep 60 >/dev/null 2>&1 & echo $!; wait"], { timeoutMs: 500 });
        expect(r.timedOut).toBe(true);
        expect(exitText(r)).toMatch(/^timed out after \d+ ms$/);
        const child = Number(r.stdout.trim());
        expect(child).toBeGreaterThan(0);
        expect(await gone(child), `pid ${child} (sleep 60, in the timed-out command's group) still runs`).toBe(true);
      });

      it("an aborted signal ends the command's group", async () => {
        const ac = new AbortController();
        const p = exec("sleep", ["60"], { signal: ac.signal });
        await new Promise((r) => setTimeout(r, 200));
        ac.abort();
        const r = await p;
        expect(r.signal).toBe("SIGTERM");
        expect(r.durationMs).toBeLessThan(30_000);
      });

      it("endRunning() ends every running command (SIGTERM, then SIGKILL) and names them", async () => {
        const p1 = exec("sleep", ["61"]);
        const p2 = exec("sh", ["-c", "trap '' TERM; sleep 62"]);
        await new Promise((r) => setTimeout(r, 300));
        expect(runningCommands()).toEqual(expect.arrayContaining(["sleep 61", "sh -c 'trap '\\'''\\'' TERM; sleep 62'"]));
        const ended = await endRunning(500);
        expect(ended).toHaveLength(2);
        const [r1, r2] = await Promise.all([p1, p2]);
        expect(exitText(r1)).toBe("killed by SIGTERM");
        expect(exitText(r2)).toBe("killed by SIGKILL");
        expect(runningCommands()).toEqual([]);
      });
    });

    describe("createExec: a command that cannot start", () => {
      it("an argument or variable with a NUL byte is refused before anything runs (it cannot be passed whole)", async () => {
        for (const r of [await exec("printf", ["%s", "a\0b"]), await exec("true", [], { env: { OSVC_T: "a\0b" } })]) {
          expect(r.exitCode).toBe(126);
          expect(r.stderr).toMatch(/cannot run it: ERR_INVALID_ARG_VALUE/);
          expect(r.stdout).toBe("");
        }
      });

      it("is reported with the shell's codes, never 'exit code -1'", async () => {
        const missing = await exec("/nonexistent/osvc-test-cmd", []);
        expect(missing.exitCode).toBe(127);
        expect(missing.stderr).toMatch(/command not found/);
        const dir = mkdtempSync(path.join(os.tmpdir(), "osvc-exec-"));
        const file = path.join(dir, "not-executable");
        writeFileSync(file, "#!/bin/sh\n", { mode: 0o644 });
        const notExec = await exec(file, []);
        rmSync(dir, { recursive: true });
        expect(notExec.exitCode).toBe(126);
        expect(notExec.stderr).toMatch(/permission denied/);
      });
    });

    describe("createExec: input, output, environment", () => {
      it("captures stdout and stderr as UTF-8 text exactly as written (final newlines kept)", async () => {
        const r = await exec("sh", ["-c", "printf 'a\\n\\n'; printf 'é€\\r\\n' >&2"]);
        expect(r.exitCode).toBe(0);
        expect(r.stdout).toBe("a\n\n");
        expect(r.stderr).toBe("é€\r\n");
      });

      it("feeds input on stdin, and stdin is empty without it", async () => {
        expect((await exec("cat", [], { input: "line 1\nline 2\n" })).stdout).toBe("line 1\nline 2\n");
        expect((await exec("cat", [])).stdout).toBe("");
      });

      it("merges env over the process's environment and runs in cwd", async () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "osvc-exec-"));
        try {
          const r = await exec("sh", ["-c", 'printf "%s %s %s" "$OSVC_T" "$(pwd)" "${PATH:+path}"'], { env: { OSVC_T: "x y" }, cwd: dir });
          expect(r.stdout).toBe(`x y ${dir} path`);
        } finally {
          rmSync(dir, { recursive: true });
        }
      });

      it("a non-zero exit code is returned as such, with its output", async () => {
        const r = await exec("sh", ["-c", "echo out; echo err >&2; exit 3"]);
        expect(r).toMatchObject({ exitCode: 3, stdout: "out\n", stderr: "err\n", timedOut: false });
        expect(r.signal).toBeUndefined();
      });
    });

    describe("createExec: argv[0]", () => {
      it("a command found on PATH sees the name it was called by as argv[0]; a missing one is still 127", async () => {
        const r = await exec("sh", ["-c", 'printf "%s" "$0"']);
        expect(r.stdout).toBe("sh");
        const missing = await exec("osvc-no-such-command", []);
        expect(missing.exitCode).toBe(127);
        expect(missing.stderr).toBe("osvc-no-such-command: command not found");
      });
    });

    describe("createExec onLine", () => {
      it("hands over each output line as it comes, before the command ends; whole lines only; the result keeps the whole output", async () => {
        const dir = mkdtempSync(path.join(os.tmpdir(), "osvc-exec-lines-"));
        try {
          const mark = path.join(dir, "seen");
          // The command goes on only once the caller has seen its first line: without streaming it
          // would wait until its timeout.
          const script = `printf 'fir'; sleep 0.2; echo st; echo warn >&2; while [ ! -e '${mark}' ]; do sleep 0.05; done; echo second; printf 'no newline'`;
          const seen: string[] = [];
          const r = await exec("sh", ["-c", script], {
            timeoutMs: 30_000,
            onLine: (stream, line) => {
              seen.push(`${stream}: ${line}`);
              if (line === "first") writeFileSync(mark, "");
            },
          });
          expect(r.timedOut).toBe(false);
          expect(r.exitCode).toBe(0);
          expect(seen.filter((l) => l.startsWith("stdout"))).toEqual(["stdout: first", "stdout: second", "stdout: no newline"]);
          expect(seen).toContain("stderr: warn");
          expect(r.stdout).toBe("first\nsecond\nno newline");
          expect(r.stderr).toBe("warn\n");
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }, 60_000);
    });
  });
}
