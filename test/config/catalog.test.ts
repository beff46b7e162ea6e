import { describe, expect, it } from "vitest";
import { BUILTIN_DRIVER_SPECS, DEFAULT_DRIVER_TYPES } from "../../providers/catalog.js";
import { DEFAULT_KEYWORDS, GENERIC_RESOURCE_KEYWORDS } from "../../src/config/keywords/generic.js";
import { convertValue } from "../../src/core/convert.js";
import { driverId, type KeywordSpec } from "../../src/core/schema.js";

const ids = BUILTIN_DRIVER_SPECS.map(driverId);

const keywordSets: Array<[string, readonly KeywordSpec[]]> = [
  ...BUILTIN_DRIVER_SPECS.map((s): [string, readonly KeywordSpec[]] => [driverId(s), s.keywords]),
  ["<generic>", GENERIC_RESOURCE_KEYWORDS],
  ["DEFAULT", DEFAULT_KEYWORDS],
];

const allKeywords: Array<[string, KeywordSpec]> = keywordSets.flatMap(([id, kws]) => kws.map((k): [string, KeywordSpec] => [id, k]));

describe("driver catalog", () => {
  it("has no duplicate driver ids", () => {
    const dups = ids.filter((id, i) => ids.indexOf(id) !== i);
    expect(dups).toEqual([]);
  });

  it("includes the drivers the seed and the design use", () => {
    for (const id of [
      "disk.loop", "disk.vg", "disk.lvm", "disk.lv", "disk.md", "disk.amazon", "disk.gce",
      "fs.ext4", "fs.xfs", "fs.btrfs", "fs.directory",
      "ip.host", "ip.netns", "ip.docker", "ip.amazon", "ip.gce",
      "container.podman", "container.docker", "app.forking", "app.simple",
      "sync.rsync", "sync.docker", "sync.btrfs", "volume", "task.host",
    ]) {
      expect(ids).toContain(id);
    }
  });

  it.each(keywordSets)("%s has no duplicate keyword names or aliases", (_id, kws) => {
    const names = kws.flatMap((k) => [k.name, ...(k.aliases ?? [])]);
    const dups = names.filter((n, i) => names.indexOf(n) !== i);
    expect(dups).toEqual([]);
  });

  it("a driver keyword that redefines a generic one keeps its type", () => {
    // e.g. fs.* declares promote_rw, which is also a generic keyword (§11.1)
    const generic = new Map(GENERIC_RESOURCE_KEYWORDS.flatMap((k) => [k.name, ...(k.aliases ?? [])].map((n) => [n, k] as const)));
    const clashes = BUILTIN_DRIVER_SPECS.flatMap((s) =>
      s.keywords
        .filter((k) => generic.has(k.name) && generic.get(k.name)?.type !== k.type)
        .map((k) => `${driverId(s)}.${k.name}`),
    );
    expect(clashes).toEqual([]);
  });

  it.each(allKeywords.filter(([, k]) => k.default !== undefined && !k.default.includes("{")).map(([id, k]) => [`${id}.${k.name}`, k] as const))(
    "%s default converts with its type",
    (_label, k) => {
      const r = convertValue(k.default as string, k.type);
      expect(r).toMatchObject({ ok: true });
    },
  );

  it("every candidates list is non-empty and every default is a candidate", () => {
    for (const [id, k] of allKeywords) {
      if (k.candidates === undefined) continue;
      expect(k.candidates.length, `${id}.${k.name}`).toBeGreaterThan(0);
      if (k.default !== undefined && !k.default.includes("{")) {
        const r = convertValue(k.default, k.type);
        const members = r.ok ? (Array.isArray(r.value) ? r.value.map(String) : [String(r.value)]) : [];
        for (const m of members) expect(k.candidates, `${id}.${k.name} default`).toContain(m);
      }
    }
  });

  it("every keyword has a text; required keywords have no default", () => {
    for (const [id, k] of allKeywords) {
      expect(k.text.length, `${id}.${k.name}`).toBeGreaterThan(0);
      if (k.required) expect(k.default, `${id}.${k.name}`).toBeUndefined();
    }
  });

  it("aliases point at an existing, non-alias driver of the same group", () => {
    for (const s of BUILTIN_DRIVER_SPECS) {
      if (s.aliasOf === undefined) continue;
      const target = BUILTIN_DRIVER_SPECS.find((t) => driverId(t) === s.aliasOf);
      expect(target, driverId(s)).toBeDefined();
      expect(target?.aliasOf).toBeUndefined();
      expect(target?.group).toBe(s.group);
    }
  });

  it("default driver types exist", () => {
    expect(DEFAULT_DRIVER_TYPES).toEqual({ app: "forking", container: "podman", ip: "host", sync: "rsync", task: "host", disk: "vg", volume: "" });
    for (const [group, type] of Object.entries(DEFAULT_DRIVER_TYPES)) {
      expect(ids).toContain(type ? `${group}.${type}` : group);
    }
    expect(DEFAULT_DRIVER_TYPES.fs).toBeUndefined();
  });

  it("marker keywords are the amazon ones and the ipname of the drivers that allocate here", () => {
    const markers = allKeywords.filter(([, k]) => k.markers).map(([id, k]) => `${id}.${k.name}`).sort();
    expect(markers).toEqual(["disk.amazon.volumes", "ip.amazon.eip", "ip.amazon.ipname", "ip.docker.ipname", "ip.host.ipname", "ip.netns.ipname"]);
  });
});
