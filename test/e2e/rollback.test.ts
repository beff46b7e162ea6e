// How it works: a disk.loop + fs.ext4 template whose mkfs_opt is invalid makes apply fail midway; we check the output, the host (losetup -j, findmnt, the sandbox listing), state.json and journal.ndjson, and the next plan — once with rollback, once with --disable-rollback.
import { existsSync, readdirSync } from "node:fs";
import { describe, expect, it, type TestContext } from "vitest";
import { actionMap, actionsOf, loopsBackedBy, mountsUnder, sandbox, show, type Sandbox } from "../helpers/e2e.js";

function setup(ctx: TestContext, prefix: string, mkfsOpt: string | undefined) {
  const sb = sandbox(ctx, prefix);
  const file = sb.at("disk.img");
  const mnt = sb.at("data");
  const tpl = (opt: string | undefined) =>
    sb.write(
      "t.conf",
      `[disk#0]\ntype = loop\nfile = ${file}\nsize = 32m\n\n[fs#0]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = ${mnt}\n${opt ? `mkfs_opt = ${opt}\n` : ""}`,
    );
  return { sb, file, mnt, tpl, template: tpl(mkfsOpt) };
}

/** The sandbox listing, without the state root: what the host looks like below the sandbox. */
function listing(sb: Sandbox): string[] {
  return readdirSync(sb.dir)
    .filter((f) => f !== "state")
    .sort();
}

describe.concurrent("a resource that fails midway", () => {
  it("is rolled back: the host is as before, the state and journal say what happened, the next plan provisions both again", async (ctx) => {
    const { sb, file, mnt, template } = setup(ctx, "osvc-e2e-rollback-", "-b 3");
    const name = "e2e-rollback";
    const before = listing(sb);

    const r = await sb.osvc(["apply", template, "--path", name, "--auto-approve"]);
    expect(r.code, show(r)).toBe(1);
    // what failed, and why
    expect(r.stdout).toMatch(/^ERROR +e2e-rollback\.fs#0 +provision failed after [\d.]+s: mkfs\.ext4 failed on \/dev\/loop\d+.*invalid block size/m);
    // that it rolled back what this run activated
    expect(r.stdout).toMatch(/^WARNING +e2e-rollback +rolling back what this run activated \(1 step\)/m);
    expect(r.stdout).toMatch(/^INFO +e2e-rollback\.disk#0 +rollback: unprovisioned/m);
    expect(r.stdout).toMatch(/Apply failed: 1 done, 1 failed \(fs#0\), 1 rolled back \(disk#0\)/);

    // the host is as it was: no loop for the file, the image this run created is gone, no mount, no mount point
    expect(loopsBackedBy(file)).toEqual([]);
    expect(existsSync(file)).toBe(false);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(existsSync(mnt)).toBe(false);
    expect(listing(sb)).toEqual(before);

    // state: the failed rid with its error, nothing recorded as provisioned
    const st = sb.state(name)!;
    expect(st.resources["fs#0"]).toMatchObject({ provisioned: false });
    expect(st.resources["fs#0"].lastError).toMatch(/mkfs\.ext4 failed.*invalid block size/s);
    expect(Object.values(st.resources).filter((x) => x.provisioned === true)).toEqual([]);
    expect(st.resources["disk#0"]?.provisioned ?? false).toBe(false);

    // journal: an intent before and an outcome after each step, the rollback recorded
    const j = sb.journal(name).map((e) => ({ op: e.op, rid: e.rid, action: e.action, ok: e.ok }));
    expect(j).toEqual([
      { op: "intent", rid: "disk#0", action: "provision", ok: undefined },
      { op: "outcome", rid: "disk#0", action: "provision", ok: true },
      { op: "intent", rid: "fs#0", action: "provision", ok: undefined },
      { op: "outcome", rid: "fs#0", action: "provision", ok: false },
      { op: "outcome", rid: "disk#0", action: "rollback-unprovision", ok: true },
    ]);
    expect(sb.journal(name).find((e) => e.rid === "fs#0" && e.op === "outcome")!.error).toMatch(/mkfs\.ext4/);
    expect(new Set(sb.journal(name).map((e) => e.run)).size).toBe(1);

    // the next plan is right: both to provision again
    const p = await sb.planJson(template, ["--path", name, "--detailed-exitcode"]);
    expect(p.code, p.stderr).toBe(2);
    expect(actionMap(p.plan)).toEqual({ "disk#0": "provision", "fs#0": "provision" });
  });

  it("with --disable-rollback: the disk stays provisioned and attached, the state says so, the next plan only provisions the fs", async (ctx) => {
    const { sb, file, mnt, tpl, template } = setup(ctx, "osvc-e2e-norollback-", "-b 3");
    const name = "e2e-norollback";

    const r = await sb.osvc(["apply", template, "--path", name, "--auto-approve", "--disable-rollback"]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stdout).toMatch(/^ERROR +e2e-norollback\.fs#0 +provision failed .*mkfs\.ext4 failed/m);
    expect(r.stdout).not.toMatch(/rolling back|rollback:/);
    expect(r.stdout).toMatch(/Apply failed: 1 done, 1 failed \(fs#0\)/);

    // the disk is left in place: file and loop; the fs is not mounted
    const devs = loopsBackedBy(file);
    expect(devs).toHaveLength(1);
    expect(existsSync(file)).toBe(true);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(existsSync(mnt)).toBe(false);

    const st = sb.state(name)!;
    expect(st.resources["disk#0"]).toMatchObject({ provisioned: true, outputs: { exposed_devs: devs } });
    expect(st.resources["disk#0"].lastError).toBeUndefined();
    expect(st.resources["fs#0"]).toMatchObject({ provisioned: false });
    expect(st.resources["fs#0"].lastError).toMatch(/mkfs\.ext4 failed/);

    // the next plan: only the fs, on the device the disk already has
    const p = await sb.planJson(template, ["--path", name, "--detailed-exitcode"]);
    expect(p.code, p.stderr).toBe(2);
    expect(actionsOf(p.plan)).toEqual(["fs#0:provision"]);
    expect(p.plan.resource_changes.find((c) => c.rid === "fs#0")!.change.after).toMatchObject({ dev: devs[0] });

    // fixing the template converges from there, and destroy removes it all
    const fixed = tpl(undefined);
    const a = await sb.osvc(["apply", fixed, "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(0);
    expect(loopsBackedBy(file)).toEqual(devs);
    expect(mountsUnder(sb.dir)).toEqual([mnt]);
    const d = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(d.code, show(d)).toBe(0);
    expect(loopsBackedBy(file)).toEqual([]);
    expect(existsSync(file)).toBe(false);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(sb.state(name)!.resources).toEqual({});
  });
});
