import { describe, expect, it } from "vitest";
import {
  convertValue,
  formatSize,
  parseBool,
  parseDuration,
  parseFloatValue,
  parseInt10,
  parseJson,
  parseList,
  parseListLower,
  parseOctal,
  parseSet,
  parseSize,
  shlexSplit,
} from "../../src/core/convert.js";

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

describe("parseBool", () => {
  it.each(["yes", "y", "true", "t", "1", "YES", "True", "T", " yes "])("%j is true", (s) => {
    expect(parseBool(s)).toEqual({ ok: true, value: true });
  });
  it.each(["no", "n", "false", "f", "0", "0.0", "", "none", "None", "FALSE", "No"])("%j is false", (s) => {
    expect(parseBool(s)).toEqual({ ok: true, value: false });
  });
  it.each(["maybe", "2", "on", "off", "yess", "1.0"])("%j is an error", (s) => {
    const r = parseBool(s);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error).toContain(JSON.stringify(s));
      expect(r.hint).toBeDefined();
    }
  });
  it("shared = maybe is a bool error through convertValue", () => {
    const r = convertValue("maybe", "bool");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/invalid boolean "maybe"/);
  });
  it("tristate converts like bool", () => {
    expect(convertValue("yes", "tristate")).toEqual({ ok: true, value: true });
    expect(convertValue("0", "tristate")).toEqual({ ok: true, value: false });
    expect(convertValue("perhaps", "tristate").ok).toBe(false);
  });
});

describe("parseSize", () => {
  const cases: Array<[string, number]> = [
    ["0", 0],
    ["512", 512],
    ["512b", 512],
    ["512B", 512],
    ["1k", KiB],
    ["1K", KiB],
    ["1ki", KiB],
    ["1kib", KiB],
    ["1KiB", KiB],
    ["1kb", 1000],
    ["1KB", 1000],
    ["10m", 10485760],
    ["10M", 10485760],
    ["10mi", 10485760],
    ["10mib", 10485760],
    ["10MiB", 10485760],
    ["10mb", 10000000],
    ["10MB", 10000000],
    ["15g", 15 * GiB],
    ["15G", 15 * GiB],
    ["15gib", 15 * GiB],
    ["15gb", 15_000_000_000],
    ["14G", 14 * GiB],
    ["1t", TiB],
    ["2tb", 2e12],
    ["1p", 1024 ** 5],
    ["1pb", 1e15],
    ["1e", 1024 ** 6],
    ["1.5g", 1.5 * GiB],
    ["1.5k", 1536],
    [".5m", 512 * KiB],
    ["1.", 1],
    ["1.7", 1],
    ["0.3k", 307], // 307.2 floored
    ["100 m", 100 * MiB],
    ["  100m  ", 100 * MiB],
    ["1 kib", KiB],
  ];
  it.each(cases)("%j = %d bytes", (s, n) => {
    expect(parseSize(s)).toEqual({ ok: true, value: n });
  });

  const errors = ["15X", "-1g", "", "   ", "g", "1.2.3g", "1gg", "10 m b", "1kibb", "ten", "1,5,5g", "0x10"];
  it.each(errors)("%j is an error naming the bad text, with a unit hint", (s) => {
    const r = parseSize(s);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      if (s.trim() !== "") expect(r.error).toContain(JSON.stringify(s));
      expect(r.hint).toMatch(/kib/);
      expect(r.hint).toMatch(/mb/);
    }
  });
  it("15X names the unit", () => {
    const r = parseSize("15X");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toBe('invalid size "15X": unknown unit "X"');
  });
  it("-1g says negative", () => {
    const r = parseSize("-1g");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/negative/);
  });
});

