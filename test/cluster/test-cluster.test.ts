// The test cluster helper itself: nodes are separate hosts where it matters (hostname, network,
// mounts, state root), the SAN directory is shared, it pins no mount of the host, and stop()
// leaves nothing — also after a failed start.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { startTestCluster, type TestCluster } from "../helpers/cluster.js";
import { cleanup, findmnt, loopsOf, makeTempDir, sh } from "../helpers/host.js";
import { alive } from "../helpers/proc.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

const leftovers = (c: TestCluster) => ({
  namespaces: sh("ip", ["netns", "list"]).stdout.split("\n").filter((l) => l.startsWith(`osvc-t-cl-${c.id}-`)),
  dir: existsSync(c.dir),
  sshd: c.nodes.filter((n) => alive(n.pid)).map((n) => n.pid), // a zombie has ended (its reaping is Node's)
});

describe("startTestCluster", () => {
  let cluster: TestCluster | undefined;
  afterAll(async () => {
    await cluster?.stop();
  });

  it("nodes with their own hostname, address, mounts and state root; a SAN all see; no host mount pinned", async () => {
    // A loop-mounted filesystem that exists BEFORE the cluster starts: the nodes must not pin it.
    const tmp = makeTempDir("osvc-cl-pin-");
    const img = path.join(tmp, "disk.img");
    const mnt = path.join(tmp, "mnt");
    mkdirSync(mnt);
    expect(sh("truncate", ["-s", "16M", img]).rc).toBe(0);
    expect(sh("mkfs.ext4", ["-q", "-F", img]).rc).toBe(0);
    expect(sh("mount", ["-o", "loop", img, mnt]).rc).toBe(0);
    // A private data directory: the same path, a different content on each node.
    const data = makeTempDir("osvc-cl-data-");

    cluster = await startTestCluster({ nodes: 3, privateDirs: [data] });
    console.log(`test cluster of 3 nodes started in ${cluster.startMs} ms`);
    const c = cluster;

    // The host unmounts and detaches its disk: nothing in the nodes' mount namespaces holds it.
    expect(sh("umount", [mnt]).rc).toBe(0);
    for (let i = 0; i < 50 && loopsOf(img).length > 0; i++) await new Promise((r) => setTimeout(r, 100));
    expect(loopsOf(img)).toEqual([]);
    expect(findmnt(mnt)).toBeUndefined();
    for (const n of c.nodes) expect(c.nodeExec(n.name, ["findmnt", "-n", mnt]).rc).not.toBe(0);

    for (const n of c.nodes) {
      expect(c.nodeExec(n.name, ["hostname"]).stdout).toBe(`${n.name}\n`);
      expect(c.nodeExec(n.name, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout).toContain(`inet ${n.addr}/24`);
      // Its private data directory (a tmpfs in its own mount namespace).
      expect(c.nodeExec(n.name, ["sh", "-c", 'echo "$1" > "$2/who"', "sh", n.name, data]).rc).toBe(0);
      // The SAN: one directory every node sees.
      expect(c.nodeExec(n.name, ["sh", "-c", 'echo "$1" > "$2/$1"', "sh", n.name, c.san]).rc).toBe(0);
    }
    for (const n of c.nodes) expect(c.nodeExec(n.name, ["cat", path.join(data, "who")]).stdout).toBe(`${n.name}\n`);
    expect(existsSync(path.join(data, "who"))).toBe(false); // the host's own directory is untouched
    expect(readdirSync(c.san).sort()).toEqual(["n1", "n2", "n3"]);
    // The host's hostname did not change; the nodes reach each other on the bridge.
    expect(sh("hostname", []).stdout).toBe(`${os.hostname()}\n`);
    expect(c.nodeExec("n1", ["ping", "-c", "1", "-W", "2", c.node("n3").addr]).rc).toBe(0);
    // ssh with the generated ssh_config, from the host namespace.
    const r = spawnSync("ssh", ["-F", c.sshConfig, "n2", "--", "hostname; printenv OSVC_ROOT"], { encoding: "utf8", timeout: 30_000 });
    expect(r.stdout).toBe(`n2\n${c.node("n2").root}\n`);

    expect(await c.stop()).toEqual([]);
    expect(leftovers(c)).toEqual({ namespaces: [], dir: false, sshd: [] });
    expect(await c.stop()).toEqual([]); // twice is fine
    cluster = undefined;
  }, 120_000);

  it("a failed start cleans up everything it made", async () => {
    const notADir = path.join(makeTempDir("osvc-cl-bad-"), "file");
    writeFileSync(notADir, "");
    let made: TestCluster | undefined;
    let error: (Error & { clusterDir?: string; clusterId?: string }) | undefined;
    await startTestCluster({ nodes: 2, privateDirs: [notADir] }).then(
      (c) => (made = c),
      (e: Error) => (error = e),
    );
    expect(made).toBeUndefined();
    expect(error?.message).toMatch(/privateDirs: .* is not an existing absolute directory/);
    // It had made its namespaces and files: all gone.
    expect(error?.clusterId).toMatch(/^[0-9a-f]{4}$/);
    expect(sh("ip", ["netns", "list"]).stdout).not.toContain(`osvc-t-cl-${error?.clusterId}-`);
    expect(existsSync(error!.clusterDir!)).toBe(false);
  }, 60_000);
});
