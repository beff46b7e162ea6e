// The in-process file steps providers use in place of truncate / mkdir -p / rm -f / rmdir.
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createSparseFile, makeDirs, missingDirs, removeEmptyDir, removeFile } from "../../src/provider/files.js";

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