describe("formatSize", () => {
  const cases: Array<[number, string]> = [
    [0, "0"],
    [1, "1"],
    [512, "512"],
    [1000, "1000"],
    [1024, "1k"],
    [1536, "1536"],
    [15 * GiB, "15g"],
    [512 * MiB, "512m"],
    [100 * MiB, "100m"],
    [1.5 * GiB, "1.5g"],
    [10485760, "10m"],
    [10000000, "10000000"],
    [TiB, "1t"],
    [1024 ** 6, "1e"],
    [1023, "1023"],
  ];
  it.each(cases)("%d -> %j", (n, s) => {
    expect(formatSize(n)).toBe(s);
  });
  it.each([0, 1, 512, 1536, 4096, 1.5 * GiB, 100 * MiB, 15 * GiB, 123456789, 3 * TiB + 512])("round-trips %d", (n) => {
    expect(parseSize(formatSize(n))).toEqual({ ok: true, value: n });
  });
});

describe("parseDuration", () => {
  const cases: Array<[string, number]> = [
    ["0", 0],
    ["60", 60],
    ["1.5", 1.5],
    ["5s", 5],
    ["1m", 60],
    ["1m30s", 90],
    ["2m", 120],
    ["10s", 10],
    ["1h", 3600],
    ["1d", 86400],
    ["1w", 604800],
    ["1w2d3h4m5s", 604800 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5],
    ["500ms", 0.5],
    ["1s500ms", 1.5],
    ["100ms", 0.1],
    ["1m 30s", 90],
    ["1H", 3600],
    [" 5s ", 5],
  ];
  it.each(cases)("%j = %d s", (s, n) => {
    expect(parseDuration(s)).toEqual({ ok: true, value: n });
  });
  it.each(["", "abc", "5x", "1m30", "--5s", "s", "1.2.3s", "5 seconds", "1p"])("%j is an error", (s) => {
    const r = parseDuration(s);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.hint).toMatch(/1w2d3h4m5s/);
  });
});

describe("shlexSplit", () => {
  const cases: Array<[string, string[]]> = [
    ["", []],
    ["   ", []],
    ["a b  c", ["a", "b", "c"]],
    ["--net=bridge -p 80:80", ["--net=bridge", "-p", "80:80"]],
    ["-v /srv/x/data:/data:rw", ["-v", "/srv/x/data:/data:rw"]],
    ["'a b' c", ["a b", "c"]],
    ['"a b" c', ["a b", "c"]],
    ["a'b c'd", ["ab cd"]],
    ["''", [""]],
    ['""', [""]],
    ["a '' b", ["a", "", "b"]],
    ['"a \\"quoted\\" word"', ['a "quoted" word']],
    ['"\\$HOME \\` \\\\ \\n"', ["$HOME ` \\ \\n"]],
    ["'$HOME \\n'", ["$HOME \\n"]],
    ["a\\ b", ["a b"]],
    ["\\'x\\'", ["'x'"]],
    ["a\\\nb", ["ab"]],
    ['"a\\\nb"', ["ab"]],
    ["a # not a comment", ["a", "#", "not", "a", "comment"]],
    ["x#y", ["x#y"]],
    ["haproxy -db -f /data/etc/haproxy.cfg", ["haproxy", "-db", "-f", "/data/etc/haproxy.cfg"]],
    ["sh -c 'echo \"hi there\" && exit 0'", ["sh", "-c", 'echo "hi there" && exit 0']],
    ["FOO=bar BAZ=\"x y\"", ["FOO=bar", "BAZ=x y"]],
    ["\ta\n\tb\n", ["a", "b"]],
  ];
  it.each(cases)("%j", (s, words) => {
    expect(shlexSplit(s)).toEqual({ ok: true, value: words });
  });
  it("a backslash inside single quotes is literal and ends nothing", () => {
    // 'it\'  then s then an unterminated ' -> error
    expect(shlexSplit("'it\\'s'").ok).toBe(false);
    expect(shlexSplit("'it\\' s")).toEqual({ ok: true, value: ["it\\", "s"] });
  });
  it.each(["'abc", '"abc', "a 'b c", 'x "y\\"', "trailing\\"])("%j is an error", (s) => {
    const r = shlexSplit(s);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/unterminated|trailing backslash/);
  });
});

