// <allocate> without a host: validate's positioned diagnostics, the write-back edits and their replay
// over a template, the IPv4 network reader.
import { describe, expect, it } from "vitest";
import { foldEdits, overlayWriteBacks, recordedWriteBacks } from "../../src/apply/writeback.js";
import { applyPatch } from "../../src/config/patch.js";
import { formatEdit, parseCascadeTarget, parseEdit } from "../../src/core/patch.js";
import { parseCidr } from "../../providers/ip-host/network.js";
import { runCli } from "../helpers/cli.js";
import { sandbox } from "../helpers/e2e.js";
import type { StateFile } from "../../src/state/model.js";

describe("<allocate> at validate", () => {
  it("says where: no network, a bad CIDR, a malformed or unknown cascade target", (ctx) => {
    const sb = sandbox(ctx, "osvc-t-allocv-");
    const f = sb.write(
      "v.conf",
      `[env]
addr =

[ip#0]
type = host
ipdev = br0
ipname = <allocate>
cascade_allocation = ip#1.ipnme env.nope ip#7.ipname bogus env.addr

[ip#1]
type = host
ipdev = br0
ipname = <allocate>
network = 10.1.2.3/24

[ip#2]
type = host
ipdev = br0
ipname = <allocate>
network = 10.1.0.0/33
`,
    );
    const r = runCli(["validate", f, "--color", "never"]);
    expect(r.code).toBe(1);
    const lines = r.stderr.split("\n").filter((l) => l.startsWith(f));
    expect(lines).toEqual([
      `${f}:7:10: error E2029: ipname = <allocate> needs network, the subnet to allocate from`,
      `${f}:8:22: error E2029: cascade_allocation "bogus" is not <rid>.<keyword>[@scope]`,
      `${f}:8:22: error E2034: ip#0: cascade_allocation ip#1.ipnme: ip.host has no keyword ipnme`,
      `${f}:8:22: error E2034: ip#0: cascade_allocation env.nope: [env] has no key nope`,
      `${f}:8:22: error E2034: ip#0: cascade_allocation ip#7.ipname: no section [ip#7] in this template`,
      `${f}:14:11: error E2029: network 10.1.2.3/24 has host bits set`,
      `${f}:20:11: error E2029: network "10.1.0.0/33" is not an IPv4 network in CIDR form with a prefix length of 0..30`,
    ]);
    expect(r.stderr).toContain("hint: Did you mean ip#1.ipname?");
    expect(r.stderr).toContain("hint: use network = 10.1.2.0/24");
  });

  it("a well-formed <allocate> validates clean", (ctx) => {
    const sb = sandbox(ctx, "osvc-t-allocv-");
    const f = sb.write("ok.conf", `[env]\naddr =\n\n[ip#0]\ntype = host\nipdev = br0\nipname = <allocate>\nnetwork = 10.1.0.0/24\ncascade_allocation = env.addr ip#1.ipname\n\n[ip#1]\ntype = host\nipdev = br1\n`);
    const r = runCli(["validate", f, "--color", "never"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});

describe("network = <name> of the node config", () => {
  it("a bridge network gives its subnet; a name without a subnet, or one that is not a CIDR, is an error at the keyword", (ctx) => {
    const sb = sandbox(ctx, "osvc-t-allocv-");
    const nc = sb.write("node.conf", "[node]\nenv = TST\n\n[network#lan]\ntype = bridge\nnetwork = 10.42.0.0/24\n\n[network#empty]\ntype = bridge\n");
    const ok = sb.write("ok.conf", "[ip#0]\ntype = host\nipdev = br0\nipname = <allocate>\nnetwork = lan\n");
    const r = runCli(["render", ok, "--node-config", nc, "--color", "never"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^network = 10\.42\.0\.0\/24$/m);
    const bad = sb.write("bad.conf", "[ip#1]\ntype = host\nipdev = br0\nipname = <allocate>\nnetwork = empty\n\n[ip#2]\ntype = host\nipdev = br0\nipname = <allocate>\nnetwork = nosuch\n");
    const v = runCli(["validate", bad, "--node-config", nc, "--color", "never"]);
    expect(v.code).toBe(1);
    expect(v.stderr.split("\n").filter((l) => l.startsWith(bad))).toEqual([
      `${bad}:5:11: error E2029: [network#empty] of ${nc} has no network (its subnet)`,
      `${bad}:11:11: error E2029: network "nosuch" is not an IPv4 network in CIDR form with a prefix length of 0..30`,
    ]);
    expect(v.stderr).toContain("or name a [network#<name>] of the node config");
  });

  it("a routed_bridge is split per node: each node's slice at its rank in [cluster] nodes, or its subnet@node; a node outside the cluster or a split that does not fit is an error", (ctx) => {
    const sb = sandbox(ctx, "osvc-t-allocrb-");
    const nc = sb.write("node.conf", "[cluster]\nnodes = n1 n2 n3 n4\n\n[network#rb]\ntype = routed_bridge\nnetwork = 10.43.0.0/16\nips_per_node = 256\nsubnet@n3 = 10.43.77.0/24\n\n[network#big]\ntype = routed_bridge\nnetwork = 10.44.0.0/24\nips_per_node = 128\n\n[network#odd]\ntype = routed_bridge\nnetwork = 10.45.0.0/24\nips_per_node = 100\n");
    const rb = sb.write("rb.conf", "[ip#0]\ntype = host\nipdev = br0\nipname = <allocate>\nnetwork = rb\n");
    const slice = (node: string) => {
      const r = runCli(["render", rb, "--node-config", nc, "--node", node, "--color", "never"]);
      expect(r.code, r.stderr).toBe(0);
      return /^network = (\S+)$/m.exec(r.stdout)?.[1];
    };
    expect(["n1", "n2", "n3", "n4"].map(slice)).toEqual(["10.43.0.0/24", "10.43.1.0/24", "10.43.77.0/24", "10.43.3.0/24"]);
    const bad = sb.write("bad.conf", "[ip#0]\ntype = host\nipdev = br0\nipname = <allocate>\nnetwork = rb\n\n[ip#1]\ntype = host\nipdev = br0\nipname = <allocate>\nnetwork = big\n\n[ip#2]\ntype = host\nipdev = br0\nipname = <allocate>\nnetwork = odd\n");
    const v = runCli(["validate", bad, "--node-config", nc, "--node", "n9", "--color", "never"]);
    expect(v.code).toBe(1);
    expect(v.stderr.split("\n").filter((l) => l.startsWith(bad))).toEqual([`${bad}:5:11: error E2029: network rb is a routed_bridge split per node, and n9 is not in the [cluster] nodes of ${nc}`, `${bad}:11:11: error E2029: network big is a routed_bridge split per node, and n9 is not in the [cluster] nodes of ${nc}`, `${bad}:17:11: error E2029: network odd is a routed_bridge split per node, and n9 is not in the [cluster] nodes of ${nc}`]);
    const v3 = runCli(["validate", bad, "--node-config", nc, "--node", "n3", "--color", "never"]);
    expect(v3.stderr.split("\n").filter((l) => l.startsWith(bad))).toEqual([
      `${bad}:11:11: error E2029: network big: 10.44.0.0/24 has room for 2 slices of 128 addresses, not 3`,
      `${bad}:17:11: error E2029: network odd: ips_per_node 100 is not a power of two between 4 and the 256 addresses of 10.45.0.0/24`,
    ]);
  });
});

describe("write-back edits", () => {
  it("round-trip as lines; cascade targets parse", () => {
    for (const e of [{ section: "ip#0", key: "ipname", value: "10.0.0.2" }, { section: "ip#0", key: "ipname@n1", value: "" }, { section: "env", key: "addr" }]) {
      expect(parseEdit(formatEdit(e))).toEqual(e);
    }
    expect(parseEdit("set ip#0.ipname")).toBeUndefined();
    expect(parseCascadeTarget("ip#1.ipname@n2")).toEqual({ section: "ip#1", key: "ipname@n2" });
    expect(parseCascadeTarget("ip#1")).toBeUndefined();
  });

  it("fold: the last edit of a key wins, an unset drops it", () => {
    const folded = foldEdits(["set ip#0.ipname=10.0.0.2", "set env.addr=10.0.0.2"], [{ section: "env", key: "addr" }, { section: "ip#0", key: "netmask", value: "24" }]);
    expect(folded).toEqual(["set ip#0.ipname=10.0.0.2", "set ip#0.netmask=24"]);
  });

  it("are replayed over the template source holding the section, layout kept", () => {
    const state = { resources: { "ip#0": { outputs: { writeback: ["set ip#0.ipname=10.0.0.2", "set env.addr=10.0.0.2"] } } } } as unknown as StateFile;
    const patch = recordedWriteBacks(state);
    const texts = [
      { name: "a.conf", text: "[env]\naddr =\n" },
      { name: "b.conf", text: "[ip#0]\n# the address\nipname = <allocate>\nnetwork = 10.0.0.0/24\n" },
    ];
    const out = overlayWriteBacks(texts, patch);
    expect(out[0].text).toBe("[env]\naddr = 10.0.0.2\n");
    expect(out[1].text).toBe("[ip#0]\n# the address\nipname = 10.0.0.2\nnetwork = 10.0.0.0/24\n");
    expect(applyPatch(out[1].text, [{ section: "ip#0", key: "ipname", value: "<allocate>" }])).toBe(texts[1].text);
  });
});

describe("networks", () => {
  it("reads IPv4 CIDRs", () => {
    expect(parseCidr("10.99.0.0/24")).toEqual({ network: (10 << 24) + (99 << 16), prefix: 24, text: "10.99.0.0/24" });
    expect(parseCidr("10.99.0.1/24")).toMatchObject({ error: expect.stringContaining("host bits") });
    expect(parseCidr("10.99.0.0")).toMatchObject({ error: expect.stringContaining("CIDR") });
    expect(parseCidr("300.1.1.0/24")).toMatchObject({ error: expect.stringContaining("CIDR") });
    expect(parseCidr("fd00::/64")).toMatchObject({ error: expect.stringContaining("IPv4") });
  });
});
