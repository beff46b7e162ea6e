// `validate` finds what plan would find without a host: values that can only fail at run time,
// keyword combinations that cannot work, references a provider would get verbatim, graph problems.
import { describe, expect, it } from "vitest";
import { gateCompiled } from "../../src/cli/gate.js";
import { compile } from "../helpers/compile.js";

const codes = (text: string, strict = false) => gateCompiled(compile(text), strict).diagnostics.map((d) => `${d.code}:${d.severity}`).sort();

describe("validate gate", () => {
  it.each([
    ["retcodes with an unknown status", "[app#0]\nstart = /bin/true\nretcodes = 0:up 1:dwn\n", ["E2029:error"]],
    ["retcodes that are fine", "[app#0]\nstart = /bin/true\nretcodes = 0:up 1:down 3:warn 4:n/a\n", []],
    ["retcodes without a colon", "[app#0]\nstart = /bin/true\nretcodes = up\n", ["E2029:error"]],
    ["script but no action keyword: it never starts", "[app#0]\nscript = /srv/launcher\n", ["W2029:warning"]],
    ["script with start = true", "[app#0]\nscript = /srv/launcher\nstart = true\n", []],
    ["start = true without script", "[app#0]\nstart = true\n", ["E2029:error"]],
    ["a legacy sequence number without script", "[app#0]\nstart = 10\n", ["E2029:error"]],
    ["a relative script", "[app#0]\nscript = bin/launcher\nstart = true\n", ["E2029:error"]],
    ["start_requires cycle (E2030, plan-only before)", "[app#0]\nstart = /bin/true\nstart_requires = app#1\n[app#1]\nstart = /bin/true\nstart_requires = app#0\n", ["E2030:error"]],
    ["netns naming a missing container", "[container#0]\ntype = podman\nimage = busybox\nnetns = container#5\n", ["E2032:error"]],
    ["an unknown reference in a device keyword", "[disk#0]\ntype = loop\nfile = /tmp/x.img\nsize = 10m\n[fs#0]\ntype = ext4\ndev = {disk#0.exposed_dev}\nmnt = /tmp/x\n", ["E2006:error", "W2001:warning"]],
    ["an unknown env reference in a path", "[fs#0]\ntype = directory\npath = /srv/{env.bse}\n", ["E2006:error", "W2001:warning"]],
    ["an unknown reference through another key", "[env]\nbase = /srv/{nope}\n[fs#0]\ntype = directory\npath = {env.base}/x\n", ["E2006:error", "W2001:warning"]],
    ["an unknown reference in a command stays a warning", "[app#0]\nstart = /bin/echo {nope}\n", ["W2001:warning"]],
    ["a deferred reference is fine", "[disk#0]\ntype = loop\nfile = /tmp/x.img\nsize = 10m\n[fs#0]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = /tmp/x\n", []],
  ])("%s", (_name, text, expected) => {
    expect(codes(text)).toEqual(expected);
  });

  it("a key line without '=' (type loop) is one error with the fix, not a cascade", () => {
    const r = gateCompiled(compile("[disk#0]\ntype loop\nfile = /tmp/x.img\nsize = 10m\n"));
    expect(r.diagnostics.map((d) => d.code)).toEqual(["E1005"]);
    expect(r.diagnostics[0].hint).toBe('Write "type = loop".');
  });

  it("the unknown-reference hint names the deferred attribute", () => {
    const r = gateCompiled(compile("[disk#0]\ntype = loop\nfile = /tmp/x.img\nsize = 10m\n[fs#0]\ntype = ext4\ndev = {disk#0.exposed_dev}\nmnt = /tmp/x\n"));
    expect(r.diagnostics.find((d) => d.code === "W2001")?.hint).toBe("Did you mean {disk#0.exposed_devs}?");
  });

  it("--strict turns every warning into an error, and only with --strict", () => {
    const text = "[app#0]\nstart = /bin/true\nbogus = 1\n";
    const plain = gateCompiled(compile(text));
    expect(plain.ok).toBe(true);
    expect(plain.diagnostics.map((d) => `${d.code}:${d.severity}`)).toEqual(["W2020:warning"]);
    const strict = gateCompiled(compile(text), true);
    expect(strict.ok).toBe(false);
    expect(strict.diagnostics.map((d) => `${d.code}:${d.severity}`)).toEqual(["W2020:error"]);
    expect(strict.diagnostics[0].summary).toContain("--strict");
  });

  it("points at the keyword's value, with file:line:col", () => {
    const r = gateCompiled(compile("[app#0]\nstart = /bin/true\nretcodes = 0:up 1:dwn\n"));
    expect(r.diagnostics[0].range?.start).toMatchObject({ line: 3, col: 12 });
  });
});
