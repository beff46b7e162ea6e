// What is up is stopped, whatever is recorded: every example under examples/ provisions, stops
// (a standby resource stays up with what it needs), and purges; a resource marked unprovisioned
// while up is stopped before its disk goes. osvc runs inside a private network namespace; every
// object has a unique name (its sandbox is /tmp/osvc-<name>), never one a user runs from the README.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BIN, ROOT } from "../helpers/cli.js";
import { allMounts, cleanup, findmnt, loopsOf, makeTempDir, sh } from "../helpers/host.js";

const NS = `osvc-t-stop${process.pid}`;
const IMAGE = `localhost/osvc-stop-busybox:t${process.pid}`;
/** The example whose container service has a standby filesystem (checked in detail below). */
const DOCKER_EXAMPLE = "examples/docker-service.conf";
/** The example whose data lives on a volume (the vol outlives the service's purge). */
const VOLUME_EXAMPLE = "examples/volume-data.conf";
let CONF = "";
let podmanDir = "";
const podman = (args: string[]) => sh("env", [`CONTAINERS_CONF=${CONF}`, "podman", ...args]);

function osvc(args: string[], root: string) {
  const r = sh("nsenter", [`--net=/run/netns/${NS}`, process.execPath, BIN, ...args, "--root", root, "--color", "never"]);
  return { code: r.rc, stdout: r.stdout, stderr: r.stderr, text: `exit ${r.rc}\n${r.stdout}\n${r.stderr}` };
}

function mountsUnder(dir: string): string[] {
  return allMounts()
    .map((m) => m.target)
    .filter((t) => t === dir || t.startsWith(`${dir}/`))
    .sort();
}

function runningContainers(prefix: string): string[] {
  return podman(["ps", "--format", "{{.Names}}", "--filter", `name=${prefix}`]).stdout.split("\n").filter((n) => n.startsWith(prefix));
}

const names: string[] = [];

beforeAll(() => {
  expect(sh("ip", ["netns", "add", NS]).rc).toBe(0);
  sh("ip", ["-n", NS, "link", "set", "lo", "up"]);
  expect(sh("ip", ["-n", NS, "link", "add", "br-demo", "type", "bridge"]).rc).toBe(0);
  sh("ip", ["-n", NS, "link", "set", "br-demo", "up"]);
  // The test's own image tag and podman settings (its network config dir too: never /etc/containers).
  const r = sh("sh", [path.join(ROOT, "examples/import-busybox.sh"), "podman", IMAGE]);
  expect(r.rc, r.stderr).toBe(0);
  podmanDir = realpathSync(mkdtempSync(path.join(os.tmpdir(), "osvc-stop-podman-"))); // for the whole file: not in the per-test cleanup
  CONF = path.join(podmanDir, "containers.conf");
  writeFileSync(CONF, `[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n[network]\nnetwork_config_dir = "${podmanDir}/networks"\n`);
}, 120_000);

afterAll(() => {
  if (CONF) podman(["rmi", "-f", IMAGE]);
  sh("ip", ["netns", "del", NS]);
  if (podmanDir) rmSync(podmanDir, { recursive: true, force: true });
});

afterEach(() => {
  // Containers hold mounts (and so loop devices): remove this test's own first, by name, those
  // sharing another's network namespace (the later ones) before it.
  for (const n of names.splice(0)) {
    const list = podman(["ps", "-a", "--format", "{{.Names}}", "--filter", `name=${n}`]).stdout.split("\n").filter((x) => x.startsWith(`${n}.`));
    for (const c of list.sort().reverse()) {
      podman(["rm", "-f", "-t", "0", c]);
    }
    sh("vgremove", ["-f", n]);
  }
  expect(cleanup.run()).toEqual([]);
});

const examples = readdirSync(path.join(ROOT, "examples")).filter((f) => f.endsWith(".conf")).sort();

