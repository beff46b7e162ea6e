// Scenarios where the orchestrator distributes configs the leader made, run on both cluster stores
// (embedded and etcd): a volume's vol config (the leader's pools) and <allocate> addresses written
// back into the service config. The test files call them with their OrchCluster, whose store is one
// or the other; records are read through it (either store).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { NODES, show, type OrchCluster } from "./orchestrate.js";

/**
 * Volumes (issue 11, item 3): the leader's volume resource creates the vol from ITS pools; the
 * orchestrator stores the vol config in the cluster store and installs it on the followers before
 * they act, so their vol configs are the leader's, byte for byte, although their own node configs
 * define other pools. Unprovision unclaims on every node; the vol's data stays.
 */
export async function volumeScenario(oc: OrchCluster, tag: string): Promise<void> {
  const c = oc.cluster;
  const name = `${tag}${process.pid % 10000}v${Date.now().toString(36).slice(-4)}`;
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
    expect(oc.records(vol)?.config?.text).toBe(lead);

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
}

/** The config of an object installed on a node. */
const installed = (oc: OrchCluster, node: string, name: string) => readFileSync(path.join(oc.cluster.node(node).root, "objects/root/svc", name, "config.conf"), "utf8");
/** The config of an object in the cluster store. */
const storedConfig = (oc: OrchCluster, name: string) => oc.records(name)?.config?.text ?? "";

/** ip#1: an address allocated from the cluster subnet on eth0 (failover: shared, cascaded to [env] vip). */
function allocating(oc: OrchCluster, shared: boolean): string[] {
  const cascade = shared ? ["cascade_allocation = env.vip", "shared = true"] : [];
  return [...(shared ? ["[env]", "vip =", ""] : []), "[ip#1]", "type = host", "ipdev = eth0", "ipname = <allocate>", `network = ${oc.cluster.subnet}.0/24`, "netmask = 24", ...cascade, ""];
}

/** The cluster store's allocation record of an address, or undefined. */
const storeAlloc = (oc: OrchCluster, addr: string) => oc.allocRecord(`ip/${oc.cluster.subnet}.0/24/${addr}`);
const nodeAddrs = (oc: OrchCluster) => new Set(oc.cluster.nodes.map((n) => n.addr));
const inSubnet = (oc: OrchCluster, a: string) => a.startsWith(`${oc.cluster.subnet}.`);
/** An address of the cluster subnet that is not a node's own nor the per-node ip#0 ones (.100 and up). */
const inSubnetNotNode = (oc: OrchCluster, a: string) => inSubnet(oc, a) && !nodeAddrs(oc).has(a) && Number(a.split(".")[3]) < 100;

/**
 * <allocate>, failover (issue 11 items 1 and 2): one address, on the leader; every node's installed
 * config is the leader's before the followers act; the allocation is recorded in the cluster store;
 * unprovision gives <allocate> back everywhere.
 */
export async function allocateFailoverScenario(oc: OrchCluster): Promise<void> {
  const s = oc.service({ more: allocating(oc, true) });
  const p = await oc.osvc(["apply", s.cfg, "--path", s.name]);
  expect(p.code, show(p)).toBe(0);
  const leaderConf = installed(oc, "n1", s.name);
  const m = /^ipname = (\S+)$/m.exec(leaderConf.split("[ip#1]")[1] ?? "");
  expect(m, leaderConf).toBeTruthy();
  const vip = m![1];
  expect(inSubnet(oc, vip) && !nodeAddrs(oc).has(vip), vip).toBe(true);
  expect(leaderConf).toMatch(new RegExp(`^vip = ${vip.replaceAll(".", "\\.")}$`, "m"));
  // One address, on the leader only.
  expect(oc.addrsOf("n1")).toContain(vip);
  for (const n of ["n2", "n3"]) expect(oc.addrsOf(n), n).not.toContain(vip);
  // The cluster store and every node hold the leader's config, byte for byte.
  expect(storedConfig(oc, s.name)).toBe(leaderConf);
  for (const n of ["n2", "n3"]) expect(installed(oc, n, s.name), n).toBe(leaderConf);
  // The allocation is recorded in the cluster store (the orchestrator mirrors the leader's).
  expect(storeAlloc(oc, vip)).toMatchObject({ owner: `${s.name} ip#1 @n1` });
  // The followers acted on it: their recorded ip#1 (shared: followed) has the allocated address.
  for (const n of ["n2", "n3"]) expect(oc.nodeState(n, s.name)?.resources["ip#1"], n).toMatchObject({ follow: true, inputs: { ipname: vip } });

  // Applied again from the template (which still says <allocate>): the same address, still on the leader only.
  const again = await oc.osvc(["apply", s.cfg, "--path", s.name]);
  expect(again.code, show(again)).toBe(0);
  expect(installed(oc, "n1", s.name)).toBe(leaderConf);
  expect(oc.addrsOf("n1").filter((a) => inSubnetNotNode(oc, a))).toEqual([vip]);
  for (const n of ["n2", "n3"]) expect(installed(oc, n, s.name), n).toBe(leaderConf);

  const u = await oc.osvc([s.name, "unprovision"]);
  expect(u.code, show(u)).toBe(0);
  for (const n of NODES) {
    expect(oc.addrsOf(n), n).not.toContain(vip);
    expect(installed(oc, n, s.name), n).toMatch(/^ipname = <allocate>$/m);
    expect(installed(oc, n, s.name), n).toBe(installed(oc, "n1", s.name));
  }
  expect(storedConfig(oc, s.name)).toBe(installed(oc, "n1", s.name));
  expect(storeAlloc(oc, vip)).toBeUndefined();
}

/** <allocate>, flex: one address per node (ipname@node), each on its node, all configs identical; destroy frees them. */
export async function allocateFlexScenario(oc: OrchCluster): Promise<void> {
  const s = oc.service({ defaults: ["topology = flex", "flex_target = 3"], more: allocating(oc, false) });
  const p = await oc.osvc(["apply", s.cfg, "--path", s.name]);
  expect(p.code, show(p)).toBe(0);
  const conf = installed(oc, "n1", s.name);
  const ip1 = conf.split("[ip#1]")[1] ?? "";
  const byNode: Record<string, string> = {};
  for (const n of NODES) {
    const m = new RegExp(`^ipname@${n} = (\\S+)$`, "m").exec(ip1);
    expect(m, `${n}: ${conf}`).toBeTruthy();
    byNode[n] = m![1];
    expect(inSubnet(oc, byNode[n]) && !nodeAddrs(oc).has(byNode[n]), byNode[n]).toBe(true);
  }
  expect(new Set(Object.values(byNode)).size).toBe(3);
  for (const n of NODES) {
    expect(oc.addrsOf(n), n).toContain(byNode[n]);
    for (const o of NODES.filter((x) => x !== n)) expect(oc.addrsOf(n), n).not.toContain(byNode[o]);
    expect(installed(oc, n, s.name), n).toBe(conf);
  }
  expect(storedConfig(oc, s.name)).toBe(conf);
  for (const n of NODES) expect(storeAlloc(oc, byNode[n]), n).toMatchObject({ owner: `${s.name} ip#1 @${n}` });

  const d = await oc.osvc(["destroy", s.name]);
  expect(d.code, show(d)).toBe(0);
  for (const n of NODES) for (const a of Object.values(byNode)) expect(oc.addrsOf(n), n).not.toContain(a);
  for (const a of Object.values(byNode)) expect(storeAlloc(oc, a)).toBeUndefined();
}
