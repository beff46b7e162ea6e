// Plan shows what apply will do or refuse (issue 10 item 2), on the real host: a change of fs type
// is a data-bearing replace (refused without --allow-replace, then done for real with it); a mount
// point another mount uses is a plan error at the mnt line; an adopted image of another size is
// shown as such; a node the template does not name is refused unless named on purpose.
import { existsSync, mkdirSync, truncateSync, writeFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { blkidType } from "../helpers/host.js";
import { loopsBackedBy, mountsUnder, must, sandbox, show } from "../helpers/e2e.js";

describe.concurrent("plan says what apply will do or refuse", () => {
  it("an fs type change is a replace that destroys data: refused without --allow-replace, done with it", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-fstype-");
    const name = "e2e-fstype";
    const img = sb.at("disk.img");
    const tpl = (type: string) =>
      sb.write("fs.conf", `[disk#0]\ntype = loop\nfile = ${img}\nsize = 320m\n\n[fs#0]\ntype = ${type}\ndev = {disk#0.exposed_devs[0]}\nmnt = ${sb.at("data")}\n`);
    const a = await sb.osvc(["apply", tpl("ext4"), "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(0);
    expect(blkidType(img)).toBe("ext4");

    const p = await sb.osvc(["plan", tpl("xfs"), "--path", name]);
    expect(p.code, show(p)).toBe(1);
    expect(p.stdout).toMatch(/-\/\+ fs#0 \(fs\.xfs\) must be replaced: type changed \(fs\.ext4 -> fs\.xfs\)/);
    expect(p.stdout).not.toMatch(/missing on the host/);
    expect(p.stderr).toMatch(/error E3002: fs#0 must be replaced, which destroys its data/);
    expect(p.stderr).not.toMatch(/E3003/);
    const refused = await sb.osvc(["apply", tpl("xfs"), "--path", name, "--auto-approve"]);
    expect(refused.code, show(refused)).toBe(1);
    expect(blkidType(img)).toBe("ext4");

    const r = await sb.osvc(["apply", tpl("xfs"), "--path", name, "--auto-approve", "--allow-replace", "fs#0"]);
    expect(r.code, show(r)).toBe(0);
    expect(blkidType(img)).toBe("xfs");
    expect(must("findmnt", ["-n", "-o", "FSTYPE", sb.at("data")]).trim()).toBe("xfs");
    const again = await sb.osvc(["plan", tpl("xfs"), "--path", name, "--detailed-exitcode"]);
    expect(again.code, show(again)).toBe(0);

    const d = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(d.code, show(d)).toBe(0);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(loopsBackedBy(img)).toEqual([]);
    expect(existsSync(img)).toBe(false);
  });

  it("a mount point another mount uses is a plan error pointing at the mnt line", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-busymnt-");
    const mnt = sb.at("busy");
    mkdirSync(mnt);
    must("mount", ["-t", "tmpfs", "-o", "size=1m", "osvc-test-busy", mnt]);
    const tpl = sb.write("busy.conf", `[disk#0]\ntype = loop\nfile = ${sb.at("d.img")}\nsize = 16m\n\n[fs#0]\ntype = ext4\ndev = ${sb.at("d.img")}\nmnt = ${mnt}\n`);
    truncateSync(sb.write("d.img", ""), 16 * 1024 * 1024);
    const p = await sb.osvc(["plan", tpl, "--path", "e2e-busymnt"]);
    expect(p.code, show(p)).toBe(1);
    expect(p.stderr).toMatch(new RegExp(`busy\\.conf:9:7: error E3003: fs#0: ${mnt.replace(/[/.]/g, "\\$&")} is already a mount point of osvc-test-busy`));
    expect(p.stderr).toMatch(/9 \| mnt = /);
    const a = await sb.osvc(["apply", tpl, "--path", "e2e-busymnt", "--auto-approve"]);
    expect(a.code, show(a)).toBe(1);
    expect(blkidType(sb.at("d.img"))).toBeUndefined();
  });

  it("an adopted image of another size is shown as such, and kept as it is", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-adoptsize-");
    const img = sb.at("big.img");
    writeFileSync(img, "");
    truncateSync(img, 20 * 1024 * 1024);
    const tpl = sb.write("a.conf", `[disk#0]\ntype = loop\nfile = ${img}\nsize = 10m\n`);
    const p = await sb.osvc(["plan", tpl, "--path", "e2e-adoptsize"]);
    expect(p.code, show(p)).toBe(0);
    expect(p.stdout).toMatch(/= disk#0 \(disk\.loop\) will be adopted: .*differs from the template: size is 20m, not 10m \(kept as is: not changeable in place\)/);
    const j = await sb.planJson(tpl, ["--path", "e2e-adoptsize"]);
    const c = j.plan.resource_changes.find((x) => x.rid === "disk#0") as unknown as { change: { before: Record<string, unknown> } };
    expect(c.change.before.size).toBe("20m");
  });

  it("a node the template does not name: refused at plan, unless --node names this host", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-othernode-");
    const tpl = sb.write("o.conf", `[DEFAULT]\nnodes = elsewhere1 elsewhere2\n\n[fs#0]\ntype = directory\npath = ${sb.at("dir")}\n`);
    const p = await sb.osvc(["plan", tpl, "--path", "e2e-othernode"]);
    expect(p.code, show(p)).toBe(1);
    expect(p.stderr).toMatch(/o\.conf:2:9: error E3008: this node \(.+\) is not one of the object's nodes/);
    const a = await sb.osvc(["apply", tpl, "--path", "e2e-othernode", "--auto-approve"]);
    expect(a.code, show(a)).toBe(1);
    expect(existsSync(sb.at("dir"))).toBe(false);
    const named = await sb.osvc(["plan", tpl, "--path", "e2e-othernode", "--node", "elsewhere1"]);
    expect(named.code, show(named)).toBe(0);
  });
});
