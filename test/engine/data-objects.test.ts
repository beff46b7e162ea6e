// cfg and sec objects end to end: keys added, listed, decoded and removed; sec values encrypted at
// rest with the node key; a service's app reads them through configs_/secrets_environment, and
// no secret shows in the log, the state or the journal. Processes are ended by pid.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { testPids } from "../helpers/host.js";

const dirs: string[] = [];
afterEach(() => {
  testPids.end();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "osvc-data-"));
  dirs.push(d);
  return d;
}

/** Every file under dir, concatenated (to look for a leaked secret). */
function allText(dir: string): string {
  let out = "";
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out += readFileSync(join(e.parentPath, e.name), "latin1");
  }
  return out;
}

const SECRET = "s3cr3t-Pa55";

describe("cfg and sec objects", () => {
  it("add, keys, decode, remove; sec values are encrypted with the node key", () => {
    const d = tmp();
    const root = join(d, "root");
    const cli = (args: string[]) => runCli([...args, "--root", root]);
    expect(cli(["test/sec/db", "create"]).code).toBe(0);
    const add = cli(["test/sec/db", "add", "--key", "password", "--value", SECRET]);
    expect(add.code, add.stderr).toBe(0);
    expect(add.stdout).toContain("key password added (11 bytes, encrypted)");
    writeFileSync(join(d, "app.conf"), "mode=prod\nlevel=2\n");
    expect(cli(["test/cfg/app", "create"]).code).toBe(0);
    expect(cli(["test/cfg/app", "add", "--key", "app.conf", "--from", join(d, "app.conf")]).code).toBe(0);
    expect(cli(["test/cfg/app", "add", "--key", "mode", "--value", "prod"]).code).toBe(0);
    expect(runCli(["test/cfg/app", "add", "--key", "motd", "--from", "-", "--root", root], { input: "hello\nworld\n" }).code).toBe(0);
    expect(cli(["test/cfg/app", "decode", "--key", "motd"]).stdout).toBe("hello\nworld\n");
    expect(cli(["test/cfg/app", "remove", "--key", "motd"]).code).toBe(0);
    expect(cli(["test/cfg/app", "keys"]).stdout).toBe("app.conf\nmode\n");
    expect(cli(["test/cfg/app", "decode", "--key", "app.conf"]).stdout).toBe("mode=prod\nlevel=2\n");
    expect(cli(["test/sec/db", "decode", "--key", "password"]).stdout).toBe(SECRET);

    // at rest: no plaintext secret anywhere under the root; the key is private
    expect(allText(root)).not.toContain(SECRET);
    expect(readFileSync(join(root, "objects/test/sec/db/config.conf"), "utf8")).toMatch(/^password = crypt:[A-Za-z0-9+/=]+$/m);
    expect(statSync(join(root, "keys/node.key")).mode & 0o777).toBe(0o600);

    // another node key cannot read it
    writeFileSync(join(root, "keys/node.key"), Buffer.alloc(32, 7));
    const bad = cli(["test/sec/db", "decode", "--key", "password"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("cannot decrypt a secret value: it was encrypted with another node key");

    // errors
    expect(cli(["test/cfg/app", "add", "--key", "../x", "--value", "1"]).stderr).toContain('invalid key "../x"');
    expect(cli(["test/cfg/app", "add", "--key", "x"]).stderr).toContain("pass exactly one of --value and --from");
    expect(cli(["test/svc/web", "keys"]).stderr).toContain("test/svc/web is a svc object: keys belong to cfg and sec objects");
    expect(cli(["test/cfg/app", "remove", "--key", "mode"]).code).toBe(0);
    expect(cli(["test/cfg/app", "keys"]).stdout).toBe("app.conf\n");
    expect(cli(["test/cfg/app", "remove", "--key", "mode"]).stderr).toContain("test/cfg/app has no key mode");
    // status lists services, not data objects
    expect(runCli(["status", "--root", root]).stdout).toBe("No objects recorded on this node.\n");
  });

  it("an app gets them as environment variables, and no secret reaches the log, the state or the journal", () => {
    const d = tmp();
    const root = join(d, "root");
    const cli = (args: string[]) => runCli([...args, "--root", root]);
    expect(cli(["test/sec/db", "create"]).code).toBe(0);
    expect(cli(["test/sec/db", "add", "--key", "password", "--value", SECRET]).code).toBe(0);
    expect(cli(["test/cfg/app", "create"]).code).toBe(0);
    expect(cli(["test/cfg/app", "add", "--key", "mode", "--value", "prod"]).code).toBe(0);
    const conf = join(d, "web.conf");
    writeFileSync(
      conf,
      [
        "[app#0]",
        "type = simple",
        `start = sh -c 'printf "%s|%s" "$PW" "$MODE" > ${d}/out; exec sleep 600'`,
        "secrets_environment = PW=db/password",
        "configs_environment = MODE=app/mode",
        "",
      ].join("\n"),
    );
    const c = cli(["test/svc/web", "create", "--config", conf, "--provision"]);
    expect(c.code, c.stderr + c.stdout).toBe(0);
    const state = JSON.parse(readFileSync(join(root, "objects/test/svc/web/state.json"), "utf8")) as { resources: Record<string, { outputs?: { pid?: number } }> };
    const pid = state.resources["app#0"]?.outputs?.pid;
    expect(pid).toBeTypeOf("number");
    testPids.add(pid!);
    for (let i = 0; i < 50; i++) {
      try {
        if (readFileSync(join(d, "out"), "utf8").length) break;
      } catch {
        /* not yet */
      }
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    }
    expect(readFileSync(join(d, "out"), "utf8")).toBe(`${SECRET}|prod`);
    expect(c.stdout + c.stderr).not.toContain(SECRET);
    expect(allText(root)).not.toContain(SECRET);

    // a missing key is an error of the plan, at the keyword, with the way to fix it: nothing starts
    writeFileSync(conf, readFileSync(conf, "utf8").replace("PW=db/password", "PW=db/nope").replace("app#0", "app#1").replace(`${d}/out`, `${d}/out2`));
    const m = cli(["test/svc/web2", "create", "--config", conf, "--provision"]);
    expect(m.code).toBe(1);
    expect(m.stderr).toMatch(/web2\.conf:\d+:23: error E3007: app#1: secrets_environment: test\/sec\/db has no key nope/);
    expect(m.stderr).toContain("hint: Add it: osvc test/sec/db add --key nope --value ...");
    expect(m.stdout).not.toMatch(/INFO +test\/svc\/web2\.app#1/);
    expect(() => readFileSync(join(d, "out2"))).toThrow();

    expect(cli(["test/svc/web", "purge"]).code).toBe(0);
    expect(cli(["test/svc/web2", "purge"]).code).toBe(0);
  });
});
