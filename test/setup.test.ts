// Set-up (issue 10, item 6): the README tells a new user what they need and only names files that
// exist; npm ci has its install scripts declared; the busybox import leaves no dangling image.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.js";
import { sh } from "./helpers/host.js";

const README = readFileSync(path.join(ROOT, "README.md"), "utf8");

/** The repository paths the README names: words starting with a top-level directory of the repo. */
function mentionedPaths(text: string): string[] {
  const top = "examples|bench|src|test|fixtures|scripts|bin|providers|grammar|dist|docs";
  const re = new RegExp(`(?<![\\w./$-])((?:${top})/[\\w./-]*)`, "g");
  const out = new Set<string>();
  for (const m of text.matchAll(re)) out.add(m[1].replace(/[.,:;]+$/, ""));
  return [...out].sort();
}

function section(title: string): string {
  const start = README.indexOf(`## ${title}`);
  expect(start, `README section "${title}"`).toBeGreaterThanOrEqual(0);
  const end = README.indexOf("\n## ", start + 3);
  return README.slice(start, end < 0 ? undefined : end);
}

describe("README", () => {
  it("names only files that exist", () => {
    const paths = mentionedPaths(README);
    expect(paths).toContain("examples/quickstart.conf");
    expect(paths).toContain("examples/import-busybox.sh");
    expect(paths.filter((p) => !existsSync(path.join(ROOT, p)))).toEqual([]);
  });

  it("the quick start sets OSVC_ROOT, keeps its two commands, and says how to put osvc on the PATH", () => {
    const q = section("Quick start");
    expect(q).toMatch(/^export OSVC_ROOT=\S+/m);
    expect(q).toMatch(/^npm ci && npx osvc apply examples\/quickstart\.conf --auto-approve\s/m);
    expect(q).toMatch(/^npm test\s/m);
    expect(q).toMatch(/npx .*0\.5–1\.5 s/s);
    expect(q).toMatch(/^npm link\s/m);
    expect(q).toMatch(/alias osvc='\$PWD\/bin\/osvc\.js'/);
  });
});

describe("npm ci", () => {
  it("every dependency with an install script is declared in allowScripts (npm 11 warns otherwise)", () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, "package.json"), "utf8")) as { allowScripts?: Record<string, boolean> };
    const lock = JSON.parse(readFileSync(path.join(ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, { version?: string; hasInstallScript?: boolean }> };
    const withScripts = Object.entries(lock.packages)
      .filter(([p, e]) => p !== "" && e.hasInstallScript)
      .map(([p, e]) => ({ name: p.slice(p.lastIndexOf("node_modules/") + "node_modules/".length), version: e.version }));
    expect(withScripts.map((x) => x.name)).toContain("esbuild");
    const allowed = pkg.allowScripts ?? {};
    const undeclared = withScripts.filter((x) => allowed[x.name] === undefined && allowed[`${x.name}@${x.version}`] === undefined);
    expect(undeclared).toEqual([]);
  });
});

describe("examples/import-busybox.sh", () => {
  it("importing again replaces the image without leaving the old one dangling", () => {
    const image = `localhost/osvc-import-t${process.pid}:latest`;
    const id = () => sh("podman", ["image", "inspect", "--format", "{{.Id}}", image]).stdout.trim();
    try {
      expect(sh("sh", [path.join(ROOT, "examples/import-busybox.sh"), "podman", image]).rc).toBe(0);
      const first = id();
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      const again = sh("sh", [path.join(ROOT, "examples/import-busybox.sh"), "podman", image]);
      expect(again.rc, again.stderr).toBe(0);
      const second = id();
      expect(second).toMatch(/^[0-9a-f]{64}$/);
      expect(second).not.toBe(first);
      expect(sh("podman", ["image", "exists", first]).rc).toBe(1); // removed, not left as <none>
    } finally {
      sh("podman", ["rmi", "-f", image]);
    }
  }, 120_000);
});
