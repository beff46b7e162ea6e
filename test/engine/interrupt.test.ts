// Ctrl-C during apply: nothing new starts, the running step finishes, the state is saved and the
// exit code is 130; the next plan shows the rest and the next apply converges.
import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, ROOT, runCli } from "../helpers/cli.js";
import { startCli } from "../helpers/e2e.js";
import { cleanup, loopsOf, makeTempDir } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

function applyAndInterrupt(args: string[], when: RegExp): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let sent = false;
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d: string) => {
      stdout += d;
      if (!sent && when.test(stdout)) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    child.on("close", (code) => resolve({ code, stdout }));
  });
}

describe("SIGINT during apply", () => {
  it("finishes the running step, starts nothing new, saves the state, exits 130", async () => {
    const dir = makeTempDir("osvc-int-");
    const conf = path.join(dir, "s.conf");
    const sections = [0, 1, 2, 3].map((i) => `[fs#${i}]\ntype = directory\npath = ${dir}/d${i}\n`);
    sections.push(`[disk#0]\ntype = loop\nfile = ${dir}/d.img\nsize = 32m\n`);
    writeFileSync(conf, sections.join("\n"));
    const name = `int${process.pid}`;
    const root = path.join(dir, "root");
    const args = [conf, "--root", root, "--path", name];
    const r = await applyAndInterrupt(["apply", ...args, "--auto-approve", "--parallelism", "1"], /disk#0\s+provisioned/);
    expect(r.code).toBe(130);
    expect(r.stdout).toMatch(/interrupted: starting nothing new/);
    expect(r.stdout).toMatch(/Apply interrupted/);
    const state = JSON.parse(readFileSync(path.join(root, "objects/root/svc", name, "state.json"), "utf8")) as { resources: Record<string, { provisioned: boolean }> };
    expect(state.resources["disk#0"].provisioned).toBe(true); // the step that ran, recorded
    expect(loopsOf(path.join(dir, "d.img"))).toHaveLength(1);
    const done = Object.keys(state.resources).filter((k) => k.startsWith("fs#"));
    expect(done.length).toBeLessThan(4); // nothing new started after the interrupt
    const plan = runCli(["plan", ...args, "--detailed-exitcode"]);
    expect(plan.code).toBe(2);
    expect(runCli(["apply", ...args, "--auto-approve"]).code).toBe(0);
    expect(runCli(["plan", ...args, "--detailed-exitcode"]).code).toBe(0);
    expect(runCli(["destroy", name, "--root", root, "--auto-approve"]).code).toBe(0);
  });
});

// A terminal's Ctrl-C goes to the whole foreground process group: osvc's host commands must not
// get it (they run in their own groups); a second Ctrl-C ends them and records the abort.
describe("Ctrl-C to the process group (as a terminal sends it)", () => {
  function slowApps(dir: string, seconds: number): string {
    const script = path.join(dir, "start.sh");
    writeFileSync(script, `#!/bin/sh\necho $$ > "$1.pid"\nsleep ${seconds}\ntouch "$1"\n`, { mode: 0o755 });
    const conf = path.join(dir, "s.conf");
    writeFileSync(
      conf,
      [0, 1].map((i) => `[app#${i}]\ntype = forking\nstart = ${script} ${dir}/started${i}\nstop = /bin/true\nstart_timeout = 2m\n`).join("\n"),
    );
    return conf;
  }

  it("the first one lets the running command finish (it is not killed), starts nothing new, exits 130", async () => {
    const dir = makeTempDir("osvc-int-grp-");
    const conf = slowApps(dir, 2);
    const root = path.join(dir, "root");
    const name = `intg${process.pid}`;
    const run = startCli(["apply", conf, "--root", root, "--path", name, "--auto-approve", "--parallelism", "1"]);
    await run.line(/app#0 +start: /);
    await new Promise((r) => setTimeout(r, 300));
    run.group("SIGINT");
    const r = await run.done;
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(130);
    expect(r.stdout).not.toMatch(/failed/);
    expect(existsSync(path.join(dir, "started0")), "the running start command was killed by the Ctrl-C").toBe(true);
    expect(existsSync(path.join(dir, "started1.pid")), "app#1 started after the interrupt").toBe(false);
    const state = JSON.parse(readFileSync(path.join(root, "objects/root/svc", name, "state.json"), "utf8")) as { resources: Record<string, { lastError?: string }> };
    expect(state.resources["app#0"]).toBeDefined();
    expect(state.resources["app#0"].lastError).toBeUndefined();
    expect(runCli(["apply", conf, "--root", root, "--path", name, "--auto-approve"]).code).toBe(0);
    expect(runCli(["destroy", name, "--root", root, "--auto-approve"]).code).toBe(0);
  });

  it("the second one ends the running commands, records the abort and exits 130 at once", async () => {
    const dir = makeTempDir("osvc-int-abort-");
    const conf = slowApps(dir, 60);
    const root = path.join(dir, "root");
    const name = `inta${process.pid}`;
    const t0 = Date.now();
    const run = startCli(["apply", conf, "--root", root, "--path", name, "--auto-approve", "--parallelism", "1"]);
    await run.line(/app#0 +start: /);
    const pidFile = path.join(dir, "started0.pid");
    while (!existsSync(pidFile) || !readFileSync(pidFile, "utf8").trim()) await new Promise((r) => setTimeout(r, 50));
    const scriptPid = Number(readFileSync(pidFile, "utf8").trim());
    run.group("SIGINT");
    await run.line(/interrupted: starting nothing new/);
    run.group("SIGINT");
    const r = await run.done;
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(130);
    expect(Date.now() - t0).toBeLessThan(40_000);
    expect(r.stderr).toMatch(/second interrupt: aborting now, ending .*start\.sh/);
    expect(existsSync(`/proc/${scriptPid}`), `the start command (pid ${scriptPid}) still runs`).toBe(false);
    expect(r.leftovers).toEqual([]);
    expect(r.stdout).toMatch(/app#0 +start failed .*killed by SIGTERM/);
    expect(r.stdout).not.toMatch(/exit code -1/);
    const journal = readFileSync(path.join(root, "objects/root/svc", name, "journal.ndjson"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { op: string; rid: string; action: string; ok?: boolean; error?: string });
    expect(journal.find((j) => j.action === "abort")?.error).toMatch(/aborted by a second SIGINT; ended: .*start\.sh/);
    expect(journal.find((j) => j.rid === "app#0" && j.op === "outcome")?.error).toMatch(/killed by SIGTERM/);
    expect(runCli(["destroy", name, "--root", root, "--auto-approve"]).code).toBe(0);
  });
});