describe("stop every example", () => {
  it("there are examples to stop", () => {
    expect(examples.map((f) => `examples/${f}`)).toContain(DOCKER_EXAMPLE);
  });

  for (const file of examples) {
    it(`${file}: provision, stop (standby resources and what they need stay up), purge leaves nothing`, () => {
      const base = file.replace(/\.conf$/, "");
      const name = `stopex-${base}-t${process.pid}`;
      names.push(name);
      const sandbox = `/tmp/osvc-${name}`;
      cleanup.register(sandbox);
      const root = path.join(makeTempDir("osvc-stopex-"), "root");
      const docker = `examples/${file}` === DOCKER_EXAMPLE;
      // The volume example: its vol from a loop pool of this test's node config, in the sandbox.
      const volume = `examples/${file}` === VOLUME_EXAMPLE;
      if (volume) {
        mkdirSync(root, { recursive: true });
        writeFileSync(path.join(root, "node.conf"), `[pool#stopex]\ntype = loop\npath = ${sandbox}/pool\n`);
      }
      const env = docker ? ["--env", `image=${IMAGE}`] : volume ? ["--env", "pool=stopex"] : [];
      const c = osvc([name, "create", "--config", path.join(ROOT, "examples", file), ...env, "--provision", "--leader", "--disable-rollback"], root);
      expect(c.code, c.text).toBe(0);
      expect(mountsUnder(sandbox).length).toBeGreaterThan(0);

      const s = osvc([name, "stop"], root);
      expect(s.code, s.text).toBe(0);
      expect(runningContainers(`${name}.`)).toEqual([]);
      if (docker) {
        // fs#0 is standby: it stays mounted, and its loop device stays attached (the log says why).
        expect(mountsUnder(sandbox)).toEqual([`${sandbox}/docker`]);
        expect(loopsOf(`${sandbox}/disk.0.0.img`)).toHaveLength(1);
        expect(s.stdout).toMatch(/disk#0\s+kept up: the standby resource fs#0 needs it/);
      } else {
        expect(mountsUnder(sandbox)).toEqual([]);
      }

      const d = osvc([name, "purge", "--leader"], root);
      expect(d.code, d.text).toBe(0);
      if (volume) {
        // The service's purge released the vol (its data stays): purge it too.
        const v = osvc([`root/vol/${name}-vol-0`, "purge"], root);
        expect(v.code, v.text).toBe(0);
      }
      expect(mountsUnder(sandbox)).toEqual([]);
      expect(podman(["ps", "-a", "--format", "{{.Names}}", "--filter", `name=${name}.`]).stdout.trim()).toBe("");
      expect(existsSync(sandbox), `${sandbox} left behind`).toBe(false);
    }, 300_000);
  }
});

describe("a resource up on the host but recorded as unprovisioned", () => {
  for (const how of ["unprovision", "purge", "destroy"] as const) {
    it(`${how}: fs#0 is unmounted before its disk is detached and removed`, () => {
      const name = `stopunrec-${how}-t${process.pid}`;
      const sandbox = `/tmp/osvc-${name}`;
      cleanup.register(sandbox);
      const root = path.join(makeTempDir("osvc-stopunrec-"), "root");
      const c = osvc([name, "create", "--config", path.join(ROOT, "examples/quickstart.conf"), "--provision"], root);
      expect(c.code, c.text).toBe(0);
      expect(findmnt(`${sandbox}/data`)).toBeTruthy();
      const m = osvc([name, "set", "unprovisioned", "--rid", "fs#0"], root);
      expect(m.code, m.text).toBe(0);

      const u = how === "destroy" ? osvc(["destroy", name, "--auto-approve"], root) : osvc([name, how], root);
      expect(u.code, u.text).toBe(0);
      expect(u.stdout).toMatch(/fs#0\s+.*unmounted/);
      expect(mountsUnder(sandbox)).toEqual([]);
      expect(loopsOf(`${sandbox}/disk.img`)).toEqual([]);
      expect(existsSync(`${sandbox}/disk.img`)).toBe(false);
    }, 120_000);
  }
});
