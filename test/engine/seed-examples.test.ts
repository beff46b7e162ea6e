// The seed-derived examples end to end: create --provision and apply, print status (golden),
// plan shows no changes, destroy leaves nothing; a missing image in the middle of the container
// stack rolls back the address, the mounts and the loop device of that run.
// osvc runs inside a private network namespace (nsenter --net), never in the host's own.
// Nothing here may meet what a user runs from the README (test/examples-isolation.test.ts):
// every object gets a name of this run (so its sandbox /tmp/osvc-<name>, its containers
// <name>.container.N and its volume group are this run's), the image a tag of this run, the
// podman settings a temp dir.
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BIN, ROOT } from "../helpers/cli.js";
import { golden } from "../helpers/golden.js";
import { cleanup, findmnt, loopsOf, makeTempDir, sh } from "../helpers/host.js";

const RUN = `t${process.pid}${randomBytes(2).toString("hex")}`;
const NS = `osvc-t-ex${process.pid}`;
const IMAGE = `localhost/osvc-example-busybox:${RUN}`;
let podmanDir = "";
let CONF = "";

/** Objects this file created (their containers are removed by name after each test). */
const objects: string[] = [];

function osvc(args: string[], root: string) {
  const r = sh("nsenter", [`--net=/run/netns/${NS}`, process.execPath, BIN, ...args, "--root", root, "--color", "never"]);
  return { code: r.rc, stdout: r.stdout, stderr: r.stderr };
}

function podman(args: string[]) {
  return sh("env", [`CONTAINERS_CONF=${CONF}`, "podman", ...args]);
}

/** Golden outputs show the example's own name (columns kept aligned) and the image tag as "tPID". */
const scrub = (s: string, name: string, example: string) =>
  s
    .replace(new RegExp(`${name}( {2,})?`, "g"), (_, pad?: string) => example + (pad ? pad + " ".repeat(name.length - example.length) : ""))
    .replace(/\/dev\/loop\d+/g, "/dev/loopX")
    .replaceAll(`:${RUN}`, ":tPID");

beforeAll(() => {
  expect(sh("ip", ["netns", "add", NS]).rc).toBe(0);
  sh("ip", ["-n", NS, "link", "set", "lo", "up"]);
  expect(sh("ip", ["-n", NS, "link", "add", "br-demo", "type", "bridge"]).rc).toBe(0);
  sh("ip", ["-n", NS, "link", "set", "br-demo", "up"]);
  // The README's image script, under this run's tag (never the user's localhost/osvc-busybox:latest).
  const r = sh("sh", [path.join(ROOT, "examples/import-busybox.sh"), "podman", IMAGE]);
  expect(r.rc, r.stderr).toBe(0);
  podmanDir = realpathSync(mkdtempSync(path.join(os.tmpdir(), "osvc-t-ex-podman-")));
  CONF = path.join(podmanDir, "containers.conf");
  writeFileSync(
    CONF,
    `[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n[network]\nnetwork_config_dir = ${JSON.stringify(path.join(podmanDir, "networks"))}\n`,
  );
}, 120_000);

afterAll(() => {
  if (CONF) podman(["rmi", "-f", IMAGE]);
  sh("ip", ["netns", "del", NS]);
  if (podmanDir) rmSync(podmanDir, { recursive: true, force: true });
});

afterEach(() => {
  // A failed test may leave its containers: they hold the mounts (and so the loop devices) the
  // directory cleanup then has to take away. Remove them first, by name: this run's objects only.
  for (const name of objects.splice(0)) {
    for (const c of containers(name).split("\n").filter((n) => n.startsWith(`${name}.container.`))) podman(["rm", "-f", "-t", "0", c]);
  }
  expect(cleanup.run()).toEqual([]);
});

/** Names of the containers whose name contains `name` (podman's filter is a regexp match). */
function containers(name: string): string {
  return podman(["ps", "-a", "--format", "{{.Names}}", "--filter", `name=${name}`]).stdout.trim();
}

/**
 * A new object of this run for an example (its file below ROOT): the example's own name (the file
 * name, as in the golden outputs), the object's name `<example>-<run>` and its sandbox
 * /tmp/osvc-<name> (the examples keep everything there), cleaned after the test.
 */
function exampleObject(file: string): { conf: string; example: string; name: string; sandbox: string } {
  const example = path.basename(file, ".conf");
  const name = `${example}-${RUN}`;
  objects.push(name);
  const sandbox = `/tmp/osvc-${name}`;
  cleanup.register(sandbox);
  return { conf: path.join(ROOT, file), example, name, sandbox };
}

