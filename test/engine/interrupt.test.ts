// Ctrl-C during apply: nothing new starts, the running step finishes, the state is saved and the
// exit code is 130; the next plan shows the rest and the next apply converges.
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, ROOT, runCli } from "../helpers/cli.js";
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
