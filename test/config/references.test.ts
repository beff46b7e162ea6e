// Table-driven cases for references, arithmetic and scoping (reference §2-§5).
import { describe, expect, it } from "vitest";
import { evalKey, type CompileOpts } from "../helpers/compile.js";

interface Case {
  name: string;
  tpl: string;
  section?: string;
  key: string;
  want?: string; // evaluated text
  typed?: unknown; // typed result of a whole-value expression
  value?: unknown; // converted value
  deferred?: string[];
  codes?: string[]; // diagnostic codes expected (exactly)
  opts?: CompileOpts;
}

const NODES = "[DEFAULT]\nnodes = n1 n2\ndrpnodes = n3\n";
const NODE_CONF = "[node]\nenv = PRD\nsite = paris\n[cluster]\nname = prod-eu\n[labels]\naz = fr1\n";

const cases: Case[] = [
  // ---- built-in names
  { name: "nodename", tpl: "[env]\nx = {nodename}", section: "env", key: "x", want: "n1" },
  { name: "nodename impersonated", tpl: "[env]\nx = {nodename}", section: "env", key: "x", want: "n2", opts: { node: "n2" } },
  { name: "short_nodename", tpl: "[env]\nx = {short_nodename}", section: "env", key: "x", want: "n1", opts: { node: "n1.example.com" } },
  { name: "name", tpl: "[env]\nx = {name}", section: "env", key: "x", want: "svc1" },
  { name: "svcname alias", tpl: "[env]\nx = {svcname}", section: "env", key: "x", want: "svc1" },
  { name: "short_name", tpl: "[env]\nx = {short_name}", section: "env", key: "x", want: "web", opts: { path: "web.example.com" } },
  { name: "namespace root", tpl: "[env]\nx = {namespace}", section: "env", key: "x", want: "root" },
  { name: "namespace explicit", tpl: "[env]\nx = {namespace}", section: "env", key: "x", want: "prod", opts: { path: "prod/svc/web" } },
  { name: "kind", tpl: "[env]\nx = {kind}", section: "env", key: "x", want: "vol", opts: { path: "prod/vol/data" } },
  { name: "path root", tpl: "[env]\nx = {path}", section: "env", key: "x", want: "svc1" },
  { name: "path namespaced", tpl: "[env]\nx = {path}", section: "env", key: "x", want: "prod/svc/web", opts: { path: "prod/svc/web" } },
  { name: "fqdn", tpl: "[env]\nx = {fqdn}", section: "env", key: "x", want: "svc1.root.svc.default" },
  { name: "clustername", tpl: "[env]\nx = {clustername}", section: "env", key: "x", want: "default" },
  // ---- node config: {node.<keyword>}, {node.labels.<name>}, the cluster name
  { name: "node.env default without a node config", tpl: "[env]\nx = {node.env}", section: "env", key: "x", want: "TST" },
  { name: "node.env from node.conf", tpl: "[env]\nx = {node.env}", section: "env", key: "x", want: "PRD", opts: { nodeConf: NODE_CONF } },
  { name: "node keyword, modifier", tpl: "[env]\nx = {upper:node.site}", section: "env", key: "x", want: "PARIS", opts: { nodeConf: NODE_CONF } },
  { name: "node label", tpl: "[env]\nx = {node.labels.az}", section: "env", key: "x", want: "fr1", opts: { nodeConf: NODE_CONF } },
  { name: "node keyword in an expression", tpl: "[env]\nx = $('{node.env}' == 'PRD')", section: "env", key: "x", typed: true, opts: { nodeConf: NODE_CONF } },
  { name: "clustername from node.conf", tpl: "[env]\nx = {fqdn}", section: "env", key: "x", want: "svc1.root.svc.prod-eu", opts: { nodeConf: NODE_CONF } },
  { name: "unknown node keyword: verbatim", tpl: "[env]\nx = {node.nope}", section: "env", key: "x", want: "{node.nope}", codes: ["W2001"], opts: { nodeConf: NODE_CONF } },
  { name: "unknown node label: verbatim", tpl: "[env]\nx = {node.labels.rack}", section: "env", key: "x", want: "{node.labels.rack}", codes: ["W2001"] },
  { name: "id when set", tpl: "[DEFAULT]\nid = 1234\n[env]\nx = {id}", section: "env", key: "x", want: "1234" },
  { name: "rid", tpl: "[fs#1]\ntype = ext4\ndev = /dev/x\nmnt = /srv/{rid}", section: "fs#1", key: "mnt", want: "/srv/fs#1" },
  { name: "rindex", tpl: "[fs#1]\ntype = ext4\ndev = /dev/x\nmnt = /srv/d{rindex}", section: "fs#1", key: "mnt", want: "/srv/d1" },
  { name: "rgroup", tpl: "[fs#1]\ntype = ext4\ndev = /dev/x\nmnt = /srv/{rgroup}", section: "fs#1", key: "mnt", want: "/srv/fs" },
  { name: "rid inherited from DEFAULT is the resource's", tpl: "[DEFAULT]\nmnt_opt = {rid}\n[fs#7]\ntype = ext4\ndev = /dev/x\nmnt = /m", section: "fs#7", key: "mnt_opt", want: "fs#7" },
  { name: "[env] name does not shadow {name}", tpl: "[env]\nname = other\nx = {name}", section: "env", key: "x", want: "svc1" },
  // ---- keyword references
  { name: "nodes", tpl: NODES + "[env]\nx = {nodes}", section: "env", key: "x", want: "n1 n2" },
  { name: "count of nodes", tpl: NODES + "[env]\nx = {#nodes}", section: "env", key: "x", want: "2" },
  { name: "index of nodes", tpl: NODES + "[env]\nx = {nodes[1]}", section: "env", key: "x", want: "n2" },
  { name: "drpnodes", tpl: NODES + "[env]\nx = {drpnodes}", section: "env", key: "x", want: "n3" },
  { name: "nodes default is the node", tpl: "[env]\nx = {nodes}", section: "env", key: "x", want: "n1" },
  { name: "unset known keyword is empty", tpl: "[env]\nx = [{drpnodes}]", section: "env", key: "x", want: "[]" },
  { name: "count of empty", tpl: "[env]\nx = {#drpnodes}", section: "env", key: "x", want: "0" },
  { name: "section.option", tpl: "[fs#1]\ntype = ext4\ndev = /dev/x\nmnt = /srv/a\n[env]\nx = {fs#1.mnt}/b", section: "env", key: "x", want: "/srv/a/b" },
  { name: "own option in a section", tpl: "[fs#1]\ntype = ext4\ndev = /dev/x\nmnt = /srv/a\nmnt_opt = {mnt}", section: "fs#1", key: "mnt_opt", want: "/srv/a" },
  { name: "option falls back to DEFAULT", tpl: "[DEFAULT]\ndocker_data_dir = /d\n[fs#1]\ntype = ext4\ndev = /dev/x\nmnt = {docker_data_dir}/m", section: "fs#1", key: "mnt", want: "/d/m" },
  { name: "DEFAULT.option", tpl: NODES + "[env]\nx = {DEFAULT.nodes}", section: "env", key: "x", want: "n1 n2" },
  { name: "empty section means DEFAULT", tpl: NODES + "[env]\nx = {.nodes}", section: "env", key: "x", want: "n1 n2" },
  { name: "referenced value is evaluated too", tpl: "[env]\na = {name}-x\nb = {env.a}-y", section: "env", key: "b", want: "svc1-x-y" },
  { name: "keyword default by reference", tpl: "[disk#0]\ntype = loop\nfile = /f\n[env]\nx = {disk#0.size}", section: "env", key: "x", want: "100m" },
  { name: "env value", tpl: "[env]\nx = hello", section: "env", key: "x", want: "hello" },
  { name: "env count", tpl: "[env]\nl = a b c\nx = {#env.l}", section: "env", key: "x", want: "3" },
  { name: "env index", tpl: "[env]\nl = a b c\nx = {env.l[2]}", section: "env", key: "x", want: "c" },
  { name: "nested index reference", tpl: "[env]\nl = a b c\ni = 1\nx = {env.l[{env.i}]}", section: "env", key: "x", want: "b" },
  { name: "index out of range", tpl: "[env]\nl = a b\nx = {env.l[5]}", section: "env", key: "x", codes: ["E2003"] },
  // ---- modifiers
  { name: "upper", tpl: "[env]\nv = abC dEf\nx = {upper:env.v}", section: "env", key: "x", want: "ABC DEF" },
  { name: "lower", tpl: "[env]\nv = abC dEf\nx = {lower:env.v}", section: "env", key: "x", want: "abc def" },
  { name: "capitalize", tpl: "[env]\nv = abC dEf\nx = {capitalize:env.v}", section: "env", key: "x", want: "Abc def" },
  { name: "title", tpl: "[env]\nv = abC dEf\nx = {title:env.v}", section: "env", key: "x", want: "Abc Def" },
  { name: "swapcase", tpl: "[env]\nv = abC dEf\nx = {swapcase:env.v}", section: "env", key: "x", want: "ABc DeF" },
  { name: "modifier with index", tpl: NODES + "[env]\nx = {upper:nodes[1]}", section: "env", key: "x", want: "N2" },
  { name: "modifier on builtin", tpl: "[env]\nx = {upper:name}", section: "env", key: "x", want: "SVC1" },
  { name: "uri_ip wraps IPv6", tpl: "[env]\nip = fe80::1\nx = http://{uri_ip:env.ip}:80", section: "env", key: "x", want: "http://[fe80::1]:80" },
  // ---- verbatim and literal braces
  { name: "unknown reference kept verbatim", tpl: "[env]\nx = a{abcd}b", section: "env", key: "x", want: "a{abcd}b", codes: ["W2001"] },
  { name: "unknown section reference kept", tpl: "[env]\nx = {fs#9.mnt}", section: "env", key: "x", want: "{fs#9.mnt}", codes: ["W2001"] },
  { name: "dash is not a reference", tpl: "[env]\nx = {my-var}", section: "env", key: "x", want: "{my-var}", codes: [] },
  { name: "shell brace expansion stays literal", tpl: "[env]\nx = rm -f /x/{a,b}", section: "env", key: "x", want: "rm -f /x/{a,b}", codes: [] },
  { name: "range brace around a count", tpl: NODES + "[env]\nx = host{1...{#nodes}}", section: "env", key: "x", want: "host{1...2}" },
  { name: "same reference twice is no cycle", tpl: "[env]\na = x\nb = {env.a} {env.a}", section: "env", key: "b", want: "x x", codes: [] },
  // ---- cycles
  { name: "self cycle", tpl: "[env]\na = {env.a}", section: "env", key: "a", codes: ["E2002"] },
  { name: "two-step cycle", tpl: "[env]\na = {env.b}\nb = {env.a}", section: "env", key: "a", codes: ["E2002"] },
  { name: "three-step cycle through sections", tpl: "[fs#1]\ntype = ext4\ndev = {fs#2.mnt}\nmnt = /a\n[fs#2]\ntype = ext4\ndev = /d\nmnt = {env.m}\n[env]\nm = {fs#1.dev}", section: "env", key: "m", codes: ["E2002"] },
  // ---- deferred
  { name: "deferred exposed_devs", tpl: "[disk#0]\ntype = loop\nfile = /f\n[fs#1]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = /m", section: "fs#1", key: "dev", want: "{disk#0.exposed_devs[0]}", deferred: ["disk#0"], codes: [] },
  { name: "deferred inside text", tpl: "[disk#0]\ntype = loop\nfile = /f\n[env]\nx = dev={disk#0.exposed_devs[0]},{name}", section: "env", key: "x", want: "dev={disk#0.exposed_devs[0]},svc1", deferred: ["disk#0"] },
  // ---- scoping
  { name: "scope: node wins", tpl: NODES + "[env]\nk@n1 = a\nk@nodes = b\nk = c", section: "env", key: "k", want: "a" },
  { name: "scope: nodes member", tpl: NODES + "[env]\nk@n1 = a\nk@nodes = b\nk = c", section: "env", key: "k", want: "b", opts: { node: "n2" } },
  { name: "scope: drpnodes member", tpl: NODES + "[env]\nk@nodes = b\nk@drpnodes = d\nk = c", section: "env", key: "k", want: "d", opts: { node: "n3" } },
  { name: "scope: bare for outsiders", tpl: NODES + "[env]\nk@nodes = b\nk@drpnodes = d\nk = c", section: "env", key: "k", want: "c", opts: { node: "n9" } },
  { name: "scope: encapnodes", tpl: "[DEFAULT]\nnodes = n1\nencapnodes = e1\n[env]\nk@encapnodes = e\nk = c", section: "env", key: "k", want: "e", opts: { node: "e1" } },
  { name: "scope on a resource keyword", tpl: NODES + "[fs#1]\ntype = ext4\ndev = /d\nmnt@n2 = /two\nmnt = /one", section: "fs#1", key: "mnt", want: "/two", opts: { node: "n2" } },
  { name: "scope in DEFAULT inherited by resource", tpl: NODES + "[DEFAULT]\nmnt_opt@n2 = ro\nmnt_opt = rw\n[fs#1]\ntype = ext4\ndev = /d\nmnt = /m", section: "fs#1", key: "mnt_opt", want: "ro", opts: { node: "n2" } },
  { name: "scoped nodes", tpl: "[DEFAULT]\nnodes@n5 = n5 n6\nnodes = n1\n[env]\nx = {nodes}", section: "env", key: "x", want: "n5 n6", opts: { node: "n5" } },
  { name: "scope of a non-scopable keyword ignored", tpl: "[fs#1]\ntype = ext4\ntype@n1 = xfs\ndev = /d\nmnt = /m", section: "fs#1", key: "type", want: "ext4", codes: ["E2021"] },
  { name: "leaf keyword not inherited", tpl: "[DEFAULT]\nsubset = g1\n[fs#1]\ntype = ext4\ndev = /d\nmnt = /m", section: "fs#1", key: "subset", want: undefined },
  { name: "DEFAULT value inherited", tpl: "[DEFAULT]\nmnt_opt = noatime\n[fs#1]\ntype = ext4\ndev = /d\nmnt = /m", section: "fs#1", key: "mnt_opt", want: "noatime" },
  { name: "resource value beats DEFAULT", tpl: "[DEFAULT]\nmnt_opt = noatime\n[fs#1]\ntype = ext4\ndev = /d\nmnt = /m\nmnt_opt = ro", section: "fs#1", key: "mnt_opt", want: "ro" },
  // ---- env overrides
  { name: "--env overrides", tpl: "[env]\nx = a", section: "env", key: "x", want: "b", opts: { env: { x: "b" } } },
  { name: "--env adds a key", tpl: "[env]\nx = {env.y}", section: "env", key: "x", want: "new", opts: { env: { y: "new" } } },
  { name: "--env value may reference", tpl: "[env]\nx = a", section: "env", key: "x", want: "svc1-b", opts: { env: { x: "{name}-b" } } },
  { name: "OS env override is opt-in", tpl: "[env]\nx = a\ny = {env.x}", section: "env", key: "y", want: "a" },
  { name: "OS env override when enabled", tpl: "[env]\nx = a\ny = {env.x}", section: "env", key: "y", want: "os", opts: { osEnv: { X: "os" } } },
  // ---- arithmetic
  { name: "sum keeps int type", tpl: "[env]\nx = $(1+2)", section: "env", key: "x", want: "3", typed: 3 },
  { name: "true division", tpl: "[env]\nx = $(10/4)", section: "env", key: "x", want: "2.5", typed: 2.5 },
  { name: "true division of exact ints is float", tpl: "[env]\nx = $(4/2)", section: "env", key: "x", want: "2.0" },
  { name: "floor division", tpl: "[env]\nx = $(10//4)", section: "env", key: "x", want: "2" },
  { name: "floor division negative", tpl: "[env]\nx = $(-7//2)", section: "env", key: "x", want: "-4" },
  { name: "modulo sign of divisor", tpl: "[env]\nx = $(-7%3)", section: "env", key: "x", want: "2" },
  { name: "power", tpl: "[env]\nx = $(2**10)", section: "env", key: "x", want: "1024" },
  { name: "negative power is float", tpl: "[env]\nx = $(2**-1)", section: "env", key: "x", want: "0.5" },
  { name: "unary minus binds looser than power", tpl: "[env]\nx = $(-2**2)", section: "env", key: "x", want: "-4" },
  { name: "precedence", tpl: "[env]\nx = $(2*3+4)", section: "env", key: "x", want: "10" },
  { name: "parentheses", tpl: "[env]\nx = $((2+3)*4)", section: "env", key: "x", want: "20" },
  { name: "big ints are exact", tpl: "[env]\nx = $(2**70)", section: "env", key: "x", want: "1180591620717411303424" },
  { name: "several expressions in one value", tpl: "[env]\nx = $(1+2) $(3+4)", section: "env", key: "x", want: "3 7", typed: undefined },
  { name: "expression inside text", tpl: "[env]\nx = disk$(1+1)x", section: "env", key: "x", want: "disk2x" },
  { name: "reference inside expression", tpl: "[env]\nref4 = 1\nx = $({env.ref4}+2)", section: "env", key: "x", want: "3", typed: 3 },
  { name: "count inside expression", tpl: "[env]\nref0 = a b c\nx = $({#env.ref0}+2)", section: "env", key: "x", want: "5" },
  { name: "referenced expression", tpl: "[env]\na = $(1+1)\nb = $({env.a}*3)", section: "env", key: "b", want: "6" },
  { name: "bare names are strings", tpl: "[env]\nx = $(a+b)", section: "env", key: "x", want: "ab" },
  { name: "in tuple", tpl: "[env]\nx = $(a in (a, b, 1))", section: "env", key: "x", want: "True", typed: true },
  { name: "not in", tpl: "[env]\nx = $(3 not in (1, 2))", section: "env", key: "x", want: "True" },
  { name: "chained comparison", tpl: "[env]\nx = $(3 > 2 > 2)", section: "env", key: "x", want: "False" },
  { name: "and", tpl: "[env]\nx = $(1 == 1 and 2 == 3)", section: "env", key: "x", want: "False" },
  { name: "or returns the true operand", tpl: "[env]\nx = $(0 or 5)", section: "env", key: "x", want: "5" },
  { name: "not", tpl: "[env]\nx = $(not 0)", section: "env", key: "x", want: "True" },
  { name: "string comparison with reference", tpl: "[env]\nx = $('{nodename}' == 'n1')", section: "env", key: "x", want: "True" },
  { name: "string repeat", tpl: "[env]\nx = $('ab' * 3)", section: "env", key: "x", want: "ababab" },
  { name: "bool arithmetic", tpl: "[env]\nx = $(True + 1)", section: "env", key: "x", want: "2" },
  { name: "float result", tpl: "[env]\nx = $(1.5*2)", section: "env", key: "x", want: "3.0" },
  { name: "division by zero", tpl: "[env]\nx = $(10/0)", section: "env", key: "x", codes: ["E2013"] },
  { name: "modulo by zero", tpl: "[env]\nx = $(7%0)", section: "env", key: "x", codes: ["E2013"] },
  { name: "type error", tpl: "[env]\nx = $(1 < 'a')", section: "env", key: "x", codes: ["E2013"] },
  { name: "syntax error", tpl: "[env]\nx = $(1 +)", section: "env", key: "x", codes: ["E1010"] },
  { name: "unterminated", tpl: "[env]\nx = $(1 + 2", section: "env", key: "x", codes: ["E1010"] },
  { name: "attribute access rejected", tpl: "[env]\nx = $(a.b)", section: "env", key: "x", codes: ["E1011"] },
  { name: "escaped $$( is literal", tpl: "[env]\nx = echo $$(date)", section: "env", key: "x", want: "echo $(date)", codes: [] },
  { name: "lone $ is literal", tpl: "[env]\nx = cost $5", section: "env", key: "x", want: "cost $5" },
  // ---- typed conversion through expressions and sizes
  { name: "size from expression", tpl: "[disk#0]\ntype = loop\nfile = /f\nsize = $(1024*1024)", section: "disk#0", key: "size", value: 1048576 },
  { name: "size binary unit", tpl: "[disk#0]\ntype = loop\nfile = /f\nsize = 10m", section: "disk#0", key: "size", value: 10485760 },
  { name: "size mib is binary", tpl: "[disk#0]\ntype = loop\nfile = /f\nsize = 10mib", section: "disk#0", key: "size", value: 10485760 },
  { name: "size mb is decimal", tpl: "[disk#0]\ntype = loop\nfile = /f\nsize = 10mb", section: "disk#0", key: "size", value: 10000000 },
  { name: "size kib", tpl: "[disk#0]\ntype = loop\nfile = /f\nsize = 1kib", section: "disk#0", key: "size", value: 1024 },
  { name: "size with reference and expression", tpl: "[env]\ngb = 2\n[disk#0]\ntype = loop\nfile = /f\nsize = $({env.gb}*512)m", section: "disk#0", key: "size", value: 1073741824 },
  { name: "bool from expression", tpl: "[fs#1]\ntype = ext4\ndev = /d\nmnt = /m\nstandby = $(1 < 2)", section: "fs#1", key: "standby", value: true },
  { name: "invalid size", tpl: "[disk#0]\ntype = loop\nfile = /f\nsize = 15X", section: "disk#0", key: "size", codes: ["E2023"] },
  { name: "invalid bool", tpl: "[fs#1]\ntype = ext4\ndev = /d\nmnt = /m\nshared = maybe", section: "fs#1", key: "shared", codes: ["E2023"] },
  { name: "list keyword", tpl: "[DEFAULT]\nnodes = n1  n2\tn3", section: "DEFAULT", key: "nodes", value: ["n1", "n2", "n3"] },
  { name: "shlex keyword", tpl: `[fs#1]\ntype = ext4\ndev = /d\nmnt = /m\nmkfs_opt = -L "my label" -E 'a b'`, section: "fs#1", key: "mkfs_opt", value: ["-L", "my label", "-E", "a b"] },
  // ---- values: quotes, comments, continuation
  { name: "inline comment stripped", tpl: "[env]\nx = /srv/a # a comment", section: "env", key: "x", want: "/srv/a" },
  { name: "hash without space kept", tpl: "[env]\nx = disk#1", section: "env", key: "x", want: "disk#1" },
  { name: "quoted value unwrapped", tpl: '[env]\nx = "  a # b  "', section: "env", key: "x", want: "  a # b  " },
  { name: "colon delimiter", tpl: "[env]\nx: y", section: "env", key: "x", want: "y" },
  { name: "continuation joined", tpl: "[env]\nx = a\n    b\n\tc\ny = 1", section: "env", key: "x", want: "a\nb\nc" },
  { name: "duplicate key: last wins", tpl: "[env]\nx = a\nx = b", section: "env", key: "x", want: "b", codes: ["W2026"] },
];

describe("references, arithmetic and scoping", () => {
  it("has at least 60 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
  });
  for (const c of cases) {
    it(c.name, () => {
      const r = evalKey(c.tpl, c.section ?? "env", c.key, c.opts);
      if (c.codes) expect(r.codes).toEqual([...c.codes].sort());
      else expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
      if ("want" in c) expect(r.text).toBe(c.want);
      if ("typed" in c) expect(r.typed).toBe(c.typed);
      if ("value" in c) expect(r.value).toEqual(c.value);
      if (c.deferred) expect(r.deferred).toEqual(c.deferred);
    });
  }
});
