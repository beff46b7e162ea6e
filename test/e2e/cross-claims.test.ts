// Two objects of one node that declare the same backing file (or mount point...): the plan of the
// second one is refused with both names, and destroying one never takes what the other holds.
import { cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { findmnt } from "../helpers/host.js";
import { loopsBackedBy, mountsUnder, runCliAsync, sandbox, show } from "../helpers/e2e.js";

const loopFs = (file: string, mnt: string) => `[disk#0]\ntype = loop\nfile = ${file}\nsize = 32m\n\n[fs#0]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = ${mnt}\n`;

describe.concurrent("two objects declaring the same backing file or mount point", () => {
  it("the plan of the second object is an error naming both objects; apply changes nothing", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-claims-plan-");
    const file = sb.at("shared.img");
    const a = await sb.osvc(["apply", sb.write("a.conf", loopFs(file, sb.at("ma"))), "--path", "claim-a", "--auto-approve"]);
    expect(a.code, show(a)).toBe(0);

    const tplB = sb.write("b.conf", loopFs(file, sb.at("mb")));
    const p = await sb.osvc(["plan", tplB, "--path", "claim-b"]);
    expect(p.code, show(p)).toBe(1);
    expect(p.stderr).toContain("E3012");
    expect(p.stderr).toMatch(new RegExp(`disk#0 of claim-b declares the backing file ${file}, which disk#0 of the object claim-a holds`));

    const b = await sb.osvc(["apply", tplB, "--path", "claim-b", "--auto-approve"]);
    expect(b.code, show(b)).toBe(1);
    expect(findmnt(sb.at("mb"))).toBeFalsy();
    expect(loopsBackedBy(file)).toHaveLength(1);

    // A mount point another object holds is refused the same way.
    const m = await sb.osvc(["plan", sb.write("c.conf", `[fs#0]\ntype = directory\npath = ${sb.at("ma")}\n`), "--path", "claim-c"]);
    expect(m.code, show(m)).toBe(1);
    expect(m.stderr).toContain(`fs#0 of claim-c declares the directory ${sb.at("ma")}, which fs#0 of the object claim-a holds`);

    const x = await sb.osvc(["destroy", "claim-a", "--auto-approve"]);
    expect(x.code, show(x)).toBe(0);
    expect(loopsBackedBy(file)).toEqual([]);
    expect(existsSync(file)).toBe(false);
  });

  it("destroying one of two objects that both recorded a backing file leaves it to the other", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-claims-destroy-");
    const file = sb.at("shared.img");
    const a = await sb.osvc(["apply", sb.write("a.conf", loopFs(file, sb.at("ma"))), "--path", "claim-a", "--auto-approve"]);
    expect(a.code, show(a)).toBe(0);
    // claim-b was applied where claim-a's state was not visible (another state root), then its
    // state joined this root: both now record the same backing file.
    const other = sb.at("other-root");
    mkdirSync(other);
    const b = await runCliAsync(["apply", sb.write("b.conf", loopFs(file, sb.at("mb"))), "--path", "claim-b", "--auto-approve", "--root", other]);
    expect(b.code, show(b)).toBe(0);
    cpSync(path.join(other, "objects/root/svc/claim-b"), sb.objectDir("claim-b"), { recursive: true });
    rmSync(other, { recursive: true });
    expect(findmnt(sb.at("mb"))).toBeTruthy();

    const x = await sb.osvc(["destroy", "claim-a", "--auto-approve"]);
    expect(x.code, show(x)).toBe(0);
    expect(x.stderr).toMatch(/W3012.*disk#0 of claim-a: the backing file .* is held by disk#0 of the object claim-b too/);
    expect(findmnt(sb.at("ma"))).toBeFalsy();
    // claim-b's filesystem is still mounted on its loop device, its file still there.
    expect(findmnt(sb.at("mb"))).toBeTruthy();
    expect(loopsBackedBy(file)).toHaveLength(1);
    expect(existsSync(file)).toBe(true);

    const y = await sb.osvc(["destroy", "claim-b", "--auto-approve"]);
    expect(y.code, show(y)).toBe(0);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(loopsBackedBy(file)).toEqual([]);
  });
});
