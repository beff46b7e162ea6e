// Lost or stale state is never silent: a fallback to state.json.backup is said (both files named)
// and needs --force to act on; no readable state while the journal names what the host holds is
// reported, not "nothing recorded"; a state recording another object is an error naming the file.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { findmnt } from "../helpers/host.js";
import { loopsBackedBy, mountsUnder, sandbox, show, type Sandbox } from "../helpers/e2e.js";

async function provisioned(sb: Sandbox, name: string) {
  const file = sb.at("disk.img");
  const mnt = sb.at("data");
  const tpl = sb.write("t.conf", `[disk#0]\ntype = loop\nfile = ${file}\nsize = 32m\n\n[fs#0]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = ${mnt}\n`);
  const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
  expect(a.code, show(a)).toBe(0);
  expect(findmnt(mnt)).toBeTruthy();
  const dir = sb.objectDir(name);
  return { file, mnt, tpl, stateFile: path.join(dir, "state.json"), backup: path.join(dir, "state.json.backup"), journal: path.join(dir, "journal.ndjson") };
}

describe.concurrent("lost or stale state", () => {
  it("a state.json fallen back to its backup is said, naming both files, and destroy acts on it only with --force", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-lost-backup-");
    const name = "e2e-lost-backup";
    const { file, mnt, tpl, stateFile, backup } = await provisioned(sb, name);
    expect(existsSync(backup)).toBe(true);
    rmSync(stateFile);

    const p = await sb.osvc(["plan", tpl, "--path", name]);
    expect(p.code, show(p)).toBe(0);
    expect(p.stderr).toContain(`${stateFile} is missing; using ${backup}`);

    const x = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(x.code, show(x)).toBe(1);
    expect(x.stderr).toContain(stateFile);
    expect(x.stderr).toContain(backup);
    expect(x.stderr).toContain("--force");
    expect(findmnt(mnt), "destroy acted on the backup state without --force").toBeTruthy();

    const f = await sb.osvc(["destroy", name, "--auto-approve", "--force"]);
    expect(f.code, show(f)).toBe(0);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(loopsBackedBy(file)).toEqual([]);
  });

  it("no readable state while the journal names what the host holds: destroy reports it instead of \"nothing recorded\"", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-lost-none-");
    const name = "e2e-lost-none";
    const { mnt, stateFile, backup, journal } = await provisioned(sb, name);
    rmSync(stateFile);
    rmSync(backup);
    const intent = (rid: string) => JSON.stringify({ ts: new Date().toISOString(), run: "20260101000000-1", op: "intent", rid, action: "provision" });
    writeFileSync(journal, `${intent("disk#0")}\n${intent("fs#0")}\n`);

    const x = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(x.code, show(x)).toBe(1);
    expect(x.stdout + x.stderr).not.toContain("nothing recorded, nothing to destroy");
    expect(x.stderr).toContain(`nothing is recorded in ${stateFile}, but ${journal} names disk#0, fs#0, and the host holds disk#0, fs#0`);
    expect(findmnt(mnt)).toBeTruthy();
    for (const verb of ["unprovision", "purge"]) {
      const u = await sb.osvc([name, verb]);
      expect(u.code, show(u)).toBe(1);
      expect(u.stderr).toContain("and the host holds disk#0, fs#0");
    }
    expect(existsSync(sb.objectDir(name)), "purge deleted the object").toBe(true);
  });

  it("a state whose object field names another object is an error naming the file, before anything is touched", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-lost-object-");
    const name = "e2e-lost-object";
    const { mnt, tpl, stateFile } = await provisioned(sb, name);
    const st = JSON.parse(readFileSync(stateFile, "utf8")) as { object: string };
    st.object = "someone-else";
    writeFileSync(stateFile, JSON.stringify(st));

    for (const args of [["plan", tpl, "--path", name], ["destroy", name, "--auto-approve"], ["apply", tpl, "--path", name, "--auto-approve"]]) {
      const r = await sb.osvc(args);
      expect(r.code, show(r)).toBe(1);
      expect(r.stderr).toContain(`${stateFile} records the object "someone-else", not "${name}"`);
    }
    expect(findmnt(mnt)).toBeTruthy();
  });
});
