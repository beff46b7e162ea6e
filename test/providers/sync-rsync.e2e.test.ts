// sync.rsync for real: to a local path, and to a peer node over ssh. The peer is a private sshd on
// 127.0.0.1 (its own host key, authorized key and config in a temp dir), reached through an ssh
// client config named by the node config ([node] ssh_config); nothing is written to /etc/ssh or
// ~/.ssh. sshd is ended by pid; /run/sshd (its privilege-separation dir) is removed when the test
// made it. Verified independently by reading the copied files.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { syncRsyncProvider as P } from "../../providers/sync-rsync/provider.js";
import type { SyncPeer } from "../../src/provider/api.js";
import { runCli } from "../helpers/cli.js";
import { cleanup, makeTempDir, probeOne, res, testContext } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(d, e.name), r);
      else out.push(`${r}=${readFileSync(path.join(d, e.name), "utf8")}`);
    }
  };
  walk(dir, "");
  return out;
}

function makeSource(dir: string): string {
  const src = path.join(dir, "src");
  mkdirSync(path.join(src, "sub"), { recursive: true });
  writeFileSync(path.join(src, "a.txt"), "alpha\n");
  writeFileSync(path.join(src, "sub", "b.txt"), "beta\n");
  return src;
}

describe("sync.rsync to a local path", () => {
  it("copies, mirrors deletions, records the result and reports it in status", async () => {
    const d = makeTempDir("osvc-sync-");
    const src = makeSource(d);
    const dst = path.join(d, "dst");
    const ctx = testContext({ varDir: path.join(d, "var") });
    const r = res("sync#0", "sync.rsync", { src: [`${src}/`], dst, target: ["local"] });
    const local: SyncPeer[] = [{ node: "n1", local: true }];

    expect(await probeOne(P, ctx, r)).toMatchObject({ provisioned: null, up: false, log: [{ level: "info", message: expect.stringMatching(/never synced/) }] });
    await P.syncUpdate!(ctx, r, local);
    expect(tree(dst)).toEqual(["a.txt=alpha\n", "sub/b.txt=beta\n"]);
    expect(ctx.commands).toEqual([`rsync -a -H -A -X -x --numeric-ids --delete --force -- ${src}/ ${dst}`]);
    expect(await probeOne(P, ctx, r)).toMatchObject({ up: true, log: [{ level: "info", message: expect.stringMatching(/^n1: synced \d+s ago$/) }] });

    rmSync(path.join(src, "a.txt"));
    writeFileSync(path.join(src, "c.txt"), "gamma\n");
    await P.syncUpdate!(ctx, r, local);
    expect(tree(dst)).toEqual(["c.txt=gamma\n", "sub/b.txt=beta\n"]);

    // max_delay: a copy older than it is stale
    const stale = res("sync#0", "sync.rsync", { ...r.kw, max_delay: 0.001 });
    await new Promise((done) => setTimeout(done, 20));
    expect(await probeOne(P, ctx, stale)).toMatchObject({ up: false, problems: [{ level: "warning", message: expect.stringMatching(/older than max_delay/) }] });
  });

  it("refuses a dstfs that is not mounted, snap, and relative paths, copying nothing", async () => {
    const d = makeTempDir("osvc-sync-");
    const src = makeSource(d);
    const dst = path.join(d, "dst");
    const ctx = testContext({ varDir: path.join(d, "var") });
    const local: SyncPeer[] = [{ node: "n1", local: true }];
    const dstfs = res("sync#0", "sync.rsync", { src: [`${src}/`], dst, target: ["local"], dstfs: d });
    await expect(P.syncUpdate!(ctx, dstfs, local)).rejects.toThrow(/sync to n1 failed/);
    expect(ctx.logs).toContainEqual({ level: "error", message: `dstfs ${d} is not mounted on this node: sync skipped (it would fill the parent filesystem)` });
    expect(await probeOne(P, ctx, dstfs)).toMatchObject({ up: false, log: [{ level: "warning", message: expect.stringMatching(/^n1: last sync failed/) }] });
    await expect(P.syncUpdate!(ctx, res("sync#0", "sync.rsync", { src: [`${src}/`], dst, target: ["local"], snap: true }), local)).rejects.toThrow(/snap = true is not supported/);
    await expect(P.syncUpdate!(ctx, res("sync#0", "sync.rsync", { src: ["rel/"], dst, target: ["local"] }), local)).rejects.toThrow(/src must list absolute paths/);
    await expect(P.syncUpdate!(ctx, res("sync#0", "sync.rsync", { src: [`${src}/`], dst, target: ["local"], dstfs: "/srv/x;rm -rf /" }), local)).rejects.toThrow(/without spaces or shell characters/);
    expect(existsSync(dst)).toBe(false);
    expect(ctx.commands.filter((c) => c.startsWith("rsync"))).toEqual([]);
  });
});

