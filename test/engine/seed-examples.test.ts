// The seed-derived examples end to end: create --provision and apply, print status (golden),
// plan shows no changes, destroy leaves nothing; a missing image in the middle of the container
// stack rolls back the address, the mounts and the loop device of that run.
// osvc runs inside a private network namespace (nsenter --net), never in the host's own.
import { existsSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BIN, ROOT } from "../helpers/cli.js";
import { golden } from "../helpers/golden.js";
import { cleanup, findmnt, loopsOf, makeTempDir, sh } from "../helpers/host.js";

const NS = `osvc-t-ex${process.pid}`;
const IMAGE = `localhost/osvc-example-busybox:t${process.pid}`;
const CONF = `/tmp/osvc-t-ex${process.pid}-containers.conf`;

function osvc(args: string[], root: string) {
  const r = sh("nsenter", [`--net=/run/netns/${NS}`, process.execPath, BIN, ...args, "--root", root, "--color", "never"]);
  return { code: r.rc, stdout: r.stdout, stderr: r.stderr };
}

const scrub = (s: string) => s.replace(/\/dev\/loop\d+/g, "/dev/loopX").replace(/:t\d+/g, ":tPID");

beforeAll(() => {
  expect(sh("ip", ["netns", "add", NS]).rc).toBe(0);
  sh("ip", ["-n", NS, "link", "set", "lo", "up"]);
  expect(sh("ip", ["-n", NS, "link", "add", "br-demo", "type", "bridge"]).rc).toBe(0);
  sh("ip", ["-n", NS, "link", "set", "br-demo", "up"]);
  const r = sh("sh", [path.join(ROOT, "examples/import-busybox.sh"), "podman"]);
  expect(r.rc, r.stderr).toBe(0);
  expect(sh("sh", ["-c", `printf '[containers]\\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\\n[engine]\\nruntime = "runc"\\n' > ${CONF}`]).rc).toBe(0);
  expect(sh("env", [`CONTAINERS_CONF=${CONF}`, "podman", "tag", "localhost/osvc-busybox:latest", IMAGE]).rc).toBe(0);
}, 120_000);

afterAll(() => {
  sh("env", [`CONTAINERS_CONF=${CONF}`, "podman", "rmi", "-f", IMAGE]);
  sh("ip", ["netns", "del", NS]);
  sh("rm", ["-f", CONF]);
});

afterEach(() => {
  // A failed test may leave its containers: they hold the mounts (and so the loop devices) the
  // directory cleanup then has to take away. Remove them first, by name.
  for (const c of containers("docker-service").split("\n").filter((n) => n.startsWith("docker-service.container."))) {
    sh("env", [`CONTAINERS_CONF=${CONF}`, "podman", "rm", "-f", "-t", "0", c]);
  }
  expect(cleanup.run()).toEqual([]);
});

function containers(name: string): string {
  return sh("env", [`CONTAINERS_CONF=${CONF}`, "podman", "ps", "-a", "--format", "{{.Names}}", "--filter", `name=${name}`]).stdout.trim();
}

