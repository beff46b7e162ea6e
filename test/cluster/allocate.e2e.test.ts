// ipname = <allocate> across the real 3-node test cluster (issue 11 items 1 and 2): the nodes' eth0
// share one segment (the cluster bridge); the leader allocates from the cluster subnet (arping -D
// skips the nodes' own addresses), its write-back goes to the cluster store's config and to every
// node before the followers act. Checked on each node: ip -j addr (in its namespace), its installed
// config file, its own state.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { NODES, show, useOrchCluster } from "../helpers/orchestrate.js";

const oc = useOrchCluster("alc");

const installed = (node: string, name: string) => readFileSync(path.join(oc.cluster.node(node).root, "objects/root/svc", name, "config.conf"), "utf8");
const storedConfig = (name: string) => (JSON.parse(readFileSync(path.join(oc.root, "cluster/objects/root/svc", name, "records.json"), "utf8")) as { config?: { text: string } }).config?.text ?? "";

/** ip#1: an address allocated from the cluster subnet on eth0 (failover: shared, cascaded to [env] vip). */
function allocating(shared: boolean): string[] {
  const cascade = shared ? ["cascade_allocation = env.vip", "shared = true"] : [];
  return [...(shared ? ["[env]", "vip =", ""] : []), "[ip#1]", "type = host", "ipdev = eth0", "ipname = <allocate>", `network = ${oc.cluster.subnet}.0/24`, "netmask = 24", ...cascade, ""];
}

/** The cluster store's allocation record of an address, or undefined. */
const storeAlloc = (addr: string): { owner: string } | undefined => {
  const f = path.join(oc.root, "cluster/alloc", `${encodeURIComponent(`ip/${oc.cluster.subnet}.0/24/${addr}`)}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as { owner: string }) : undefined;
};
const nodeAddrs = () => new Set(oc.cluster.nodes.map((n) => n.addr));
const inSubnet = (a: string) => a.startsWith(`${oc.cluster.subnet}.`);
/** An address of the cluster subnet that is not a node's own nor the per-node ip#0 ones (.100 and up). */
const inSubnetNotNode = (a: string) => inSubnet(a) && !nodeAddrs().has(a) && Number(a.split(".")[3]) < 100;

describe("<allocate> in a cluster", () => {
  it("failover: one address, on the leader; every node's installed config is the leader's before the followers act; unprovision gives <allocate> back everywhere", async () => {
    const s = oc.service({ more: allocating(true) });
    const p = await oc.osvc(["apply", s.cfg, "--path", s.name]);
    expect(p.code, show(p)).toBe(0);
    const leaderConf = installed("n1", s.name);
    const m = /^ipname = (\S+)$/m.exec(leaderConf.split("[ip#1]")[1] ?? "");
    expect(m, leaderConf).toBeTruthy();
    const vip = m![1];
    expect(inSubnet(vip) && !nodeAddrs().has(vip), vip).toBe(true);
    expect(leaderConf).toMatch(new RegExp(`^vip = ${vip.replaceAll(".", "\\.")}$`, "m"));
    // One address, on the leader only.
    expect(oc.addrsOf("n1")).toContain(vip);
    for (const n of ["n2", "n3"]) expect(oc.addrsOf(n), n).not.toContain(vip);
    // The cluster store and every node hold the leader's config, byte for byte.
    expect(storedConfig(s.name)).toBe(leaderConf);
    for (const n of ["n2", "n3"]) expect(installed(n, s.name), n).toBe(leaderConf);
    // The allocation is recorded in the cluster store (the orchestrator mirrors the leader's).
    expect(storeAlloc(vip)).toMatchObject({ owner: `${s.name} ip#1 @n1` });
    // The followers acted on it: their recorded ip#1 (shared: followed) has the allocated address.
    for (const n of ["n2", "n3"]) expect(oc.nodeState(n, s.name)?.resources["ip#1"], n).toMatchObject({ follow: true, inputs: { ipname: vip } });

    // Applied again from the template (which still says <allocate>): the same address, still on the leader only.
    const again = await oc.osvc(["apply", s.cfg, "--path", s.name]);
    expect(again.code, show(again)).toBe(0);
    expect(installed("n1", s.name)).toBe(leaderConf);
    expect(oc.addrsOf("n1").filter(inSubnetNotNode)).toEqual([vip]);
    for (const n of ["n2", "n3"]) expect(installed(n, s.name), n).toBe(leaderConf);

    const u = await oc.osvc([s.name, "unprovision"]);
    expect(u.code, show(u)).toBe(0);
    for (const n of NODES) {
      expect(oc.addrsOf(n), n).not.toContain(vip);
      expect(installed(n, s.name), n).toMatch(/^ipname = <allocate>$/m);
      expect(installed(n, s.name), n).toBe(installed("n1", s.name));
    }
    expect(storedConfig(s.name)).toBe(installed("n1", s.name));
    expect(storeAlloc(vip)).toBeUndefined();
  }, 300_000);

  it("flex: one address per node (ipname@node), each on its node, all configs identical", async () => {
    const s = oc.service({ defaults: ["topology = flex", "flex_target = 3"], more: allocating(false) });
    const p = await oc.osvc(["apply", s.cfg, "--path", s.name]);
    expect(p.code, show(p)).toBe(0);
    const conf = installed("n1", s.name);
    const ip1 = conf.split("[ip#1]")[1] ?? "";
    const byNode: Record<string, string> = {};
    for (const n of NODES) {
      const m = new RegExp(`^ipname@${n} = (\\S+)$`, "m").exec(ip1);
      expect(m, `${n}: ${conf}`).toBeTruthy();
      byNode[n] = m![1];
      expect(inSubnet(byNode[n]) && !nodeAddrs().has(byNode[n]), byNode[n]).toBe(true);
    }
    expect(new Set(Object.values(byNode)).size).toBe(3);
    for (const n of NODES) {
      expect(oc.addrsOf(n), n).toContain(byNode[n]);
      for (const o of NODES.filter((x) => x !== n)) expect(oc.addrsOf(n), n).not.toContain(byNode[o]);
      expect(installed(n, s.name), n).toBe(conf);
    }
    expect(storedConfig(s.name)).toBe(conf);
    for (const n of NODES) expect(storeAlloc(byNode[n]), n).toMatchObject({ owner: `${s.name} ip#1 @${n}` });

    const d = await oc.osvc(["destroy", s.name]);
    expect(d.code, show(d)).toBe(0);
    for (const n of NODES) for (const a of Object.values(byNode)) expect(oc.addrsOf(n), n).not.toContain(a);
    for (const a of Object.values(byNode)) expect(storeAlloc(a)).toBeUndefined();
  }, 300_000);
});
