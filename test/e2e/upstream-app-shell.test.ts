// Upstream-style app commands run for real: OpenSVC's own test templates (om3
// testdata/svcappComplexCommand.conf) write `echo One && echo Two`, `||` and `;` in start/stop/check,
// and upstream runs such a line through /bin/sh -c. osvc does the same for the text written in the
// template, while a value substituted into the command that holds shell syntax is refused at validate.
import { existsSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { actionsOf, runCliAsync, sandbox } from "../helpers/e2e.js";

function template(dir: string): string {
  return [
    "[DEFAULT]",
    "orchestrate = no",
    "",
    "[env]",
    `dir = ${dir}`,
    "",
    "[app#echoOneAndEchoTwo]",
    "type = forking",
    "start = echo One > {env.dir}/and && echo Two >> {env.dir}/and",
    "stop = rm -f {env.dir}/and; echo stopped >> {env.dir}/stopped",
    "check = test -f {env.dir}/and || exit 1",
    "",
    "[app#echoOneOrEchoTwo]",
    "type = forking",
    "start = false || echo Two > {env.dir}/or",
    "stop = rm -f {env.dir}/or && echo stopped >> {env.dir}/stopped",
    "check = test -f {env.dir}/or",
    "",
  ].join("\n");
}

describe("upstream-style app commands with shell operators", () => {
  it("validate accepts them, apply runs them through /bin/sh, re-plan has no changes, destroy runs the stops", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-appsh-");
    const name = `appsh${process.pid}`;
    const tpl = sb.write("svcappcomplex.conf", template(sb.dir));

    const v = await runCliAsync(["validate", tpl]);
    expect(v.code, v.stdout + v.stderr).toBe(0);

    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    expect(readFileSync(sb.at("and"), "utf8")).toBe("One\nTwo\n");
    expect(readFileSync(sb.at("or"), "utf8")).toBe("Two\n");

    const again = await sb.planJson(tpl, ["--path", name]);
    expect(again.code, again.stderr).toBe(0);
    expect(actionsOf(again.plan)).toEqual([]);

    const d = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(d.code, d.stdout + d.stderr).toBe(0);
    expect(existsSync(sb.at("and"))).toBe(false);
    expect(existsSync(sb.at("or"))).toBe(false);
    expect(readFileSync(sb.at("stopped"), "utf8")).toBe("stopped\nstopped\n");
  });

  it("refuses an --env value that would add shell syntax, at its reference, before running anything", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-appsh-");
    const name = `appsh2${process.pid}`;
    const tpl = sb.write("svcappcomplex.conf", template(sb.dir));
    const bad = ["--env", `dir=${sb.dir}; touch ${sb.dir}/pwned`];
    for (const r of [await runCliAsync(["validate", tpl, ...bad]), await sb.osvc(["apply", tpl, "--path", name, "--auto-approve", ...bad])]) {
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stderr).toMatch(/svcappcomplex\.conf:10:\d+: error E2028: a substituted value would add shell syntax to a command/);
      expect(r.stderr).toMatch(/\{env\.dir\} is ".*; touch .*pwned", which holds ";"/);
    }
    expect(existsSync(sb.at("pwned"))).toBe(false);
    expect(existsSync(sb.at("and"))).toBe(false);
  });
});
