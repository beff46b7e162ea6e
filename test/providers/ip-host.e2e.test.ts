// ip.host against real network namespaces: the provider "runs" inside namespace A (every command
// through `ip netns exec A`), ipdev is one end of a veth pair whose other end is in namespace B (a
// neighbour on the same link). The host's own namespace is never touched: checked after each test.
import { existsSync, statSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { choosePrefix, freeLabel, ipHostProvider as P, parseIpAddrJson } from "../../providers/ip-host/provider.js";
import { ipLiteral, netmaskToPrefix } from "../../providers/ip-host/spec.js";
import { ProviderError } from "../../src/provider/api.js";
import type { Exec } from "../../src/provider/exec.js";
import { ROOT } from "../helpers/cli.js";
import { probeOne, res } from "../helpers/host.js";
import { makeNetns, must, netnsCleanup, nsAddrs, nsContext, nsDefaultRoutes, nsExec, nsPing, rootLeaks, runNodeInNetns, vethBetween } from "../helpers/netns.js";

const NET = "10.231.1";
const TEST_ADDRS = [`${NET}.1`, `${NET}.2`, `${NET}.10`, `${NET}.11`, `${NET}.12`, `${NET}.20`, "fd00:231::10"];

afterEach(() => {
  expect(netnsCleanup.run()).toEqual([]);
  expect(rootLeaks(TEST_ADDRS)).toEqual([]);
});

describe("ip.host keyword readers", () => {
  it("reads netmasks and address literals", () => {
    expect(netmaskToPrefix("24", 4)).toBe(24);
    expect(netmaskToPrefix("/26", 4)).toBe(26);
    expect(netmaskToPrefix("255.255.255.0", 4)).toBe(24);
    expect(netmaskToPrefix("255.255.255.255", 4)).toBe(32);
    expect(netmaskToPrefix("0.0.0.0", 4)).toBe(0);
    expect(netmaskToPrefix("64", 6)).toBe(64);
    expect(() => netmaskToPrefix("255.0.255.0", 4)).toThrow(/not a contiguous mask/);
    expect(() => netmaskToPrefix("33", 4)).toThrow(/0\.\.32/);
    expect(() => netmaskToPrefix("255.255.0.0", 6)).toThrow(/neither/);
    expect(ipLiteral("10.0.0.1")).toEqual({ addr: "10.0.0.1", family: 4 });
    expect(ipLiteral("FD00:0:0::0001")).toEqual({ addr: "fd00::1", family: 6 });
    expect(ipLiteral("db.example.com")).toBeUndefined();
  });

  it("parses ip -j addr, picks the default prefix and a free label", () => {
    const links = parseIpAddrJson(
      JSON.stringify([
        { ifindex: 1, ifname: "lo", flags: ["LOOPBACK", "UP"], addr_info: [{ family: "inet", local: "127.0.0.1", prefixlen: 8, scope: "host", label: "lo" }] },
        {
          ifindex: 2,
          ifname: "eth0",
          flags: ["UP", "LOWER_UP"],
          addr_info: [
            { family: "inet", local: "10.0.0.5", prefixlen: 24, scope: "global", label: "eth0" },
            { family: "inet", local: "10.0.0.6", prefixlen: 24, scope: "global", label: "eth0:1" },
            { family: "inet6", local: "fe80::1", prefixlen: 64, scope: "link" },
          ],
        },
      ]),
    );
    expect(parseIpAddrJson("")).toEqual([]);
    const eth0 = links[1];
    expect(eth0.addrs.map((a) => `${a.local}/${a.prefixlen}`)).toEqual(["10.0.0.5/24", "10.0.0.6/24", "fe80::1/64"]);
    expect(choosePrefix(undefined, { addr: "10.0.0.9", family: 4 }, eth0)).toBe(24);
    expect(choosePrefix(undefined, { addr: "fd00::9", family: 6 }, eth0)).toBe(128); // link-local does not count
    expect(choosePrefix(undefined, { addr: "10.0.0.9", family: 4 }, links[0])).toBe(32); // host scope does not count
    expect(choosePrefix("255.255.0.0", { addr: "10.0.0.9", family: 4 }, eth0)).toBe(16);
    expect(freeLabel(eth0)).toBe("eth0:2");
    expect(freeLabel({ ifname: "averylongname12", ifindex: 3, flags: [], addrs: [] })).toBeUndefined();
  });
});

describe("ip.host in a network namespace", () => {
  let nsA: string; // where osvc runs
  let nsB: string; // a neighbour on the same link

  beforeEach(() => {
    nsA = makeNetns("iph-a");
    nsB = makeNetns("iph-b");
    vethBetween({ ns: nsA, dev: "vA" }, { ns: nsB, dev: "vB" });
    must("ip", ["-n", nsA, "addr", "add", `${NET}.1/24`, "dev", "vA"]);
    must("ip", ["-n", nsB, "addr", "add", `${NET}.2/24`, "dev", "vB"]);
  });

  it("checks availability, adds, announces, probes and removes the address", async () => {
    const ctx = nsContext(nsA);
    const r = res("ip#1", "ip.host", { ipname: `${NET}.10`, ipdev: "vA", netmask: "24", check_carrier: true, alias: true });

    expect(await probeOne(P, ctx, r)).toEqual({ provisioned: null, up: false });

    const t0 = performance.now();
    const out = await P.start(ctx, r);
    const startMs = performance.now() - t0;
    expect(out).toEqual({ ipaddr: `${NET}.10`, prefix: 24, ipdev: "vA" });
    // the seed's sequence: availability check, add with an alias label, gratuitous ARP
    expect(ctx.logs).toContainEqual({ level: "info", message: `checking ${NET}.10 availability` });
    expect(ctx.commands).toEqual(
      expect.arrayContaining([
        `arping -D -c 2 -w 2 -I vA ${NET}.10`,
        `ip addr add ${NET}.10/24 dev vA label vA:1`,
        `arping -U -c 1 -I vA -s ${NET}.10 ${NET}.10`,
      ]),
    );
    expect(ctx.commands.indexOf(`arping -D -c 2 -w 2 -I vA ${NET}.10`)).toBeLessThan(ctx.commands.indexOf(`ip addr add ${NET}.10/24 dev vA label vA:1`));
    // independent checks
    expect(nsAddrs(nsA, "vA")).toContainEqual({ ifname: "vA", family: "inet", local: `${NET}.10`, prefixlen: 24, label: "vA:1" });
    expect(nsPing(nsB, `${NET}.10`)).toBe(true);
    expect(ctx.logs.filter((l) => l.level !== "info")).toEqual([]);

    const rec = res(r.rid, r.driver, r.kw, out);
    expect(await probeOne(P, ctx, rec)).toEqual({ provisioned: null, up: true, outputs: { ipaddr: `${NET}.10`, prefix: 24, ipdev: "vA" } });

    // start again: nothing to do, no arping, no add
    ctx.reset();
    expect(await P.start(ctx, rec)).toEqual(out);
    expect(ctx.commands.filter((c) => c.startsWith("arping") || c.startsWith("ip addr add"))).toEqual([]);
    expect(ctx.logs).toContainEqual({ level: "info", message: `${NET}.10 is already up on vA` });

    ctx.reset();
    await P.stop(ctx, rec);
    expect(ctx.commands).toContain(`ip addr del ${NET}.10/24 dev vA`);
    expect(nsAddrs(nsA, "vA").map((a) => a.local)).toEqual([`${NET}.1`]);
    expect(nsPing(nsB, `${NET}.10`)).toBe(false);
    expect(await probeOne(P, ctx, rec)).toEqual({ provisioned: null, up: false });
    await P.stop(ctx, rec); // already down: success
    await P.unprovision(ctx, rec);

    // A literal ipname has no provisioner: provision is start (leaves it up), unprovision is stop
    // (ipname = <allocate> allocates first: test/e2e/allocate.e2e.test.ts).
    expect(await P.provision(ctx, rec)).toEqual(out);
    expect(nsAddrs(nsA, "vA").map((a) => a.local)).toEqual([`${NET}.1`, `${NET}.10`]);
    await P.unprovision(ctx, rec);
    expect(nsAddrs(nsA, "vA").map((a) => a.local)).toEqual([`${NET}.1`]);
    console.log(`[ip.host] start with arping -D/-U: ${Math.round(startMs)} ms`);
  });

  it("refuses an address a neighbour answers for, and adds nothing", async () => {
    must("ip", ["-n", nsB, "addr", "add", `${NET}.20/24`, "dev", "vB"]);
    const ctx = nsContext(nsA);
    const r = res("ip#1", "ip.host", { ipname: `${NET}.20`, ipdev: "vA", netmask: "24" });
    const err = await P.start(ctx, r).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).message).toMatch(new RegExp(`^${NET.replace(/\./g, "\\.")}\\.20 is already in use on vA \\(answered ARP from [0-9A-F:]+\\)$`));
    expect(ctx.logs).toContainEqual({ level: "info", message: `checking ${NET}.20 availability` });
    expect(ctx.commands.filter((c) => c.startsWith("ip addr add"))).toEqual([]);
    expect(nsAddrs(nsA, "vA").map((a) => a.local)).toEqual([`${NET}.1`]);
    expect(await probeOne(P, ctx, r)).toMatchObject({ provisioned: null, up: false });
  });

  it("batches the probe and derives the prefix: netmask, else the device's, else /32", async () => {
    must("ip", ["-n", nsA, "link", "add", "vC", "type", "veth", "peer", "name", "vD"]);
    must("ip", ["-n", nsA, "link", "set", "vC", "up"]);
    must("ip", ["-n", nsA, "link", "set", "vD", "up"]);
    const ctx = nsContext(nsA);
    const rs = [
      res("ip#1", "ip.host", { ipname: `${NET}.10`, ipdev: "vA" }), // /24 from 10.231.1.1/24
      res("ip#2", "ip.host", { ipname: `${NET}.11`, ipdev: "vA", netmask: "255.255.255.128" }),
      res("ip#3", "ip.host", { ipname: "10.231.9.1", ipdev: "vC" }), // no address on vC: /32
    ];
    // all three together (each waits ~3 s for arping); ip#1 and ip#2 share vA
    const outs = await Promise.all(rs.map((r) => P.start(ctx, r)));
    expect(outs.map((o) => o.prefix)).toEqual([24, 25, 32]);
    expect(nsAddrs(nsA, "vA").map((a) => `${a.local}/${a.prefixlen}`).sort()).toEqual([`${NET}.1/24`, `${NET}.10/24`, `${NET}.11/25`]);
    expect(nsAddrs(nsA, "vC").map((a) => `${a.local}/${a.prefixlen}`)).toEqual(["10.231.9.1/32"]);
    // started in parallel, the two addresses on vA still get distinct labels
    const labels = Object.fromEntries(nsAddrs(nsA, "vA").map((a) => [a.local, a.label]));
    expect(labels[`${NET}.1`]).toBe("vA");
    expect([labels[`${NET}.10`], labels[`${NET}.11`]].sort()).toEqual(["vA:1", "vA:2"]);

    ctx.reset();
    const obs = await P.probe(ctx, [...rs, res("ip#4", "ip.host", { ipname: `${NET}.12`, ipdev: "vA" })]);
    expect(obs.map((o) => o.up)).toEqual([true, true, true, false]);
    expect(obs.map((o) => o.outputs?.prefix)).toEqual([24, 25, 32, undefined]);
    expect(ctx.commands).toEqual(["ip -j addr show"]);

    for (const r of rs) await P.stop(ctx, r);
    expect(nsAddrs(nsA, "vA").map((a) => a.local)).toEqual([`${NET}.1`]);
    expect(nsAddrs(nsA, "vC")).toEqual([]);
  });

  it("replaces the address when the prefix changes", async () => {
    must("ip", ["-n", nsA, "addr", "add", `${NET}.10/32`, "dev", "vA"]);
    const ctx = nsContext(nsA);
    const r = res("ip#1", "ip.host", { ipname: `${NET}.10`, ipdev: "vA", netmask: "24", alias: false });
    expect(await probeOne(P, ctx, r)).toMatchObject({ up: false });
    await P.start(ctx, r);
    expect(ctx.commands.filter((c) => c.startsWith("arping -D"))).toEqual([]); // held already: no DAD
    expect(ctx.commands).toContain(`ip addr add ${NET}.10/24 dev vA`);
    expect(nsAddrs(nsA, "vA").map((a) => `${a.local}/${a.prefixlen}`)).toEqual([`${NET}.1/24`, `${NET}.10/24`]);
    expect(await probeOne(P, ctx, r)).toMatchObject({ up: true });
    await P.stop(ctx, r);
  });

  it("reports a missing ipdev, no carrier, an unresolvable name, an address held by another device", async () => {
    const ctx = nsContext(nsA);
    const [missing, unresolved, loName] = await P.probe(ctx, [
      res("ip#1", "ip.host", { ipname: `${NET}.10`, ipdev: "nosuch0" }),
      res("ip#2", "ip.host", { ipname: "no-such-host.invalid", ipdev: "vA" }),
      res("ip#3", "ip.host", { ipname: "", ipdev: "vA" }),
    ]);
    expect(missing).toMatchObject({ provisioned: null, up: false, problems: [{ level: "error", message: "ipdev nosuch0 does not exist" }] });
    expect(unresolved.problems?.[0]).toMatchObject({ level: "error", message: expect.stringMatching(/cannot resolve ipname no-such-host\.invalid/) });
    expect(loName.problems?.[0]).toMatchObject({ level: "error", message: "ip#3: ipname is not set" });
    await expect(P.start(ctx, res("ip#1", "ip.host", { ipname: `${NET}.10`, ipdev: "nosuch0" }))).rejects.toThrow("ipdev nosuch0 does not exist");

    // localhost resolves (getent ahostsv4) to 127.0.0.1, which lo holds
    await expect(P.start(ctx, res("ip#1", "ip.host", { ipname: "localhost", ipdev: "vA" }))).rejects.toThrow("127.0.0.1 is already configured on lo");

    // no carrier: the peer is down
    must("ip", ["-n", nsB, "link", "set", "vB", "down"]);
    const r = res("ip#1", "ip.host", { ipname: `${NET}.10`, ipdev: "vA", netmask: "24" });
    expect((await probeOne(P, ctx, r)).problems).toEqual([{ level: "warning", keyword: "ipdev", message: "vA has no carrier", hint: expect.any(String) }]);
    await expect(P.start(ctx, r)).rejects.toThrow("vA has no carrier");
    expect(nsAddrs(nsA, "vA").map((a) => a.local)).toEqual([`${NET}.1`]);
    // check_carrier = false: added without the availability check, with a warning
    const nc = res("ip#1", "ip.host", { ipname: `${NET}.10`, ipdev: "vA", netmask: "24", check_carrier: false });
    await P.start(ctx, nc);
    expect(ctx.logs).toContainEqual({ level: "warning", message: `vA has no carrier: ${NET}.10 availability not checked (check_carrier = false)` });
    expect(nsAddrs(nsA, "vA").map((a) => a.local)).toContain(`${NET}.10`);
    expect(await probeOne(P, ctx, nc)).toMatchObject({ up: true });
    await P.stop(ctx, nc);
    expect(nsAddrs(nsA, "vA").map((a) => a.local)).toEqual([`${NET}.1`]);
  });

  it("fails with a clear hint when arping is missing", async () => {
    const inner = nsExec(nsA);
    const exec: Exec = (file, args, opts) => inner(file === "arping" ? "arping-not-installed" : file, args, opts);
    const ctx = nsContext(nsA, { exec });
    const err = (await P.start(ctx, res("ip#1", "ip.host", { ipname: `${NET}.10`, ipdev: "vA", netmask: "24" })).catch((e: unknown) => e)) as ProviderError;
    expect(err).toBeInstanceOf(ProviderError);
    expect(err.message).toBe(`arping is not installed: cannot check that ${NET}.10 is free before adding it`);
    expect(err.hint).toMatch(/apt-get install iputils-arping/);
    expect(nsAddrs(nsA, "vA").map((a) => a.local)).toEqual([`${NET}.1`]);
  });

  it("adds a default route via gateway only when there is none, and removes only its own", async () => {
    const ctx = nsContext(nsA);
    const r = res("ip#1", "ip.host", { ipname: `${NET}.10`, ipdev: "vA", netmask: "24", gateway: `${NET}.2` });
    const out = await P.start(ctx, r);
    expect(out).toEqual({ ipaddr: `${NET}.10`, prefix: 24, ipdev: "vA", gateway_added: true });
    expect(nsDefaultRoutes(nsA)).toMatchObject([{ gateway: `${NET}.2`, dev: "vA" }]);
    const rec = res(r.rid, r.driver, r.kw, out);
    expect(await probeOne(P, ctx, rec)).toMatchObject({ up: true, outputs: { gateway_added: true } });
    expect(await P.start(ctx, rec)).toEqual(out); // idempotent, keeps the record
    await P.stop(ctx, rec);
    expect(nsDefaultRoutes(nsA)).toEqual([]);
    expect(nsAddrs(nsA, "vA").map((a) => a.local)).toEqual([`${NET}.1`]);

    // someone else's default route: left alone, with a warning, and kept at stop
    must("ip", ["-n", nsA, "route", "add", "default", "via", `${NET}.3`, "dev", "vA"]);
    ctx.reset();
    const out2 = await P.start(ctx, r);
    expect(out2.gateway_added).toBeUndefined();
    expect(ctx.logs.some((l) => l.level === "warning" && l.message.includes(`gateway ${NET}.2 not applied`))).toBe(true);
    await P.stop(ctx, res(r.rid, r.driver, r.kw, out2));
    expect(nsDefaultRoutes(nsA)).toMatchObject([{ gateway: `${NET}.3`, dev: "vA" }]);
  });

  it("handles an IPv6 address (no arping: the kernel does duplicate address detection)", async () => {
    const ctx = nsContext(nsA);
    const r = res("ip#1", "ip.host", { ipname: "fd00:231:0::10", ipdev: "vA", netmask: "64" });
    const out = await P.start(ctx, r);
    expect(out).toEqual({ ipaddr: "fd00:231::10", prefix: 64, ipdev: "vA" });
    expect(ctx.commands.filter((c) => c.startsWith("arping"))).toEqual([]);
    expect(nsAddrs(nsA, "vA")).toContainEqual({ ifname: "vA", family: "inet6", local: "fd00:231::10", prefixlen: 64 });
    expect(await probeOne(P, ctx, r)).toMatchObject({ up: true });
    await P.stop(ctx, r);
    expect(nsAddrs(nsA, "vA").filter((a) => a.family === "inet6")).toEqual([]);
  });

  it("hands the announce to the engine's background work: the address is up before arping's idle second ends", async () => {
    // A stale neighbour entry with a wrong MAC on the peer: only the gratuitous ARP fixes it.
    must("ip", ["-n", nsB, "neigh", "replace", `${NET}.10`, "lladdr", "02:00:00:00:00:99", "dev", "vB", "nud", "stale"]);
    const work: Promise<void>[] = [];
    const ctx = { ...nsContext(nsA), background: (w: Promise<void>) => void work.push(w) };
    const r = res("ip#1", "ip.host", { ipname: `${NET}.10`, ipdev: "vA", netmask: "24" });
    await P.start(ctx, r);
    expect(work).toHaveLength(1);
    let announced = false;
    void work[0].then(() => (announced = true));
    await new Promise((done) => setImmediate(done));
    expect(announced).toBe(false); // arping -U is still idling: start did not wait for it
    expect(nsAddrs(nsA, "vA").map((a) => a.local)).toContain(`${NET}.10`);
    await Promise.all(work);
    expect(ctx.commands).toContain(`arping -U -c 1 -I vA -s ${NET}.10 ${NET}.10`);
    const mac = (JSON.parse(must("ip", ["-n", nsA, "-j", "link", "show", "vA"])) as { address: string }[])[0].address;
    const neigh = JSON.parse(must("ip", ["-n", nsB, "-j", "neigh", "show", `${NET}.10`, "dev", "vB"])) as { lladdr?: string }[];
    expect(neigh[0]?.lladdr).toBe(mac);
    await P.stop(ctx, r);
  });

  it("works from a whole node process running inside the namespace (compiled provider)", () => {
    const dist = `${ROOT}dist/providers/ip-host/provider.js`;
    expect(existsSync(dist), "run `npm run build` first").toBe(true);
    expect(statSync(dist).mtimeMs, "dist/ is older than providers/ip-host/provider.ts: run `npm run build`").toBeGreaterThanOrEqual(statSync(`${ROOT}providers/ip-host/provider.ts`).mtimeMs);
    const script = `
      import { ipHostProvider as P } from ${JSON.stringify(dist)};
      import { createExec } from ${JSON.stringify(`${ROOT}dist/src/provider/exec.js`)};
      const commands = [];
      const exec = createExec((ev) => { if (!ev.result) commands.push(ev.command); });
      const logs = [];
      const ctx = { exec, log: (level, message) => logs.push(level + " " + message), signal: new AbortController().signal, role: "solo", objectName: "e2e", nodename: "n1", varDir: "/tmp" };
      const r = { rid: "ip#1", driver: "ip.host", kw: { ipname: process.argv[1], ipdev: "vA", netmask: "24" } };
      const out = await P.start(ctx, r);
      const [up] = await P.probe(ctx, [{ ...r, recorded: out }]);
      process.stdout.write(JSON.stringify({ out, up, logs, commands }));
    `;
    const res1 = runNodeInNetns(nsA, script, [`${NET}.10`]);
    expect(res1.stderr).toBe("");
    expect(res1.rc).toBe(0);
    const got = JSON.parse(res1.stdout) as { out: unknown; up: { up: boolean }; logs: string[]; commands: string[] };
    expect(got.out).toEqual({ ipaddr: `${NET}.10`, prefix: 24, ipdev: "vA" });
    expect(got.up.up).toBe(true);
    expect(got.logs).toContain(`info checking ${NET}.10 availability`);
    expect(got.commands).toContain(`arping -U -c 1 -I vA -s ${NET}.10 ${NET}.10`);
    expect(nsAddrs(nsA, "vA").map((a) => a.local)).toContain(`${NET}.10`);
    expect(nsPing(nsB, `${NET}.10`)).toBe(true);
  });
});
