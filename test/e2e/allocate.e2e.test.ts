// ipname = <allocate> end to end on one host (issue 11 items 1 and 2): osvc runs inside a test
// namespace (nsenter --net) whose bridge br0 is the segment; a neighbour namespace plugged into the
// bridge holds one address of the network. Checked with independent commands (ip -n NS -j addr,
// the installed config file, the allocation record files), re-planned to no changes, and destroyed
// back to the marker.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { BIN } from "../helpers/cli.js";
import { sandbox, type Sandbox } from "../helpers/e2e.js";
import { sh } from "../helpers/host.js";
import { makeNetns, must, netnsCleanup, nsAddrs, rootLeaks } from "../helpers/netns.js";

const NET = "10.231.77";
const ADDRS = [`${NET}.1`, `${NET}.2`, `${NET}.3`, `${NET}.4`, `${NET}.5`];

afterEach(() => {
  expect(netnsCleanup.run()).toEqual([]);
  expect(rootLeaks(ADDRS)).toEqual([]);
});

/** The segment: namespace `ns` (where osvc runs) with bridge br0, and a neighbour holding NET.3 on it. */
function segment(): { ns: string; neighbour: string } {
  const ns = makeNetns("al");
  const neighbour = makeNetns("aln");
  must("ip", ["-n", ns, "link", "add", "br0", "type", "bridge"]);
  must("ip", ["-n", ns, "link", "set", "br0", "up"]);
  must("ip", ["-n", ns, "link", "add", "vnb", "type", "veth", "peer", "name", "eth0", "netns", neighbour]);
  must("ip", ["-n", ns, "link", "set", "vnb", "master", "br0", "up"]);
  must("ip", ["-n", neighbour, "link", "set", "eth0", "up"]);
  must("ip", ["-n", neighbour, "addr", "add", `${NET}.3/24`, "dev", "eth0"]);
  return { ns, neighbour };
}

