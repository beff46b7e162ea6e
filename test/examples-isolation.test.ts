// Tests never meet what a user runs from the README or the examples (issue 7: an `npm test` run
// tore down a user's docker-service). What a user gets by following them is derived here, not
// listed by hand: each examples/*.conf rendered under its own name (the object name, the paths it
// provisions, its container names, images), and the names the README and the examples' comments
// tell to use (`ip netns add osvc-demo`, `npx osvc status quickstart`, localhost/... images).
// Then every test source is parsed (TypeScript AST) and its string literals checked: none may name
// those objects, paths, containers, images or namespaces; a test running an example applies it
// under a `--path` of its own; the image script runs with a tag of the test's own.
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseAst } from "vite";
import { describe, expect, it } from "vitest";
import { ROOT, runCli } from "./helpers/cli.js";

/** What a user following the README and the examples creates on the host. */
export interface UserNames {
  /** Object names (also the volume groups and the {name} in every derived name). */
  objects: string[];
  /** Directories and files the examples provision (/tmp/osvc-quickstart, /srv/docker-service). */
  paths: string[];
  /** Container names (podman and docker names are host-wide). */
  containers: string[];
  /** Image repositories (host-wide, tag aside). */
  images: string[];
  /** Network namespaces (host-wide). */
  netns: string[];
}

const TOKEN = /[A-Za-z0-9_-]/;
const DATA_DIRS = ["tmp", "srv", "var", "opt", "mnt", "home", "data", "run"];

/** Names the README's (or an example's comment's) commands use. */
export function namesInText(text: string): Pick<UserNames, "objects" | "paths" | "images" | "netns"> {
  const all = (re: RegExp) => [...text.matchAll(re)].map((m) => m[1]);
  return {
    objects: [...all(/\bosvc (?:status|destroy) ([\w.-]+)/g), ...all(/\bosvc ([\w.-]+) (?:create|print|purge|provision|unprovision|start|stop|set|update|delete)\b/g), ...all(/\bvgs ([\w.-]+)/g)],
    // whole paths only: not the head of /tmp/osvc-{name} nor the tail of {env.sandbox}/srv/data
    paths: all(/(?<![\w.}/-])(\/(?:tmp|srv)\/[\w.-]+(?:\/[\w.-]+)*)(?![\w.{}/-])/g),
    images: all(/\b(localhost\/[\w.\/-]+)/g),
    netns: all(/\bip netns add ([\w.-]+)/g),
  };
}

/** The shortest prefix of `p` whose last component holds `name`; `p` itself when none does. */
function rootOf(p: string, name: string): string {
  const parts = p.split("/");
  const i = parts.findIndex((c, k) => k > 0 && c.includes(name));
  return i > 0 ? parts.slice(0, i + 1).join("/") : p;
}

function strings(v: unknown): string[] {
  if (typeof v === "string") return [v];
  if (Array.isArray(v)) return v.flatMap(strings);
  return [];
}

/** What examples/<file> provisions under its own name (the file name), read from `osvc render`. */
export function exampleNames(file: string): UserNames {
  const name = path.basename(file, ".conf");
  const r = runCli(["render", file, "--format", "json"]);
  if (r.code !== 0) throw new Error(`render ${file}: ${r.stderr}`);
  const sections = JSON.parse(r.stdout) as Record<string, Record<string, unknown>>;
  const out: UserNames = { objects: [name], paths: [], containers: [], images: [], netns: [] };
  for (const [rid, kw] of Object.entries(sections)) {
    for (const s of Object.values(kw).flatMap(strings)) {
      for (const m of s.matchAll(/(?<![\w.:/-])(\/[\w.@%+-]+(?:\/[\w.@%+-]+)+)/g)) {
        if (DATA_DIRS.includes(m[1].split("/")[1])) out.paths.push(rootOf(m[1], name));
      }
    }
    if (rid.startsWith("container#")) {
      out.containers.push(typeof kw.name === "string" ? kw.name : `${name}.${rid.replace(/#/g, ".")}`);
      if (typeof kw.image === "string") out.images.push(kw.image.replace(/:[\w.-]+$/, ""));
    }
    if (rid.startsWith("disk#") && typeof kw.name === "string") out.objects.push(kw.name);
  }
  return out;
}

