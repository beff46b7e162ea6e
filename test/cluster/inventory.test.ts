// The cluster config (inventory): parsing, positioned diagnostics, where it is found, and the check
// of a template's nodes/drpnodes against it.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { checkTemplateNodes, defaultInventoryFile, InventoryError, loadInventory, parseInventory } from "../../src/cluster/inventory.js";
import type { Diagnostic } from "../../src/core/diagnostics.js";
import { compile } from "../helpers/compile.js";

const at = (d: Diagnostic) => `${d.code} ${d.range?.start.line}:${d.range?.start.col}-${d.range?.end.col}`;

function parse(text: string, localName = "thishost") {
  return parseInventory(text, "/etc/osvc/cluster.conf", { localName });
}

describe("parseInventory", () => {
  it("reads OpenSVC's [cluster] section and the reachability sections, with defaults", () => {
    const r = parse(
      [
        "[cluster]",
        "name = prod-eu",
        "nodes = n1 N2 n3",
        "secret = 8a7b6c # OpenSVC's own keys are left alone",
        "",
        "[ssh]",
        "config = ssh_config",
        "connect_timeout = 4",
        "",
        "[node.n2]",
        "ssh = admin@10.0.0.2",
        "osvc = /opt/osvc/bin/osvc --color never",
        "",
        "[node.n3]",
        "osvc = node '/srv/my osvc/bin/osvc.js'",
        "transport = local",
      ].join("\n"),
    );
    expect(r.diagnostics).toEqual([]);
    const inv = r.inventory!;
    expect(inv.name).toBe("prod-eu");
    expect(inv.sshConfig).toBe("/etc/osvc/ssh_config"); // relative to the cluster config's directory
    expect(inv.connectTimeoutS).toBe(4);
    expect(inv.nodes.map(({ name, ssh, osvc, transport }) => ({ name, ssh, osvc, transport }))).toEqual([
      { name: "n1", ssh: "n1", osvc: ["osvc"], transport: "ssh" },
      { name: "n2", ssh: "admin@10.0.0.2", osvc: ["/opt/osvc/bin/osvc", "--color", "never"], transport: "ssh" },
      { name: "n3", ssh: "n3", osvc: ["node", "/srv/my osvc/bin/osvc.js"], transport: "local" },
    ]);
    expect(inv.nodes[1].range?.start).toMatchObject({ line: 3, col: 12 });
  });

  it("defaults: cluster name 'default', no ssh config, this host's name runs locally unless it has an ssh destination", () => {
    const a = parse("[cluster]\nnodes = thishost other\n").inventory!;
    expect(a.name).toBe("default");
    expect(a.sshConfig).toBeUndefined();
    expect(a.nodes.map((n) => n.transport)).toEqual(["local", "ssh"]);
    const b = parse("[cluster]\nnodes = thishost\n[node.thishost]\nssh = root@127.0.0.1\n").inventory!;
    expect(b.nodes[0].transport).toBe("ssh");
  });

  it("positioned diagnostics with hints for each mistake", () => {
    const r = parse(
      [
        "[cluster]", //                                  1
        "nodes = n1 n2 n2 -bad", //                      2
        "[node.n1]", //                                  3
        "sh = x", //                                     4  unknown key (ssh?)
        "osvc = 'unterminated", //                       5
        "[node.n4]", //                                  6  not a node
        "[node.n2]", //                                  7
        "ssh = -oProxyCommand=evil", //                  8
        "transport = telnet", //                         9
        "[ssh]", //                                     10
        "confg = x", //                                 11
        "connect_timeout = 0", //                       12
      ].join("\n"),
    );
    expect(r.inventory).toBeUndefined();
    expect(r.diagnostics.map(at).sort()).toEqual(
      [
        "E6003 2:15-17", // n2 twice
        "E6003 2:18-22", // -bad
        "E6002 4:1-3",
        "E6004 5:8-21",
        "E6005 6:2-9",
        "E6004 8:7-26",
        "E6004 9:13-19",
        "E6002 11:1-6",
        "E6004 12:19-20",
      ].sort(),
    );
    const byCode = (c: string, line: number) => r.diagnostics.find((d) => d.code === c && d.range?.start.line === line)!;
    expect(byCode("E6002", 4).hint).toBe('Did you mean "ssh"?');
    expect(byCode("E6002", 11).hint).toBe('Did you mean "config"?');
    expect(byCode("E6005", 6).detail).toBe("[cluster] nodes is: n1 n2.");
    expect(byCode("E6004", 8).hint).toMatch(/not starting with -/);
  });

  it("no [cluster] section, or no nodes: an error with a hint", () => {
    const a = parse("[ssh]\nconfig = x\n");
    expect(a.diagnostics.map((d) => d.code)).toEqual(["E6001"]);
    expect(a.diagnostics[0].hint).toMatch(/nodes = /);
    const b = parse("[cluster]\nname = x\n");
    expect(b.diagnostics.map(at)).toEqual(["E6001 1:2-9"]);
  });

  it("syntax errors of the INI grammar come through positioned", () => {
    const r = parse("[cluster\nnodes = n1\n");
    expect(r.inventory).toBeUndefined();
    expect(r.diagnostics.some((d) => d.code.startsWith("E1") && d.range?.start.line === 1)).toBe(true);
  });
});