describe("lists", () => {
  it("list", () => {
    expect(parseList("")).toEqual({ ok: true, value: [] });
    expect(parseList("  ")).toEqual({ ok: true, value: [] });
    expect(parseList("a  b\tc\nd")).toEqual({ ok: true, value: ["a", "b", "c", "d"] });
    expect(parseList("nodes drpnodes")).toEqual({ ok: true, value: ["nodes", "drpnodes"] });
  });
  it("list_lower", () => {
    expect(parseListLower("Node1 NODE2")).toEqual({ ok: true, value: ["node1", "node2"] });
    expect(parseListLower("")).toEqual({ ok: true, value: [] });
  });
  it("set keeps first order and dedupes", () => {
    expect(parseSet("b a b c a")).toEqual({ ok: true, value: ["b", "a", "c"] });
    expect(parseSet("")).toEqual({ ok: true, value: [] });
  });
});

describe("numbers, octal, json", () => {
  it.each<[string, number]>([
    ["0", 0],
    ["42", 42],
    ["-1", -1],
    ["+3", 3],
    [" 7 ", 7],
    ["007", 7],
    ["-0", 0],
  ])("int %j", (s, n) => {
    expect(parseInt10(s)).toEqual({ ok: true, value: n });
  });
  it.each(["", "1.5", "0x10", "1e3", "abc", "1 2", "99999999999999999999"])("int %j is an error", (s) => {
    expect(parseInt10(s).ok).toBe(false);
  });
  it.each<[string, number]>([
    ["1.5", 1.5],
    ["-2", -2],
    [".5", 0.5],
    ["1e3", 1000],
    ["0.0", 0],
  ])("float %j", (s, n) => {
    expect(parseFloatValue(s)).toEqual({ ok: true, value: n });
  });
  it.each(["", "abc", "1.2.3", "0x1"])("float %j is an error", (s) => {
    expect(parseFloatValue(s).ok).toBe(false);
  });
  it.each<[string, string]>([
    ["755", "0755"],
    ["0755", "0755"],
    ["1777", "1777"],
    ["01777", "1777"],
    ["7", "0007"],
    ["0", "0000"],
    ["644", "0644"],
  ])("octal %j -> %j", (s, v) => {
    expect(parseOctal(s)).toEqual({ ok: true, value: v });
  });
  it.each(["", "800", "0o755", "12345", "rwx", "-755", "11777"])("octal %j is an error", (s) => {
    expect(parseOctal(s).ok).toBe(false);
  });
  it("json", () => {
    expect(parseJson('{"a": [1, true, null]}')).toEqual({ ok: true, value: { a: [1, true, null] } });
    expect(parseJson("3")).toEqual({ ok: true, value: 3 });
    const r = parseJson("{bad");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/invalid JSON "\{bad"/);
  });
});

describe("convertValue dispatch", () => {
  const cases: Array<[string, Parameters<typeof convertValue>[1], unknown]> = [
    ["  keep spaces ", "string", "  keep spaces "],
    ["yes", "bool", true],
    ["0", "tristate", false],
    ["3", "int", 3],
    ["2.5", "float", 2.5],
    ["15G", "size", 15 * GiB],
    ["2m", "duration", 120],
    ["a b", "list", ["a", "b"]],
    ["A b", "list_lower", ["a", "b"]],
    ["a a", "set", ["a"]],
    ["-p '80:80'", "shlex", ["-p", "80:80"]],
    ["755", "octal", "0755"],
    ["[1]", "json", [1]],
  ];
  it.each(cases)("%j as %s", (raw, type, value) => {
    expect(convertValue(raw, type)).toEqual({ ok: true, value });
  });
  it("errors pass through", () => {
    expect(convertValue("15X", "size").ok).toBe(false);
    expect(convertValue("'x", "shlex").ok).toBe(false);
    expect(convertValue("soon", "duration").ok).toBe(false);
  });
});
