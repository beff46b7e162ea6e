// A bad value never makes an object impossible to stop or destroy (issue 7 item 6): values that
// could only fail at run time are errors at validate, at the keyword; and stop/unprovision/purge/
// destroy of a provisioned object work from what the state recorded when the installed config
// holds such a value. Real processes (ended by pid) and directories, in a private state root.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCliAsync, sandbox, show, type Sandbox } from "../helpers/e2e.js";
import { testPids } from "../helpers/host.js";

afterEach(() => testPids.end());

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function gone(pid: number): Promise<boolean> {
  for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
  return !alive(pid);
}

function template(sb: Sandbox): string {
  return ["[fs#0]", "type = directory", `path = ${sb.at("dir")}`, "", "[app#0]", "type = simple", `start = /bin/sleep 3600`, "user = nobody", ""].join("\n");
}

/** Creates and provisions the object; returns the app's pid (registered for cleanup). */
async function provisioned(sb: Sandbox, name: string): Promise<number> {
  const cfg = sb.write("app.conf", template(sb));
  const c = await sb.osvc([name, "create", "--config", cfg, "--provision", "--leader"]);
  expect(c.code, show(c)).toBe(0);
  const pid = (sb.state(name)?.resources["app#0"]?.outputs as { pid?: number } | undefined)?.pid;
  expect(pid).toBeTypeOf("number");
  testPids.add(pid!);
  expect(alive(pid!)).toBe(true);
  expect(existsSync(sb.at("dir"))).toBe(true);
  return pid!;
}

/** Puts a bad value into the installed config, as an editor would (bypassing `update`). */
function installBadUser(sb: Sandbox, name: string): void {
  const file = path.join(sb.objectDir(name), "config.conf");
  const text = readFileSync(file, "utf8");
  expect(text).toMatch(/^user = nobody$/m);
  writeFileSync(file, text.replace(/^user = nobody$/m, "user = nobody;id"));
}

