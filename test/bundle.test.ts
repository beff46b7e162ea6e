// The CLI bundle and its V8 code cache (scripts/bundle.mjs, bin/osvc.js): a cache that does not
// match the bundle, or that V8 rejects, or no cache at all, only makes start-up slower.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.js";

const dir = mkdtempSync(join(tmpdir(), "osvc-bundle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of bin/, dist/osvc.cjs and package.json, with `cache` as dist/osvc.cache (or none). */
function install(name: string, cache: Buffer | undefined): string {
  const d = join(dir, name);
  mkdirSync(join(d, "bin"), { recursive: true });
  mkdirSync(join(d, "dist"), { recursive: true });
  for (const f of ["bin/osvc.js", "bin/package.json", "dist/osvc.cjs", "package.json"]) copyFileSync(join(ROOT, f), join(d, f));
  if (cache) writeFileSync(join(d, "dist/osvc.cache"), cache);
  return d;
}

function validate(d: string) {
  return spawnSync(process.execPath, [join(d, "bin/osvc.js"), "validate", join(ROOT, "examples/quickstart.conf")], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" } });
}

describe("bundle and code cache", () => {
  const real = readFileSync(join(ROOT, "dist/osvc.cache"));
  const header = real.subarray(0, real.indexOf(10) + 1);

  it("the built cache names the bundle it was made for", () => {
    expect(header.toString("latin1")).toBe(readFileSync(join(ROOT, "dist/osvc.cjs"), "latin1").split("\n")[0] + "\n");
  });

  for (const [name, cache] of [
    ["no cache", undefined],
    ["a cache for another bundle", Buffer.concat([Buffer.from("// osvc bundle 0000\n"), real.subarray(header.length)])],
    ["a corrupted cache V8 rejects", Buffer.concat([header, Buffer.alloc(4096, 0x5a)])],
    ["the real cache", real],
  ] as const) {
    it(`runs with ${name}`, () => {
      const r = validate(install(name.replace(/\W+/g, "-"), cache));
      expect(r.stderr).toBe("");
      expect(r.stdout).toContain("examples/quickstart.conf: valid (3 resources)");
      expect(r.status).toBe(0);
    });
  }
});
