// Layering (DESIGN §2): imports point downward only.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.js";

// Allowed dependencies of each layer (besides itself and npm packages).
const ALLOWED: Record<string, string[]> = {
  "src/core": [],
  grammar: ["src/core"],
  "src/config": ["grammar", "src/core"],
  "src/graph": ["src/config", "grammar", "src/core"],
  "src/state": ["src/core"],
  "src/provider": ["src/core"],
  "src/plan": ["src/graph", "src/config", "src/state", "src/provider", "grammar", "src/core"],
  "src/apply": ["src/plan", "src/graph", "src/config", "src/state", "src/provider", "grammar", "src/core"],
  "src/engine": ["src/apply", "src/plan", "src/graph", "src/config", "src/state", "src/provider", "grammar", "src/core"],
  "src/cluster": ["src/engine", "src/apply", "src/plan", "src/graph", "src/config", "src/state", "src/provider", "grammar", "src/core"],
  "src/cli": ["src/cluster", "src/engine", "src/apply", "src/plan", "src/graph", "src/config", "src/state", "src/provider", "grammar", "src/core", "providers"],
  providers: ["src/provider", "src/core"],
};

function layerOf(file: string): string | undefined {
  const rel = relative(ROOT, file);
  return Object.keys(ALLOWED).sort((a, b) => b.length - a.length).find((l) => rel === l || rel.startsWith(l + "/"));
}

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith(".ts") && !p.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

describe("architecture", () => {
  it("imports point downward only", () => {
    const violations: string[] = [];
    for (const top of ["src", "grammar", "providers"]) {
      for (const f of walk(join(ROOT, top))) {
        const from = layerOf(f);
        if (!from) continue;
        const text = readFileSync(f, "utf8");
        for (const m of text.matchAll(/(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g)) {
          const spec = m[1] ?? m[2];
          const target = layerOf(resolve(dirname(f), spec));
          if (!target || target === from) continue;
          if (from === "providers" && target === "providers") continue;
          if (!ALLOWED[from].includes(target)) violations.push(`${relative(ROOT, f)} imports ${spec} (${from} -> ${target})`);
        }
      }
    }
    expect(violations).toEqual([]);
  });

  it("every directory of src/ is a known layer", () => {
    const unknown = readdirSync(join(ROOT, "src"))
      .filter((d) => statSync(join(ROOT, "src", d)).isDirectory())
      .filter((d) => !(`src/${d}` in ALLOWED));
    expect(unknown).toEqual([]);
  });

  it("the CLI's commands leave the engine work to src/engine: no applier, planner or lock of their own", () => {
    // Views may name the apply's event types; the commands call the engine (plan, apply, locks).
    const engineModules = /(?:^|\/)src\/(?:apply\/|plan\/planner\.js$|state\/lock\.js$)/;
    const bad: string[] = [];
    const dir = join(ROOT, "src/cli/commands");
    for (const f of walk(dir)) {
      const text = readFileSync(f, "utf8");
      for (const m of text.matchAll(/(?:import|export)\s[^;]*?from\s+["'](\.[^"']+)["']|import\(\s*["'](\.[^"']+)["']\s*\)/g)) {
        const target = relative(ROOT, resolve(dirname(f), m[1] ?? m[2]));
        if (engineModules.test(target)) bad.push(`${relative(ROOT, f)} imports ${target}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("no provider runs host commands except through Exec", () => {
    const bad: string[] = [];
    for (const f of walk(join(ROOT, "providers"))) {
      const t = readFileSync(f, "utf8");
      if (/from\s+["'](execa|nano-spawn|node:child_process|child_process)["']/.test(t)) bad.push(relative(ROOT, f));
    }
    expect(bad).toEqual([]);
  });
});