/** The same, asynchronous (two runs at once). */
function osvcInAsync(ns: string, sb: Sandbox, args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("nsenter", [`--net=/run/netns/${ns}`, process.execPath, BIN, ...args, "--root", sb.root, "--color", "never"], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

function osvcIn(ns: string, sb: Sandbox, args: string[]) {
  const r = sh("nsenter", [`--net=/run/netns/${ns}`, process.execPath, BIN, ...args, "--root", sb.root, "--color", "never"]);
  return { code: r.rc, out: `${r.stdout}\n${r.stderr}` };
}

/** A template whose ip#0 allocates and cascades the address into [env] addr, which fs#0's path references. */
function template(sb: Sandbox, name: string, network = `${NET}.0/24`): string {
  return sb.write(
    `${name}.conf`,
    `[env]
base = ${sb.at(name)}
addr =

[ip#0]
type = host
ipdev = br0
ipname = <allocate>
network = ${network}
cascade_allocation = env.addr

[fs#0]
type = directory
path = {env.base}/{env.addr}
`,
  );
}

const installed = (sb: Sandbox, name: string) => readFileSync(path.join(sb.objectDir(name), "config.conf"), "utf8");
const records = (sb: Sandbox) => (existsSync(path.join(sb.root, "alloc")) ? readdirSync(path.join(sb.root, "alloc")).sort() : []);
const addrsOn = (ns: string) => nsAddrs(ns, "br0").filter((a) => a.family === "inet").map((a) => a.local).sort();

describe("ipname = <allocate> on one host", () => {
  it("first free address after the gateway, the next one for a second object, a neighbour's skipped; re-plan clean; destroy gives the marker back", (ctx) => {
    const sb = sandbox(ctx, "osvc-t-alloc-");
    const { ns } = segment();
    const id = path.basename(sb.dir).replace(/[^a-z0-9]/gi, "").toLowerCase().slice(-6);
    const [a, b] = [`al${id}a`, `al${id}b`];
    const fa = template(sb, a);
    // The second one names the segment's network of the node config (<root>/node.conf).
    mkdirSync(sb.root, { recursive: true });
    writeFileSync(path.join(sb.root, "node.conf"), `[node]\nenv = TST\n\n[network#seg]\ntype = bridge\nnetwork = ${NET}.0/24\n`);
    const fb = template(sb, b, "seg");
    const userText = readFileSync(fa, "utf8");

    let r = osvcIn(ns, sb, ["apply", fa, "--auto-approve"]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`allocated ${NET}.2 in ${NET}.0/24`);
    // The installed config holds the address, the filled netmask and gateway, and the cascaded value.
    const conf = installed(sb, a);
    expect(conf).toMatch(new RegExp(`^ipname = ${NET}\\.2$`, "m"));
    expect(conf).toMatch(/^netmask = 24$/m);
    expect(conf).toMatch(new RegExp(`^gateway = ${NET}\\.1$`, "m"));
    expect(conf).toMatch(new RegExp(`^addr = ${NET}\\.2$`, "m"));
    // The user's template is not rewritten; the later resource saw the cascaded value.
    expect(readFileSync(fa, "utf8")).toBe(userText);
    expect(existsSync(sb.at(`${a}/${NET}.2`))).toBe(true);
    expect(addrsOn(ns)).toEqual([`${NET}.2`]);
    expect(records(sb)).toEqual([`ip_${NET}.0_24_${NET}.2`]);

    // Re-plan of the template file and of the installed object: no changes.
    r = osvcIn(ns, sb, ["plan", fa, "--detailed-exitcode"]);
    expect(r.code, r.out).toBe(0);
    // The template installed again as is (<allocate>), then provisioned: the address it holds, not a second one.
    r = osvcIn(ns, sb, [a, "create", "--config", fa, "--force"]);
    expect(r.code, r.out).toBe(0);
    expect(installed(sb, a)).toMatch(/^ipname = <allocate>$/m);
    r = osvcIn(ns, sb, [a, "provision"]);
    expect(r.code, r.out).toBe(0);
    expect(installed(sb, a)).toMatch(new RegExp(`^ipname = ${NET}\\.2$`, "m"));
    expect(addrsOn(ns)).toEqual([`${NET}.2`]);
    expect(records(sb)).toEqual([`ip_${NET}.0_24_${NET}.2`]);

    // The second object skips NET.3 (the neighbour answers ARP) and gets NET.4.
    r = osvcIn(ns, sb, ["apply", fb, "--auto-approve"]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`${NET}.3 answers on br0: skipped`);
    expect(installed(sb, b)).toMatch(new RegExp(`^ipname = ${NET}\\.4$`, "m"));
    expect(addrsOn(ns)).toEqual([`${NET}.2`, `${NET}.4`]);
    expect(records(sb)).toEqual([`ip_${NET}.0_24_${NET}.2`, `ip_${NET}.0_24_${NET}.4`]);
    r = osvcIn(ns, sb, ["plan", fb, "--detailed-exitcode"]);
    expect(r.code, r.out).toBe(0);

    // Destroy: the address and the record go, the installed config says <allocate> again.
    for (const o of [b, a]) {
      r = osvcIn(ns, sb, ["destroy", o, "--auto-approve"]);
      expect(r.code, r.out).toBe(0);
      const after = installed(sb, o);
      expect(after).toMatch(/^ipname = <allocate>$/m);
      expect(after).not.toMatch(/^netmask|^gateway/m);
      expect(after).toMatch(/^addr =\s*$/m);
    }
    expect(addrsOn(ns)).toEqual([]);
    expect(records(sb)).toEqual([]);
    expect(existsSync(sb.at(`${a}/${NET}.2`))).toBe(false);
  }, 180_000);

  it("two objects applied at the same time get two addresses (the records are create-if-absent)", async (ctx) => {
    const sb = sandbox(ctx, "osvc-t-alloc-");
    const { ns } = segment();
    const id = path.basename(sb.dir).replace(/[^a-z0-9]/gi, "").toLowerCase().slice(-6);
    const names = [`al${id}c`, `al${id}d`];
    const runs = await Promise.all(names.map((n) => osvcInAsync(ns, sb, ["apply", template(sb, n), "--auto-approve"])));
    for (const r of runs) expect(r.code, r.out).toBe(0);
    const got = names.map((n) => /^ipname = (\S+)$/m.exec(installed(sb, n))?.[1]).sort();
    expect(got).toEqual([`${NET}.2`, `${NET}.4`]);
    expect(addrsOn(ns)).toEqual([`${NET}.2`, `${NET}.4`]);
    for (const n of names) expect(osvcIn(ns, sb, ["destroy", n, "--auto-approve"]).code).toBe(0);
    expect(addrsOn(ns)).toEqual([]);
    expect(records(sb)).toEqual([]);
  }, 180_000);

  it("a provision that fails after the allocation gives the address and the config back", (ctx) => {
    const sb = sandbox(ctx, "osvc-t-alloc-");
    const { ns } = segment();
    const name = `al${path.basename(sb.dir).replace(/[^a-z0-9]/gi, "").toLowerCase().slice(-6)}f`;
    // A veth whose peer is down has no carrier: the address is allocated (arping gets no answer),
    // written back, then start refuses (check_carrier).
    must("ip", ["-n", ns, "link", "add", "v1", "type", "veth", "peer", "name", "v1p"]);
    must("ip", ["-n", ns, "link", "set", "v1", "up"]);
    const f = sb.write(`${name}.conf`, `[ip#0]\ntype = host\nipdev = v1\nipname = <allocate>\nnetwork = ${NET}.0/24\n`);
    const r = osvcIn(ns, sb, ["apply", f, "--auto-approve"]);
    expect(r.code, r.out).not.toBe(0);
    expect(r.out).toContain(`allocated ${NET}.2`);
    expect(r.out).toMatch(/v1 has no carrier/);
    expect(installed(sb, name)).toMatch(/^ipname = <allocate>$/m);
    expect(records(sb)).toEqual([]);
  }, 120_000);
});