describe("seed-derived examples", () => {
  it("docker service: create --provision, print status, no changes, destroy leaves nothing", () => {
    const dir = makeTempDir("osvc-ex-");
    const { conf, example, name, sandbox } = exampleObject("examples/docker-service.conf");
    const root = path.join(dir, "root");
    const c = osvc([name, "create", "--config", conf, "--env", `image=${IMAGE}`, "--provision", "--leader", "--disable-rollback", "--node", "golden-node"], root);
    expect(c.code, c.stderr + c.stdout).toBe(0);
    const st = osvc([name, "print", "status", "--node", "golden-node"], root);
    expect(st.code, st.stderr).toBe(0);
    golden(path.join(ROOT, "fixtures/examples/docker-service-status.txt"), scrub(st.stdout, name, example));
    expect(st.stdout).toMatch(new RegExp(`^${name}\\s+up$`, "m"));
    // Independent checks: the web server answers on the service address, inside the namespace.
    // ip#0 is ipname = <allocate> in 10.99.0.0/24: the first address after the gateway, written back
    // into the installed config with the netmask and gateway, and cascaded to [env] service_ip.
    const installed = readFileSync(path.join(root, "objects/root/svc", name, "config.conf"), "utf8");
    expect(installed).toMatch(/^ipname = 10\.99\.0\.2$/m);
    expect(installed).toMatch(/^service_ip = 10\.99\.0\.2$/m);
    expect(installed).toMatch(/^gateway = 10\.99\.0\.1$/m);
    expect(sh("nsenter", [`--net=/run/netns/${NS}`, "busybox", "wget", "-q", "-O", "-", "http://10.99.0.2:8080/"]).stdout).toContain(`hello from ${name}`);
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
    const { conf, name, sandbox } = exampleObject("examples/docker-service.conf");
    const root = path.join(dir, "root");
    const before = sh("ip", ["-n", NS, "-j", "addr"]).stdout;
    const a = osvc(["apply", conf, "--path", name, "--env", "image=localhost/osvc-no-such-image:1", "--auto-approve"], root);
    expect(a.code).toBe(1);
    expect(a.stdout).toMatch(/container#0\s+start failed/);
    expect(a.stdout).toMatch(/rolled back \(.*ip#1/);
    expect(existsSync(sandbox)).toBe(false);
    expect(loopsOf(`${sandbox}/disk.0.0.img`)).toEqual([]);
    expect(findmnt(`${sandbox}/data`)).toBeFalsy();
    expect(sh("ip", ["-n", NS, "-j", "addr"]).stdout).toBe(before);
    expect(containers(name)).toBe("");
  });

  it("data on a volume: create --provision, status, no changes; unprovision keeps the data, provision finds it; purge of the vol leaves nothing", () => {
    const dir = makeTempDir("osvc-ex-");
    const { conf, example, name } = exampleObject("examples/volume-data.conf");
    const root = path.join(dir, "root");
    const vol = `root/vol/${name}-vol-0`;
    const data = path.join(root, "pool/directory", `${name}-vol-0.root.vol`);
    const c = osvc([name, "create", "--config", conf, "--provision", "--node", "golden-node"], root);
    expect(c.code, c.stderr + c.stdout).toBe(0);
    const st = osvc([name, "print", "status", "--node", "golden-node"], root);
    expect(st.code, st.stderr).toBe(0);
    golden(path.join(ROOT, "fixtures/examples/volume-data-status.txt"), scrub(st.stdout.replaceAll(root, "<root>"), name, example));
    expect(readFileSync(path.join(data, "www/index.html"), "utf8")).toBe(`served by ${name}\n`);
    const p = osvc(["plan", path.join(root, "objects/root/svc", name, "config.conf"), "--path", name, "--node", "golden-node", "--detailed-exitcode"], root);
    expect(p.code, p.stderr + p.stdout).toBe(0);
    expect(osvc([name, "unprovision", "--node", "golden-node"], root).code).toBe(0);
    expect(readFileSync(path.join(data, "www/index.html"), "utf8")).toBe(`served by ${name}\n`);
    expect(osvc([name, "provision", "--node", "golden-node"], root).code).toBe(0);
    expect(readFileSync(path.join(data, "www/index.html"), "utf8")).toBe(`served by ${name}\n`);
    expect(osvc([name, "purge", "--node", "golden-node"], root).code).toBe(0);
    const purged = osvc([vol, "purge", "--node", "golden-node"], root);
    expect(purged.code, purged.stderr + purged.stdout).toBe(0);
    expect(existsSync(data)).toBe(false);
    expect(osvc([vol, "print", "config"], root).code).toBe(1); // the vol object is gone
  });

  it("btrfs raid1 (in place of md): create --provision, status, destroy", () => {
    const dir = makeTempDir("osvc-ex-");
    const { conf, example, name, sandbox } = exampleObject("examples/btrfs-raid1.conf");
    const root = path.join(dir, "root");
    const c = osvc([name, "create", "--config", conf, "--provision", "--node", "golden-node"], root);
    expect(c.code, c.stderr + c.stdout).toBe(0);
    const st = osvc([name, "print", "status", "--node", "golden-node"], root);
    golden(path.join(ROOT, "fixtures/examples/btrfs-raid1-status.txt"), scrub(st.stdout, name, example));
    expect(sh("btrfs", ["filesystem", "show", `${sandbox}/srv`]).stdout).toMatch(/Total devices 2/);
    expect(osvc([name, "purge", "--node", "golden-node"], root).code).toBe(0);
    expect(existsSync(sandbox)).toBe(false);
  });

  it("btrfs on lvm (a real volume group; a loop device in place of the logical volume): apply, no changes, destroy", () => {
    const dir = makeTempDir("osvc-ex-");
    const { conf, name, sandbox } = exampleObject("examples/btrfs-lvm.conf");
    const root = path.join(dir, "root");
    const a = osvc(["apply", conf, "--path", name, "--auto-approve"], root);
    expect(a.code, a.stderr + a.stdout).toBe(0);
    expect(sh("vgs", ["--noheadings", "-o", "vg_name", name]).stdout.trim()).toBe(name);
    expect(osvc(["plan", conf, "--path", name, "--detailed-exitcode"], root).code).toBe(0);
    const d = osvc(["destroy", name, "--auto-approve"], root);
    expect(d.code, d.stderr + d.stdout).toBe(0);
    expect(sh("vgs", [name]).rc).not.toBe(0);
    expect(existsSync(sandbox)).toBe(false);
  });
});
