// Upstream compatibility, table-driven (issue 10 item 3). Every input and expected value comes from
// upstream's documented behaviour or its own tests:
//   sizes      om3 util/converters/converters_test.go TestSizeConvert, util/sizeconv/size_test.go,
//              util/converters TSize (a trailing k m g t p e is binary), MaxInt64 limit
//   durations  om3 util/converters/converters_test.go TestDurationConvert, util/converters/duration.go
//              (Go durations: signed, ns us ms s m h, plus d w y; a bare integer is seconds)
//   empty      om3 TSize/TDuration: "" converts to nil (unset)
//   references v2 core/extconfig.py: references, then $(...), then references again
//   lists      om3 core/object/core_keywords.go: parents, children, *affinity are listlowercase
//   aliases    om3 core/object/core_keywords.go and drivers/*/manifest.go Aliases
//   names      om3 core/naming/path.go NewPathFromStrings + util/hostname IsValid (path_test.go TestNewPath)
//   volume     om3 drivers/resvol: "type" is the pool type
//   commands   om3 util/command commandArgsFromString (|, && or ; → /bin/sh -c) and testdata/svcappComplexCommand.conf
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { commandOf } from "../../providers/app/command.js";
import { renderConfig } from "../../src/config/index.js";
import { DEFAULT_KEYWORDS } from "../../src/config/keywords/generic.js";
import { exactNumber, formatSize, parseDuration, parseSize } from "../../src/core/convert.js";
import { parseObjectPath } from "../../src/core/path.js";
import { catalog, compile, evalKey } from "../helpers/compile.js";
import { res } from "../helpers/host.js";

const KiB = 1024;
const MiB = KiB * 1024;
const GiB = MiB * 1024;
const TiB = GiB * 1024;
const PiB = TiB * 1024;
const EiB = PiB * 1024;

describe("sizes as upstream (om3 sizeconv / TSize)", () => {
  const valid: Array<[string, number]> = [
    ["0", 0],
    ["1", 1],
    ["1000", 1000],
    ["100MiB", 100 * MiB],
    ["1KB", 1000],
    ["1,3KB", 1300],
    ["1KiB", 1024],
    ["2MiB", 2 * MiB],
    ["3GiB", 3 * GiB],
    ["3gib", 3 * GiB],
    ["4TiB", 4 * TiB],
    ["5PiB", 5 * PiB],
    ["6EiB", 6 * EiB],
    ["6eib", 6 * EiB],
    ["8EB", 8e18],
    ["8.5EB", 8.5e18],
    ["8.5eb", 8.5e18],
    ["9EB", 9e18],
    ["7.5EiB", 7.5 * EiB],
    ["10m", 10 * MiB],
    ["10g", 10 * GiB],
    ["1,5g", 1.5 * GiB],
    ["512k", 512 * KiB],
  ];
  it.each(valid)("%j = %d bytes", (s, n) => {
    expect(parseSize(s)).toEqual({ ok: true, value: n });
  });

  const invalid = ["-1", "-1000", "-1KB", "8EiB", "8e", "10EB", "badValue", "1z"];
  it.each(invalid)("%j is an error", (s) => {
    expect(parseSize(s).ok).toBe(false);
  });

  it("8EiB and beyond is out of the 64-bit range, said so", () => {
    const r = parseSize("8EiB");
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(/beyond the 64-bit range/);
  });

  it("large sizes print exactly (7.5EiB is 8646911284551352320, not 8646911284551352000)", () => {
    expect(formatSize(7.5 * EiB)).toBe("7.5e");
    expect(exactNumber(8646911284551352320)).toBe("8646911284551352320");
    expect(String(8646911284551352320)).toBe("8646911284551352000"); // what a plain print would say
    const r = compile("[disk#0]\ntype = loop\nfile = /srv/big.img\nsize = 7.5EiB\n");
    const json = renderConfig(r.evaluated, "json");
    expect(json).toContain('"size": 8646911284551352320');
    expect(renderConfig(r.evaluated, "yaml")).toContain("size: 8646911284551352320");
  });
});