// ------------------------------------------------------------------ a peer node over ssh

/** True once something accepts connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect({ host: "127.0.0.1", port }, () => {
      c.destroy();
      resolve(true);
    });
    c.on("error", () => resolve(false));
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

describe("sync.rsync to a peer node over ssh (private sshd on 127.0.0.1)", () => {
  let dir: string;
  let sshdPid: number | undefined;
  let madeRunSshd = false;
  let sshConfig: string;

  beforeAll(async () => {
    dir = execFileSync("mktemp", ["-d", "/tmp/osvc-sync-ssh-XXXXXX"], { encoding: "utf8" }).trim();
    const port = await freePort();
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "hostkey")]);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", path.join(dir, "clientkey")]);
    writeFileSync(path.join(dir, "authorized_keys"), readFileSync(path.join(dir, "clientkey.pub")), { mode: 0o600 });
    const cfg = path.join(dir, "sshd_config");
    writeFileSync(
      cfg,
      [
        `Port ${port}`,
        "ListenAddress 127.0.0.1",
        `HostKey ${dir}/hostkey`,
        `PidFile ${dir}/sshd.pid`,
        `AuthorizedKeysFile ${dir}/authorized_keys`,
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "LogLevel ERROR",
        "",
      ].join("\n"),
    );
    if (!existsSync("/run/sshd")) {
      mkdirSync("/run/sshd", { mode: 0o755 });
      madeRunSshd = true;
    }
    execFileSync("/usr/sbin/sshd", ["-t", "-f", cfg]);
    // In the foreground (-D): its pid is known at once, so afterAll ends it even when a loaded
    // machine is slow to start it (a daemonized sshd whose pid file came late was left running).
    const child = spawn("/usr/sbin/sshd", ["-D", "-f", cfg, "-E", path.join(dir, "sshd.log")], { stdio: "ignore" });
    sshdPid = child.pid;
    for (let i = 0; i < 300 && !(await listening(port)); i++) await new Promise((r) => setTimeout(r, 50));
    sshConfig = path.join(dir, "ssh_config");
    writeFileSync(
      sshConfig,
      [
        "Host n2",
        "  HostName 127.0.0.1",
        `  Port ${port}`,
        "  User root",
        `  IdentityFile ${dir}/clientkey`,
        "  IdentitiesOnly yes",
        `  UserKnownHostsFile ${dir}/known_hosts`,
        "  StrictHostKeyChecking accept-new",
        "Host n3",
        "  HostName 127.0.0.1",
        "  Port 1",
        "",
      ].join("\n"),
    );
    writeFileSync(path.join(dir, "node.conf"), `[node]\nssh_config = ${sshConfig}\n`);
  });

  afterAll(() => {
    if (sshdPid) {
      try {
        process.kill(sshdPid, "SIGTERM");
      } catch {
        /* gone */
      }
    }
    if (madeRunSshd) {
      try {
        rmdirSync("/run/sshd");
      } catch {
        /* in use by another sshd of this host: leave it */
      }
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("sync update pushes to the other nodes, mirrors changes, reports unreachable peers and a dstfs that is not mounted", () => {
    const src = makeSource(dir);
    const root = path.join(dir, "root");
    const name = `syncssh${process.pid}`;
    const tpl = path.join(dir, "svc.conf");
    writeFileSync(
      tpl,
      [
        "[DEFAULT]",
        "nodes = n1 n2",
        "drpnodes = n3",
        "",
        "[sync#0]",
        "type = rsync",
        `src = ${src}/`,
        `dst = ${dir}/dst`,
        "target = nodes",
        "",
        "[sync#1]",
        "type = rsync",
        `src = ${src}/`,
        `dst = ${dir}/dst-drp`,
        "target = drpnodes",
        "",
        "[sync#2]",
        "type = rsync",
        `src = ${src}/`,
        `dst = ${dir}/nofs/dst`,
        `dstfs = ${dir}/nofs`,
        "target = nodes",
        "",
      ].join("\n"),
    );
    const cli = (args: string[]) => runCli([name, ...args, "--root", root, "--node", "n1", "--node-config", path.join(dir, "node.conf")]);
    expect(cli(["create", "--config", tpl]).code).toBe(0);

    const u0 = cli(["sync", "update", "--rid", "sync#0"]);
    expect(u0.code, u0.stderr + u0.stdout).toBe(0);
    expect(u0.stdout).toContain(`rsync -a -H -A -X -x --numeric-ids --delete --force -e 'ssh -F ${sshConfig} -o BatchMode=yes -o ConnectTimeout=10' -- ${src}/ n2:${dir}/dst`);
    expect(u0.stdout).toMatch(new RegExp(`INFO +${name}\\.sync#0 +synced to n2 in `));
    expect(tree(path.join(dir, "dst"))).toEqual(["a.txt=alpha\n", "sub/b.txt=beta\n"]);

    rmSync(path.join(src, "sub"), { recursive: true });
    writeFileSync(path.join(src, "a.txt"), "alpha 2\n");
    expect(cli(["sync", "update", "--rid", "sync#0"]).code).toBe(0);
    expect(tree(path.join(dir, "dst"))).toEqual(["a.txt=alpha 2\n"]);

    const u1 = cli(["sync", "update", "--rid", "sync#1,sync#2"]);
    expect(u1.code).toBe(1);
    expect(u1.stdout).toMatch(new RegExp(`ERROR +${name}\\.sync#1 +rsync to n3 failed`));
    expect(u1.stdout).toMatch(new RegExp(`ERROR +${name}\\.sync#2 +dstfs ${dir}/nofs is not mounted on n2`));
    expect(existsSync(path.join(dir, "dst-drp"))).toBe(false);
    expect(existsSync(path.join(dir, "nofs"))).toBe(false);

    const st = cli(["print", "status", "--format", "json"]);
    const s = JSON.parse(st.stdout) as { resources: { rid: string; status: string; flags: string; log?: { level: string; message: string }[] }[] };
    const by = Object.fromEntries(s.resources.map((r) => [r.rid, r]));
    expect(by["sync#0"]).toMatchObject({ status: "up", log: [{ level: "info", message: expect.stringMatching(/^n2: synced/) }] });
    expect(by["sync#0"].flags[5]).toBe("/"); // no provisioner
    expect(by["sync#1"]).toMatchObject({ status: "down", log: [{ level: "warning", message: expect.stringMatching(/^n3: last sync failed/) }] });

    // --target overrides the resource's targets: sync#1 to this node only
    const loc = cli(["sync", "update", "--rid", "sync#1", "--target", "local"]);
    expect(loc.code, loc.stdout + loc.stderr).toBe(0);
    expect(loc.stdout).toMatch(new RegExp(`INFO +${name}\\.sync#1 +synced to n1 in `));
    expect(tree(path.join(dir, "dst-drp"))).toEqual(["a.txt=alpha 2\n"]);
    expect(cli(["sync", "update", "--target", "elsewhere"]).stderr).toContain("unknown target elsewhere");
    // apply leaves sync resources alone: status only
    const plan = runCli(["plan", tpl, "--path", name, "--root", root, "--node", "n1", "--node-config", path.join(dir, "node.conf"), "--detailed-exitcode"]);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(cli(["purge"]).code).toBe(0);
    expect(spawnSync("ssh", ["-F", sshConfig, "-o", "BatchMode=yes", "n2", "true"]).status).toBe(0); // the peer is still there for others
  });
});
