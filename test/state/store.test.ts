import { mkdtemp, readFile, readdir, rm, writeFile, appendFile, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { StateError, type ResourceState } from "../../src/state/model.js";
import { StateStore, defaultRoot, freezeResource, renderState } from "../../src/state/store.js";

let root: string;
let store: StateStore;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "osvc-state-"));
  store = new StateStore(root);
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

function res(rid: string, inputs: Record<string, unknown> = {}): ResourceState {
  return { rid, driver: "fs.flag", provisioned: true, inputs, outputs: {}, updatedAt: new Date().toISOString() };
}

describe("layout", () => {
  it("maps object paths to directories", () => {
    expect(store.objectDir("web")).toBe(join(root, "objects", "root", "svc", "web"));
    expect(store.objectDir("ns1/vol/data")).toBe(join(root, "objects", "ns1", "vol", "data"));
    expect(() => store.objectDir("a/b")).toThrow(StateError);
  });

  it("defaultRoot honours OSVC_ROOT", () => {
    const saved = process.env.OSVC_ROOT;
    process.env.OSVC_ROOT = "/tmp/x-osvc";
    try {
      expect(defaultRoot()).toBe("/tmp/x-osvc");
    } finally {
      if (saved === undefined) delete process.env.OSVC_ROOT;
      else process.env.OSVC_ROOT = saved;
    }
  });

  it("installs and reads the config, lists and deletes objects", async () => {
    expect(await store.readConfig("web")).toBeNull();
    await store.installConfig("web", "[DEFAULT]\nid = 1\n");
    await store.installConfig("ns1/svc/db", "[DEFAULT]\n");
    expect(await store.readConfig("web")).toBe("[DEFAULT]\nid = 1\n");
    expect((await stat(store.varDir("web"))).isDirectory()).toBe(true);
    expect(await store.listObjects()).toEqual(["ns1/svc/db", "web"]);
    await store.deleteObject("ns1/svc/db");
    expect(await store.listObjects()).toEqual(["web"]);
    expect(await readdir(join(root, "objects"))).toEqual(["root"]);
    // no temp files left behind
    expect((await readdir(store.objectDir("web"))).sort()).toEqual(["config.conf", "var"]);
  });
});