/** Everything the README and examples/ lead a user to create. */
export function userNames(): UserNames {
  const acc: UserNames = { objects: [], paths: [], containers: [], images: [], netns: [] };
  const add = (n: Partial<UserNames>) => {
    for (const k of Object.keys(acc) as (keyof UserNames)[]) acc[k].push(...(n[k] ?? []));
  };
  add(namesInText(readFileSync(path.join(ROOT, "README.md"), "utf8")));
  for (const f of readdirSync(path.join(ROOT, "examples")).sort()) {
    const file = path.join(ROOT, "examples", f);
    // the commands in the comments; the values are read rendered
    const text = readFileSync(file, "utf8");
    add(namesInText(f.endsWith(".conf") ? text.split("\n").filter((l) => l.startsWith("#")).join("\n") : text));
    if (f.endsWith(".conf")) add(exampleNames(file));
  }
  for (const k of Object.keys(acc) as (keyof UserNames)[]) acc[k] = [...new Set(acc[k])].sort();
  return acc;
}

export interface Finding {
  line: number;
  text: string;
  why: string;
}

/** Where `word` occurs in `s` as a whole name (no letter, digit, '_' or '-' right before or after). */
function holdsName(s: string, word: string): boolean {
  for (let i = s.indexOf(word); i >= 0; i = s.indexOf(word, i + 1)) {
    const before = s[i - 1];
    const after = s[i + word.length];
    if ((before === undefined || !TOKEN.test(before)) && (after === undefined || !TOKEN.test(after))) return true;
  }
  return false;
}

type Node = { type: string; start: number; end: number; [k: string]: unknown };

function children(n: Node): Node[] {
  const out: Node[] = [];
  for (const v of Object.values(n)) {
    if (Array.isArray(v)) out.push(...v.filter((x): x is Node => Boolean(x) && typeof x === "object" && typeof (x as Node).type === "string"));
    else if (v && typeof v === "object" && typeof (v as Node).type === "string") out.push(v as Node);
  }
  return out;
}

/** The text of a string literal or a template part (undefined for other nodes). */
function textOf(n: Node): string | undefined {
  if (n.type === "Literal" && typeof n.value === "string") return n.value;
  if (n.type === "TemplateElement") return (n.value as { cooked?: string; raw: string }).cooked ?? (n.value as { raw: string }).raw;
  return undefined;
}

/** String texts below `n`, not descending into nested arrays (they are checked on their own). */
function textsBelow(n: Node): string[] {
  const t = textOf(n);
  if (t !== undefined) return [t];
  return children(n).flatMap((c) => (c.type === "ArrayExpression" ? [] : textsBelow(c)));
}

