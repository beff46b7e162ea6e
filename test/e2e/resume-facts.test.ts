// An interrupted provision (its intent journaled, no outcome) is resumed from facts the provider
// recorded after it created something, never from the intent alone: what existed before with the
// user's data is adopted as found, and destroy keeps it. A kill right after the intent was journaled
// (before the step did anything) is simulated by writing that journal line.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { actionMap, loopsBackedBy, sandbox, show, type Sandbox } from "../helpers/e2e.js";

/** What a killed apply leaves in the journal: the intent to provision `rid`, no outcome. */
function journalIntent(sb: Sandbox, object: string, rid: string): void {
  const dir = sb.objectDir(object);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const line = { ts: new Date().toISOString(), run: "20260101000000-1", op: "intent", rid, action: "provision" };
  writeFileSync(path.join(dir, "journal.ndjson"), `${JSON.stringify(line)}\n`);
}

describe.concurrent("an interrupted provision over what already existed", () => {
  it("fs.directory: the user's directory is adopted, not taken for osvc's, and destroy keeps its content", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-resume-dir-");
    const name = "e2e-resume-dir";
    const dir = sb.at("userdata");
    mkdirSync(dir);
    writeFileSync(path.join(dir, "precious.txt"), "the user's data\n");
    const tpl = sb.write("t.conf", `[fs#0]\ntype = directory\npath = ${dir}\n`);
    journalIntent(sb, name, "fs#0");

    const p = await sb.planJson(tpl, ["--path", name]);
    expect(p.code, p.stderr).toBe(0);
    expect(p.stderr).toContain("an earlier apply of e2e-resume-dir stopped during: fs#0 provision");
    expect(actionMap(p.plan)["fs#0"]).toBe("adopt");

    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(0);
    expect(sb.state(name)!.resources["fs#0"].outputs.created_dir).not.toBe(true);

    const x = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(x.code, show(x)).toBe(0);
    expect(x.stdout).toContain("not created by osvc");
    expect(readFileSync(path.join(dir, "precious.txt"), "utf8")).toBe("the user's data\n");
  });

  it("disk.loop: an existing backing file is adopted, and destroy detaches it but keeps the file", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-resume-loop-");
    const name = "e2e-resume-loop";
    const file = sb.at("user.img");
    writeFileSync(file, Buffer.alloc(8 * 1024 * 1024, 0x5a));
    const tpl = sb.write("t.conf", `[disk#0]\ntype = loop\nfile = ${file}\nsize = 8m\n`);
    journalIntent(sb, name, "disk#0");

    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(0);
    expect(loopsBackedBy(file)).toHaveLength(1);
    expect(sb.state(name)!.resources["disk#0"].outputs.created_file).not.toBe(true);

    const x = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(x.code, show(x)).toBe(0);
    expect(loopsBackedBy(file)).toEqual([]);
    expect(existsSync(file), `${file} (the user's file) was deleted`).toBe(true);
    expect(readFileSync(file).subarray(0, 4).toString("hex")).toBe("5a5a5a5a");
  });

  it("facts the provider recorded mid-step are what a resumed run owns: destroy after an interrupted run removes what osvc created", async (ctx) => {
    const sb = sandbox(ctx, "osvc-e2e-resume-facts-");
    const name = "e2e-resume-facts";
    const dir = sb.at("made/by/osvc");
    const tpl = sb.write("t.conf", `[fs#0]\ntype = directory\npath = ${dir}\n`);
    // A run that created the directory and recorded the fact, then died before its outcome.
    const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
    expect(a.code, show(a)).toBe(0);
    const stFile = path.join(sb.objectDir(name), "state.json");
    const st = JSON.parse(readFileSync(stFile, "utf8")) as { resources: Record<string, { provisioned: boolean | null }> };
    st.resources["fs#0"].provisioned = false;
    writeFileSync(stFile, JSON.stringify(st));
    journalIntent(sb, name, "fs#0");

    const p = await sb.planJson(tpl, ["--path", name]);
    expect(actionMap(p.plan)["fs#0"], p.stderr).toBe("provision");
    const x = await sb.osvc(["destroy", name, "--auto-approve"]);
    expect(x.code, show(x)).toBe(0);
    expect(existsSync(dir), `${dir} (created by osvc) leaked`).toBe(false);
  });
});
