// The OpenSVC surface, discoverable and complete (issue 10, item 4): the verbs are listed where a
// user looks for them, set/unset/get --kw edit and read the installed config (validated before it
// is installed), edit config without a terminal is a clear error, deploy is create + provision.
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { cleanup, makeTempDir } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

/** An installed object with two directory resources under a temp dir (nothing provisioned). */
function installed(name: string): { dir: string; root: string[]; configFile: string } {
  const dir = makeTempDir("osvc-verbs-");
  const root = ["--root", path.join(dir, "root")];
  const c = runCli([name, "create", ...root, "--resource", `{"rtype": "fs", "type": "directory", "path": "${dir}/a"}`, "--resource", `{"rtype": "fs", "type": "directory", "path": "${dir}/b"}`]);
  expect(c.code, c.stderr).toBe(0);
  return { dir, root, configFile: path.join(dir, "root/objects/root/svc", name, "config.conf") };
}

describe("the object verbs are discoverable", () => {
  it("osvc --help shows the object commands", () => {
    const r = runCli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Object commands/);
    expect(r.stdout).toMatch(/osvc <path> <verb>/);
    for (const verb of ["create", "provision", "print status", "set --kw", "get --kw", "purge"]) expect(r.stdout).toContain(verb);
  });

  it("osvc <object>, osvc <object> --help and osvc <object> <unknown verb> list the verbs", () => {
    const { root } = installed("ncweb");
    const bare = runCli(["ncweb", ...root]);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/no verb given for ncweb/);
    expect(bare.stderr).not.toMatch(/unknown command/);
    for (const verb of ["provision", "unprovision", "print", "set", "unset", "get", "deploy", "purge"]) expect(bare.stderr).toMatch(new RegExp(`^  ${verb} `, "m"));

    const help = runCli(["ncweb", "--help", ...root]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^  unprovision /m);

    const unknown = runCli(["ncweb", "provison", ...root]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/unknown verb 'provison' for ncweb/);
    expect(unknown.stderr).toMatch(/Did you mean "provision"\?/);
    expect(unknown.stderr).toMatch(/^  start /m);

    // A typo of a top-level command still gets the command suggestion.
    const typo = runCli(["plna", "x.conf"]);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/unknown command 'plna'/);
  });
});

