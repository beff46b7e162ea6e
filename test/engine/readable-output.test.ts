// Output a person reads (issue 10, item 5): summaries that say what was done, sizes as written,
// the status legend, app labels, a live run named as running, no internal wrappers in the log,
// a piped "yes", the graph's group order and volume_mounts edges, readable keyword texts.
import { chmodSync, existsSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { runCliAsync, show } from "../helpers/e2e.js";
import { cleanup, loopsOf, makeTempDir } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

const WRAPPERS = /osvc-app|\/bin\/sh -c|start-stop-daemon|setpriv|prlimit|\.started/;

describe("apply, stop, destroy and purge say what they did", () => {
  it("piped yes confirms; summaries, sizes as written, app labels, legend, no wrappers in the log", () => {
    const dir = makeTempDir("osvc-output-");
    const root = ["--root", path.join(dir, "root")];
    const launcher = path.join(dir, "launcher.sh");
    writeFileSync(launcher, `#!/bin/sh\ncase "$1" in\n  start) touch ${dir}/running ;;\n  stop) rm -f ${dir}/running ;;\n  status) test -f ${dir}/running ;;\nesac\n`);
    chmodSync(launcher, 0o755);
    const tpl = path.join(dir, "out1.conf");
    writeFileSync(
      tpl,
      [
        "[disk#0]",
        "type = loop",
        `file = ${dir}/disk.img`,
        "size = 64m",
        "",
        "[fs#0]",
        "type = directory",
        `path = ${dir}/www`,
        "",
        "[app#0]",
        "type = forking",
        `script = ${launcher}`,
        "start = true",
        "stop = true",
        "check = true",
        "",
        "[app#1]",
        "type = simple",
        "start = /bin/sleep 1000",
        "",
      ].join("\n"),
    );

    // No terminal and nothing on stdin: refused; "no" cancels; a piped "yes" confirms, as Terraform.
    const none = runCli(["apply", tpl, ...root]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no terminal to confirm on/);
    const no = runCli(["apply", tpl, ...root], { input: "no\n" });
    expect(no.code).toBe(1);
    expect(no.stdout).toMatch(/Apply cancelled/);
    expect(loopsOf(`${dir}/disk.img`)).toEqual([]);
    const yes = runCli(["apply", tpl, ...root], { input: "yes\n" });
    expect(yes.code, show(yes)).toBe(0);
    expect(yes.stdout).toMatch(/Apply complete: 4 done/);
    expect(loopsOf(`${dir}/disk.img`)).toHaveLength(1);
    // The log shows the commands as written, not osvc's wrappers around them.
    expect(yes.stdout).toContain(`${launcher} start`);
    expect(yes.stdout).toContain("/bin/sleep 1000");
    expect(yes.stdout).not.toMatch(WRAPPERS);

    // The app's label is its command (`<script> start` for start = true), not "true".
    const st = runCli(["status", "out1", ...root]);
    expect(st.code, show(st)).toBe(0);
    expect(st.stdout).toMatch(new RegExp(`app#0 .* up\\s+${launcher} start$`, "m"));
    expect(st.stdout).toMatch(/app#1 .* up\s+\/bin\/sleep 1000$/m);
    expect(st.stdout).not.toMatch(/up\s+true$/m);
    expect(st.stdout).not.toMatch(/Flags/);
    const verbose = runCli(["status", "out1", "--verbose", ...root]);
    expect(verbose.stdout).toMatch(/^Flags/m);
    expect(verbose.stdout).toMatch(/^ {2}P {2}not provisioned/m);
    expect(runCli(["out1", "print", "status", "--verbose", ...root]).stdout).toMatch(/^ {2}S {2}standby/m);
    expect(runCli(["status", "--help"]).stdout).toMatch(/^ {2}D {2}disabled/m);
    expect(runCli(["out1", "print", "--help"]).stdout).toMatch(/^ {2}M {2}monitored/m);

    // stop: what was stopped.
    const stop = runCli(["out1", "stop", ...root]);
    expect(stop.code, show(stop)).toBe(0);
    expect(stop.stdout).toMatch(/Stop complete: \d+ stopped in /);
    expect(stop.stdout).not.toMatch(/Apply complete/);
    expect(stop.stdout).not.toMatch(WRAPPERS);

    // destroy: the plan shows sizes as written; "no" cancels; yes destroys and says so.
    const cancel = runCli(["destroy", "out1", ...root], { input: "no\n" });
    expect(cancel.code).toBe(1);
    expect(cancel.stdout).toMatch(/- size += "64m"/);
    expect(cancel.stdout).not.toMatch(/67108864/);
    expect(cancel.stdout).toMatch(/Destroy cancelled/);
    const destroy = runCli(["destroy", "out1", ...root], { input: "yes\n" });
    expect(destroy.code, show(destroy)).toBe(0);
    expect(destroy.stdout).toMatch(/Destroy complete: 4 unprovisioned in /);
    expect(destroy.stdout).not.toMatch(/Apply complete/);
    expect(existsSync(`${dir}/disk.img`)).toBe(false);
  });

  it("purge says it purged", () => {
    const dir = makeTempDir("osvc-output-");
    const root = ["--root", path.join(dir, "root")];
    expect(runCli(["pur1", "deploy", ...root, "--resource", `{"rtype": "fs", "type": "directory", "path": "${dir}/www"}`]).code).toBe(0);
    const p = runCli(["pur1", "purge", ...root]);
    expect(p.code, show(p)).toBe(0);
    expect(p.stdout).toMatch(/Purge complete: 1 unprovisioned in /);
    expect(p.stdout).not.toMatch(/Apply complete/);
  });
});

describe("a plan while another run is live", () => {
  it("says the run is in progress, not that it stopped", async () => {
    const dir = makeTempDir("osvc-output-");
    const root = path.join(dir, "root");
    const tpl = path.join(dir, "live1.conf");
    // A forking start that takes a few seconds: the apply holds the lock with the step in flight.
    writeFileSync(tpl, `[app#0]\ntype = forking\nstart = /bin/sleep 6\n`);
    const apply = runCliAsync(["apply", tpl, "--auto-approve", "--root", root]);
    const journal = path.join(root, "objects/root/svc/live1/journal.ndjson");
    const deadline = Date.now() + 30_000;
    while (!existsSync(journal) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const plan = runCli(["plan", tpl, "--root", root]);
    const a = await apply;
    expect(a.code, show(a)).toBe(0);
    expect(plan.stderr).toMatch(/osvc apply .* \(pid \d+\) is running on live1 now: app#0 \w+ in progress/);
    expect(plan.stderr).not.toMatch(/stopped during/);
    expect(runCli(["destroy", "live1", "--auto-approve", "--root", root]).code).toBe(0);
  }, 60_000);
});

describe("graph and keywords", () => {
  it("the graph draws the driver-group order dashed and volume_mounts edges, without internal keywords", () => {
    const dir = makeTempDir("osvc-output-");
    const tpl = path.join(dir, "g1.conf");
    writeFileSync(
      tpl,
      [
        "[fs#1]",
        "type = directory",
        `path = ${dir}/www`,
        "",
        "[container#0]",
        "type = podman",
        "image = busybox",
        "command = sleep 1",
        "",
        "[container#1]",
        "type = podman",
        "image = busybox",
        "netns = container#0",
        `volume_mounts = {fs#1.path}:/www:ro`,
        "command = sleep 1",
        "",
        "[ip#0]",
        "type = netns",
        "netns = container#0",
        "ipname = 10.99.0.10",
        "ipdev = br0",
        "netmask = 24",
        "",
      ].join("\n"),
    );
    const r = runCli(["graph", tpl]);
    expect(r.code, show(r)).toBe(0);
    expect(r.stdout).toContain('"fs#1" -> "container#1" [label="volume_mounts"');
    expect(r.stdout).toContain('"container#0" -> "ip#0" [label="netns"');
    expect(r.stdout).not.toMatch(/netns_path/);
    expect(r.stdout).toMatch(/"fs#1" -> "order:container" \[style=dashed/);
    expect(r.stdout).toMatch(/"order:container" -> "container#1" \[style=dashed/);
    expect(r.stdout).not.toMatch(/style=invis/);
  });

  it("osvc keywords reads well and says which drivers run on this host", () => {
    const r = runCli(["keywords"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^DRIVER\s+RUNS HERE\s+DESCRIPTION$/m);
    expect(r.stdout).toMatch(/^fs\.ext4\s+yes\s+An ext4 filesystem/m);
    expect(r.stdout).toMatch(/^fs\.xfs\s+yes\s+An xfs filesystem/m);
    expect(r.stdout).toMatch(/^disk\.md\s+no\s+/m);
    expect(r.stdout).toMatch(/^fs\.nfs\s+no\s+An nfs network filesystem.*nothing to format/m);
    expect(r.stdout).not.toMatch(/\bA e/);
    expect(runCli(["keywords", "disk.loop"]).stdout).toMatch(/^Runs on this host\.$/m);
    expect(runCli(["keywords", "disk.md"]).stdout).toMatch(/^Does not run on this host/m);
  });
});
