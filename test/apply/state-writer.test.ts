// The apply's coalescing state writer, on a real state store in a temp dir.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stateWriter } from "../../src/apply/state-writer.js";
import { StateStore } from "../../src/state/store.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function store(): StateStore {
  const d = mkdtempSync(join(tmpdir(), "osvc-state-writer-"));
  dirs.push(d);
  return new StateStore(d);
}

const OBJECT = "writer-test";

function entry(rid: string, provisioned: boolean) {
  return { rid, driver: "fs.directory", provisioned, inputs: {}, outputs: {}, createdByOsvc: true, updatedAt: "" };
}

describe("state writer", () => {
  it("coalesces quick updates: N mutations take at most two writes, all land, the last value wins", async () => {
    const s = store();
    let writes = 0;
    const w = stateWriter({
      initial: s.newState(OBJECT, "n1", "0"),
      write: (next, serial) => {
        writes++;
        return s.writeState(OBJECT, next, serial);
      },
    });
    const n = 25;
    const all: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      all.push(w.persist((st) => void (st.resources[`fs#${i}`] = entry(`fs#${i}`, true))));
      all.push(w.persist((st) => void (st.resources.last = entry("last", i % 2 === 0))));
    }
    await Promise.all(all);
    await w.settled();
    // The first mutation starts a write at once; everything queued meanwhile goes in the next one.
    expect(writes).toBeLessThanOrEqual(2);
    const onDisk = await s.readState(OBJECT);
    expect(Object.keys(onDisk!.resources)).toHaveLength(n + 1);
    expect(onDisk!.resources.last.provisioned).toBe((n - 1) % 2 === 0);
    expect(w.current().serial).toBe(onDisk!.serial);
  });

  it("each caller resumes once its mutation is on disk; a failed write rejects its batch only", async () => {
    const s = store();
    let fail = true;
    const w = stateWriter({
      initial: s.newState(OBJECT, "n1", "0"),
      write: async (next, serial) => {
        if (fail) {
          fail = false;
          throw new Error("disk full");
        }
        return s.writeState(OBJECT, next, serial);
      },
      stamp: (next) => void (next.osvcVersion = "stamped"),
    });
    await expect(w.persist((st) => void (st.resources.a = entry("a", true)))).rejects.toThrow("disk full");
    await w.persist((st) => void (st.resources.b = entry("b", true)));
    const onDisk = await s.readState(OBJECT);
    expect(Object.keys(onDisk!.resources)).toEqual(["b"]);
    expect(onDisk!.osvcVersion).toBe("stamped");
  });
});

describe("state writer: copy on write", () => {
  it("writes only what the mutations did, keeps recorded resources frozen, and a mutation in place fails without touching the state", async () => {
    const s = store();
    const initial = s.newState(OBJECT, "n1", "0");
    initial.resources["fs#0"] = entry("fs#0", true);
    const w = stateWriter({ initial, write: (next, serial) => s.writeState(OBJECT, next, serial) });
    const kw = { mnt: "/a" };
    await w.persist((st) => void (st.resources["fs#1"] = { ...entry("fs#1", true), inputs: kw }));
    kw.mnt = "/changed-after"; // the caller's object: the recorded copy does not follow it
    await w.persist((st) => void delete st.resources["fs#0"]);
    const onDisk = (await s.readState(OBJECT))!;
    expect(Object.keys(onDisk.resources)).toEqual(["fs#1"]);
    expect(onDisk.resources["fs#1"].inputs).toEqual({ mnt: "/a" });
    expect(w.current().resources["fs#1"].inputs).toEqual({ mnt: "/a" });
    expect(Object.isFrozen(w.current().resources["fs#1"].inputs)).toBe(true);
    expect(initial.resources["fs#0"]).toBeDefined(); // the initial state given is not changed either

    const before = w.current();
    await expect(w.persist((st) => void ((st.resources["fs#1"].inputs as Record<string, unknown>).mnt = "/b"))).rejects.toThrow(TypeError);
    expect(w.current()).toBe(before);
    expect((await s.readState(OBJECT))!.resources["fs#1"].inputs).toEqual({ mnt: "/a" });
  });
});