describe("durations as upstream (om3 TDuration: Go durations plus d, w, y)", () => {
  const valid: Array<[string, number]> = [
    ["0", 0],
    ["1", 1],
    ["1s", 1],
    ["1m1s", 61],
    ["1d", 86400],
    ["1w", 7 * 86400],
    ["1y", 365 * 86400],
    ["-1m", -60],
    ["-1.5h", -5400],
    ["2h45m", 9900],
    ["300ms", 0.3],
    ["+5s", 5],
    ["-5", -5],
  ];
  it.each(valid)("%j = %d s", (s, n) => {
    expect(parseDuration(s)).toEqual({ ok: true, value: n });
  });
  it.each(["1p", "-", "m", "1m-1s"])("%j is an error", (s) => {
    expect(parseDuration(s).ok).toBe(false);
  });
});

describe("empty values mean unset, as upstream", () => {
  it("size = on a loop disk: no error, the keyword default applies (disk.loop: 100m)", () => {
    const r = evalKey("[disk#0]\ntype = loop\nfile = /srv/a.img\nsize =\n", "disk#0", "size");
    expect(r.codes).toEqual([]);
    expect(r.value).toBe(100 * MiB);
  });
  it("size = on a volume (no default): no error, no value", () => {
    const r = evalKey("[volume#0]\nsize =\n", "volume#0", "size");
    expect(r.codes).toEqual([]);
    expect(r.value).toBeUndefined();
  });
  it("lock_timeout = : the default applies", () => {
    const r = evalKey("[DEFAULT]\nlock_timeout =\n", "DEFAULT", "lock_timeout");
    expect(r.codes).toEqual([]);
    expect(r.value).toBe(60);
  });
  it("restart_delay = in a resource: the default applies", () => {
    const r = evalKey("[app#0]\nstart = /bin/true\nrestart_delay =\n", "app#0", "restart_delay");
    expect(r.codes).toEqual([]);
    expect(r.value).toBe(0.5);
  });
  it("a whole template with empty sizes and durations validates", () => {
    const r = compile("[DEFAULT]\nlock_timeout =\n[disk#0]\ntype = loop\nfile = /srv/a.img\nsize =\n");
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
  });
});

describe("references again after $(...), as upstream v2", () => {
  const NODES3 = "[DEFAULT]\nnodes = n1 n2 n3\n";
  const cases: Array<{ name: string; tpl: string; want: string; codes?: string[] }> = [
    { name: "the issue's example", tpl: NODES3 + "[env]\nx = {nodes[$(0//(3//{#nodes}))]}\n", want: "n1" },
    { name: "an index computed from a count", tpl: NODES3 + "[env]\nx = {nodes[$({#nodes}-1)]}\n", want: "n3" },
    { name: "a constant expression as index", tpl: NODES3 + "[env]\nx = {nodes[$(1+0)]}\n", want: "n2" },
    { name: "an [env] list indexed by an expression", tpl: "[env]\nl = a b c\nx = {env.l[$(4//2)]}\n", want: "c" },
    { name: "an expression result next to text", tpl: NODES3 + "[env]\nx = host-{nodes[$(2*1)]}.lan\n", want: "host-n3.lan" },
    { name: "an unknown reference stays verbatim, warned once", tpl: "[env]\nx = {nope} $(1+1)\n", want: "{nope} 2", codes: ["W2001"] },
  ];
  it.each(cases)("$name", ({ tpl, want, codes }) => {
    const r = evalKey(tpl, "env", "x");
    expect(r.text).toBe(want);
    expect(r.codes).toEqual(codes ?? []);
    if (codes) expect(compile(tpl).diagnostics.filter((d) => d.code === "W2001")).toHaveLength(1);
  });
});

describe("list keywords upstream lowercases", () => {
  const cases: Array<[string, string, string[]]> = [
    ["parents", "Web DB", ["web", "db"]],
    ["children", "Vol1 VOL2", ["vol1", "vol2"]],
    ["hard_affinity", "SvcA", ["svca"]],
    ["hard_anti_affinity", "SvcB", ["svcb"]],
    ["soft_affinity", "SvcC", ["svcc"]],
    ["soft_anti_affinity", "SvcD", ["svcd"]],
  ];
  it.each(cases)("%s = %j", (kw, text, want) => {
    const r = evalKey(`[DEFAULT]\n${kw} = ${text}\n`, "DEFAULT", kw);
    expect(r.value).toEqual(want);
  });
});

