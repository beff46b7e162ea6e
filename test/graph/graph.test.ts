import { describe, expect, test } from "vitest";
import { buildGraph, closure, levels, subgraph, toDot, topoOrder, type ResourceGraph } from "../../src/graph/index.js";
import { compile } from "../helpers/compile.js";

function build(text: string) {
  const r = compile(text);
  const b = buildGraph(r.evaluated);
  return { ...b, compileDiagnostics: r.diagnostics, order: topoOrder(b.graph) };
}

function before(order: string[], a: string, b: string): boolean {
  const ia = order.indexOf(a);
  const ib = order.indexOf(b);
  expect(ia, a).toBeGreaterThanOrEqual(0);
  expect(ib, b).toBeGreaterThanOrEqual(0);
  return ia < ib;
}

function edge(g: ResourceGraph, from: string, to: string): string | undefined {
  return g.edge(from, to)?.reason;
}

const EXAMPLE = `[disk#0]
type = loop
file = /tmp/x.img
size = 200m

[fs#1]
type = ext4
dev = {disk#0.exposed_devs[0]}
mnt = /srv/x

[fs#2]
type = ext4
dev = /dev/loop9
mnt = /srv/x/data/
`;

describe("buildGraph", () => {
  test("example: reference and mount prefix edges", () => {
    const { graph, diagnostics, order, compileDiagnostics } = build(EXAMPLE);
    expect(compileDiagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(diagnostics).toEqual([]);
    expect(order).toEqual(["disk#0", "fs#1", "fs#2"]);
    expect(edge(graph, "disk#0", "fs#1")).toBe("reference {disk#0.exposed_devs[0]} in dev");
    expect(edge(graph, "fs#1", "fs#2")).toBe("mount point /srv/x/data is under /srv/x");
    expect(graph.edges().map((e) => `${e.from}->${e.to}:${e.reasons[0].kind}`)).toEqual(["disk#0->fs#1:reference", "fs#1->fs#2:mount"]);
    expect(graph.nodes()).toEqual(["disk#0", "fs#1", "fs#2"]);
    expect(graph.node("fs#1").rid.toString()).toBe("fs#1");
    expect(levels(graph)).toEqual([["disk#0"], ["fs#1"], ["fs#2"]]);
    expect(graph.dependencies("fs#2")).toEqual(["fs#1"]);
    expect(graph.dependencies("fs#2", { transitive: true })).toEqual(["disk#0", "fs#1"]);
    expect(graph.dependents("disk#0", { transitive: true })).toEqual(["fs#1", "fs#2"]);
  });

  test("only the nearest ancestor mount gets an edge; siblings stay parallel", () => {
    const { graph, order } = build(`
[fs#a]
type = ext4
dev = /dev/sdb
mnt = /srv
[fs#b]
type = ext4
dev = /dev/sdc
mnt = /srv/x
[fs#c]
type = ext4
dev = /dev/sdd
mnt = /srv/x/y/z
[fs#d]
type = ext4
dev = /dev/sde
mnt = /srv/w
[fs#e]
type = directory
path = //srv/x/
`);
    // fs#e (a directory at the same path) follows the mount of /srv/x; what is under /srv/x
    // follows the last of that chain.
    expect(graph.edges().map((e) => `${e.from}->${e.to}`)).toEqual(["fs#a->fs#b", "fs#a->fs#d", "fs#b->fs#e", "fs#e->fs#c"]);
    expect(edge(graph, "fs#b", "fs#e")).toBe("same mount point /srv/x");
    expect(edge(graph, "fs#e", "fs#c")).toBe("mount point /srv/x/y/z is under /srv/x");
    expect(order).toEqual(["fs#a", "fs#b", "fs#d", "fs#e", "fs#c"]);
    expect(levels(graph)).toEqual([["fs#a"], ["fs#b", "fs#d"], ["fs#e"], ["fs#c"]]);
  });

  test("group order ip < disk < fs < container < app, without all-pairs edges", () => {
    const { graph, order, diagnostics } = build(`
[app#0]
start = /bin/true
[container#0]
type = docker
image = busybox
[fs#0]
type = ext4
dev = /dev/sdb
mnt = /srv/a
[disk#0]
type = loop
file = /tmp/a.img
[ip#0]
ipname = 10.0.0.1
ipdev = eth0
[fs#1]
type = ext4
dev = /dev/sdc
mnt = /srv/b
`);
    expect(diagnostics).toEqual([]);
    expect(order).toEqual(["ip#0", "disk#0", "fs#0", "fs#1", "container#0", "app#0"]);
    expect(graph.edges()).toEqual([]);
    expect(levels(graph)).toEqual([["ip#0"], ["disk#0"], ["fs#0", "fs#1"], ["container#0"], ["app#0"]]);
    expect(graph.dependencies("container#0")).toEqual([]);
    expect(graph.dependencies("container#0", { groupOrder: true })).toEqual(["fs#0", "fs#1"]);
    expect(graph.dependencies("container#0", { groupOrder: true, transitive: true })).toEqual(["ip#0", "disk#0", "fs#0", "fs#1"]);
    expect(graph.slots().map((s) => s.name)).toEqual(["ip", "disk", "fs", "container", "app"]);
  });

  test("subsets: default set first, then named subsets lexically", () => {
    const { order, graph } = build(`
[fs#0]
type = ext4
dev = /dev/sdb
mnt = /a
subset = b
[fs#1]
type = ext4
dev = /dev/sdc
mnt = /b
subset = a
[fs#2]
type = ext4
dev = /dev/sdd
mnt = /c
`);
    expect(graph.slots().map((s) => s.name)).toEqual(["fs", "fs:a", "fs:b"]);
    expect(order).toEqual(["fs#2", "fs#1", "fs#0"]);
  });

  test("nested mount in an earlier set than its parent: W2033, subset order wins, no cycle", () => {
    const { diagnostics, order } = build(`
[fs#1]
type = ext4
dev = /dev/sdb
mnt = /srv/x
subset = late
[fs#2]
type = ext4
dev = /dev/sdc
mnt = /srv/x/data
`);
    expect(diagnostics.map((d) => d.code)).toEqual(["W2033"]);
    expect(order).toEqual(["fs#2", "fs#1"]);
  });

  test("ip.netns linked to its container: after the container, before app", () => {
    const { graph, order, diagnostics } = build(`
[ip#0]
type = netns
netns = container#0
ipname = 10.0.0.2
ipdev = br0
[ip#1]
ipname = 10.0.0.1
ipdev = eth0
[container#0]
type = docker
image = busybox
[container#1]
type = docker
image = busybox
netns = container#0
[app#0]
start = /bin/true
`);
    expect(diagnostics).toEqual([]);
    expect(before(order, "ip#1", "container#0")).toBe(true);
    expect(before(order, "container#0", "ip#0")).toBe(true);
    expect(before(order, "ip#0", "app#0")).toBe(true);
    expect(before(order, "container#0", "container#1")).toBe(true);
    expect(edge(graph, "container#0", "ip#0")).toContain("netns container#0");
    expect(edge(graph, "container#0", "container#1")).toBe("netns container#0");
    expect(graph.info("ip#0").slot).toBe("container");
    expect(graph.info("ip#0").linkedTo).toBe("container#0");
    expect(graph.info("ip#0").group).toBe("ip");
    expect(order).toEqual(["ip#1", "container#0", "container#1", "ip#0", "app#0"]);
  });

  test("netns naming an unknown container: an error (nothing to join), no link", () => {
    const { diagnostics, order } = build(`
[ip#0]
type = netns
netns = container#9
ipname = 10.0.0.2
ipdev = br0
[container#0]
type = docker
image = busybox
`);
    expect(diagnostics.map((d) => [d.code, d.severity])).toEqual([["E2032", "error"]]);
    expect(diagnostics[0].hint).toBe('Did you mean "container#0"?');
    expect(order).toEqual(["ip#0", "container#0"]);
  });

  test("netns naming a missing container: the hint never suggests the resource itself", () => {
    const { diagnostics } = build(`
[container#0]
type = docker
image = busybox
netns = container#5
`);
    expect(diagnostics.map((d) => d.code)).toEqual(["E2032"]);
    expect(diagnostics[0].hint).not.toContain("container#0");
  });

  test("requires cycle: E2030 naming the chain, no throw", () => {
    const { diagnostics, order } = build(`
[fs#1]
type = ext4
dev = /dev/sdb
mnt = /a
start_requires = fs#2
[fs#2]
type = ext4
dev = /dev/sdc
mnt = /b
start_requires = fs#1(up,stdby up)
`);
    expect(diagnostics).toHaveLength(1);
    const d = diagnostics[0];
    expect(d.code).toBe("E2030");
    expect(d.severity).toBe("error");
    expect(d.detail).toContain("fs#1 -> fs#2 -> fs#1");
    expect(d.detail).toContain("fs#1 -> fs#2: start_requires (up,stdby up)");
    expect(d.detail).toContain("fs#2 -> fs#1: start_requires)");
    expect(d.range?.start.line).toBeGreaterThan(0);
    expect(order).toEqual(["fs#1", "fs#2"]);
  });

  test("requires against group order is a cycle through the barrier", () => {
    const { diagnostics } = build(`
[disk#0]
type = loop
file = /tmp/a.img
start_requires = fs#0
[fs#0]
type = ext4
dev = /dev/sdb
mnt = /a
`);
    expect(diagnostics.map((d) => d.code)).toEqual(["E2030"]);
    expect(diagnostics[0].detail).toContain("disk#0 -> fs#0 -> disk#0");
    expect(diagnostics[0].detail).toContain("disk#0 -> fs#0: group order");
  });

  test("unknown rid in *_requires: warning with a hint, ignored", () => {
    const { diagnostics, graph } = build(`
[fs#1]
type = ext4
dev = /dev/sdb
mnt = /a
start_requires = disk#0(up) fs#9
stop_requires = fs#3
[disk#0]
type = loop
file = /tmp/a.img
`);
    expect(diagnostics.map((d) => [d.code, d.severity])).toEqual([
      ["W2031", "warning"],
      ["W2031", "warning"],
    ]);
    expect(diagnostics[0].detail).toContain("fs#9");
    expect(diagnostics[0].hint).toBe('Did you mean "fs#1"?');
    expect(edge(graph, "disk#0", "fs#1")).toBe("start_requires (up)");
  });

  test("provision_requires orders within a group; stop_requires does not", () => {
    const { graph, order } = build(`
[app#a]
start = /bin/true
provision_requires = app#b
[app#b]
start = /bin/true
stop_requires = app#a
`);
    expect(graph.edges().map((e) => `${e.from}->${e.to}:${e.reason}`)).toEqual(["app#b->app#a:provision_requires"]);
    expect(order).toEqual(["app#b", "app#a"]);
  });

  test("app start sequence numbers: numeric, lower first", () => {
    const { order, graph } = build(`
[app#a]
start = 20
[app#b]
start = 10
[app#c]
start = 9
[app#d]
start = /bin/true
[app#e]
start = 10
`);
    expect(order).toEqual(["app#c", "app#b", "app#d", "app#e", "app#a"]);
    expect(graph.edges().map((e) => `${e.from}->${e.to}`)).toEqual(["app#b->app#e", "app#c->app#b", "app#e->app#a"]);
    expect(edge(graph, "app#e", "app#a")).toBe("start sequence 10 < 20");
    const waves = levels(graph);
    expect(waves[0]).toEqual(["app#c", "app#d"]);
  });

  test("statically known devices: disk.vg -> disk.lv -> fs", () => {
    const { graph } = build(`
[disk#0]
type = vg
name = data
pvs = /dev/sdb
[disk#1]
type = lv
vg = data
name = lv1
size = 1g
[fs#0]
type = ext4
dev = /dev/data/lv1
mnt = /srv/d
`);
    expect(edge(graph, "disk#0", "disk#1")).toBe("vg data is created by disk#0");
    expect(edge(graph, "disk#1", "fs#0")).toBe("dev /dev/data/lv1 is exposed by disk#1");
    expect(topoOrder(graph)).toEqual(["disk#0", "disk#1", "fs#0"]);
  });

  test("disabled resources stay in the graph, marked", () => {
    const { graph, order } = build(`
[disk#0]
type = loop
file = /tmp/a.img
disable = true
[fs#0]
type = ext4
dev = {disk#0.exposed_devs[0]}
mnt = /a
`);
    expect(graph.info("disk#0").disabled).toBe(true);
    expect(graph.info("fs#0").disabled).toBe(false);
    expect(order).toEqual(["disk#0", "fs#0"]);
  });
});

describe("determinism", () => {
  const SECTIONS = [
    "[ip#0]\nipname = 10.0.0.1\nipdev = eth0\n",
    "[disk#0]\ntype = loop\nfile = /tmp/a.img\n",
    "[disk#1]\ntype = loop\nfile = /tmp/b.img\n",
    "[fs#10]\ntype = ext4\ndev = {disk#1.exposed_devs[0]}\nmnt = /srv/b\n",
    "[fs#2]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = /srv/a\n",
    "[fs#3]\ntype = directory\npath = /srv/a/www\n",
    "[container#0]\ntype = docker\nimage = busybox\n",
    "[ip#1]\ntype = netns\nnetns = container#0\nipname = 10.0.0.2\nipdev = br0\n",
    "[app#1]\nstart = 10\n",
    "[app#0]\nstart = 20\n",
  ];

  function shuffled<T>(xs: T[], seed: number): T[] {
    const a = [...xs];
    let s = seed;
    for (let i = a.length - 1; i > 0; i--) {
      s = (s * 1103515245 + 12345) & 0x7fffffff;
      const j = s % (i + 1);
      [a[i], a[j]] = [a[j], a[i]];
    }
    return a;
  }

  test("same input twice and shuffled sections give the same order, levels, edges and dot", () => {
    const ref = build(SECTIONS.join("\n"));
    expect(ref.diagnostics).toEqual([]);
    expect(ref.order).toEqual(["ip#0", "disk#0", "disk#1", "fs#10", "fs#2", "fs#3", "container#0", "ip#1", "app#1", "app#0"]);
    const again = build(SECTIONS.join("\n"));
    expect(again.order).toEqual(ref.order);
    for (const seed of [1, 2, 3, 42, 1234]) {
      const b = build(shuffled(SECTIONS, seed).join("\n"));
      expect(b.order).toEqual(ref.order);
      expect(levels(b.graph)).toEqual(levels(ref.graph));
      expect(b.graph.edges().map((e) => [e.from, e.to, e.reason])).toEqual(ref.graph.edges().map((e) => [e.from, e.to, e.reason]));
      expect(toDot(b.graph)).toBe(toDot(ref.graph));
    }
  });
});

describe("closure and subgraph", () => {
  const T = `${EXAMPLE}
[disk#1]
type = loop
file = /tmp/y.img
[fs#3]
type = ext4
dev = {disk#1.exposed_devs[0]}
mnt = /srv/y
[app#0]
start = /bin/true
`;

  test("--target: dependencies closure", () => {
    const { graph } = build(T);
    expect(closure(graph, ["fs#2"], "dependencies")).toEqual(["disk#0", "fs#1", "fs#2"]);
    const sub = subgraph(graph, closure(graph, ["fs#2"], "dependencies"));
    expect(topoOrder(sub)).toEqual(["disk#0", "fs#1", "fs#2"]);
    expect(sub.edges().length).toBe(2);
  });

  test("--exclude: dependents closure removed", () => {
    const { graph } = build(T);
    const excluded = new Set(closure(graph, ["disk#0"], "dependents"));
    expect([...excluded]).toEqual(["disk#0", "fs#1", "fs#2"]);
    const sub = subgraph(
      graph,
      graph.nodes().filter((n) => !excluded.has(n)),
    );
    expect(topoOrder(sub)).toEqual(["disk#1", "fs#3", "app#0"]);
  });
});

describe("dot", () => {
  test("clusters, labelled real edges, group order drawn dashed", () => {
    const { graph } = build(EXAMPLE);
    const dot = toDot(graph, { name: "svc1" });
    expect(dot).toContain('digraph "svc1" {');
    expect(dot).toContain('subgraph "cluster_disk"');
    expect(dot).toContain('subgraph "cluster_fs"');
    expect(dot).toContain('"disk#0" -> "fs#1" [label="ref dev"');
    expect(dot).toContain('"fs#1" -> "fs#2" [label="mnt"');
    expect(dot).toContain('"disk#0" -> "order:fs" [style=dashed, color=gray, arrowhead=none]');
    expect(dot).not.toContain("style=invis");
    expect(dot).not.toContain("slot:");
  });
});

describe("scale", () => {
  test("10,000 resources: build + order", () => {
    const parts: string[] = [];
    for (let i = 0; i < 5000; i++) {
      parts.push(`[disk#${i}]\ntype = loop\nfile = /tmp/d${i}.img\n`);
      parts.push(`[fs#${i}]\ntype = ext4\ndev = {disk#${i}.exposed_devs[0]}\nmnt = /srv/m${i}\n`);
    }
    const r = compile(parts.join("\n"));
    expect(r.evaluated.resources.length).toBe(10000);
    const t0 = performance.now();
    const { graph, diagnostics } = buildGraph(r.evaluated);
    const t1 = performance.now();
    const order = topoOrder(graph);
    const t2 = performance.now();
    const waves = levels(graph);
    const t3 = performance.now();
    console.log(`scale: build ${(t1 - t0).toFixed(0)} ms, topoOrder ${(t2 - t1).toFixed(0)} ms, levels ${(t3 - t2).toFixed(0)} ms (10,000 resources, ${graph.edges().length} explicit edges)`);
    expect(diagnostics).toEqual([]);
    expect(order.length).toBe(10000);
    expect(graph.edges().length).toBe(5000);
    expect(waves.length).toBe(2);
    expect(order.indexOf("disk#4999")).toBeLessThan(order.indexOf("fs#0"));
    // No time bound here: a loaded machine is not a regression (bench/compile measures the speed).
  });
});