/** The findings of one test source against the user's names. */
export function auditSource(src: string, names: UserNames): Finding[] {
  const findings: Finding[] = [];
  const lineOf = (off: number) => src.slice(0, off).split("\n").length;
  const flag = (n: Node, why: string) => findings.push({ line: lineOf(n.start), text: src.slice(n.start, Math.min(n.end, n.start + 120)), why });
  const visit = (n: Node) => {
    const t = textOf(n);
    if (t !== undefined) {
      // A reference to an example's file is how a test runs it: not a name of the user's.
      const s = t.replace(/examples\/[\w.-]+\.conf/g, "examples/…");
      for (const o of names.objects) if (holdsName(s, o)) flag(n, `the object name "${o}" of an example or the README: give the test's object a name of its own (--path, or <name> create)`);
      for (const p of names.paths) if (holdsName(s, p)) flag(n, `the path ${p} an example provisions: use a temp dir (--env sandbox=..., or a --path of the test's own)`);
      for (const c of names.containers) if (holdsName(s, c)) flag(n, `the container name ${c} of an example`);
      for (const i of names.images) if (holdsName(s, i)) flag(n, `the image ${i} the README imports: tag the test's image with a name of its own`);
      for (const x of names.netns) if (holdsName(s, x)) flag(n, `the network namespace ${x} of the README`);
    }
    if (n.type === "ArrayExpression") {
      const elements = (n.elements as (Node | null)[]).filter((e): e is Node => Boolean(e));
      const texts = elements.map((e) => textsBelow(e));
      const literal = (w: string) => elements.some((e) => textOf(e) === w);
      const script = texts.findIndex((ts) => ts.some((x) => x.includes("import-busybox.sh")));
      if (script >= 0 && elements.length - script < 3) flag(n, "examples/import-busybox.sh without a tag imports the README's image: pass the test's own tag (import-busybox.sh ENGINE TAG)");
      const runsExample = texts.some((ts) => ts.some((x) => /examples\/[\w.-]+\.conf/.test(x)));
      if (runsExample && literal("apply") && !literal("--path")) flag(n, "applies an example under its own name (the file's): add --path <a name of the test's own>");
    }
    for (const c of children(n)) visit(c);
  };
  visit(parseAst(src, { lang: "ts" }) as unknown as Node);
  return findings;
}

function testFiles(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) testFiles(p, out);
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

describe("tests stay clear of what the README and the examples create", () => {
  const names = userNames();

  it("knows what a user following them creates", () => {
    expect(names.objects).toEqual(expect.arrayContaining(["quickstart", "docker-service", "btrfs-lvm", "btrfs-raid1"]));
    expect(names.paths).toEqual(expect.arrayContaining(["/tmp/osvc-quickstart", "/tmp/osvc-docker-service", "/srv/docker-service"]));
    expect(names.containers).toEqual(expect.arrayContaining(["docker-service.container.0", "docker-service.container.1"]));
    expect(names.images).toEqual(["localhost/osvc-busybox"]);
    expect(names.netns).toEqual(["osvc-demo"]);
  });

  it("catches each way a test can collide with them", () => {
    const bad = [
      'const name = "docker-service";',
      'cleanup.register("/tmp/osvc-quickstart/data");',
      'ps.filter((n) => n.startsWith("docker-service.container."));',
      'podman(["rm", "-f", "btrfs-raid1.container.0"]);',
      'const image = "localhost/osvc-busybox:latest";',
      'sh("ip", ["netns", "add", "osvc-demo"]);',
      'sh("sh", [path.join(ROOT, "examples/import-busybox.sh"), "podman"]);',
      'osvc(["apply", path.join(ROOT, "examples/docker-service.conf"), "--auto-approve"], root);',
    ];
    for (const line of bad) expect(auditSource(line, names), line).not.toEqual([]);
    const good = [
      'const conf = path.join(ROOT, "examples/docker-service.conf");',
      'osvc(["apply", path.join(ROOT, "examples/docker-service.conf"), "--path", name, "--auto-approve"], root);',
      "const name = `docker-service-${RUN}`;",
      'golden(path.join(ROOT, "fixtures/examples/docker-service-status.txt"), out);',
      'sh("sh", [path.join(ROOT, "examples/import-busybox.sh"), "podman", IMAGE]);',
      'const image = "localhost/osvc-example-busybox:t1";',
    ];
    for (const line of good) expect(auditSource(line, names), line).toEqual([]);
  });

  it("no test names an object, path, container, image or namespace of theirs", () => {
    const self = path.join(ROOT, "test", "examples-isolation.test.ts");
    const files = [...testFiles(path.join(ROOT, "test")), ...testFiles(path.join(ROOT, "providers")).filter((f) => f.endsWith(".test.ts"))].filter((f) => f !== self);
    expect(files.length).toBeGreaterThan(30);
    const findings = files.flatMap((f) => auditSource(readFileSync(f, "utf8"), names).map((x) => `${path.relative(ROOT, f)}:${x.line}: ${x.why}\n    ${x.text}`));
    expect(findings).toEqual([]);
  });
});
