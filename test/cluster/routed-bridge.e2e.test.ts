// A routed_bridge network across the real 3-node test cluster (issue 11 item 2): the cluster
// subnet split in slices of 64 addresses by the nodes' rank in [cluster] nodes (every node's
// node.conf and the orchestrator's hold the same network). A flex object's <allocate> gets one
// address per node, each inside its own node's slice, reserved in the cluster store and confirmed
// with ip -j addr in each node's network namespace.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { NODES, show, useOrchCluster } from "../helpers/orchestrate.js";

const oc = useOrchCluster("arb");

beforeAll(() => {
  const text = ["[cluster]", `nodes = ${NODES.join(" ")}`, "", "[network#rbnet]", "type = routed_bridge", `network = ${oc.cluster.subnet}.0/24`, "ips_per_node = 64", ""].join("\n");
  for (const root of [...NODES.map((n) => oc.cluster.node(n).root), oc.root]) {
    mkdirSync(root, { recursive: true });
    writeFileSync(path.join(root, "node.conf"), text);
  }
});

describe("routed_bridge in a cluster", () => {
  it("flex: each node's address inside its own slice (64 addresses at its rank), on that node only; destroy releases them", async () => {
    const s = oc.service({ defaults: ["topology = flex", "flex_target = 3"], more: ["[ip#1]", "type = host", "ipdev = eth0", "ipname = <allocate>", "network = rbnet", ""] });
    const p = await oc.osvc(["apply", s.cfg, "--path", s.name]);
    expect(p.code, show(p)).toBe(0);
    const conf = readFileSync(path.join(oc.cluster.node("n1").root, "objects/root/svc", s.name, "config.conf"), "utf8");
    const ip1 = conf.split("[ip#1]")[1] ?? "";
    const byNode: Record<string, string> = {};
    NODES.forEach((n, rank) => {
      const m = new RegExp(`^ipname@${n} = (\\S+)$`, "m").exec(ip1);
      expect(m, `${n}: ${conf}`).toBeTruthy();
      byNode[n] = m![1];
      const [a, b, c, last] = byNode[n].split(".");
      expect(`${a}.${b}.${c}`, n).toBe(oc.cluster.subnet);
      // Inside the node's slice, after its gateway (slice + 1), before its broadcast.
      expect(Number(last) >= rank * 64 + 2 && Number(last) <= rank * 64 + 62, `${n} ${byNode[n]}`).toBe(true);
    });
    // Each node's slice is recorded once in the cluster store.
    NODES.forEach((n, rank) => {
      const rec = JSON.parse(readFileSync(path.join(oc.root, "cluster/alloc", `${encodeURIComponent(`subnet/rbnet/${n}`)}.json`), "utf8")) as { data?: { subnet?: string } };
      expect(rec.data?.subnet, n).toBe(`${oc.cluster.subnet}.${rank * 64}/26`);
    });
    for (const n of NODES) {
      expect(oc.addrsOf(n), n).toContain(byNode[n]);
      for (const o of NODES.filter((x) => x !== n)) expect(oc.addrsOf(n), n).not.toContain(byNode[o]);
    }
    const d = await oc.osvc(["destroy", s.name]);
    expect(d.code, show(d)).toBe(0);
    for (const n of NODES) for (const a of Object.values(byNode)) expect(oc.addrsOf(n), n).not.toContain(a);
  }, 600_000);
});