describe("set --kw, unset --kw, get --kw", () => {
  it("edit the installed config as upstream: sections, scopes, DEFAULT; get as written or --eval", () => {
    const { root, configFile } = installed("kw1");
    const set = runCli(["kw1", "set", "--kw", "fs#0.perm=0700", "--kw", "fs#1.perm@n3=0711", "--kw", "env.size=1g", "--kw", "comment=from set", ...root]);
    expect(set.code, set.stderr).toBe(0);
    const cfg = readFileSync(configFile, "utf8");
    expect(cfg).toMatch(/\[fs#0\][^[]*\nperm = 0700\n/);
    expect(cfg).toMatch(/\[fs#1\][^[]*\nperm@n3 = 0711\n/);
    expect(cfg).toMatch(/\[env\]\nsize = 1g\n/);
    expect(cfg).toMatch(/\[DEFAULT\][^[]*\ncomment = from set\n/);

    // get: as written; with --eval, the value in effect for the node (scopes and defaults applied).
    const g = runCli(["kw1", "get", "--kw", "fs#0.perm", ...root]);
    expect(g.code, g.stderr).toBe(0);
    expect(g.stdout).toBe("0700\n");
    expect(runCli(["kw1", "get", "--kw", "fs#1.perm@n3", ...root]).stdout).toBe("0711\n");
    expect(runCli(["kw1", "get", "--kw", "fs#1.perm", "--eval", "--node", "n3", ...root]).stdout).toBe("0711\n");
    expect(runCli(["kw1", "get", "--kw", "env.size", "--eval", ...root]).stdout).toBe("1g\n");
    const unsetKw = runCli(["kw1", "get", "--kw", "fs#1.perm", ...root]);
    expect(unsetKw.code).toBe(1);
    expect(unsetKw.stderr).toMatch(/fs#1\.perm is not set/);
    const two = runCli(["kw1", "get", "--kw", "fs#0.perm", "--kw", "comment", ...root]);
    expect(two.stdout).toBe("fs#0.perm = 0700\ncomment = from set\n");

    // unset removes the keyword (every written occurrence).
    const un = runCli(["kw1", "unset", "--kw", "fs#1.perm@n3", "--kw", "comment", ...root]);
    expect(un.code, un.stderr).toBe(0);
    const after = readFileSync(configFile, "utf8");
    expect(after).not.toMatch(/perm@n3/);
    expect(after).not.toMatch(/^comment =/m);
    expect(after).toMatch(/perm = 0700/);

    // Bad --kw words are usage errors.
    const bad = runCli(["kw1", "set", "--kw", "fs#0.perm", ...root]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/expected \[section\.\]keyword\[@scope\]=value/);
  });

  it("an invalid result is refused with its diagnostic; the installed config is unchanged; a valid one keeps a backup", () => {
    const { root, configFile } = installed("kw2");
    const before = readFileSync(configFile, "utf8");
    const bad = runCli(["kw2", "set", "--kw", "fs#0.perm=9999", ...root]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/error E2023: invalid value for perm/);
    expect(bad.stderr).toMatch(/The config was not changed/);
    expect(readFileSync(configFile, "utf8")).toBe(before);
    const shared = runCli(["kw2", "set", "--kw", "shared=maybe", ...root]);
    expect(shared.code).toBe(1);
    expect(readFileSync(configFile, "utf8")).toBe(before);

    const ok = runCli(["kw2", "set", "--kw", "fs#0.perm=0750", ...root]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(configFile, "utf8")).toContain("perm = 0750");
    expect(readFileSync(`${configFile}.backup`, "utf8")).toBe(before);
    expect(statSync(configFile).mode & 0o777).toBe(statSync(`${configFile}.backup`).mode & 0o777);
  });
});

describe("edit config and deploy", () => {
  it("edit config with no terminal and no editor configured is a clear error", () => {
    const { root, configFile } = installed("ed2");
    const before = readFileSync(configFile, "utf8");
    const r = runCli(["ed2", "edit", "config", ...root], { env: { EDITOR: "", VISUAL: "" }, timeoutMs: 30_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/edit config needs a terminal/);
    expect(r.stderr).toMatch(/set --kw/);
    expect(readFileSync(configFile, "utf8")).toBe(before);
  });

  it("deploy creates and provisions, as upstream", () => {
    const dir = makeTempDir("osvc-verbs-");
    const root = ["--root", path.join(dir, "root")];
    const d = runCli(["dep1", "deploy", ...root, "--resource", `{"rtype": "fs", "type": "directory", "path": "${dir}/www", "perm": "0750"}`]);
    expect(d.code, d.stderr + d.stdout).toBe(0);
    expect(d.stdout).toMatch(/created \(1 resources\)/);
    expect(statSync(`${dir}/www`).mode & 0o777).toBe(0o750);
    expect(runCli(["dep1", "print", "status", ...root]).stdout).toMatch(/fs#0\s+\S+\s+up/);
    const p = runCli(["dep1", "purge", ...root]);
    expect(p.code, p.stderr).toBe(0);
    expect(existsSync(`${dir}/www`)).toBe(false);
  });

  it("create --force --provision: --force replaces the config; it is not provision's --force (a node the template does not name stays refused)", () => {
    const dir = makeTempDir("osvc-verbs-");
    const root = ["--root", path.join(dir, "root")];
    const cfg = path.join(dir, "cfg.conf");
    writeFileSync(cfg, `[DEFAULT]\nnodes = osvc-verbs-elsewhere\n\n[fs#0]\ntype = directory\npath = ${dir}/www\n`);
    const c = runCli(["cfp1", "create", "--config", cfg, "--force", "--provision", ...root]);
    expect(c.code, c.stderr + c.stdout).toBe(1);
    expect(c.stderr).toMatch(/E3008/);
    expect(existsSync(`${dir}/www`)).toBe(false);
    // The config was installed (that is what --force is for): provisioning it names the node on purpose.
    const again = runCli(["cfp1", "create", "--config", cfg, "--force", ...root]);
    expect(again.code, again.stderr).toBe(0);
  });
});
