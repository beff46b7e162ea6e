// Volumes across the real 3-node test cluster (issue 11, item 3): the leader's volume resource
// creates the vol from ITS pools; the orchestrator stores the vol config in the cluster store and
// installs it on the followers before they act, so their vol configs are the leader's, byte for
// byte, although their own node configs define other pools. Each node's vol lives in its private
// data directory (a tmpfs per node); checks go through each node's own mount namespace. Directory
// pools: the nodes of the test cluster share one kernel, so loop images at one path on every node
// would be one loop-device namespace (a real cluster's hosts have their own).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { NODES, show, useOrchCluster } from "../helpers/orchestrate.js";

const oc = useOrchCluster("ovol");

describe("orchestrated volumes", () => {
  it("followers get the leader's vol config through the orchestrator before they act; unprovision unclaims on every node", async () => {
    const c = oc.cluster;
    const name = `ovol${process.pid % 10000}v${Date.now().toString(36).slice(-4)}`;
    const vol = `root/vol/${name}-vol-0`;
    // Another default pool on the followers: a follower choosing for itself would write another config.
    for (const n of NODES) {
      const pool = `[pool#default]\ntype = directory\npath = ${oc.data}/${n === "n1" ? "lead" : "other"}\n`;
      writeFileSync(path.join(c.node(n).root, "node.conf"), pool);
    }
    const cfg = path.join(c.dir, `${name}.conf`);
    writeFileSync(cfg, `[DEFAULT]\nnodes = n1 n2 n3\n\n[volume#0]\ntype = directory\nsize = 24m\n\n[fs#1]\ntype = directory\npath = {volume#0.mnt}/www\n`);
    const volConfigOn = (n: string) => {
      const f = path.join(c.node(n).root, "objects", vol, "config.conf");
      return existsSync(f) ? readFileSync(f, "utf8") : undefined;
    };
    const mnt = path.join(oc.data, "lead", `${name}-vol-0.root.vol`);
    const purged: { rc: number; stdout: string; stderr: string }[] = [];
    try {
      const p = await oc.osvc([name, "create", "--config", cfg, "--provision", "--leader-node", "n1"]);
      expect(p.code, show(p)).toBe(0);

      const lead = volConfigOn("n1");
      expect(lead).toContain(`path = ${mnt}\n`);
      expect(lead).toContain(`children = ${name}`);
      for (const n of ["n2", "n3"]) expect(volConfigOn(n), n).toBe(lead);
      // In the cluster store too.
      const records = JSON.parse(readFileSync(path.join(oc.root, "cluster/objects", vol, "records.json"), "utf8")) as { config?: { text: string } };
      expect(records.config?.text).toBe(lead);

      // Every node made its own vol directory (in its private data dir) and the service's directory on it.
      for (const n of NODES) expect(c.nodeExec(n, ["test", "-d", mnt]).rc, `${n} has its vol`).toBe(0);
      expect(c.nodeExec("n1", ["test", "-d", path.join(mnt, "www")]).rc).toBe(0);
      c.nodeExec("n1", ["sh", "-c", `echo kept > ${path.join(mnt, "data")}`]);

      const u = await oc.osvc([name, "unprovision"]);
      expect(u.code, show(u)).toBe(0);
      expect(c.nodeExec("n1", ["cat", path.join(mnt, "data")]).stdout).toBe("kept\n");
      for (const n of NODES) {
        expect(volConfigOn(n), n).not.toMatch(/children/);
        expect(c.nodeExec(n, ["test", "-d", mnt]).rc, `${n}: the vol stays`).toBe(0);
      }
    } finally {
      for (const n of ["n2", "n3", "n1"]) {
        c.nodeExec(n, [...c.osvcWords.split(" "), name, "purge", "--local", "--leader", "--lock-timeout", "60s", "--root", c.node(n).root]);
        purged.push(c.nodeExec(n, [...c.osvcWords.split(" "), vol, "purge", "--local", "--lock-timeout", "60s", "--root", c.node(n).root]));
      }
    }
    for (const r of purged) expect(r.rc, r.stdout + r.stderr).toBe(0);
    for (const n of NODES) {
      expect(volConfigOn(n), n).toBeUndefined();
      expect(c.nodeExec(n, ["test", "-e", mnt]).rc, `${n}: vol purged`).not.toBe(0);
    }
  }, 300_000);
});
