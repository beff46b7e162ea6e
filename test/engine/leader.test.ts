// Leader and shared resources (DESIGN §5, reference §9), with two node roots on one host:
// the leader creates shared resources; the follower records them (follow) without acting, and
// its unprovision leaves them alone. Non-shared resources are node-affine.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.js";
import { cleanup, findmnt, loopsOf, makeTempDir, sh } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

function template(dir: string): string {
  return `[DEFAULT]
nodes = n1 n2

[disk#0]
type = loop
file = ${dir}/shared.img
size = 64m
shared = true

[fs#0]
type = ext4
dev = {disk#0.exposed_devs[0]}
mnt = ${dir}/shared
shared = true

[fs#1]
type = directory
path = ${dir}/local-{nodename}
`;
}

function state(root: string, name: string) {
  return JSON.parse(readFileSync(path.join(root, "objects/root/svc", name, "state.json"), "utf8")) as {
    resources: Record<string, { provisioned: boolean | null; follow?: boolean }>;
  };
}

describe("leader and shared resources", () => {
  it("the follower records shared resources without creating them, and leaves them on unprovision", () => {
    const dir = makeTempDir("osvc-leader-");
    const tpl = path.join(dir, "svc.conf");
    writeFileSync(tpl, template(dir));
    const name = `ldr${process.pid}`;
    const n1 = ["--root", path.join(dir, "root-n1"), "--node", "n1", "--path", name];
    const n2 = ["--root", path.join(dir, "root-n2"), "--node", "n2", "--path", name];

    // Leader: creates everything.
    const a1 = runCli(["apply", tpl, ...n1, "--leader", "--auto-approve"]);
    expect(a1.code, a1.stderr + a1.stdout).toBe(0);
    expect(loopsOf(path.join(dir, "shared.img"))).toHaveLength(1);
    expect(findmnt(path.join(dir, "shared"))).toBeTruthy();
    expect(existsSync(path.join(dir, "local-n1"))).toBe(true);

    // Follower: plan shows follow for the shared ones, provision for its own directory.
    const p2 = runCli(["plan", tpl, ...n2, "--json"]);
    expect(p2.code, p2.stderr).toBe(0);
    const actions = (JSON.parse(p2.stdout) as { resource_changes: { rid: string; action: string }[] }).resource_changes.map((c) => `${c.rid}:${c.action}`);
    expect(actions).toEqual(["disk#0:follow", "fs#0:follow", "fs#1:provision"]);
    const a2 = runCli(["apply", tpl, ...n2, "--auto-approve"]);
    expect(a2.code, a2.stderr + a2.stdout).toBe(0);
    expect(a2.stdout).not.toMatch(/losetup -f|mkfs|mount -t/);
    expect(loopsOf(path.join(dir, "shared.img"))).toHaveLength(1); // still only the leader's attach
    expect(existsSync(path.join(dir, "local-n2"))).toBe(true);
    const s2 = state(path.join(dir, "root-n2"), name);
    expect(s2.resources["disk#0"]).toMatchObject({ provisioned: true, follow: true });
    expect(s2.resources["fs#0"]).toMatchObject({ provisioned: true, follow: true });
    expect(s2.resources["fs#1"]).toMatchObject({ provisioned: true });
    expect(runCli(["plan", tpl, ...n2, "--detailed-exitcode"]).code).toBe(0);

    // Follower unprovision: its own directory goes, the shared disk and filesystem stay.
    const d2 = runCli(["destroy", name, "--root", path.join(dir, "root-n2"), "--node", "n2", "--auto-approve"]);
    expect(d2.code, d2.stderr + d2.stdout).toBe(0);
    expect(existsSync(path.join(dir, "local-n2"))).toBe(false);
    expect(loopsOf(path.join(dir, "shared.img"))).toHaveLength(1);
    expect(findmnt(path.join(dir, "shared"))).toBeTruthy();
    expect(Object.keys(state(path.join(dir, "root-n2"), name).resources)).toEqual([]);

    // Leader unprovision: everything goes.
    const d1 = runCli(["destroy", name, "--root", path.join(dir, "root-n1"), "--node", "n1", "--leader", "--auto-approve"]);
    expect(d1.code, d1.stderr + d1.stdout).toBe(0);
    expect(loopsOf(path.join(dir, "shared.img"))).toHaveLength(0);
    expect(existsSync(path.join(dir, "shared.img"))).toBe(false);
    expect(existsSync(path.join(dir, "local-n1"))).toBe(false);
  });

  it("a follower's provision ends in standby without touching the shared resources; its plan is then empty", () => {
    const dir = makeTempDir("osvc-follow-stop-");
    const tpl = path.join(dir, "svc.conf");
    writeFileSync(tpl, `${template(dir)}\n[app#0]\ntype = simple\nstart = /bin/sleep 3600\n`);
    const name = `fst${process.pid}`;
    const n1 = ["--root", path.join(dir, "root-n1"), "--node", "n1", "--local"];
    const n2 = ["--root", path.join(dir, "root-n2"), "--node", "n2", "--local"];
    const pids: number[] = [];
    try {
      for (const [args, leader] of [[n1, true], [n2, false]] as const) {
        const c = runCli([name, "create", "--config", tpl, ...args]);
        expect(c.code, c.stderr).toBe(0);
        const p = runCli([name, "provision", ...args, ...(leader ? ["--leader", "--disable-rollback"] : [])]);
        expect(p.code, p.stderr + p.stdout).toBe(0);
        const pid = (state(path.join(dir, leader ? "root-n1" : "root-n2"), name).resources["app#0"] as { outputs?: { pid?: number } }).outputs?.pid;
        if (pid) pids.push(pid);
      }
      // The follower stopped its own app, and left the leader's loop device and mount alone.
      expect(loopsOf(path.join(dir, "shared.img"))).toHaveLength(1);
      expect(findmnt(path.join(dir, "shared"))).toBeTruthy();
      expect(sh("losetup", ["-l", "-n", "-O", "AUTOCLEAR", loopsOf(path.join(dir, "shared.img"))[0]]).stdout.trim()).toBe("0");
      // A follower's stop leaves them too; and its plan has nothing to do (standby is its end state).
      expect(runCli([name, "stop", ...n2]).code).toBe(0);
      expect(loopsOf(path.join(dir, "shared.img"))).toHaveLength(1);
      expect(findmnt(path.join(dir, "shared"))).toBeTruthy();
      const plan = runCli(["plan", tpl, "--path", name, ...n2.filter((a) => a !== "--local"), "--json"]);
      expect(plan.code, plan.stderr).toBe(0);
      expect((JSON.parse(plan.stdout) as { resource_changes: { rid: string; action: string }[] }).resource_changes.filter((c) => c.action !== "noop")).toEqual([]);
      // A follower's start starts its own resources (the app), never the shared ones.
      const st = runCli([name, "start", ...n2]);
      expect(st.code, st.stderr + st.stdout).toBe(0);
      expect(st.stdout).toMatch(/app#0\s+started/);
      expect(st.stdout).not.toMatch(/disk#0\s+started|fs#0\s+started/);
      const pid2 = (state(path.join(dir, "root-n2"), name).resources["app#0"] as { outputs?: { pid?: number } }).outputs?.pid;
      if (pid2) pids.push(pid2);
      expect(runCli([name, "stop", ...n2]).code).toBe(0);
      for (const [args, leader] of [[n2, false], [n1, true]] as const) {
        const u = runCli([name, "unprovision", ...args, ...(leader ? ["--leader"] : [])]);
        expect(u.code, u.stderr + u.stdout).toBe(0);
      }
      expect(loopsOf(path.join(dir, "shared.img"))).toHaveLength(0);
    } finally {
      for (const pid of pids) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          /* ended */
        }
      }
    }
  });

  it("provision = false is honoured: the resource is not created, and says so", () => {
    const dir = makeTempDir("osvc-noprov-");
    const tpl = path.join(dir, "svc.conf");
    writeFileSync(tpl, `[fs#1]\ntype = directory\npath = ${dir}/manual\nprovision = false\n`);
    const root = ["--root", path.join(dir, "root"), "--path", `np${process.pid}`];
    const r = runCli(["apply", tpl, ...root, "--auto-approve"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/provision = false/);
    expect(existsSync(path.join(dir, "manual"))).toBe(false);
  });
});