describe("loadInventory", () => {
  let dir = "";
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = "";
  });

  it("--cluster-config must exist; <root>/cluster.conf is read only when it exists", () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "osvc-inv-"));
    const fallback = defaultInventoryFile(dir);
    expect(fallback).toBe(path.join(dir, "cluster.conf"));
    expect(loadInventory(undefined, fallback)).toBeUndefined();
    expect(loadInventory(undefined, undefined)).toBeUndefined();
    expect(() => loadInventory(path.join(dir, "nope.conf"), fallback)).toThrow(InventoryError);
    try {
      loadInventory(path.join(dir, "nope.conf"), fallback);
    } catch (e) {
      expect((e as InventoryError).message).toMatch(/cannot read the cluster config .*nope\.conf: no such file/);
      expect((e as InventoryError).hint).toMatch(/--cluster-config/);
    }
    expect(() => loadInventory(dir, undefined)).toThrow(/it is a directory/);
    writeFileSync(fallback, "[cluster]\nnodes = a b\n");
    expect(loadInventory(undefined, fallback)?.inventory?.nodes.map((n) => n.name)).toEqual(["a", "b"]);
    writeFileSync(path.join(dir, "other.conf"), "[cluster]\nnodes = c\n");
    expect(loadInventory(path.join(dir, "other.conf"), fallback)?.inventory?.nodes.map((n) => n.name)).toEqual(["c"]);
  });
});

describe("checkTemplateNodes", () => {
  const inv = parse("[cluster]\nnodes = n1 n2 n3\n").inventory!;

  it("every node of nodes and drpnodes resolves: no diagnostic", () => {
    const r = compile("[DEFAULT]\nnodes = n1 N2\ndrpnodes = n3\n");
    expect(checkTemplateNodes(r.template, r.evaluated, inv)).toEqual([]);
  });

  it("an unknown name is an error at the name itself, with a did-you-mean", () => {
    const r = compile("[DEFAULT]\nnodes = n1 n22\ndrpnodes = n3 dr9\n", { file: "web.conf" });
    const ds = checkTemplateNodes(r.template, r.evaluated, inv);
    expect(ds.map(at)).toEqual(["E6010 2:12-15", "E6010 3:15-18"]);
    expect(ds[0].range?.file).toBe("web.conf");
    expect(ds[0].summary).toBe('node "n22" is not in the cluster config');
    expect(ds[0].hint).toBe('Did you mean "n2"?');
    expect(ds[1].hint).toMatch(/Add dr9 to \[cluster\] nodes in \/etc\/osvc\/cluster.conf/);
  });

  it("a value built from references: the error is at the keyword's value", () => {
    const r = compile("[DEFAULT]\nnodes = n1 {env.extra}\n[env]\nextra = n7\n");
    const ds = checkTemplateNodes(r.template, r.evaluated, inv);
    expect(ds.map(at)).toEqual(["E6010 2:9-23"]);
    expect(ds[0].summary).toMatch(/"n7"/);
  });

  it("no nodes keyword (this node only) and '*' need nothing from the inventory", () => {
    const a = compile("[fs#1]\ntype = flag\n");
    expect(checkTemplateNodes(a.template, a.evaluated, inv)).toEqual([]);
    const b = compile("[DEFAULT]\nnodes = *\n");
    expect(checkTemplateNodes(b.template, b.evaluated, inv)).toEqual([]);
  });
});
