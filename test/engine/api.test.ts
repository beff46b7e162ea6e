// The engine's API in process, as cli/ and cluster/ call it: typed requests in, results and
// events out, no argv, no stdin. Real fs.directory resources under a temp dir, checked on disk.
import { existsSync, mkdtempSync, realpathSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { BUILTIN_PROVIDERS } from "../../providers/index.js";
import type { ApplyEvent } from "../../src/apply/applier.js";
import { builtinCatalog } from "../../src/cli/common.js";
import { compileTexts } from "../../src/config/index.js";
import { parseObjectPath } from "../../src/core/path.js";
import { apply, computePlan, destroyPlan, EngineError, objectStatus, prepare, withLock, type EngineContext } from "../../src/engine/index.js";
import { hasChanges } from "../../src/plan/model.js";
import { ProviderRegistry } from "../../src/provider/registry.js";
import { StateStore } from "../../src/state/store.js";
import { cleanAfter } from "../helpers/e2e.js";

function setup(ctx: Parameters<typeof cleanAfter>[0]) {
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), "osvc-engine-api-")));
  cleanAfter(ctx, dir);
  const notes: string[] = [];
  const ectx: EngineContext = {
    store: new StateStore(path.join(dir, "root")),
    registry: new ProviderRegistry(BUILTIN_PROVIDERS),
    catalog: builtinCatalog(),
    osvcVersion: "0.0.0-test",
    notify: (t) => void notes.push(t),
  };
  const name = `engapi${process.pid}`;
  const p = parseObjectPath(name);
  if (!p.ok) throw new Error(p.error);
  const text = `[fs#0]\ntype = directory\npath = ${dir}/srv\n\n[fs#1]\ntype = directory\npath = ${dir}/srv/www\n`;
  const compiled = compileTexts([{ name: `${name}.conf`, text }], { path: p.path, nodename: os.hostname(), catalog: builtinCatalog() });
  const prepared = prepare(compiled);
  if (!prepared.ok) throw new Error(JSON.stringify(prepared.diagnostics));
  return { dir, ectx, notes, name, path: p.path, text, p: prepared.prepared };
}

describe("engine API", () => {
  it("plan, apply under the lock, status, re-plan to no changes, destroy: typed requests, events out", async (ctx) => {
    const { dir, ectx, name, path: objPath, text, p } = setup(ctx);
    const lock = { object: name, command: "engine api test", timeoutMs: 0 };
    const events: ApplyEvent[] = [];
    const r = await withLock(ectx, lock, async () => {
      const plan = await computePlan(ectx, p, { leader: true });
      expect(plan.changes.map((c) => `${c.rid} ${c.action}`)).toEqual(["fs#0 provision", "fs#1 provision"]);
      return apply(ectx, { plan, configText: text, parallelism: 4, disableRollback: false, emit: (e) => events.push(e) });
    });
    expect(r.ok).toBe(true);
    expect(r.done).toEqual(["fs#0", "fs#1"]);
    expect(statSync(path.join(dir, "srv/www")).isDirectory()).toBe(true);
    expect(events.filter((e) => e.type === "change_done").map((e) => (e as { rid: string }).rid)).toEqual(["fs#0", "fs#1"]);
    expect(await ectx.store.readConfig(name)).toBe(text);

    const status = await objectStatus(ectx, name, {});
    expect(status.resources.map((s) => `${s.rid} ${s.status}`)).toEqual(["fs#0 up", "fs#1 up"]);
    expect(hasChanges(await computePlan(ectx, p, { leader: true }))).toBe(false);

    const destroy = await destroyPlan(ectx, { path: objPath });
    expect(destroy?.changes.map((c) => `${c.rid} ${c.action}`).sort()).toEqual(["fs#0 unprovision", "fs#1 unprovision"]);
    const d = await withLock(ectx, lock, () => apply(ectx, { plan: destroy!, parallelism: 4, disableRollback: false, emit: () => undefined }));
    expect(d.ok).toBe(true);
    expect(existsSync(path.join(dir, "srv"))).toBe(false);
    expect(await destroyPlan(ectx, { path: objPath })).toBeUndefined();
  });

  it("acting on a backup state asks through the request's callback, never stdin; refused without one", async (ctx) => {
    const { ectx, notes, name, text, p } = setup(ctx);
    const lock = { object: name, command: "engine api test", timeoutMs: 0 };
    const plan = await computePlan(ectx, p, { leader: true });
    await withLock(ectx, lock, () => apply(ectx, { plan, configText: text, parallelism: 4, disableRollback: false, emit: () => undefined }));
    // state.json lost: the next lock holder would act on state.json.backup.
    rmSync(path.join(ectx.store.objectDir(name), "state.json"));
    const asked: string[] = [];
    await expect(withLock(ectx, lock, async () => 1)).rejects.toThrow(EngineError);
    await expect(withLock(ectx, { ...lock, confirmBackup: async (q) => (asked.push(q), false) }, async () => 1)).rejects.toThrow("cancelled: the backup state was not confirmed");
    expect(await withLock(ectx, { ...lock, confirmBackup: async (q) => (asked.push(q), true) }, async () => 2)).toBe(2);
    expect(asked).toHaveLength(2);
    expect(asked[0]).toContain("state.json.backup");
    expect(notes.some((n) => n.startsWith("warning:"))).toBe(true);
    // Clean up through the engine, from the backup, forced.
    await withLock(ectx, { ...lock, force: true }, async () => {
      const destroy = await destroyPlan(ectx, { path: p.compiled.evaluated.path });
      if (destroy) await apply(ectx, { plan: destroy, parallelism: 4, disableRollback: false, emit: () => undefined });
    });
  });
});
