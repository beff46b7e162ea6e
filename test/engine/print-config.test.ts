// print config as upstream: the config as written unless --eval, in every format (text, json, yaml).
// Table-driven over formats; the installed config holds references, an expression, a scoped key and
// a size beyond 2^53 so raw and evaluated outputs differ visibly.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { runCli } from "../helpers/cli.js";

const TPL = [
  "[DEFAULT]",
  "nodes = n1 n2",
  "",
  "[env]",
  "base = /srv/{name}",
  "",
  "[disk#0]",
  "type = loop",
  "file = {env.base}/disk.img",
  "size = 7.5EiB",
  "",
  "[app#0]",
  "start = /bin/echo $(1+2) x",
  "start@n2 = /bin/echo two",
  "",
].join("\n");

let dir = "";
const name = `prcfg${process.pid}`;
const cli = (...args: string[]) => runCli([name, "print", "config", ...args, "--root", join(dir, "root"), "--node", "n1"]);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "osvc-prcfg-"));
  const f = join(dir, "t.conf");
  writeFileSync(f, TPL);
  const c = runCli([name, "create", "--config", f, "--root", join(dir, "root"), "--node", "n1"]);
  if (c.code !== 0) throw new Error(c.stderr);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("print config", () => {
  const raw = (o: Record<string, Record<string, unknown>>) => {
    expect(o.env.base).toBe("/srv/{name}");
    expect(o["disk#0"].file).toBe("{env.base}/disk.img");
    expect(o["disk#0"].size).toBe("7.5EiB");
    expect(o["app#0"].start).toBe("/bin/echo $(1+2) x");
    expect(o["app#0"]["start@n2"]).toBe("/bin/echo two");
    expect(o.metadata).toMatchObject({ name, namespace: "root", kind: "svc" });
  };
  const evaluated = (o: Record<string, Record<string, unknown>>) => {
    expect(o.env.base).toBe(`/srv/${name}`);
    expect(o["disk#0"].file).toBe(`/srv/${name}/disk.img`);
    expect(o["app#0"].start).toBe("/bin/echo 3 x");
    expect(o["app#0"]["start@n2"]).toBeUndefined();
  };
  const text = (s: string) => {
    for (const line of ["base = /srv/{name}", "file = {env.base}/disk.img", "size = 7.5EiB", "start = /bin/echo $(1+2) x", "start@n2 = /bin/echo two"]) expect(s).toContain(`${line}\n`);
    expect(s).toMatch(/^id = /m); // create adds an id, as upstream
  };
  const cases: Array<{ args: string[]; check: (stdout: string) => void }> = [
    { args: [], check: text },
    { args: ["--format", "text"], check: text },
    { args: ["--format", "ini"], check: text },
    { args: ["--format", "json"], check: (s) => raw(JSON.parse(s)) },
    { args: ["--format", "yaml"], check: (s) => raw(parseYaml(s)) },
    { args: ["--eval"], check: (s) => expect(s).toContain(`file = /srv/${name}/disk.img`) },
    { args: ["--eval", "--format", "text"], check: (s) => expect(s).toContain("start = /bin/echo 3 x") },
    { args: ["--eval", "--format", "json"], check: (s) => (evaluated(JSON.parse(s)), expect(s).toContain('"size": 8646911284551352320')) },
    { args: ["--eval", "--format", "yaml"], check: (s) => (evaluated(parseYaml(s)), expect(s).toContain("size: 8646911284551352320")) },
  ];
  it.each(cases)("$args", ({ args, check }) => {
    const r = cli(...args);
    expect(r.code, r.stderr).toBe(0);
    check(r.stdout);
  });
  it("an unknown format is a usage error", () => {
    const r = cli("--format", "xml");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--format xml: expected text, ini, json or yaml/);
  });
});
