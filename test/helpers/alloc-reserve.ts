// <allocate> across two orchestrators (issue 11): the body of the tests run on each store backend
// (test/cluster/allocate-reserve*.e2e.test.ts). Two objects with a shared `ipname = <allocate>`
// on the cluster segment, led by two different nodes: the node's own allocation records cannot see
// the other node's; only the cluster store, reserved before the node acts, keeps them apart.
// Checked with `ip -j addr` in each node's network namespace and the store's allocation records.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ETCDCTL_BIN } from "./etcd.js";
import { NODES, show, useOrchCluster, type StoreKind } from "./orchestrate.js";

export function allocReserveTests(tag: string, store: StoreKind): void {
  const oc = useOrchCluster(tag, { store });

  const net = () => `${oc.cluster.subnet}.0/24`;
  /** ip#1: a shared address allocated from the cluster subnet on eth0. */
  const withNet = () => ["[ip#1]", "type = host", "ipdev = eth0", "ipname = <allocate>", `network = ${net()}`, "netmask = 24", "shared = true", ""];
  const installedVip = (node: string, name: string): string | undefined => {
    const text = readFileSync(path.join(oc.cluster.node(node).root, "objects/root/svc", name, "config.conf"), "utf8");
    return /^ipname = (\d\S*)$/m.exec(text.split("[ip#1]")[1] ?? "")?.[1];
  };
  /** The cluster store's allocation records of the cluster network: address -> owner. */
  const storeAllocs = (): Map<string, string> => {
    const out = new Map<string, string>();
    const keyPrefix = `ip/${net()}/`;
    if (oc.etcd) {
      const text = execFileSync(ETCDCTL_BIN, ["--endpoints", oc.etcd.endpoints.join(","), "--command-timeout=10s", "get", `${oc.prefix}/alloc/${keyPrefix}`, "--prefix"], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" }, timeout: 20_000 });
      const lines = text.split("\n").filter((l) => l !== "");
      for (let i = 0; i + 1 < lines.length; i += 2) out.set(lines[i].slice(`${oc.prefix}/alloc/${keyPrefix}`.length), (JSON.parse(lines[i + 1]) as { owner: string }).owner);
      return out;
    }
    const dir = path.join(oc.root, "cluster/alloc");
    for (const f of existsSync(dir) ? readdirSync(dir) : []) {
      const key = decodeURIComponent(f.replace(/\.json$/, ""));
      if (key.startsWith(keyPrefix)) out.set(key.slice(keyPrefix.length), (JSON.parse(readFileSync(path.join(dir, f), "utf8")) as { owner: string }).owner);
    }
    return out;
  };
  const nodeAddrs = () => new Set(oc.cluster.nodes.map((n) => n.addr));

  describe(`<allocate> reserved in the cluster store (${store})`, () => {
    it("two orchestrators at once, two objects led by two nodes: two different addresses, each on its leader", async () => {
      const a = oc.service({ more: withNet() });
      const b = oc.service({ more: withNet() });
      const ra = oc.spawnOsvc(["apply", a.cfg, "--path", a.name, "--leader-node", "n1"]);
      const rb = oc.spawnOsvc(["apply", b.cfg, "--path", b.name, "--leader-node", "n2"]);
      const [pa, pb] = await Promise.all([ra.done, rb.done]);
      expect(pa.code, show(pa)).toBe(0);
      expect(pb.code, show(pb)).toBe(0);
      const va = installedVip("n1", a.name);
      const vb = installedVip("n2", b.name);
      expect(va && vb, `${va} ${vb}`).toBeTruthy();
      expect(va).not.toBe(vb);
      for (const v of [va!, vb!]) expect(v.startsWith(`${oc.cluster.subnet}.`) && !nodeAddrs().has(v), v).toBe(true);
      // ip -j addr in each node's namespace: each address on its leader only.
      expect(oc.addrsOf("n1")).toContain(va);
      expect(oc.addrsOf("n2")).toContain(vb);
      for (const n of NODES.filter((x) => x !== "n1")) expect(oc.addrsOf(n), n).not.toContain(va);
      for (const n of NODES.filter((x) => x !== "n2")) expect(oc.addrsOf(n), n).not.toContain(vb);
      // The store holds exactly the two kept addresses of these objects (the other reservations released).
      const mine = [...storeAllocs()].filter(([, owner]) => owner.startsWith(`${a.name} `) || owner.startsWith(`${b.name} `));
      expect(new Map(mine)).toEqual(new Map([[va!, `${a.name} ip#1 @n1`], [vb!, `${b.name} ip#1 @n2`]]));

      for (const s of [a, b]) {
        const u = await oc.osvc([s.name, "unprovision"]);
        expect(u.code, show(u)).toBe(0);
      }
      for (const n of NODES) for (const v of [va!, vb!]) expect(oc.addrsOf(n), n).not.toContain(v);
      expect([...storeAllocs().values()].filter((o) => o.startsWith(`${a.name} `) || o.startsWith(`${b.name} `))).toEqual([]);
    }, 600_000);

    it("an address the cluster store gives to another object is never picked, even when nobody answers for it on the segment", async () => {
      const a = oc.service({ more: withNet() });
      const pa = await oc.osvc(["apply", a.cfg, "--path", a.name, "--leader-node", "n1"]);
      expect(pa.code, show(pa)).toBe(0);
      const va = installedVip("n1", a.name)!;
      expect(storeAllocs().get(va)).toBe(`${a.name} ip#1 @n1`);
      // a stopped: its address is off the segment (arping -D finds it free), still a's in the store.
      const st = await oc.osvc([a.name, "stop"]);
      expect(st.code, show(st)).toBe(0);
      for (const n of NODES) expect(oc.addrsOf(n), n).not.toContain(va);

      const b = oc.service({ more: withNet() });
      const pb = await oc.osvc(["apply", b.cfg, "--path", b.name, "--leader-node", "n2"]);
      expect(pb.code, show(pb)).toBe(0);
      const vb = installedVip("n2", b.name)!;
      expect(vb).toBeTruthy();
      expect(vb).not.toBe(va);
      expect(oc.addrsOf("n2")).toContain(vb);
      expect(storeAllocs().get(va)).toBe(`${a.name} ip#1 @n1`);
      expect(storeAllocs().get(vb)).toBe(`${b.name} ip#1 @n2`);

      for (const s of [b, a]) {
        const u = await oc.osvc([s.name, "unprovision"]);
        expect(u.code, show(u)).toBe(0);
      }
      expect([...storeAllocs().values()].filter((o) => o.startsWith(`${a.name} `) || o.startsWith(`${b.name} `))).toEqual([]);
    }, 600_000);
  });
}