describe("state", () => {
  it("returns null when there is no state", async () => {
    expect(await store.readState("web")).toBeNull();
  });

  it("writes atomically, bumps the serial and keeps the previous state as backup", async () => {
    const s0 = store.newState("web", "n1", "0.1.0");
    expect(s0.serial).toBe(0);
    expect(s0.lineage).toMatch(/^[0-9a-f-]{36}$/);
    s0.resources["fs#1"] = res("fs#1", { size: 1 });
    expect(await store.writeState("web", s0, 0)).toBe(1);

    const s1 = await store.readState("web");
    expect(s1?.serial).toBe(1);
    expect(s1?.lineage).toBe(s0.lineage);
    expect(s1?.resources["fs#1"].inputs).toEqual({ size: 1 });

    s1!.resources["fs#1"].inputs = { size: 2 };
    expect(await store.writeState("web", s1!, 1)).toBe(2);
    const dir = store.objectDir("web");
    const backup = JSON.parse(await readFile(join(dir, "state.json.backup"), "utf8")) as { serial: number; resources: Record<string, ResourceState> };
    expect(backup.serial).toBe(1);
    expect(backup.resources["fs#1"].inputs).toEqual({ size: 1 });
    expect((await store.readState("web"))?.resources["fs#1"].inputs).toEqual({ size: 2 });
    expect((await readdir(dir)).sort()).toEqual(["state.json", "state.json.backup", "var"]);
    expect((await stat(join(dir, "state.json"))).mode & 0o777).toBe(0o600);
  });

  it("refuses a stale serial (concurrent writer)", async () => {
    const s = store.newState("web", "n1", "0.1.0");
    await store.writeState("web", s, 0);
    const a = (await store.readState("web"))!;
    const b = (await store.readState("web"))!;
    expect(await store.writeState("web", a, a.serial)).toBe(2);
    await expect(store.writeState("web", b, b.serial)).rejects.toThrow(/serial 2 on disk, expected 1/);
    // a second fresh state for an existing object is refused too
    await expect(store.writeState("web", store.newState("web", "n1", "0.1.0"), 0)).rejects.toThrow(StateError);
    expect((await store.readState("web"))?.serial).toBe(2);
  });

  it("after its own write, a store still sees another writer's rename or in-place write before writing again", async () => {
    // The store remembers the state.json it wrote last (inode, size, mtime) to skip reading it back:
    // that must never hide a write by another store (another osvc) nor an edit in place.
    const s = store.newState("web", "n1", "v");
    expect(await store.writeState("web", s, 0)).toBe(1);
    expect(await store.writeState("web", { ...s, serial: 1 }, 1)).toBe(2);
    const other = new StateStore(root);
    const seen = (await other.readState("web"))!;
    expect(await other.writeState("web", seen, 2)).toBe(3); // renamed over state.json: a new inode
    await expect(store.writeState("web", { ...s, serial: 2 }, 2)).rejects.toThrow(/serial 3 on disk, expected 2.*another osvc wrote it/);

    const mine = (await store.readState("web"))!;
    expect(await store.writeState("web", mine, 3)).toBe(4);
    const file = join(store.objectDir("web"), "state.json");
    const before = await stat(file);
    const edited = JSON.parse(await readFile(file, "utf8")) as { serial: number };
    edited.serial = 40;
    await writeFile(file, `${JSON.stringify(edited)}\n`); // in place: the same inode
    expect((await stat(file)).ino).toBe(before.ino);
    await expect(store.writeState("web", mine, 4)).rejects.toThrow(/serial 40 on disk, expected 4/);
  });

  it("keeps each previous state as the backup, as its own file, across many writes", async () => {
    let s = store.newState("web", "n1", "v");
    for (let serial = 0; serial < 5; serial++) {
      s.resources["fs#1"] = res("fs#1", { size: serial });
      expect(await store.writeState("web", s, serial)).toBe(serial + 1);
      s = { ...s, serial: serial + 1, resources: { ...s.resources } };
    }
    const dir = store.objectDir("web");
    const cur = JSON.parse(await readFile(join(dir, "state.json"), "utf8")) as { serial: number; resources: Record<string, ResourceState> };
    const bak = JSON.parse(await readFile(join(dir, "state.json.backup"), "utf8")) as { serial: number; resources: Record<string, ResourceState> };
    expect([cur.serial, cur.resources["fs#1"].inputs]).toEqual([5, { size: 4 }]);
    expect([bak.serial, bak.resources["fs#1"].inputs]).toEqual([4, { size: 3 }]);
    expect((await stat(join(dir, "state.json"))).ino).not.toBe((await stat(join(dir, "state.json.backup"))).ino);
    expect((await readdir(dir)).sort()).toEqual(["state.json", "state.json.backup", "var"]);
  });

  it("serializes concurrent in-process writes: exactly one of two wins", async () => {
    await store.writeState("web", store.newState("web", "n1", "v"), 0);
    const s = (await store.readState("web"))!;
    const results = await Promise.allSettled([store.writeState("web", s, 1), store.writeState("web", s, 1)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(results.filter((r) => r.status === "rejected")).toHaveLength(1);
  });

  it("refuses another lineage and a mismatched object", async () => {
    const s = store.newState("web", "n1", "v");
    await store.writeState("web", s, 0);
    const other = { ...s, lineage: "00000000-0000-0000-0000-000000000000" };
    await expect(store.writeState("web", other, 1)).rejects.toThrow(/lineage/);
    await expect(store.writeState("db", s, 0)).rejects.toThrow(/as the state of db/);
  });

  it("falls back to the backup when state.json is corrupt, with a warning", async () => {
    const s = store.newState("web", "n1", "v");
    await store.writeState("web", s, 0);
    await store.writeState("web", (await store.readState("web"))!, 1);
    const file = join(store.objectDir("web"), "state.json");
    await writeFile(file, '{"format": 1, "lin');
    const load = await store.loadState("web");
    expect(load.source).toBe("backup");
    expect(load.state?.serial).toBe(1);
    expect(load.warnings[0]).toMatch(/state\.json is corrupt .*using .*state\.json\.backup \(serial 1\)/);
    const warnings: string[] = [];
    expect((await store.readState("web", (w) => warnings.push(w)))?.serial).toBe(1);
    expect(warnings).toHaveLength(1);

    // writing on top of the backup keeps the good backup and moves the damaged file aside
    expect(await store.writeState("web", load.state!, 1)).toBe(2);
    const files = await readdir(store.objectDir("web"));
    expect(files.some((f) => f.startsWith("state.json.corrupt-"))).toBe(true);
    expect(JSON.parse(await readFile(file + ".backup", "utf8")).serial).toBe(1);
    expect((await store.loadState("web")).source).toBe("state");
  });

  it("refuses a state (or backup) recording another object, naming the file", async () => {
    await store.writeState("web", store.newState("web", "n1", "v"), 0);
    const file = join(store.objectDir("web"), "state.json");
    const text = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
    await writeFile(file, JSON.stringify({ ...text, object: "db" }));
    await expect(store.loadState("web")).rejects.toThrow(StateError);
    await expect(store.loadState("web")).rejects.toThrow(`${file} records the object "db", not "web"`);
    await rm(file);
    await writeFile(`${file}.backup`, JSON.stringify({ ...text, object: "db" }));
    await expect(store.loadState("web")).rejects.toThrow(`${file}.backup records the object "db", not "web"`);
  });

  it("throws naming both files when state and backup are corrupt", async () => {
    const s = store.newState("web", "n1", "v");
    await store.writeState("web", s, 0);
    await store.writeState("web", (await store.readState("web"))!, 1);
    const dir = store.objectDir("web");
    await writeFile(join(dir, "state.json"), "");
    await writeFile(join(dir, "state.json.backup"), "{not json");
    const err = await store.readState("web").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StateError);
    expect((err as Error).message).toContain(join(dir, "state.json"));
    expect((err as Error).message).toContain(join(dir, "state.json.backup"));
    await expect(store.writeState("web", s, 2)).rejects.toThrow(StateError);
  });

  it("rejects a structurally invalid state file as corrupt", async () => {
    const dir = store.objectDir("web");
    await store.installConfig("web", "");
    await writeFile(join(dir, "state.json"), JSON.stringify({ format: 2 }));
    await expect(store.readState("web")).rejects.toThrow(/unsupported format 2.*no .*backup/);
  });
});

describe("journal", () => {
  it("appends and reads entries; a torn last line is ignored and cut on the next append", async () => {
    expect(await store.readJournal("web")).toEqual([]);
    const e1 = await store.appendJournal("web", { run: "r1", op: "intent", rid: "fs#1", action: "provision" });
    expect(e1.ts).toMatch(/^\d{4}-/);
    await store.appendJournal("web", { run: "r1", op: "outcome", rid: "fs#1", action: "provision", ok: true });
    const file = join(store.objectDir("web"), "journal.ndjson");
    await appendFile(file, '{"ts":"2024-01-01T00:00:00Z","run":"r1","op":"inte');
    const read = await store.readJournal("web");
    expect(read.map((e) => e.op)).toEqual(["intent", "outcome"]);
    expect(read[1].ok).toBe(true);

    await store.appendJournal("web", { run: "r2", op: "intent", rid: "disk#0", action: "provision" });
    const text = await readFile(file, "utf8");
    expect(text.split("\n")).toHaveLength(4); // 3 lines + final ""
    expect((await store.readJournal("web")).map((e) => e.run)).toEqual(["r1", "r1", "r2"]);
  });

  it("reports a corrupt line in the middle", async () => {
    await store.appendJournal("web", { run: "r1", op: "intent", rid: "fs#1", action: "provision" });
    await appendFile(join(store.objectDir("web"), "journal.ndjson"), "garbage\n");
    await expect(store.readJournal("web")).rejects.toThrow(/journal\.ndjson:2: corrupt journal entry/);
  });

  it("lists pending intents grouped by run, and compacts completed runs", async () => {
    const j = (run: string, op: "intent" | "outcome", rid: string, action = "provision", ok?: boolean) =>
      store.appendJournal("web", { run, op, rid, action, ...(ok === undefined ? {} : { ok }) });
    await j("r1", "intent", "disk#0");
    await j("r1", "outcome", "disk#0", "provision", true);
    await j("r2", "intent", "disk#0");
    await j("r2", "outcome", "disk#0", "provision", false);
    await j("r3", "intent", "disk#0");
    await j("r3", "outcome", "disk#0", "provision", true);
    await j("r3", "intent", "fs#1");
    await j("r3", "intent", "fs#1", "start");
    await j("r4", "intent", "ip#0");

    const p = await store.pendingIntents("web");
    expect(p.map((r) => [r.run, r.intents.map((e) => `${e.rid}:${e.action}`)])).toEqual([
      ["r3", ["fs#1:provision", "fs#1:start"]],
      ["r4", ["ip#0:provision"]],
    ]);

    const file = join(store.objectDir("web"), "journal.ndjson");
    const ino = (await stat(file)).ino;
    expect(await store.compactJournal("web")).toBe(4);
    expect((await stat(file)).ino, "entries still pending: rewritten (temp file, fsync, rename)").not.toBe(ino);
    expect((await store.readJournal("web")).map((e) => e.run)).toEqual(["r3", "r3", "r3", "r3", "r4"]);
    expect(await store.pendingIntents("web")).toEqual(p);
    expect(await store.compactJournal("web")).toBe(0);
  });

  it("empties a journal whose runs all have their outcomes in place (what each successful apply leaves)", async () => {
    await store.appendJournal("web", { run: "r1", op: "intent", rid: "disk#0", action: "provision" });
    await store.appendJournal("web", { run: "r1", op: "outcome", rid: "disk#0", action: "provision", ok: true });
    const file = join(store.objectDir("web"), "journal.ndjson");
    const ino = (await stat(file)).ino;
    expect(await store.compactJournal("web")).toBe(2);
    expect(await readFile(file, "utf8")).toBe("");
    expect((await stat(file)).ino).toBe(ino);
    expect((await readdir(store.objectDir("web"))).filter((f) => f.includes(".tmp-"))).toEqual([]);
    expect(await store.compactJournal("web")).toBe(0);
    await store.appendJournal("web", { run: "r2", op: "intent", rid: "fs#1", action: "provision" });
    expect((await store.pendingIntents("web")).map((r) => r.run)).toEqual(["r2"]);
  });
});

const text = (s: Parameters<typeof renderState>[0]) => renderState(s).toString("utf8");

describe("state text", () => {
  it("is exactly JSON.stringify(state, null, 2) and a newline, for any content", () => {
    const s = store.newState("web", "n1", "0.1.0");
    expect(text(s)).toBe(`${JSON.stringify(s, null, 2)}\n`);
    s.resources["fs#1"] = { ...res("fs#1", { mnt: "/a b", list: [1, [2, { x: null }]], empty: {}, none: [] }), outputs: { note: 'line\n  "resources": {}\ttab "q" \u00e9\u2028' } };
    s.resources["app#0"] = res("app#0", { script: "é\\" });
    s.resources["gone#0"] = undefined as unknown as ResourceState; // JSON.stringify leaves it out
    s.resources["disk#0"] = freezeResource(res("disk#0", { size: 3 }));
    const want = `${JSON.stringify(s, null, 2)}\n`;
    expect(text(s)).toBe(want);
    expect(text(s)).toBe(want); // the frozen resource from its cached text
  });

  it("refuses an invalid resource or top level, as parseStateFile would", () => {
    const s = store.newState("web", "n1", "0.1.0");
    s.resources["fs#1"] = { ...res("fs#1"), rid: "fs#2" };
    expect(() => text(s)).toThrow(/resource fs#1 has rid "fs#2"/);
    const t = store.newState("web", "n1", "0.1.0");
    expect(() => text({ ...t, serial: -1 })).toThrow(/serial/);
  });
});

describe("readDerived: a value derived from another object's state, cached per state file", () => {
  const derive = (calls: string[]) => (s: { serial: number; resources: Record<string, ResourceState> }) => {
    calls.push(`serial ${s.serial}`);
    return { serial: s.serial, rids: Object.keys(s.resources) };
  };
  const cacheFile = () => join(root, "cache", "t-1", "web.json");

  it("derives once per state file: the cache answers until state.json is written again", async () => {
    expect(await store.readDerived("web", "t-1", derive([]))).toBeNull(); // no state: nothing cached
    const s = store.newState("web", "n1", "v");
    s.resources["fs#1"] = res("fs#1");
    await store.writeState("web", s, 0);
    const calls: string[] = [];
    expect(await store.readDerived("web", "t-1", derive(calls))).toEqual({ serial: 1, rids: ["fs#1"] });
    expect(await store.readDerived("web", "t-1", derive(calls))).toEqual({ serial: 1, rids: ["fs#1"] });
    expect(calls).toEqual(["serial 1"]);
    // The cached value is what answers while the stamp matches (shown by editing it):
    const cached = JSON.parse(await readFile(cacheFile(), "utf8")) as { stamp: Record<string, string>; value: unknown };
    expect(Object.keys(cached.stamp).sort()).toEqual(["dev", "ino", "mtimeNs", "size"]);
    await writeFile(cacheFile(), JSON.stringify({ ...cached, value: { edited: true } }));
    expect(await store.readDerived("web", "t-1", derive(calls))).toEqual({ edited: true });
    // ...and never once state.json was written again (new inode, size, mtime).
    const s1 = (await store.readState("web"))!;
    s1.resources["fs#2"] = res("fs#2");
    await store.writeState("web", s1, 1);
    expect(await store.readDerived("web", "t-1", derive(calls))).toEqual({ serial: 2, rids: ["fs#1", "fs#2"] });
    expect(calls).toEqual(["serial 1", "serial 2"]);
    // Another tag (another value, or a new version of `derive`) has its own cache.
    expect(await store.readDerived("web", "t-2", derive(calls))).toEqual({ serial: 2, rids: ["fs#1", "fs#2"] });
    expect(calls).toHaveLength(3);
  });

  it("a damaged cache is derived again; a state read from the backup is never cached; no writable cache: still answers", async () => {
    const s = store.newState("web", "n1", "v");
    await store.writeState("web", s, 0);
    await store.writeState("web", (await store.readState("web"))!, 1);
    const calls: string[] = [];
    await store.readDerived("web", "t-1", derive(calls));
    await writeFile(cacheFile(), '{"stamp": {"dev"');
    expect(await store.readDerived("web", "t-1", derive(calls))).toEqual({ serial: 2, rids: [] });
    expect(calls).toEqual(["serial 2", "serial 2"]);

    await rm(cacheFile());
    await writeFile(join(store.objectDir("web"), "state.json"), '{"format": 1, "lin');
    expect(await store.readDerived("web", "t-1", derive(calls))).toEqual({ serial: 1, rids: [] }); // the backup
    await expect(stat(cacheFile())).rejects.toThrow(/ENOENT/);

    await rm(join(root, "cache"), { recursive: true });
    await writeFile(join(root, "cache"), "not a directory");
    await store.writeState("web", (await store.loadState("web")).state!, 1);
    expect(await store.readDerived("web", "t-1", derive(calls))).toEqual({ serial: 2, rids: [] });
    expect(await store.readDerived("web", "t-1", derive(calls))).toEqual({ serial: 2, rids: [] });
    expect(calls.slice(-2)).toEqual(["serial 2", "serial 2"]); // derived each time, no cache
  });
});
