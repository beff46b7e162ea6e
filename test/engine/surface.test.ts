// The OpenSVC command surface (osvc <path> create|provision|print status|set provisioned|update|
// delete|purge|validate config|edit config|start|stop) on the real host, through the compiled CLI.
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli, ROOT } from "../helpers/cli.js";
import { golden } from "../helpers/golden.js";
import { cleanup, findmnt, loopsOf, makeTempDir, sh } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

const scrub = (s: string) => s.replace(/\/dev\/loop\d+/g, "/dev/loopX").replace(/\(\d+\.\d+s\)/g, "(T)").replace(/in \d+\.\d+s/g, "in T");

describe("osvc <path> ...", () => {
  it("create --provision, print status, stop/start, set unprovisioned, update, purge", () => {
    const dir = makeTempDir("osvc-surface-");
    // A fixed sandbox path keeps the golden status stable; it is cleaned like the temp dir.
    const sandbox = "/tmp/osvc-golden-surface";
    sh("rm", ["-rf", sandbox]);
    cleanup.register(sandbox);
    const root = ["--root", path.join(dir, "root"), "--node", "golden-node"];
    const name = "surface1";
    const c = runCli([name, "--config", path.join(ROOT, "examples/quickstart.conf"), "--env", `sandbox=${sandbox}`, "--provision", "create", ...root]);
    expect(c.code, c.stderr + c.stdout).toBe(0);
    expect(c.stdout).toMatch(/created \(3 resources\)/);
    expect(findmnt(`${sandbox}/data`)).toBeTruthy();

    const st = runCli([name, "print", "status", ...root]);
    expect(st.code, st.stderr).toBe(0);
    golden(path.join(ROOT, "fixtures/surface/print-status-up.txt"), scrub(st.stdout));

    // The installed config carries the --env value and a new id.
    const cfg = runCli([name, "print", "config", ...root]).stdout;
    expect(cfg).toMatch(/^id = [0-9a-f-]{36}$/m);
    expect(cfg).toContain(`sandbox = ${sandbox}`);
    expect(runCli([name, "validate", "config", ...root]).code).toBe(0);

    // stop: dependents first; status down; start brings it back.
    const stop = runCli([name, "stop", ...root]);
    expect(stop.code, stop.stderr).toBe(0);
    expect(findmnt(`${sandbox}/data`)).toBeFalsy();
    expect(loopsOf(`${sandbox}/disk.img`)).toEqual([]);
    const down = runCli([name, "print", "status", ...root]);
    golden(path.join(ROOT, "fixtures/surface/print-status-down.txt"), scrub(down.stdout));
    expect(runCli([name, "start", ...root]).code).toBe(0);
    expect(findmnt(`${sandbox}/data`)).toBeTruthy();

    // set unprovisioned: the P flag; provision adopts it back (nothing recreated).
    expect(runCli([name, "set", "unprovisioned", "--rid", "fs#1", ...root]).code).toBe(0);
    expect(runCli([name, "print", "status", ...root]).stdout).toMatch(/fs#1\s+\.\.\.\.\.P\.\./);
    const adopt = runCli([name, "provision", ...root]);
    expect(adopt.code, adopt.stderr).toBe(0);
    expect(adopt.stdout).toMatch(/fs#1\s+adopted/);
    expect(runCli([name, "set", "provisioned", ...root]).code).toBe(0);

    // update --resource: change one keyword and provision what it touched.
    const up = runCli([name, "update", "--resource", '{"rid": "fs#0", "mnt_opt": "defaults,nodev"}', "--provision", ...root]);
    expect(up.code, up.stderr + up.stdout).toBe(0);
    expect(JSON.parse(sh("findmnt", ["-J", `${sandbox}/data`]).stdout).filesystems[0].options).toMatch(/nodev/);
    // An invalid update is refused and leaves the config as it was.
    const bad = runCli([name, "update", "--resource", '{"rid": "fs#0", "mnt_opt@golden-node": "x", "shared": "maybe"}', ...root]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid value for shared/);
    expect(runCli([name, "print", "config", ...root]).stdout).not.toContain("maybe");

    // delete refuses while resources are provisioned; purge unprovisions then deletes.
    const del = runCli([name, "delete", ...root]);
    expect(del.code).toBe(1);
    expect(del.stderr).toMatch(/still has provisioned resources/);
    const purge = runCli([name, "purge", ...root]);
    expect(purge.code, purge.stderr + purge.stdout).toBe(0);
    expect(existsSync(`${sandbox}/disk.img`)).toBe(false);
    expect(existsSync(sandbox)).toBe(false); // the directory disk.loop created is gone too
    expect(existsSync(path.join(dir, "root/objects/root/svc", name))).toBe(false);
  });

  it("create --resource numbers rids from 0 and validates; create of an existing object is refused", () => {
    const dir = makeTempDir("osvc-surface-");
    const root = ["--root", path.join(dir, "root")];
    const r = runCli(["res1", "create", ...root, "--resource", `{"rtype": "fs", "type": "directory", "path": "${dir}/a"}`, "--resource", `{"rtype": "fs", "type": "directory", "path": "${dir}/b", "perm": "0700"}`]);
    expect(r.code, r.stderr).toBe(0);
    const cfg = runCli(["res1", "print", "config", ...root]).stdout;
    expect(cfg).toMatch(/\[fs#0\]\ntype = directory\npath = .*\/a/);
    expect(cfg).toMatch(/\[fs#1\][^[]*perm = 0700/);
    const again = runCli(["res1", "create", ...root, "--resource", '{"rtype": "fs", "type": "directory", "path": "/x"}']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    const badType = runCli(["res2", "create", ...root, "--resource", '{"rtype": "fs", "type": "ext5", "dev": "/d", "mnt": "/m"}']);
    expect(badType.code).toBe(1);
    expect(badType.stderr).toMatch(/unknown driver type/);
  });

  it("edit config: a valid edit is installed; an invalid one is kept aside, not installed", () => {
    const dir = makeTempDir("osvc-surface-");
    const root = ["--root", path.join(dir, "root")];
    expect(runCli(["ed1", "create", ...root, "--resource", `{"rtype": "fs", "type": "directory", "path": "${dir}/a"}`]).code).toBe(0);
    const editor = path.join(dir, "editor.sh");
    writeFileSync(editor, `#!/bin/sh\nsed -i "s|$OSVC_TEST_FROM|$OSVC_TEST_TO|" "$1"\n`);
    chmodSync(editor, 0o755);
    const ok = runCli(["ed1", "edit", "config", ...root], { env: { EDITOR: editor, OSVC_TEST_FROM: "type = directory", OSVC_TEST_TO: "type = directory\\nperm = 0711" } });
    expect(ok.code, ok.stderr).toBe(0);
    expect(runCli(["ed1", "print", "config", ...root]).stdout).toContain("perm = 0711");
    const bad = runCli(["ed1", "edit", "config", ...root], { env: { EDITOR: editor, OSVC_TEST_FROM: "perm = 0711", OSVC_TEST_TO: "perm = 9999" } });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid value for perm/);
    expect(bad.stderr).toMatch(/NOT installed/);
    expect(runCli(["ed1", "print", "config", ...root]).stdout).toContain("perm = 0711");
    const objDir = path.join(dir, "root/objects/root/svc/ed1");
    const kept = readdirSync(objDir).filter((f) => f.startsWith("config.conf.invalid-"));
    expect(kept).toHaveLength(1);
    expect(readFileSync(path.join(objDir, kept[0]), "utf8")).toContain("perm = 9999");
  });

  it("create --interactive prompts for each [env] key on a terminal", () => {
    const dir = makeTempDir("osvc-surface-");
    const tpl = path.join(dir, "i.conf");
    writeFileSync(tpl, "[env]\nfs = ext4\nfs.comment = the filesystem type\nsize = 1g\n");
    const cmd = `node ${path.join(ROOT, "bin/osvc.js")} int1 create --config ${tpl} --interactive --root ${path.join(dir, "root")} --color never`;
    // script(1) gives the CLI a terminal; answers are typed with pauses, like a person would.
    const r = sh("sh", ["-c", `(sleep 0.8; printf 'xfs\\r'; sleep 0.4; printf '\\r'; sleep 0.8) | script -qec '${cmd}' /dev/null`]);
    expect(r.stdout).toContain("the filesystem type");
    expect(r.stdout).toMatch(/fs \[ext4\] >/);
    const cfg = readFileSync(path.join(dir, "root/objects/root/svc/int1/config.conf"), "utf8");
    expect(cfg).toMatch(/^fs = xfs$/m);
    expect(cfg).toMatch(/^size = 1g$/m);
  });
});