describe("seed-derived examples", () => {
  it("docker service: create --provision, print status, no changes, destroy leaves nothing", () => {
    const dir = makeTempDir("osvc-ex-");
    const name = "docker-service";
    const sandbox = `/tmp/osvc-${name}`;
    cleanup.register(sandbox);
    const root = path.join(dir, "root");
    const c = osvc([name, "create", "--config", path.join(ROOT, "examples/docker-service.conf"), "--env", `image=${IMAGE}`, "--provision", "--leader", "--disable-rollback", "--node", "golden-node"], root);
    expect(c.code, c.stderr + c.stdout).toBe(0);
    const st = osvc([name, "print", "status", "--node", "golden-node"], root);
    expect(st.code, st.stderr).toBe(0);
    golden(path.join(ROOT, "fixtures/examples/docker-service-status.txt"), scrub(st.stdout));
    expect(st.stdout).toMatch(/^docker-service\s+up$/m);
    // Independent checks: the web server answers on the service address, inside the namespace.
    expect(sh("nsenter", [`--net=/run/netns/${NS}`, "busybox", "wget", "-q", "-O", "-", "http://10.99.0.10:8080/"]).stdout).toContain("hello from docker-service");
    expect(findmnt(`${sandbox}/data`)).toBeTruthy();
    expect(containers(name)).toContain(`${name}.container.0`);
    expect(sh("ip", ["-n", NS, "-j", "addr", "show", "dev", "br-demo"]).stdout).toContain("10.99.0.1");
    // The same config through plan: nothing to do.
    const p = osvc(["plan", path.join(root, "objects/root/svc", name, "config.conf"), "--path", name, "--node", "golden-node", "--detailed-exitcode"], root);
    expect(p.code, p.stderr + p.stdout).toBe(0);
    const d = osvc([name, "purge", "--node", "golden-node", "--leader"], root);
    expect(d.code, d.stderr + d.stdout).toBe(0);
    expect(containers(name)).toBe("");
    expect(existsSync(sandbox)).toBe(false);
    expect(sh("ip", ["-n", NS, "-j", "addr", "show", "dev", "br-demo"]).stdout).not.toContain("10.99.0.1");
  });

  it("an image that does not exist rolls back the address, the mounts and the loop device of the run", () => {
    const dir = makeTempDir("osvc-ex-");
    const name = "docker-service";
    const sandbox = `/tmp/osvc-${name}`;
    cleanup.register(sandbox);
    const root = path.join(dir, "root");
    const before = sh("ip", ["-n", NS, "-j", "addr"]).stdout;
    const a = osvc(["apply", path.join(ROOT, "examples/docker-service.conf"), "--env", "image=localhost/osvc-no-such-image:1", "--auto-approve"], root);
    expect(a.code).toBe(1);
    expect(a.stdout).toMatch(/container#0\s+start failed/);
    expect(a.stdout).toMatch(/rolled back \(.*ip#1/);
    expect(existsSync(sandbox)).toBe(false);
    expect(loopsOf(`${sandbox}/disk.0.0.img`)).toEqual([]);
    expect(findmnt(`${sandbox}/data`)).toBeFalsy();
    expect(sh("ip", ["-n", NS, "-j", "addr"]).stdout).toBe(before);
    expect(containers(name)).toBe("");
  });

  it("btrfs raid1 (in place of md): create --provision, status, destroy", () => {
    const dir = makeTempDir("osvc-ex-");
    const name = "btrfs-raid1";
    cleanup.register(`/tmp/osvc-${name}`);
    const root = path.join(dir, "root");
    const c = osvc([name, "create", "--config", path.join(ROOT, "examples/btrfs-raid1.conf"), "--provision", "--node", "golden-node"], root);
    expect(c.code, c.stderr + c.stdout).toBe(0);
    const st = osvc([name, "print", "status", "--node", "golden-node"], root);
    golden(path.join(ROOT, "fixtures/examples/btrfs-raid1-status.txt"), scrub(st.stdout));
    expect(sh("btrfs", ["filesystem", "show", `/tmp/osvc-${name}/srv`]).stdout).toMatch(/Total devices 2/);
    expect(osvc([name, "purge", "--node", "golden-node"], root).code).toBe(0);
    expect(existsSync(`/tmp/osvc-${name}`)).toBe(false);
  });

  it("btrfs on lvm (a real volume group; a loop device in place of the logical volume): apply, no changes, destroy", () => {
    const dir = makeTempDir("osvc-ex-");
    const name = `btrfs-lvm-t${process.pid}`;
    cleanup.register(`/tmp/osvc-${name}`);
    const root = path.join(dir, "root");
    const a = osvc(["apply", path.join(ROOT, "examples/btrfs-lvm.conf"), "--path", name, "--auto-approve"], root);
    expect(a.code, a.stderr + a.stdout).toBe(0);
    expect(sh("vgs", ["--noheadings", "-o", "vg_name", name]).stdout.trim()).toBe(name);
    expect(osvc(["plan", path.join(ROOT, "examples/btrfs-lvm.conf"), "--path", name, "--detailed-exitcode"], root).code).toBe(0);
    const d = osvc(["destroy", name, "--auto-approve"], root);
    expect(d.code, d.stderr + d.stdout).toBe(0);
    expect(sh("vgs", [name]).rc).not.toBe(0);
    expect(existsSync(`/tmp/osvc-${name}`)).toBe(false);
  });
});
