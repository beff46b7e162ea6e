// Pools (issue 11, item 3): [pool#name] sections parsed with positioned diagnostics, the implicit
// default pool, the pool choice (name, type, capabilities, then the most free space), and the vol
// configs a pool writes (compiled without diagnostics).
import { describe, expect, it } from "vitest";
import { choosePool, mergePools, parsePools, volumeConfig, type Pool } from "../../src/config/pools.js";
import { compileTexts } from "../../src/config/index.js";
import { builtinCatalog } from "../../src/cli/common.js";

const NODE_CONF = "/etc/x/node.conf";

describe("[pool#name] sections", () => {
  it("parse directory and loop pools; other sections are not pools", () => {
    const r = parsePools("[node]\nenv = PRD\n[pool#d]\ntype = directory\npath = /p/d\n[pool#l]\ntype = loop\npath = /p/l\nfs_type = xfs\nmkfs_opt = -K\nmnt_opt = noatime\n", NODE_CONF);
    expect(r.diagnostics).toEqual([]);
    expect(r.pools.map((p) => [p.name, p.type, p.path, p.fsType, p.mkfsOpt, p.mntOpt])).toEqual([
      ["d", "directory", "/p/d", undefined, undefined, undefined],
      ["l", "loop", "/p/l", "xfs", "-K", "noatime"],
    ]);
  });

  it("bad pool config: positioned errors with a hint", () => {
    const r = parsePools("[pool#a]\ntype = lop\npath = /p\n[pool#b]\ntype = directory\n[pool#c]\ntype = loop\npath = rel\n[pool#d]\ntype = directory\npath = /d\nfs_typ = ext4\n[pool#e]\ntype = loop\npath = /e\nfs_type = ntfs\n", NODE_CONF);
    const at = r.diagnostics.map((d) => `${d.code} ${d.range?.start.line}:${d.range?.start.col} ${d.summary}`);
    expect(at).toEqual([
      'E6202 2:8 [pool#a] unknown pool type "lop"',
      "E6204 4:2 [pool#b] has no path",
      'E6204 8:8 [pool#c] path "rel" is not absolute',
      'E6203 12:1 unknown keyword "fs_typ" in [pool#d] (type directory)',
      'E6205 16:11 [pool#e] fs_type "ntfs" is not one osvc can make',
    ]);
    expect(r.diagnostics[0].hint).toMatch(/loop/);
    expect(r.diagnostics[3].hint).toMatch(/fs_type|path|type/);
    expect(r.pools).toEqual([]);
  });

  it("the node's pools win over the cluster's; the implicit default is a directory under the state root", () => {
    const node = parsePools("[pool#x]\ntype = loop\npath = /node\n", NODE_CONF).pools;
    const cluster = parsePools("[pool#x]\ntype = directory\npath = /cluster\n[pool#y]\ntype = directory\npath = /y\n", "/c/cluster.conf").pools;
    const all = mergePools("/var/lib/osvc", node, cluster);
    expect(all.map((p) => [p.name, p.type, p.path])).toEqual([
      ["default", "directory", "/var/lib/osvc/pool/directory"],
      ["x", "loop", "/node"],
      ["y", "directory", "/y"],
    ]);
    const redefined = mergePools("/r", parsePools("[pool#default]\ntype = loop\npath = /big\n", NODE_CONF).pools);
    expect(redefined.map((p) => [p.name, p.type])).toEqual([["default", "loop"]]);
  });
});

describe("pool choice", () => {
  const pools: Pool[] = [
    { name: "default", type: "directory", path: "/d" },
    { name: "big", type: "loop", path: "/big" },
    { name: "small", type: "loop", path: "/small" },
  ];
  const free: Record<string, number> = { default: 50, big: 100, small: 10 };
  const pick = (req: Parameters<typeof choosePool>[1]) => {
    const c = choosePool(pools, req, (p) => free[p.name]);
    return c.ok ? c.pool.name : c.error;
  };

  it("the most free space among the pools that fit, by type and capabilities", () => {
    expect(pick({ access: "rwo", format: true, size: 1 })).toBe("big");
    expect(pick({ access: "rwo", format: true })).toBe("default"); // a loop pool needs a size
    expect(pick({ access: "rwo", format: true, size: 1, type: "directory" })).toBe("default");
    expect(pick({ access: "rwo", format: false, size: 1 })).toBe("big"); // blk: loop pools only
    expect(pick({ access: "rwo", format: true, size: 1, pool: "small" })).toBe("small");
  });

  it("says why nothing fits", () => {
    expect(pick({ access: "rwo", format: true, pool: "nope" })).toBe('no pool "nope" on this node');
    expect(pick({ access: "rwo", format: false, type: "directory" })).toMatch(/no pool of type directory with access rwo and raw devices/);
    expect(pick({ access: "rwo", format: true, pool: "big" })).toMatch(/needs a size/);
  });
});

describe("the vol configs a pool writes", () => {
  const vol = { namespace: "ns1", kind: "vol" as const, name: "data" };
  for (const [pool, format] of [
    [{ name: "l", type: "loop", path: "/p", fsType: "xfs", mkfsOpt: "-K", mntOpt: "noatime" }, true],
    [{ name: "l", type: "loop", path: "/p", fsType: "ext4" }, false],
    [{ name: "d", type: "directory", path: "/p" }, true],
  ] as const) {
    it(`${pool.type} pool, format ${format}: a valid config`, () => {
      const text = volumeConfig(pool as Pool, vol, { access: "rwo", format, size: 64 * 1024 * 1024 }, ["ns1/svc/web"]);
      expect(text).toContain("children = ns1/svc/web");
      expect(text).toContain("pool = ");
      const c = compileTexts([{ name: "data.conf", text }], { path: vol, nodename: "n1", catalog: builtinCatalog() });
      expect(c.diagnostics.filter((d) => d.severity !== "info"), JSON.stringify(c.diagnostics)).toEqual([]);
      const rids = c.evaluated.resources.map((r) => `${r.rid}:${r.driver?.id}`);
      expect(rids).toEqual(pool.type === "directory" ? ["fs#1:fs.directory"] : format ? ["disk#0:disk.loop", "fs#1:fs.xfs"] : ["disk#0:disk.loop"]);
    });
  }
});
