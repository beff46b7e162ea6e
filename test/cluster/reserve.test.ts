// The orchestrator's reservations for <allocate> (cluster/reserve.ts) on a real embedded store: two
// objects' reservations never share a key; a reservation the node did not keep is released; the
// node's --allocated words parse back, and anything else is refused.
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { releaseUnused, reservationWords, reserveFor, RESERVED_CANDIDATES } from "../../src/cluster/reserve.js";
import { EmbeddedStore } from "../../src/cluster/store/index.js";
import { parseReserved } from "../../src/core/alloc.js";
import { cleanup, makeTempDir } from "../helpers/host.js";

const root = makeTempDir("osvc-reserve-");
afterAll(() => {
  expect(cleanup.run()).toEqual([]);
});

const res = (shared: boolean) => ["n1", "n2"].map((node) => ({ rid: "ip#1", node, network: "10.250.7.0/24", shared }));

describe("reservations in the cluster store", () => {
  it("two objects get disjoint candidates; a follower gets none for a shared resource; unused ones are released", async () => {
    const store = new EmbeddedStore(path.join(root, "s1"));
    const la = await store.lock("root/svc/ra", { command: "t" });
    const lb = await store.lock("root/svc/rb", { command: "t" });
    try {
      const a = await reserveFor(la, "root/svc/ra", "n1", true, res(true));
      const b = await reserveFor(lb, "root/svc/rb", "n2", true, res(true));
      expect(a.byRid["ip#1"]).toEqual(["10.250.7.2", "10.250.7.3", "10.250.7.4", "10.250.7.5"].slice(0, RESERVED_CANDIDATES));
      expect(b.byRid["ip#1"]!.filter((x) => a.byRid["ip#1"]!.includes(x))).toEqual([]);
      expect(reservationWords(a)).toEqual(["--allocated", `ip#1=${a.byRid["ip#1"]!.join(",")}`]);
      expect((await reserveFor(la, "root/svc/ra", "n2", false, res(true))).byRid).toEqual({});
      // A node that sees the address filled already (its ipname@n3 written back): nothing to reserve.
      expect((await reserveFor(la, "root/svc/ra", "n3", true, res(false))).byRid).toEqual({});
      // The node kept the second candidate: the others go back, it stays (owner: the short path, as the node writes it).
      const kept = `ip/10.250.7.0/24/${a.byRid["ip#1"]![1]}`;
      await releaseUnused(la, a, [{ type: "allocation", op: "allocate", key: kept, owner: "ra ip#1 @n1" }]);
      for (const addr of a.byRid["ip#1"]!) {
        const rec = await store.getAlloc(`ip/10.250.7.0/24/${addr}`);
        expect(rec?.owner, addr).toBe(`ip/10.250.7.0/24/${addr}` === kept ? "ra ip#1 @n1" : undefined);
      }
      // A failed node (nothing kept): all released.
      await releaseUnused(lb, b, []);
      for (const addr of b.byRid["ip#1"]!) expect(await store.getAlloc(`ip/10.250.7.0/24/${addr}`), addr).toBeUndefined();
    } finally {
      await la.release();
      await lb.release();
      await store.close();
    }
  });

  it("a routed_bridge slice is written once: a later orchestration computing another slice for the node is refused", async () => {
    const store = new EmbeddedStore(path.join(root, "s2"));
    const lock = await store.lock("root/svc/rc", { command: "t" });
    try {
      const routed = (slice: string) => [{ rid: "ip#1", node: "n2", network: slice, shared: false, routedBridge: "rbx" }];
      const first = await reserveFor(lock, "root/svc/rc", "n2", false, routed("10.250.8.64/26"));
      expect(first.problems).toEqual([]);
      expect(first.byRid["ip#1"]![0]).toBe("10.250.8.66");
      expect((await store.getAlloc("subnet/rbx/n2"))?.data).toEqual({ subnet: "10.250.8.64/26" });
      await releaseUnused(lock, first, []);
      expect((await reserveFor(lock, "root/svc/rc", "n2", false, routed("10.250.8.64/26"))).problems).toEqual([]);
      const moved = await reserveFor(lock, "root/svc/rc", "n2", false, routed("10.250.8.0/26"));
      expect(moved.byRid).toEqual({});
      expect(moved.problems).toEqual(["the routed_bridge rbx gives n2 the slice 10.250.8.0/26, but 10.250.8.64/26 is recorded for it in the cluster store (written once); write subnet@n2 = 10.250.8.64/26 in [network#rbx] of the node configs"]);
    } finally {
      await lock.release();
      await store.close();
    }
  });

  it("--allocated: rid=ipv4[,ipv4...] only", () => {
    expect(parseReserved(["ip#1=10.0.0.2,10.0.0.3", "ip#2=10.0.1.9"])).toEqual({ "ip#1": ["10.0.0.2", "10.0.0.3"], "ip#2": ["10.0.1.9"] });
    for (const bad of ["ip#1", "ip#1=", "ip#1=10.0.0.2;reboot", "ip#1=10.0.0.2,-x", "=10.0.0.2", "ip 1=10.0.0.2"]) expect(parseReserved([bad]), bad).toHaveProperty("error");
  });
});
