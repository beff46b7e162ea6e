// The in-process file steps providers use in place of truncate / mkdir -p / rm -f / rmdir.
import { mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSparseFile, makeDirs, missingDirs, PathResolver, removeEmptyDir, removeFile } from "../../src/provider/files.js";

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(path.join(os.tmpdir(), "osvc-files-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe("provider file steps", () => {
  it("creates a sparse file of the exact size, private to its owner", async () => {
    const f = path.join(tmp(), "a.img");
    await createSparseFile(f, 64 * 1024 * 1024);
    const st = statSync(f);
    expect(st.size).toBe(64 * 1024 * 1024);
    expect(st.blocks).toBe(0);
    expect(st.mode & 0o777).toBe(0o600);
  });

  it("never truncates a file that exists", async () => {
    const f = path.join(tmp(), "data.img");
    writeFileSync(f, "precious");
    await expect(createSparseFile(f, 1024)).rejects.toThrow(/refusing to overwrite/);
    expect(readFileSync(f, "utf8")).toBe("precious");
  });

  it("says why a file cannot be created", async () => {
    await expect(createSparseFile(path.join(tmp(), "no", "such", "dir", "x.img"), 1)).rejects.toThrow(/cannot create .*ENOENT/);
  });

  it("mkdir -p returns exactly the directories it created, deepest first", async () => {
    const d = tmp();
    expect(await missingDirs(d)).toEqual([]);
    const want = [path.join(d, "a", "b", "c"), path.join(d, "a", "b"), path.join(d, "a")];
    expect(await missingDirs(path.join(d, "a", "b", "c"))).toEqual(want);
    expect(await makeDirs(path.join(d, "a", "b", "c"))).toEqual(want);
    expect(statSync(path.join(d, "a", "b", "c")).isDirectory()).toBe(true);
    expect(await makeDirs(path.join(d, "a", "b", "c"))).toEqual([]);
    writeFileSync(path.join(d, "file"), "");
    await expect(makeDirs(path.join(d, "file", "sub"))).rejects.toThrow(/cannot create directory/);
  });

  it("removes a file or an empty directory, and leaves anything else alone", async () => {
    const d = tmp();
    const f = path.join(d, "f");
    writeFileSync(f, "x");
    expect(await removeFile(f)).toBe(true);
    expect(await removeFile(f)).toBe(false);
    mkdirSync(path.join(d, "full"));
    writeFileSync(path.join(d, "full", "keep"), "x");
    expect(await removeEmptyDir(path.join(d, "full"))).toBe(false);
    expect(existsSync(path.join(d, "full", "keep"))).toBe(true);
    expect(await removeEmptyDir(path.join(d, "missing"))).toBe(false);
    mkdirSync(path.join(d, "empty"));
    expect(await removeEmptyDir(path.join(d, "empty"))).toBe(true);
    expect(existsSync(path.join(d, "empty"))).toBe(false);
  });
});

describe("PathResolver (probes: one lstat per path, directories resolved once)", () => {
  it("gives realpath and stat like realpath(3) + stat(2): through a symlinked directory, a symlink, a dangling one, a missing path", async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "osvc-resolver-"));
    try {
      mkdirSync(path.join(dir, "real"));
      writeFileSync(path.join(dir, "real", "f"), "x");
      symlinkSync(path.join(dir, "real"), path.join(dir, "via"));
      symlinkSync(path.join(dir, "real", "f"), path.join(dir, "real", "link"));
      symlinkSync(path.join(dir, "nowhere"), path.join(dir, "real", "dangling"));
      const r = new PathResolver();
      for (const p of ["via/f", "real/f", "via/link", "real/link"].map((x) => path.join(dir, x))) {
        const got = await r.resolve(p);
        expect(got?.real).toBe(realpathSync(p));
        expect(got?.stat.ino).toBe(statSync(p).ino);
        expect(got?.stat.isFile()).toBe(true);
      }
      expect((await r.resolve(path.join(dir, "via")))?.stat.isDirectory()).toBe(true);
      expect(await r.resolve(path.join(dir, "real", "dangling"))).toBeUndefined();
      expect(await r.resolve(path.join(dir, "via", "missing"))).toBeUndefined();
      expect((await r.resolve("/"))?.real).toBe("/");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
