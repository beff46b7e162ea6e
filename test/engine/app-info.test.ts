// App status_log and info through the OpenSVC surface: `print status` shows the check's output
// under the resource, `print resinfo` the info command's key: value lines. Real processes, ended by pid.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parseInfo } from "../../providers/app/provider.js";
import { runCli } from "../helpers/cli.js";
import { testPids } from "../helpers/host.js";

const dirs: string[] = [];
afterEach(() => {
  testPids.end();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Alive and not a zombie (an orphan is reaped by init, not always at once). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

function procState(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return "gone";
  }
}

describe("app status_log and info", () => {
  it("parses key: value lines", () => {
    expect(parseInfo("version: 1.2.3\nnot a pair\n  port :8080 \nurl: http://x:1/\n\n")).toEqual([
      { key: "version", value: "1.2.3" },
      { key: "port", value: "8080" },
      { key: "url", value: "http://x:1/" },
    ]);
  });

  it("print status shows the check's output, print resinfo the info lines", () => {
    const d = mkdtempSync(join(tmpdir(), "osvc-appinfo-"));
    dirs.push(d);
    const root = join(d, "root");
    const name = `appinfo${process.pid}`;
    const cfg = join(d, "app.conf");
    writeFileSync(
      cfg,
      [
        "[app#0]",
        "type = simple",
        `start = sh -c 'touch ${d}/started; exec sleep 600'`,
        `check = sh -c 'echo checked ok; echo slow disk >&2; test -e ${d}/started'`,
        `info = sh -c 'echo "version: 1.2.3"; echo "port: 8080"'`,
        "status_log = true",
        "",
        "[app#1]",
        "type = simple",
        "start = sleep 600",
        "info = false",
        "",
      ].join("\n"),
    );
    const c = runCli([name, "create", "--config", cfg, "--provision", "--root", root]);
    expect(c.code, c.stderr + c.stdout).toBe(0);
    const state = JSON.parse(readFileSync(join(root, "objects", "root", "svc", name, "state.json"), "utf8")) as { resources: Record<string, { outputs?: { pid?: number } }> };
    for (const rid of ["app#0", "app#1"]) {
      const pid = state.resources[rid]?.outputs?.pid;
      expect(pid, rid).toBeTypeOf("number");
      testPids.add(pid!);
      expect(alive(pid!)).toBe(true);
    }

    const st = runCli([name, "print", "status", "--root", root]);
    expect(st.code, st.stderr).toBe(0);
    const lines = st.stdout.split("\n");
    const at = lines.findIndex((l) => /app#0 /.test(l));
    expect(lines[at + 1]).toMatch(/^ {6}\| +info: checked ok$/);
    expect(lines[at + 2]).toMatch(/^ {6}\| +warn: slow disk$/);
    expect(lines[at + 3]).toMatch(/app#1 /); // no check, no log lines
    const js = JSON.parse(runCli([name, "print", "status", "--format", "json", "--root", root]).stdout) as { resources: { rid: string; status: string; log?: unknown }[] };
    expect(js.resources.find((r) => r.rid === "app#0")).toMatchObject({ status: "up", log: [{ level: "info", message: "checked ok" }, { level: "warning", message: "slow disk" }] });

    const ri = runCli([name, "print", "resinfo", "--root", root]);
    expect(ri.code, ri.stderr).toBe(0);
    expect(ri.stdout).toBe("rid    key      value\napp#0  version  1.2.3\napp#0  port     8080\n");
    const rj = JSON.parse(runCli([name, "print", "resinfo", "--format", "json", "--root", root]).stdout) as { info: unknown[]; errors: unknown[] };
    expect(rj).toMatchObject({ info: [{ rid: "app#0", key: "version", value: "1.2.3" }, { rid: "app#0", key: "port", value: "8080" }], errors: [] });

    // a failing info command: its row says why, and the exit code is 1
    const failing = join(d, "failing.conf");
    writeFileSync(failing, `[app#0]\ntype = forking\nstart = /bin/true\ninfo = sh -c 'echo broken >&2; exit 3'\n`);
    expect(runCli([`${name}f`, "create", "--config", failing, "--root", root]).code).toBe(0);
    const bad = runCli([`${name}f`, "print", "resinfo", "--root", root]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("error: app#0: info exited with code 3: sh -c 'echo broken >&2; exit 3': broken");
    expect(runCli([`${name}f`, "delete", "--root", root]).code).toBe(0);

    const p = runCli([name, "purge", "--root", root]);
    expect(p.code, p.stderr + p.stdout).toBe(0);
    for (const pid of testPids.pids) expect(alive(pid), `${pid}: ${procState(pid)}`).toBe(false);
  });
});
