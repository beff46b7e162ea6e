// Saved plans (--out): applied exactly, refused when stale or edited. Also `osvc graph` and
// templates fetched over http (a server on 127.0.0.1 started by the test).
import { createServer } from "node:http";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { BIN, ROOT } from "../helpers/cli.js";
import { cleanup, makeTempDir } from "../helpers/host.js";
import { spawn } from "node:child_process";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

describe("saved plans", () => {
  it("applies a saved plan exactly; refuses a stale one and an edited one", () => {
    const dir = makeTempDir("osvc-pf-");
    const conf = path.join(dir, "p.conf");
    const root = ["--root", path.join(dir, "root"), "--path", `pf${process.pid}`];
    writeFileSync(conf, `[fs#0]\ntype = directory\npath = ${dir}/a\n`);
    const planFile = path.join(dir, "p.plan");
    const p = runCli(["plan", conf, ...root, "--out", planFile]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/Saved the plan/);
    // The template changes after the plan: the saved plan still applies what was reviewed.
    writeFileSync(conf, `[fs#0]\ntype = directory\npath = ${dir}/a\n\n[fs#1]\ntype = directory\npath = ${dir}/b\n`);
    const a = runCli(["apply", planFile, "--auto-approve"]);
    expect(a.code, a.stderr + a.stdout).toBe(0);
    expect(a.stdout).not.toMatch(/fs#1/);
    // Applying it again: the state moved on (serial), the plan is stale.
    const again = runCli(["apply", planFile, "--auto-approve"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/the plan is stale/);
    // An edited plan file is refused.
    const p2 = runCli(["plan", conf, ...root, "--out", planFile]);
    expect(p2.code).toBe(0);
    writeFileSync(planFile, readFileSync(planFile, "utf8").replace(`${dir}/b`, `${dir}/c`));
    const edited = runCli(["apply", planFile, "--auto-approve"]);
    expect(edited.code).toBe(1);
    expect(edited.stderr).toMatch(/modified after it was saved/);
    expect(runCli(["destroy", `pf${process.pid}`, "--root", path.join(dir, "root"), "--auto-approve"]).code).toBe(0);
  });
});

describe("graph", () => {
  it("prints DOT with the dependency edges, and svg through graphviz", () => {
    const r = runCli(["graph", path.join(ROOT, "examples/quickstart.conf")]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^digraph/);
    expect(r.stdout).toMatch(/"disk#0" -> "fs#0"/);
    expect(r.stdout).toMatch(/"fs#0" -> "fs#1"/);
    const svg = runCli(["graph", path.join(ROOT, "examples/quickstart.conf"), "--format", "svg"]);
    expect(svg.code, svg.stderr).toBe(0);
    expect(svg.stdout).toMatch(/<svg/);
  });
});

describe("templates over http", () => {
  it("fetches a template from a URL, and says clearly when it cannot", async () => {
    const server = createServer((req, res) => {
      if (req.url === "/web.conf") {
        res.writeHead(200, { "content-type": "text/plain" });
        res.end("[fs#0]\ntype = directory\npath = /srv/{name}\n");
      } else {
        res.writeHead(404);
        res.end("not found");
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const run = (args: string[]) =>
      new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const c = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: "1" } });
        let stdout = "";
        let stderr = "";
        c.stdout.on("data", (d) => (stdout += d));
        c.stderr.on("data", (d) => (stderr += d));
        c.on("close", (code) => resolve({ code, stdout, stderr }));
      });
    try {
      const ok = await run(["render", `http://127.0.0.1:${port}/web.conf`, "--path", "web"]);
      expect(ok.code, ok.stderr).toBe(0);
      expect(ok.stdout).toContain("path = /srv/web");
      const missing = await run(["validate", `http://127.0.0.1:${port}/nope.conf`]);
      expect(missing.code).toBe(1);
      expect(missing.stderr).toMatch(/HTTP 404/);
    } finally {
      server.close();
    }
  });
});

describe("the seed's amazon template", () => {
  it("plans what runs here and says plainly what cannot", () => {
    const dir = makeTempDir("osvc-seed-");
    const r = runCli(["plan", path.join(ROOT, "fixtures/seed/testec2docker.template"), "--node", "node12.nsx.lab.net", "--root", path.join(dir, "root")]);
    expect(r.code).toBe(1);
    for (const d of ["ip.amazon", "disk.amazon", "sync.docker", "sync.btrfs"]) expect(r.stderr).toContain(`no provider for ${d} runs on this host`);
    expect(r.stdout).toMatch(/fs#1 \(fs\.btrfs\) will be provisioned/);
  });
});