describe("a bad value never makes an object impossible to destroy", () => {
  it("validate: user/group names and environment words are errors at the keyword (E2029)", async (ctx) => {
    const sb = sandbox(ctx, "osvc-badvalue-");
    const f = sb.write(
      "t.conf",
      ["[app#0]", "start = /bin/true", "user = nobody;id", "group = --help", "environment = A=b 1X=2", "", "[fs#0]", "type = directory", "path = /tmp/x", "user = a b", "", "[container#0]", "type = docker", "user = 1000:1000", ""].join("\n"),
    );
    const r = await runCliAsync(["validate", f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`t.conf:3:8: error E2029: invalid value for user`);
    expect(r.stderr).toContain('"nobody;id" is not a valid user or group name');
    expect(r.stderr).toMatch(/hint: Use a name \(a letter or _/);
    expect(r.stderr).toContain(`t.conf:4:9: error E2029: invalid value for group`);
    expect(r.stderr).toContain(`t.conf:5:15: error E2029: invalid value for environment`);
    expect(r.stderr).toContain(`"1X=2" is not a KEY=VALUE word: "1X" is not a variable name`);
    expect(r.stderr).toContain(`t.conf:10:8: error E2029: invalid value for user`);
    // user:group is the container form, accepted there.
    expect(r.stderr).not.toContain("t.conf:14:");
    expect(r.stderr).toContain("4 errors");
  });

  it("stop, then purge, work from the recorded facts when the installed config has a bad value", async (ctx) => {
    const sb = sandbox(ctx, "osvc-badvalue-");
    const name = `badval${process.pid}a`;
    const pid = await provisioned(sb, name);
    installBadUser(sb, name);

    const stop = await sb.osvc([name, "stop"]);
    expect(stop.code, show(stop)).toBe(0);
    expect(stop.stderr).toContain("error E2029: invalid value for user");
    expect(stop.stderr).toContain("stopping from what the state recorded at provision");
    expect(await gone(pid), `pid ${pid} still runs after stop:\n${show(stop)}`).toBe(true);

    const purge = await sb.osvc([name, "purge"]);
    expect(purge.code, show(purge)).toBe(0);
    expect(purge.stderr).toContain("unprovisioning from what the state recorded at provision");
    expect(existsSync(sb.at("dir"))).toBe(false);
    expect(existsSync(sb.objectDir(name))).toBe(false);
  });

  it("unprovision of a running object with a bad installed value stops the app and removes what osvc created", async (ctx) => {
    const sb = sandbox(ctx, "osvc-badvalue-");
    const name = `badval${process.pid}b`;
    const pid = await provisioned(sb, name);
    installBadUser(sb, name);
    const u = await sb.osvc([name, "unprovision"]);
    expect(u.code, show(u)).toBe(0);
    expect(await gone(pid)).toBe(true);
    expect(existsSync(sb.at("dir"))).toBe(false);
    expect(Object.values(sb.state(name)?.resources ?? {}).filter((r) => r.provisioned === true)).toEqual([]);
  });

  it("validate: relative cwd/script and bad retcodes words are errors at the keyword (E2029)", async (ctx) => {
    const sb = sandbox(ctx, "osvc-badvalue-");
    const f = sb.write("t.conf", ["[app#0]", "start = true", "script = bin/launch", "cwd = srv", "retcodes = 0:up 1:running", "", "[task#0]", "type = host", "command = /bin/true", "cwd = /srv", "retcodes = 0:up", ""].join("\n"));
    const r = await runCliAsync(["validate", f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("t.conf:3:10: error E2029: invalid value for script");
    expect(r.stderr).toContain('"bin/launch" is not an absolute path');
    expect(r.stderr).toContain("t.conf:4:7: error E2029: invalid value for cwd");
    expect(r.stderr).toContain("t.conf:5:12: error E2029: invalid value for retcodes");
    expect(r.stderr).toContain('invalid retcodes word "1:running"');
    expect(r.stderr).toContain("3 errors");
  });

  it("stop works with the recorded inputs when the current config cannot be probed (a user that does not exist here)", async (ctx) => {
    const sb = sandbox(ctx, "osvc-badvalue-");
    const name = `badval${process.pid}d`;
    const cfg = sb.write("app.conf", ["[app#0]", "start = /bin/true", "check = /bin/true", "stop = /bin/sh -c 'echo stopped-as-$$(id -un)'", "user = nobody", ""].join("\n"));
    const c = await sb.osvc([name, "create", "--config", cfg, "--provision", "--leader"]);
    expect(c.code, show(c)).toBe(0);
    const file = path.join(sb.objectDir(name), "config.conf");
    writeFileSync(file, readFileSync(file, "utf8").replace(/^user = nobody$/m, "user = osvcnosuchuser4711"));
    // A valid name: validate cannot know the user is missing on this node.
    expect((await runCliAsync(["validate", file])).code).toBe(0);
    const stop = await sb.osvc([name, "stop"]);
    expect(stop.code, show(stop)).toBe(0);
    expect(stop.stdout, show(stop)).toContain("stop: stopped-as-nobody");
    const purge = await sb.osvc([name, "purge"]);
    expect(purge.code, show(purge)).toBe(0);
    expect(existsSync(sb.objectDir(name))).toBe(false);
  });

  it("update refuses a bad value; destroy works after a bad value was installed by hand", async (ctx) => {
    const sb = sandbox(ctx, "osvc-badvalue-");
    const name = `badval${process.pid}c`;
    const pid = await provisioned(sb, name);
    const up = await sb.osvc([name, "update", "--resource", JSON.stringify({ rid: "app#0", user: "nobody;id" })]);
    expect(up.code, show(up)).toBe(1);
    expect(up.stderr).toContain("E2029");
    expect(readFileSync(path.join(sb.objectDir(name), "config.conf"), "utf8")).toMatch(/^user = nobody$/m);

    installBadUser(sb, name);
    const d = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(d.code, show(d)).toBe(0);
    expect(await gone(pid)).toBe(true);
    expect(existsSync(sb.at("dir"))).toBe(false);
    expect(Object.keys(sb.state(name)?.resources ?? {})).toEqual([]);
  });
});
