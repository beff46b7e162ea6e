// The node config: <root>/node.conf is this node's (two roots on one host are two nodes), and
// --node-config names one explicitly; {node.*} references in templates and installed configs read it.
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "osvc-nodeconf-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const TPL = "[DEFAULT]\nnodes = n1 n2\n\n[env]\nwhere = {node.env}-{node.labels.az}\n";

describe("node config", () => {
  it("each state root is a node with its own node.conf", () => {
    const d = tmp();
    const tpl = join(d, "web.conf");
    writeFileSync(tpl, TPL);
    const r1 = join(d, "n1");
    const r2 = join(d, "n2");
    for (const [r, env, az] of [[r1, "PRD", "fr1"], [r2, "DEV", "fr2"]] as const) {
      mkdirSync(r);
      writeFileSync(join(r, "node.conf"), `[node]\nenv = ${env}\n[labels]\naz = ${az}\n`);
    }
    const a = runCli(["render", tpl, "--node", "n1", "--format", "json"], { env: { OSVC_ROOT: r1 } });
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout).env.where).toBe("PRD-fr1");
    const b = runCli(["render", tpl, "--node", "n2", "--format", "json"], { env: { OSVC_ROOT: r2 } });
    expect(JSON.parse(b.stdout).env.where).toBe("DEV-fr2");
    // --node-config wins over the root's
    const other = join(d, "other.conf");
    writeFileSync(other, "[node]\nenv = UAT\n[labels]\naz = de1\n");
    const c = runCli(["render", tpl, "--node", "n1", "--format", "json", "--node-config", other], { env: { OSVC_ROOT: r1 } });
    expect(JSON.parse(c.stdout).env.where).toBe("UAT-de1");
  });

  it("the OpenSVC surface evaluates installed configs with the root's node.conf", () => {
    const d = tmp();
    const root = join(d, "root");
    mkdirSync(root);
    writeFileSync(join(root, "node.conf"), "[node]\nenv = PRD\n[labels]\naz = fr1\n");
    const tpl = join(d, "web.conf");
    writeFileSync(tpl, TPL);
    const created = runCli(["nodeconf1", "create", "--config", tpl, "--root", root, "--node", "n1"]);
    expect(created.code, created.stderr).toBe(0);
    const p = runCli(["nodeconf1", "print", "config", "--eval", "--format", "json", "--root", root, "--node", "n1"]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toContain("PRD-fr1");
    const missing = runCli(["render", tpl, "--node-config", join(d, "nope.conf")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(`cannot read the node config ${join(d, "nope.conf")}: no such file`);
  });
});
