// Hostile templates give positioned diagnostics, never a JS stack trace, with bounded output
// (issue 7 item 7). Each case runs the CLI's validate, as a user would.
import { describe, expect, it } from "vitest";
import { runCliAsync } from "../helpers/e2e.js";
import { sandbox } from "../helpers/e2e.js";

/** A JS stack frame, an internal error or an uncaught exception in the CLI's output. */
const CRASH = /^\s+at .*[(:]\d+|internal error|RangeError|Maximum call stack|TypeError/m;

async function validate(ctx: Parameters<typeof sandbox>[0], text: string) {
  const sb = sandbox(ctx, "osvc-hostile-");
  const file = sb.write("t.conf", text);
  const r = await runCliAsync(["validate", file]);
  const out = r.stdout + r.stderr;
  expect(out, out.slice(0, 2000)).not.toMatch(CRASH);
  expect([0, 1]).toContain(r.code);
  return { ...r, out, file };
}

function lines(n: number, f: (i: number) => string): string {
  const a: string[] = [];
  for (let i = 0; i < n; i++) a.push(f(i));
  return a.join("\n") + "\n";
}

describe.concurrent("hostile templates: diagnostics, not crashes", () => {
  it("a reference chain 1,000 deep is E2005 at the keyword where the limit is reached", async (ctx) => {
    const t = `[DEFAULT]\ncomment = {env.a999}\n[env]\na0 = x\n` + lines(999, (i) => `a${i + 1} = {env.a${i}}`);
    const r = await validate(ctx, t);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/t\.conf:\d+:\d+: error E2005: reference chain too deep/);
    expect(r.stderr).toContain("hint:");
  });

  it("a chain of 2,000 'not' in $() is E1012 (nested too deeply)", async (ctx) => {
    const r = await validate(ctx, `[DEFAULT]\ncomment = $(${"not ".repeat(2000)}1)\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/t\.conf:2:\d+: error E1012: expression nested too deeply/);
  });

  it("an expression of 50,000 operators is E1013 (expression too long)", async (ctx) => {
    const r = await validate(ctx, `[DEFAULT]\ncomment = $(${"1+".repeat(50_000)}1)\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/t\.conf:2:\d+: error E1013: expression too long/);
    // The 100 KB source line is shown as a window around the caret.
    expect(r.stderr.length).toBeLessThan(2000);
  });

  it("references outside $( ) do not count toward the expression limit", async (ctx) => {
    const r = await validate(ctx, `[DEFAULT]\ncomment = ${Array.from({ length: 3000 }, () => "{name}").join(" ")} $(1+1)\n`);
    expect(r.code, r.out.slice(0, 2000)).toBe(0);
  });

  it("$('a'*10**9) is a positioned error (string result too long), not a RangeError", async (ctx) => {
    const r = await validate(ctx, "[DEFAULT]\ncomment = $('a'*10**9)\n");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/t\.conf:2:11: error E2013: expression error: string result too long/);
  });

  it("$('a'*10**8) in a 30-byte template prints a few lines, not 100 MB", async (ctx) => {
    const t = "[app#1]\ntimeout = $('a'*10**8)\n";
    expect(t.length).toBeLessThanOrEqual(32);
    const r = await validate(ctx, t);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/t\.conf:2:11: error E2013/);
    expect(r.out.length).toBeLessThan(2000);
  });

  it("references doubling a value 40 times stop at the 1 MiB limit (E2014)", async (ctx) => {
    const t = "[env]\na0 = aaaaaaaaaaaaaaaa\n" + lines(39, (i) => `a${i + 1} = {env.a${i}}{env.a${i}}`) + "[DEFAULT]\ncomment = {env.a39}\n";
    const r = await validate(ctx, t);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/t\.conf:\d+:\d+: error E2014: value too long/);
    expect(r.out.length).toBeLessThan(4000);
  });

  it("a value over 1 MiB as literal continuation lines is E2014; 150,000 continuation lines do not overflow the grammar", async (ctx) => {
    const r = await validate(ctx, "[DEFAULT]\ncomment = x\n" + lines(150_000, () => "  yyyyyyyy"));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/t\.conf:2:11: error E2014: value too long/);
    expect(r.out.length).toBeLessThan(4000);
  });

  it("60,000 unknown sections print at most 100 diagnostics and the count of the others", async (ctx) => {
    const r = await validate(ctx, lines(60_000, (i) => `[s${i}]\nk = v`));
    expect(r.code).toBe(0);
    expect(r.stderr.match(/warning W2010/g)?.length).toBe(100);
    expect(r.stderr).toContain("... and 59900 more not shown (0 errors, 59900 warnings)");
    expect(r.stderr).toContain("60000 warnings");
    expect(r.out.length).toBeLessThan(40_000);
  });

  it("validate --format json lists at most 1,000 diagnostics and counts the others", async (ctx) => {
    const sb = sandbox(ctx, "osvc-hostile-");
    const file = sb.write("t.conf", lines(3000, (i) => `[s${i}]\nk = v`));
    const r = await runCliAsync(["validate", file, "--format", "json"]);
    expect(r.code, r.stderr).toBe(0);
    const j = JSON.parse(r.stdout) as { valid: boolean; diagnostics: unknown[]; omitted?: number };
    expect(j.diagnostics.length).toBe(1000);
    expect(j.omitted).toBe(2000);
  });

  it("50,000 resources validate (the grammar is linear, no stack overflow)", async (ctx) => {
    const r = await validate(ctx, lines(50_000, (i) => `[fs#${i}]\ntype = directory\npath = /tmp/osvc-hostile-none/d${i}`));
    expect(r.code, r.out.slice(0, 2000)).toBe(0);
    expect(r.stdout).toContain("valid (50000 resources)");
  }, 180_000);
});