describe("keyword aliases upstream accepts", () => {
  const objectAliases: Array<[string, string, string, unknown]> = [
    ["affinity", "hard_affinity", "Svc1 svc2", ["svc1", "svc2"]],
    ["anti_affinity", "hard_anti_affinity", "svc3", ["svc3"]],
    ["service_type", "env", "PRD", "PRD"],
    ["cluster_type", "topology", "flex", "flex"],
    ["flex_min_nodes", "flex_min", "2", 2],
    ["flex_max_nodes", "flex_max", "3", 3],
  ];
  it.each(objectAliases)("[DEFAULT] %s is %s", (alias, canonical, text, want) => {
    const r = compile(`[DEFAULT]\n${alias} = ${text}\n`);
    expect(r.diagnostics.map((d) => d.code)).toEqual([]);
    expect(r.evaluated.defaults.get(canonical)?.value).toEqual(want);
  });

  it("every alias of the generic [DEFAULT] table is accepted and reads as its keyword", () => {
    const aliased = DEFAULT_KEYWORDS.filter((k) => k.aliases?.length);
    expect(aliased.map((k) => k.name).sort()).toEqual(["env", "flex_max", "flex_min", "hard_affinity", "hard_anti_affinity", "topology"]);
    for (const k of aliased) {
      for (const a of k.aliases!) {
        expect(catalog.defaultKeyword(a)?.name, a).toBe(k.name);
        const r = compile(`[DEFAULT]\n${a} = ${k.example ?? "x"}\n`);
        expect(r.diagnostics.filter((d) => d.code === "W2020"), a).toEqual([]);
        expect(r.evaluated.defaults.get(k.name)?.origin, a).toBe("section");
      }
    }
  });

  const driverAliases: Array<[string, string, string, string]> = [
    ["[ip#0]\ntype = host\nname = 10.0.0.1\ndev = eth0\n", "ip#0", "ipname", "10.0.0.1"],
    ["[ip#0]\ntype = host\nipname = 10.0.0.1\ndev = eth0\n", "ip#0", "ipdev", "eth0"],
    ["[disk#0]\ntype = vg\nvgname = datavg\n", "disk#0", "name", "datavg"],
    ["[container#0]\ntype = podman\nrun_image = busybox\n", "container#0", "image", "busybox"],
    ["[container#0]\ntype = podman\nimage = busybox\nnet = host\n", "container#0", "netns", "host"],
    ["[container#0]\ntype = podman\n[ip#1]\ntype = netns\nipname = 10.0.0.2\nipdev = eth0\nnetmask = 24\ncontainer_rid = container#0\n", "ip#1", "netns", "container#0"],
  ];
  it.each(driverAliases)("driver alias (%#): %s", (tpl, rid, kw, want) => {
    const r = compile(tpl);
    expect(r.diagnostics.filter((d) => d.code === "W2020")).toEqual([]);
    expect(r.evaluated.resources.find((x) => x.section === rid)?.keywords.get(kw)?.text).toBe(want);
  });
});

describe("object names and namespaces as upstream (om3 naming.NewPathFromStrings)", () => {
  const cases: Array<[string, boolean]> = [
    ["svc1", true],
    ["ns1/svc/svc1", true],
    ["a", true],
    ["web-1.example", true],
    ["1.svc1", true], // a scaler slice
    ["ns1/vol/data", true],
    ["ns1/cfg/app", true],
    ["ns1/svc/namespace", true], // reserved only in the root namespace
    ["a".repeat(63), true],
    [`ns-${"b".repeat(60)}/svc/x`, true],
    ["SVC1", false],
    ["ROOT/svc/svc1", false],
    ["name#", false],
    ["a".repeat(64), false],
    [`${"b".repeat(64)}/svc/x`, false],
    ["root#/svc/name", false],
    ["namespace", false],
    ["", false],
    ["svc", false],
    ["vol", false],
    ["node", false],
    ["ns1/svc/cfg", false],
    ["my_svc", false],
    ["-web", false],
    [".web", true], // upstream trims leading digits and dots (a slice number) before validating
    ["123", false],
    ["ns1/unknown/svc1", false],
  ];
  it.each(cases)("%j valid: %s", (text, ok) => {
    expect(parseObjectPath(text).ok).toBe(ok);
  });
});

describe("[volume#N] type is the pool type", () => {
  it("type = shm is a keyword of the volume driver, not an unknown driver", () => {
    const r = compile("[volume#0]\ntype = shm\nsize = 1g\n");
    expect(r.diagnostics.map((d) => d.code)).toEqual([]);
    const v = r.evaluated.resources[0];
    expect(v.driver?.id).toBe("volume");
    expect(v.keywords.get("type")?.value).toBe("shm");
  });
  it("the volume driver documents it", () => {
    expect(catalog.byId("volume")?.keywords.get("type")?.text).toMatch(/pool/);
  });
});

