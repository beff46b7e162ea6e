// Output conventions: NO_COLOR and --color, NDJSON events with a version line first.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BIN, runCli } from "../helpers/cli.js";
import { startCli } from "../helpers/e2e.js";
import { cleanup, makeTempDir, sh } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

describe("output", () => {
  it("colors: --color always forces them, NO_COLOR and --color never drop them", () => {
    const dir = makeTempDir("osvc-out-");
    const conf = path.join(dir, "o.conf");
    writeFileSync(conf, `[fs#0]\ntype = directory\npath = ${dir}/a\n`);
    const args = ["plan", conf, "--root", path.join(dir, "root")];
    expect(runCli([...args, "--color", "always"]).stdout).toMatch(/\x1b\[/);
    expect(runCli(args, { env: { NO_COLOR: "1" } }).stdout).not.toMatch(/\x1b\[/);
    expect(runCli([...args, "--color", "never"], { env: { FORCE_COLOR: "1" } }).stdout).not.toMatch(/\x1b\[/);
  });

  it("apply --json: NDJSON, version first, one event per step, a summary last", () => {
    const dir = makeTempDir("osvc-out-");
    const conf = path.join(dir, "o.conf");
    writeFileSync(conf, `[fs#0]\ntype = directory\npath = ${dir}/a\n\n[fs#1]\ntype = directory\npath = ${dir}/b\n`);
    const r = runCli(["apply", conf, "--root", path.join(dir, "root"), "--auto-approve", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events[0]).toMatchObject({ type: "version", ui: "1.0" });
    expect(events[1]).toMatchObject({ type: "planned_changes" });
    expect(events.filter((e) => e.type === "change_done").map((e) => e.rid).sort()).toEqual(["fs#0", "fs#1"]);
    expect(events[events.length - 1]).toMatchObject({ type: "apply_summary", ok: true });
    for (const e of events.slice(1)) expect(typeof e["@timestamp"]).toBe("string");
  });

  it("on a terminal, a live progress line runs under the log lines", () => {
    const dir = makeTempDir("osvc-out-");
    const conf = path.join(dir, "o.conf");
    writeFileSync(conf, [0, 1, 2].map((i) => `[fs#${i}]\ntype = directory\npath = ${dir}/d${i}\n`).join("\n"));
    const cmd = `${process.execPath} ${BIN} apply ${conf} --root ${path.join(dir, "root")} --auto-approve --color never`;
    const r = sh("script", ["-qec", cmd, "/dev/null"]); // script(1) gives the CLI a terminal
    expect(r.rc).toBe(0);
    expect(r.stdout).toMatch(/\[\d+\/3\] running: fs#\d provision/);
    expect(r.stdout).toMatch(/Apply complete: 3 done/);
  });
});

describe("Ctrl-C on a terminal at the confirmation prompt", () => {
  it("cancels: no stack trace, nothing applied", () => {
    const dir = makeTempDir("osvc-out-confirm-");
    const conf = path.join(dir, "o.conf");
    writeFileSync(conf, `[fs#0]\ntype = directory\npath = ${dir}/d0\n`);
    const out = path.join(dir, "out");
    const cmd = `${process.execPath} ${BIN} apply ${conf} --root ${path.join(dir, "root")} --color never`;
    // The keyboard: Ctrl-C once the prompt is shown (script(1) gives the CLI a terminal).
    const keys = `n=0; while ! grep -q "Only 'yes'" "${out}" 2>/dev/null && [ $n -lt 300 ]; do sleep 0.1; n=$((n+1)); done; printf '\\003'; sleep 2`;
    const r = sh("bash", ["-c", `(${keys}) | timeout 60 script -qec "${cmd}" /dev/null > "${out}"; cat "${out}"`]);
    expect(r.stdout).toMatch(/Only 'yes' will be accepted/);
    expect(r.stdout).toMatch(/Apply cancelled/);
    expect(r.stdout).not.toMatch(/AbortError|\n\s+at /);
    expect(existsSync(path.join(dir, "d0"))).toBe(false);
  });
});

describe("a closed stdout/stderr", () => {
  it("`osvc apply ... | head -1` stops the output, never the work: no EPIPE crash, every step done", () => {
    const dir = makeTempDir("osvc-out-pipe-");
    const conf = path.join(dir, "o.conf");
    const script = path.join(dir, "start.sh");
    writeFileSync(script, "#!/bin/sh\nsleep 1\n", { mode: 0o755 });
    const sections = [0, 1, 2].map((i) => `[fs#${i}]\ntype = directory\npath = ${dir}/d${i}\n`);
    sections.push(`[app#0]\ntype = forking\nstart = ${script}\nstop = /bin/true\n`, `[app#1]\ntype = forking\nstart = ${script}\nstop = /bin/true\n`);
    writeFileSync(conf, sections.join("\n"));
    const root = path.join(dir, "root");
    const rc = path.join(dir, "rc");
    const err = path.join(dir, "err");
    // Both streams go to head, which leaves after the first line: every later write gets EPIPE.
    const r = sh("bash", ["-c", `{ "${process.execPath}" "${BIN}" apply "${conf}" --root "${root}" --path pipe --auto-approve --parallelism 1 2>&1; echo $? > "${rc}"; } | head -1 > "${err}"`]);
    expect(r.rc, r.stderr).toBe(0);
    const code = Number(readFileSync(rc, "utf8").trim());
    const state = JSON.parse(readFileSync(path.join(root, "objects/root/svc/pipe/state.json"), "utf8")) as { resources: Record<string, { provisioned: boolean | null; lastError?: string }> };
    expect(Object.keys(state.resources).sort()).toEqual(["app#0", "app#1", "fs#0", "fs#1", "fs#2"]);
    for (const [rid, s] of Object.entries(state.resources)) expect(s.lastError, rid).toBeUndefined();
    expect(code).toBe(0);
    const d = runCli(["destroy", "pipe", "--root", root, "--auto-approve"]);
    expect(d.code, d.stderr).toBe(0);
  });
});

describe("a dropped session", () => {
  it("SIGHUP to the process group and closed pipes during apply: the apply runs to its end", async () => {
    const dir = makeTempDir("osvc-out-hup-");
    const conf = path.join(dir, "o.conf");
    const script = path.join(dir, "start.sh");
    writeFileSync(script, "#!/bin/sh\nsleep 1\n", { mode: 0o755 });
    writeFileSync(conf, [0, 1].map((i) => `[app#${i}]\ntype = forking\nstart = ${script}\nstop = /bin/true\n`).join("\n") + `\n[fs#0]\ntype = directory\npath = ${dir}/d0\n`);
    const root = path.join(dir, "root");
    const run = startCli(["apply", conf, "--root", root, "--path", "hup", "--auto-approve", "--parallelism", "1"]);
    await run.line(/app#0 +start: /);
    run.group("SIGHUP");
    run.closeOutput();
    const r = await run.done;
    expect(r.signal, r.stderr).toBeNull();
    expect(r.code).toBe(0);
    const state = JSON.parse(readFileSync(path.join(root, "objects/root/svc/hup/state.json"), "utf8")) as { resources: Record<string, { lastError?: string }> };
    expect(Object.keys(state.resources).sort()).toEqual(["app#0", "app#1", "fs#0"]);
    expect(runCli(["destroy", "hup", "--root", root, "--auto-approve"]).code).toBe(0);
  });
});
