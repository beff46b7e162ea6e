// ip.netns against real network namespaces. Namespace H stands for the one osvc runs in (every
// provider command goes through `ip netns exec H`, so the veth host end is created in H, never in
// the host's own namespace); namespace C stands for a container's (netns_path /run/netns/C, or
// /proc/PID/ns/net of a process sleeping in it). Verified independently with `ip -n NS -j addr` and ping.
import { existsSync, statSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { firstFreeEth, hostDevName, ipNetnsProvider as P, nsTag, parseIpLinksJson } from "../../providers/ip-netns/provider.js";
import { ProviderError } from "../../src/provider/api.js";
import { ROOT } from "../helpers/cli.js";
import { probeOne, res, sh } from "../helpers/host.js";
import { makeNetns, must, netnsCleanup, nsAddrs, nsContext, nsDefaultRoutes, nsLinksJ, nsPing, rootLeaks, runNodeInNetns, sleeperIn, vethBetween } from "../helpers/netns.js";

const NET = "10.231.2";
const NET3 = "10.231.3";
const NET4 = "10.231.4";
const TEST_ADDRS = [`${NET}.1`, `${NET}.10`, `${NET}.11`, `${NET}.12`, `${NET}.13`, `${NET}.20`, `${NET3}.1`, `${NET3}.10`, `${NET4}.1`, `${NET4}.10`, `${NET4}.11`];
const HOST = hostDevName("e2e", "ip#1");

afterEach(() => {
  expect(netnsCleanup.run()).toEqual([]);
  expect(rootLeaks(TEST_ADDRS)).toEqual([]);
});

function link(ns: string, dev: string) {
  return nsLinksJ(ns).find((l) => l.ifname === dev);
}

describe("ip.netns helpers", () => {
  it("names the host end and picks a free eth<N>", () => {
    expect(HOST).toMatch(/^osvc[0-9a-f]{8}h$/);
    expect(HOST.length).toBeLessThanOrEqual(15);
    expect(hostDevName("e2e", "ip#2")).not.toBe(HOST);
    expect(hostDevName("other", "ip#1")).not.toBe(HOST);
    expect(nsTag("svc1", "ip#1")).toBe("osvc:svc1:ip#1");
    const links = parseIpLinksJson(
      JSON.stringify([
        { ifindex: 1, ifname: "lo", flags: ["UP"], addr_info: [] },
        { ifindex: 2, ifname: "eth0", link_index: 7, ifalias: "x", flags: ["UP"], linkinfo: { info_kind: "veth" }, addr_info: [{ family: "inet", local: "10.0.0.2", prefixlen: 24 }] },
      ]),
    );
    expect(links[1]).toMatchObject({ ifname: "eth0", ifindex: 2, linkIndex: 7, kind: "veth", ifalias: "x", addrs: [{ family: 4, local: "10.0.0.2", prefixlen: 24 }] });
    expect(firstFreeEth(links)).toBe("eth1");
    expect(firstFreeEth([])).toBe("eth0");
  });
});

describe("ip.netns in network namespaces", () => {
  let nsH: string; // osvc's namespace
  let nsC: string; // the container's
  let pathC: string;

  beforeEach(() => {
    nsH = makeNetns("ipn-h");
    nsC = makeNetns("ipn-c");
    pathC = `/run/netns/${nsC}`;
    must("ip", ["-n", nsH, "link", "add", "br0", "type", "bridge"]);
    must("ip", ["-n", nsH, "addr", "add", `${NET}.1/24`, "dev", "br0"]);
    must("ip", ["-n", nsH, "link", "set", "br0", "up"]);
  });

  it("plugs a veth into the bridge, configures the address inside, probes, stops", async () => {
    const ctx = nsContext(nsH);
    const r = res("ip#1", "ip.netns", { netns: "container#0", netns_path: pathC, ipname: `${NET}.10`, ipdev: "br0", mode: "bridge" });
    expect(await probeOne(P, ctx, r)).toEqual({ provisioned: null, up: false });

    const t0 = performance.now();
    const out = await P.start(ctx, r);
    const startMs = performance.now() - t0;
    // netmask unset: the bridge's prefix
    expect(out).toEqual({ ipaddr: `${NET}.10`, prefix: 24, nsdev: "eth0", netns_path: pathC, created_veth: true, host_dev: HOST });
    expect(ctx.logs).toContainEqual({ level: "info", message: `checking ${NET}.10 availability` });
    expect(ctx.commands).toEqual(
      expect.arrayContaining([
        `ip link add ${HOST} type veth peer name eth0 netns ${pathC}`,
        `nsenter --net=${pathC} arping -D -c 2 -w 2 -I eth0 ${NET}.10`,
        `nsenter --net=${pathC} ip addr add ${NET}.10/24 dev eth0`,
        `nsenter --net=${pathC} arping -U -c 1 -I eth0 -s ${NET}.10 ${NET}.10`,
      ]),
    );
    expect(ctx.logs.filter((l) => l.level !== "info")).toEqual([]);

    // independent checks: the address inside, the host end in H on br0, traffic both ways
    expect(nsAddrs(nsC, "eth0")).toEqual([{ ifname: "eth0", family: "inet", local: `${NET}.10`, prefixlen: 24, label: "eth0" }]);
    expect(link(nsC, "eth0")).toMatchObject({ flags: expect.arrayContaining(["UP"]), ifalias: "osvc:e2e:ip#1", linkinfo: { info_kind: "veth" } });
    expect(link(nsH, HOST)).toMatchObject({ master: "br0", flags: expect.arrayContaining(["UP"]) });
    expect(nsPing(nsH, `${NET}.10`)).toBe(true);
    expect(nsPing(nsC, `${NET}.1`)).toBe(true);

    const rec = res(r.rid, r.driver, r.kw, out);
    expect(await probeOne(P, ctx, rec)).toEqual({ provisioned: null, up: true, outputs: out });

    // start again: nothing created, nothing added
    ctx.reset();
    expect(await P.start(ctx, rec)).toEqual(out);
    expect(ctx.commands.filter((c) => /ip link add|addr add|arping/.test(c))).toEqual([]);

    ctx.reset();
    await P.stop(ctx, rec);
    expect(ctx.commands).toContain(`ip link del dev ${HOST}`);
    expect(link(nsH, HOST)).toBeUndefined();
    expect(link(nsC, "eth0")).toBeUndefined();
    expect(nsLinksJ(nsC).map((l) => l.ifname)).toEqual(["lo"]);
    expect(nsPing(nsH, `${NET}.10`)).toBe(false);
    expect(await probeOne(P, ctx, rec)).toEqual({ provisioned: null, up: false });
    await P.stop(ctx, rec); // already gone: success
    await P.unprovision(ctx, rec);
    console.log(`[ip.netns] start with bridge + arping -D/-U: ${Math.round(startMs)} ms`);
  });

  it("without a bridge: nsdev, macaddr, netmask, gateway, a /proc/PID/ns/net path", async () => {
    const pid = await sleeperIn(nsC);
    const nsPath = `/proc/${pid}/ns/net`;
    const ctx = nsContext(nsH);
    const r = res("ip#1", "ip.netns", {
      netns: "container#0",
      netns_path: nsPath,
      ipname: `${NET3}.10`,
      netmask: "255.255.255.0",
      nsdev: "eth3",
      macaddr: "02:42:0A:E7:03:0A",
      gateway: `${NET3}.1`,
    });
    const out = await P.start(ctx, r);
    expect(out).toEqual({ ipaddr: `${NET3}.10`, prefix: 24, nsdev: "eth3", netns_path: nsPath, created_veth: true, host_dev: HOST });
    expect(ctx.commands.filter((c) => c.includes("arping"))).toEqual([]); // nobody to answer without a bridge
    expect(link(nsC, "eth3")).toMatchObject({ address: "02:42:0a:e7:03:0a", flags: expect.arrayContaining(["UP"]) });
    expect(nsAddrs(nsC, "eth3").map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${NET3}.10/24`]);
    expect(nsDefaultRoutes(nsC)).toMatchObject([{ gateway: `${NET3}.1`, dev: "eth3" }]);
    expect(link(nsH, HOST)?.master).toBeUndefined();
    // give the host end the gateway address: the container reaches it through its default route
    must("ip", ["-n", nsH, "addr", "add", `${NET3}.1/24`, "dev", HOST]);
    expect(nsPing(nsH, `${NET3}.10`)).toBe(true);
    expect(nsPing(nsC, `${NET3}.1`)).toBe(true);
    expect(await probeOne(P, ctx, res(r.rid, r.driver, r.kw, out))).toMatchObject({ up: true });

    await P.stop(ctx, res(r.rid, r.driver, r.kw, out));
    expect(link(nsH, HOST)).toBeUndefined();
    expect(nsLinksJ(nsC).map((l) => l.ifname)).toEqual(["lo"]);
    expect(nsDefaultRoutes(nsC)).toEqual([]);
  });

  it("refuses an address another container on the bridge answers for, and rolls the veth back", async () => {
    const nsD = makeNetns("ipn-d");
    vethBetween({ ns: nsH, dev: "vd" }, { ns: nsD, dev: "eth0" });
    must("ip", ["-n", nsH, "link", "set", "vd", "master", "br0"]);
    must("ip", ["-n", nsD, "addr", "add", `${NET}.20/24`, "dev", "eth0"]);
    const ctx = nsContext(nsH);
    const r = res("ip#1", "ip.netns", { netns: "container#0", netns_path: pathC, ipname: `${NET}.20`, ipdev: "br0" });
    const err = await P.start(ctx, r).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).message).toMatch(/^10\.231\.2\.20 is already in use on br0 \(answered ARP from [0-9A-F:]+\)$/);
    expect(ctx.logs).toContainEqual({ level: "info", message: `veth pair ${HOST} / eth0 deleted (start failed)` });
    expect(link(nsH, HOST)).toBeUndefined();
    expect(nsLinksJ(nsC).map((l) => l.ifname)).toEqual(["lo"]);
    expect(await probeOne(P, ctx, r)).toMatchObject({ up: false });
  });

  it("repairs drift and follows the container to a new namespace", async () => {
    const ctx = nsContext(nsH);
    const kw = { netns: "container#0", netns_path: pathC, ipname: `${NET}.10`, netmask: "24" }; // no bridge: no arping wait
    const r = res("ip#1", "ip.netns", kw);
    const out = await P.start(ctx, r);
    const rec = res(r.rid, r.driver, kw, out);

    // the address removed by hand: down, start re-adds it on the same veth
    must("ip", ["-n", nsC, "addr", "del", `${NET}.10/24`, "dev", "eth0"]);
    expect(await probeOne(P, ctx, rec)).toMatchObject({ up: false });
    const ifindex = link(nsH, HOST)?.ifindex;
    ctx.reset();
    await P.start(ctx, rec);
    expect(ctx.commands.filter((c) => c.startsWith("ip link add"))).toEqual([]);
    expect(link(nsH, HOST)?.ifindex).toBe(ifindex);
    expect(nsAddrs(nsC, "eth0").map((a) => a.local)).toEqual([`${NET}.10`]);

    // the pair deleted by hand: start re-creates it
    must("ip", ["-n", nsH, "link", "del", HOST]);
    expect(await probeOne(P, ctx, rec)).toMatchObject({ up: false });
    await P.start(ctx, rec);
    expect(await probeOne(P, ctx, rec)).toMatchObject({ up: true });

    // the container restarted in a new namespace: start there removes the stale host end first
    const nsC2 = makeNetns("ipn-c2");
    const kw2 = { ...kw, netns_path: `/run/netns/${nsC2}` };
    ctx.reset();
    const out2 = await P.start(ctx, res(r.rid, r.driver, kw2, out));
    expect(ctx.logs).toContainEqual({ level: "info", message: `removing ${HOST}: its peer is not in /run/netns/${nsC2}` });
    expect(out2).toMatchObject({ netns_path: `/run/netns/${nsC2}`, nsdev: "eth0" });
    expect(nsLinksJ(nsC).map((l) => l.ifname)).toEqual(["lo"]);
    expect(nsAddrs(nsC2, "eth0").map((a) => a.local)).toEqual([`${NET}.10`]);

    // update (netns_path is updatable): stop the old, start the new
    expect(P.updatable).toContain("netns_path");
    await P.update!(ctx, res(r.rid, r.driver, kw, out), res(r.rid, r.driver, kw2, out2));
    expect(nsLinksJ(nsC2).map((l) => l.ifname)).toEqual(["lo"]);
    expect(nsAddrs(nsC, "eth0").map((a) => a.local)).toEqual([`${NET}.10`]);
    await P.stop(ctx, res(r.rid, r.driver, kw, out));
    expect(link(nsH, HOST)).toBeUndefined();
  });

  it("batches the probe: one nsenter per namespace, one ip on osvc's side", async () => {
    const nsC2 = makeNetns("ipn-c2");
    const ctx = nsContext(nsH);
    const rs = [
      res("ip#1", "ip.netns", { netns: "container#0", netns_path: pathC, ipname: `${NET}.10`, netmask: "24" }),
      res("ip#2", "ip.netns", { netns: "container#0", netns_path: pathC, ipname: `${NET}.11`, netmask: "24", nsdev: "eth1" }),
      res("ip#3", "ip.netns", { netns: "container#1", netns_path: `/run/netns/${nsC2}`, ipname: `${NET}.12`, ipdev: "br0" }),
      res("ip#4", "ip.netns", { netns: "container#2", ipname: `${NET}.13`, ipdev: "br0" }), // container not started: no path yet
    ];
    await P.start(ctx, rs[0]);
    await P.start(ctx, rs[1]);
    expect(nsLinksJ(nsC).map((l) => l.ifname).sort()).toEqual(["eth0", "eth1", "lo"]);
    ctx.reset();
    const obs = await P.probe(ctx, rs);
    expect(obs.map((o) => o.up)).toEqual([true, true, false, false]);
    expect(obs.map((o) => o.outputs?.nsdev)).toEqual(["eth0", "eth1", undefined, undefined]);
    expect(obs[3]).toEqual({ provisioned: null, up: false });
    expect(ctx.commands.sort()).toEqual([`ip -d -j addr show`, `nsenter --net=${pathC} ip -d -j addr show`, `nsenter --net=/run/netns/${nsC2} ip -d -j addr show`].sort());
    for (const r of rs.slice(0, 2)) await P.stop(ctx, r);
    expect(nsLinksJ(nsC).map((l) => l.ifname)).toEqual(["lo"]);
    expect(nsLinksJ(nsH).map((l) => l.ifname).sort()).toEqual(["br0", "lo"]);
  });

  it("reports what it cannot do", async () => {
    const ctx = nsContext(nsH);
    const base = { netns: "container#0", netns_path: pathC, ipname: `${NET}.10` };
    const [mode, gone, notBridge, noBridge] = await P.probe(ctx, [
      res("ip#1", "ip.netns", { ...base, mode: "macvlan" }),
      res("ip#2", "ip.netns", { ...base, netns_path: "/run/netns/osvc-t-no-such-ns" }),
      res("ip#3", "ip.netns", { ...base, ipdev: "lo" }),
      res("ip#4", "ip.netns", { ...base, ipdev: "br9" }),
    ]);
    expect(mode.problems).toEqual([{ level: "error", message: "ip#1: mode macvlan needs ipdev, the interface the macvlan hangs off", hint: expect.any(String) }]);
    expect(gone.problems).toEqual([{ level: "warning", message: "network namespace /run/netns/osvc-t-no-such-ns does not exist (is container#0 running?)" }]);
    expect(notBridge.problems?.[0]).toMatchObject({ level: "error", message: "ipdev lo is not a Linux bridge (no link kind)" });
    expect(noBridge.problems?.[0]).toMatchObject({ level: "error", message: "bridge br9 (ipdev) does not exist" });

    await expect(P.start(ctx, res("ip#1", "ip.netns", { ...base, mode: "ipvlan-l2" }))).rejects.toThrow("mode ipvlan-l2 needs ipdev");
    await expect(P.start(ctx, res("ip#1", "ip.netns", { netns: "container#0", ipname: `${NET}.10` }))).rejects.toThrow(
      "ip#1: the network namespace of container#0 is not known (netns_path is not set)",
    );
    await expect(P.start(ctx, res("ip#1", "ip.netns", { ...base, netns_path: "/run/netns/osvc-t-no-such-ns" }))).rejects.toThrow("network namespace /run/netns/osvc-t-no-such-ns does not exist");
    await expect(P.start(ctx, res("ip#1", "ip.netns", { ...base, netns_path: `/run/netns/${nsH}` }))).rejects.toThrow(`/run/netns/${nsH} is osvc's own network namespace`);
    await expect(P.start(ctx, res("ip#1", "ip.netns", { ...base, nsdev: "bad/name" }))).rejects.toThrow(/is not a valid interface name/);

    // nsdev taken by an interface osvc did not create
    must("ip", ["-n", nsC, "link", "add", "eth0", "type", "veth", "peer", "name", "x0"]);
    await expect(P.start(ctx, res("ip#1", "ip.netns", { ...base, nsdev: "eth0" }))).rejects.toThrow(`eth0 already exists in ${pathC} and was not created by osvc`);
    // ... unless it already holds the address: adopted as is, and left alone at stop
    must("ip", ["-n", nsC, "link", "set", "x0", "up"]);
    must("ip", ["-n", nsC, "link", "set", "eth0", "up"]);
    must("ip", ["-n", nsC, "addr", "add", `${NET}.10/32`, "dev", "eth0"]);
    const out = await P.start(ctx, res("ip#1", "ip.netns", { ...base, nsdev: "eth0" }));
    expect(out).toEqual({ ipaddr: `${NET}.10`, prefix: 32, nsdev: "eth0", netns_path: pathC, created_veth: false });
    expect(link(nsH, HOST)).toBeUndefined();
    expect(await probeOne(P, ctx, res("ip#1", "ip.netns", base))).toMatchObject({ up: true, outputs: { nsdev: "eth0", created_veth: false } });
    await P.stop(ctx, res("ip#1", "ip.netns", { ...base, nsdev: "eth0" }, out));
    expect(nsAddrs(nsC, "eth0").map((a) => a.local)).toEqual([`${NET}.10`]);
  });

  it("works from a whole node process running inside osvc's namespace (compiled provider)", () => {
    const dist = `${ROOT}dist/providers/ip-netns/provider.js`;
    expect(existsSync(dist), "run `npm run build` first").toBe(true);
    expect(statSync(dist).mtimeMs, "dist/ is older than providers/ip-netns/provider.ts: run `npm run build`").toBeGreaterThanOrEqual(statSync(`${ROOT}providers/ip-netns/provider.ts`).mtimeMs);
    const script = `
      import { ipNetnsProvider as P } from ${JSON.stringify(dist)};
      import { createExec } from ${JSON.stringify(`${ROOT}dist/src/provider/exec.js`)};
      const ctx = { exec: createExec(), log() {}, signal: new AbortController().signal, role: "solo", objectName: "e2e", nodename: "n1", varDir: "/tmp" };
      const r = { rid: "ip#1", driver: "ip.netns", kw: { netns: "container#0", netns_path: process.argv[1], ipname: process.argv[2], ipdev: "br0" } };
      const out = await P.start(ctx, r);
      const [before] = await P.probe(ctx, [{ ...r, recorded: out }]);
      process.stdout.write(JSON.stringify({ out, up: before.up }));
    `;
    const run1 = runNodeInNetns(nsH, script, [pathC, `${NET}.10`]);
    expect(run1.stderr).toBe("");
    expect(run1.rc).toBe(0);
    expect(JSON.parse(run1.stdout)).toEqual({ out: { ipaddr: `${NET}.10`, prefix: 24, nsdev: "eth0", netns_path: pathC, created_veth: true, host_dev: HOST }, up: true });
    expect(link(nsH, HOST)).toMatchObject({ master: "br0" });
    expect(nsAddrs(nsC, "eth0").map((a) => a.local)).toEqual([`${NET}.10`]);
    expect(nsPing(nsH, `${NET}.10`)).toBe(true);
  });
});

describe("ip.netns modes macvlan and ipvlan", () => {
  let nsH: string; // osvc's namespace, holding the parent interface vH
  let nsC: string; // the container's
  let nsN: string; // a neighbour on vH's link
  let pathC: string;

  beforeEach(() => {
    nsH = makeNetns("ipm-h");
    nsC = makeNetns("ipm-c");
    nsN = makeNetns("ipm-n");
    pathC = `/run/netns/${nsC}`;
    vethBetween({ ns: nsH, dev: "vH" }, { ns: nsN, dev: "vN" });
    must("ip", ["-n", nsN, "addr", "add", `${NET4}.1/24`, "dev", "vN"]);
  });

  it("macvlan: creates the sub-interface of ipdev inside the namespace, checks and adds the address, routes, probes, stops", async () => {
    const ctx = nsContext(nsH);
    const r = res("ip#1", "ip.netns", { netns: "container#0", netns_path: pathC, ipname: `${NET4}.10`, ipdev: "vH", netmask: "24", mode: "macvlan", gateway: `${NET4}.1` });
    expect(await probeOne(P, ctx, r)).toEqual({ provisioned: null, up: false });

    const out = await P.start(ctx, r);
    expect(out).toEqual({ ipaddr: `${NET4}.10`, prefix: 24, nsdev: "eth0", netns_path: pathC, created_dev: true });
    expect(ctx.commands).toEqual(
      expect.arrayContaining([
        `ip link add link vH name eth0 netns ${pathC} type macvlan mode bridge`,
        `nsenter --net=${pathC} arping -D -c 2 -w 2 -I eth0 ${NET4}.10`,
        `nsenter --net=${pathC} ip addr add ${NET4}.10/24 dev eth0`,
      ]),
    );
    // independent checks: a macvlan tagged as osvc's, the address, the route, reachable from the neighbour
    expect(link(nsC, "eth0")).toMatchObject({ flags: expect.arrayContaining(["UP"]), ifalias: "osvc:e2e:ip#1", linkinfo: { info_kind: "macvlan" } });
    expect(nsAddrs(nsC, "eth0")).toContainEqual({ ifname: "eth0", family: "inet", local: `${NET4}.10`, prefixlen: 24, label: "eth0" });
    expect(nsDefaultRoutes(nsC)).toContainEqual(expect.objectContaining({ gateway: `${NET4}.1`, dev: "eth0" }));
    expect(nsPing(nsN, `${NET4}.10`)).toBe(true);
    expect(nsLinksJ(nsH).map((l) => l.ifname).sort()).toEqual(["lo", "vH"]); // nothing created in osvc's namespace

    const o = await probeOne(P, ctx, res("ip#1", "ip.netns", r.kw, out));
    expect(o).toMatchObject({ up: true, outputs: { nsdev: "eth0", created_dev: true } });

    // idempotent
    ctx.reset();
    expect(await P.start(ctx, res("ip#1", "ip.netns", r.kw, out))).toEqual(out);
    expect(ctx.commands.filter((c) => c.startsWith("ip link add"))).toEqual([]);

    // an address the neighbour holds is refused, and the macvlan made for it is gone again
    const taken = res("ip#2", "ip.netns", { netns: "container#0", netns_path: pathC, ipname: `${NET4}.1`, ipdev: "vH", netmask: "24", mode: "macvlan" });
    await expect(P.start(ctx, taken)).rejects.toThrow(/10\.231\.4\.1 is already in use on vH/);
    expect(nsLinksJ(nsC).map((l) => l.ifname).sort()).toEqual(["eth0", "lo"]);

    await P.stop(ctx, res("ip#1", "ip.netns", r.kw, out));
    expect(link(nsC, "eth0")).toBeUndefined();
    expect(link(nsH, "vH")).toBeDefined();
    expect(nsPing(nsN, `${NET4}.10`)).toBe(false);
    expect(await probeOne(P, ctx, r)).toMatchObject({ up: false });
    await P.stop(ctx, res("ip#1", "ip.netns", r.kw, out)); // idempotent
  });

  it("switching a resource from bridge to macvlan and back replaces its interface", async () => {
    must("ip", ["-n", nsH, "link", "add", "br0", "type", "bridge"]);
    must("ip", ["-n", nsH, "link", "set", "br0", "up"]);
    const ctx = nsContext(nsH);
    const kw = { netns: "container#0", netns_path: pathC, ipname: `${NET4}.11`, netmask: "24" };
    const b = await P.start(ctx, res("ip#1", "ip.netns", { ...kw, ipdev: "br0", mode: "bridge" }));
    expect(link(nsC, "eth0")?.linkinfo?.info_kind).toBe("veth");
    const m = await P.start(ctx, res("ip#1", "ip.netns", { ...kw, ipdev: "vH", mode: "macvlan" }, b));
    expect(m).toMatchObject({ nsdev: "eth0", created_dev: true });
    expect(link(nsC, "eth0")?.linkinfo?.info_kind).toBe("macvlan");
    expect(link(nsH, HOST)).toBeUndefined(); // the veth pair is gone
    const b2 = await P.start(ctx, res("ip#1", "ip.netns", { ...kw, ipdev: "br0", mode: "bridge" }, m));
    expect(b2).toMatchObject({ nsdev: "eth0", created_veth: true, host_dev: HOST });
    expect(link(nsC, "eth0")?.linkinfo?.info_kind).toBe("veth");
    expect(nsLinksJ(nsC).filter((l) => l.linkinfo?.info_kind === "macvlan")).toEqual([]);
    await P.stop(ctx, res("ip#1", "ip.netns", { ...kw, ipdev: "br0", mode: "bridge" }, b2));
    expect(nsLinksJ(nsC).map((l) => l.ifname)).toEqual(["lo"]);
  });

  it("ipvlan: runs where the kernel has the driver, else says so and leaves nothing", async () => {
    const ctx = nsContext(nsH);
    const r = res("ip#1", "ip.netns", { netns: "container#0", netns_path: pathC, ipname: `${NET4}.10`, ipdev: "vH", netmask: "24", mode: "ipvlan-l2" });
    const probeKernel = sh("ip", ["-n", nsH, "link", "add", "link", "vH", "name", "ivtest", "type", "ipvlan", "mode", "l2"]);
    if (probeKernel.rc === 0) {
      must("ip", ["-n", nsH, "link", "del", "ivtest"]);
      const out = await P.start(ctx, r);
      expect(out).toMatchObject({ nsdev: "eth0", created_dev: true });
      expect(link(nsC, "eth0")?.linkinfo?.info_kind).toBe("ipvlan");
      expect(nsPing(nsN, `${NET4}.10`)).toBe(true);
      await P.stop(ctx, res("ip#1", "ip.netns", r.kw, out));
    } else {
      expect(probeKernel.stderr).toMatch(/Unknown device type/);
      await expect(P.start(ctx, r)).rejects.toThrow(/this kernel has no ipvlan driver: cannot create eth0 over vH/);
    }
    expect(nsLinksJ(nsC).map((l) => l.ifname)).toEqual(["lo"]);
  });

  it("refuses dedicated and ovs with the reason, at probe and at start", async () => {
    const ctx = nsContext(nsH);
    for (const [mode, why] of [
      ["dedicated", /mode dedicated is not supported here/],
      ["ovs", /openvswitch is not installed/],
    ] as const) {
      const r = res("ip#1", "ip.netns", { netns: "container#0", netns_path: pathC, ipname: `${NET4}.10`, ipdev: "vH", mode });
      const o = await probeOne(P, ctx, r);
      expect(o.problems?.[0]).toMatchObject({ level: "error", message: expect.stringMatching(why) });
      await expect(P.start(ctx, r)).rejects.toThrow(why);
    }
    const noDev = res("ip#1", "ip.netns", { netns: "container#0", netns_path: pathC, ipname: `${NET4}.10`, mode: "macvlan" });
    await expect(P.start(ctx, noDev)).rejects.toThrow(/mode macvlan needs ipdev/);
    expect(nsLinksJ(nsC).map((l) => l.ifname)).toEqual(["lo"]);
  });
});