describe("app commands as upstream writes them", () => {
  const r = (start: string) => res("app#0", "app.forking", { start });
  const shell: string[] = ["echo One && echo Two", "echo One || echo Two", "echo One; echo Two", "ps aux | grep x"];
  it.each(shell)("%j runs through /bin/sh -c", (line) => {
    expect(commandOf(r(line), "start")).toEqual({ argv: ["/bin/sh", "-c", line], shell: true, display: line });
  });
  it("a line without operators runs as words, without a shell", () => {
    expect(commandOf(r("/bin/echo One"), "start")).toEqual({ argv: ["/bin/echo", "One"], shell: false, display: "/bin/echo One" });
  });
  it("the upstream test template (svcappComplexCommand.conf) validates", () => {
    const tpl = [
      "[DEFAULT]",
      "nodes = node1",
      "id = f8fd968f-3dfd-4a54-a8c8-f5a52bbeb0c1",
      "[app#echoOneAndEchoTwo]\ntype = forking\nstop = echo One && echo Two\ncheck = false",
      "[app#echoOneOrEchoTwo]\ntype = forking\nstop = echo One || echo Two\ncheck = false",
      "[app#echoOneThenEchoTwo]\ntype = forking\nstop = echo One; echo Two\ncheck = false",
    ].join("\n");
    expect(compile(tpl, { node: "node1" }).diagnostics).toEqual([]);
  });

  const unsafe: Array<[string, string]> = [
    ["a semicolon", "x; rm -rf /"],
    ["a pipe", "x | sh"],
    ["an ampersand", "x & y"],
    ["a dollar", "$HOME"],
    ["a backquote", "`id`"],
    ["a redirection", "x > /etc/passwd"],
    ["a quote", "it's"],
    ["a glob", "*"],
  ];
  it.each(unsafe)("a substituted value holding %s is E2028 at the reference", (_what, value) => {
    const res = compile("[env]\nv = safe\n[app#0]\nstart = /bin/echo {env.v} && /bin/true\n", { env: { v: value } });
    const d = res.diagnostics.filter((x) => x.code === "E2028");
    expect(d).toHaveLength(1);
    expect(d[0].range?.start).toMatchObject({ line: 4, col: 19 });
  });
  it.each(["/srv/data", "n1 n2", "a-b_c.d:e=f,g@h%"])("a substituted value %j is fine", (value) => {
    const res = compile("[env]\nv = safe\n[app#0]\nstart = /bin/echo {env.v} && /bin/true\n", { env: { v: value } });
    expect(res.diagnostics).toEqual([]);
  });
  it("also when the command has no operators, and in triggers, and inside $(...)", () => {
    expect(compile("[env]\nv = a;b\n[app#0]\nstart = /bin/echo {env.v}\n").diagnostics.map((d) => d.code)).toEqual(["E2028"]);
    expect(compile("[env]\nv = a;b\n[fs#0]\ntype = directory\npath = /srv/x\npre_start = /bin/echo {env.v}\n").diagnostics.map((d) => d.code)).toEqual(["E2028"]);
    expect(compile("[env]\nv = a;b\n[app#0]\nstart = /bin/echo $('{env.v}')\n").diagnostics.map((d) => d.code)).toEqual(["E2028"]);
  });
  it("a $(...) that looks like a shell command substitution gets a hint naming $$(", () => {
    for (const line of ["echo $(hostname -f)", "echo $(cat /etc/hostname)"]) {
      const d = compile(`[app#0]\nstart = ${line}\n`).diagnostics.find((x) => x.code === "E2013" || x.code === "E2010" || x.code === "E1010");
      expect(d?.hint, line).toMatch(/\$\$\(/);
    }
    expect(compile("[app#0]\nstart = echo $$(hostname -f)\n").diagnostics).toEqual([]);
  });
  it("osvc keywords and the README say what the code does", () => {
    for (const kw of ["start", "stop", "check", "info"]) expect(catalog.byId("app.forking")?.keywords.get(kw)?.text, kw).toMatch(/run through \/bin\/sh -c when it holds shell operators/);
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    expect(readme).toMatch(/runs through `\/bin\/sh -c`, so upstream's\s+`stop = echo One && echo Two` works/);
    expect(readme).toContain("| E2028 | a value substituted into a command");
    expect(readme).not.toMatch(/are an error \(E2028\)|commands run without a shell \(write/);
    expect(readme).toContain("## Differences from upstream");
  });
});
