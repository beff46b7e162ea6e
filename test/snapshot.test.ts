// The start-up snapshot (scripts/snapshot-entry.cjs, made by scripts/bundle.mjs): bin/osvc.js run
// as a command starts node from dist/osvc.blob when the node on the PATH made it, and prints what
// `node bin/osvc.js` prints; it falls back to the bundle when the snapshot is missing, older than
// the bundle, or made by another node, and runs the tree's own bundle when the tree has moved.
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, ROOT } from "./helpers/cli.js";

const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "osvc-snapshot-")));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = (extra: Record<string, string> = {}): NodeJS.ProcessEnv => {
  const e: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", ...extra };
  if (!("FORCE_COLOR" in extra)) delete e.FORCE_COLOR;
  if ("FORCE_COLOR" in extra) delete e.NO_COLOR;
  return e;
};

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Whether node was started from a snapshot (its execve, seen by strace). */
  readonly snapshot: boolean;
  /** Whether the bundle (dist/osvc.cjs) was read: not when the snapshot runs as built. */
  readonly bundleRead: boolean;
}

/** Runs `bin args` as a command under strace (execve only), as a user's `osvc` runs. */
function asCommand(bin: string, args: readonly string[], e: NodeJS.ProcessEnv = env()): Run {
  const trace = path.join(dir, `trace-${process.hrtime.bigint()}`);
  const r = spawnSync("strace", ["-f", "-qq", "-e", "trace=execve,openat", "-o", trace, bin, ...args], { cwd: ROOT, env: e, encoding: "utf8", timeout: 60_000 });
  const calls = readFileSync(trace, "utf8");
  rmSync(trace);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, snapshot: calls.includes('"--snapshot-blob"'), bundleRead: /openat\([^\n]*osvc\.cjs"/.test(calls) };
}

function throughNode(bin: string, args: readonly string[], e: NodeJS.ProcessEnv = env()) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: ROOT, env: e, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A copy of the built tree under `name` (bin/, dist/ bundle, cache and snapshot, package.json). */
function copyTree(name: string): string {
  const d = path.join(dir, name);
  for (const sub of ["bin", "dist"]) mkdirSync(path.join(d, sub), { recursive: true });
  for (const f of ["bin/osvc.js", "bin/package.json", "dist/osvc.cjs", "dist/osvc.cache", "dist/osvc.blob", "dist/osvc.blob.node", "package.json"]) copyFileSync(path.join(ROOT, f), path.join(d, f));
  // copyFileSync keeps no times: the snapshot is newer than the bundle, its node file has node's time.
  const now = Date.now() / 1000;
  utimesSync(path.join(d, "dist/osvc.cjs"), now - 10, now - 10);
  const nodeTime = readTime(realpathSync(process.execPath));
  utimesSync(path.join(d, "dist/osvc.blob.node"), nodeTime, nodeTime);
  symlinkSync(path.join(ROOT, "node_modules"), path.join(d, "node_modules"));
  return d;
}

function readTime(file: string): number {
  const r = spawnSync("stat", ["-c", "%.9Y", file], { encoding: "utf8" });
  return Number(r.stdout.trim());
}

const version = (d: string) => (JSON.parse(readFileSync(path.join(d, "package.json"), "utf8")) as { version: string }).version;

describe("the start-up snapshot", () => {
  it("is used by osvc run as a command, also through a symlink", () => {
    const v = asCommand(BIN, ["--version"]);
    expect(v.snapshot, "node was not started from dist/osvc.blob (is the build's snapshot missing?)").toBe(true);
    expect(v.stdout).toBe(`osvc ${version(ROOT)}\n`);
    expect(v.code).toBe(0);
    expect(v.bundleRead, "the snapshot ran the bundle from source").toBe(false);
    const link = path.join(dir, "osvc");
    symlinkSync(BIN, link);
    const l = asCommand(link, ["--version"]);
    expect(l.snapshot).toBe(true);
    expect(l.stdout).toBe(v.stdout);
    expect(l.bundleRead).toBe(false);
    // Through a symlink to the checkout's directory: the same tree, not a moved one.
    const tree = path.join(dir, "tree");
    symlinkSync(ROOT, tree);
    const t = asCommand(path.join(tree, "bin/osvc.js"), ["validate", path.join(ROOT, "examples/quickstart.conf")]);
    expect(t.snapshot).toBe(true);
    expect(t.bundleRead).toBe(false);
    expect(t.stdout).toContain("valid (3 resources)");
  });

  it("prints what `node bin/osvc.js` prints, colors and exit codes included", () => {
    const bad = path.join(dir, "bad.conf");
    writeFileSync(bad, "[fs#0]\ntype = ext4\nmnt = /srv/x\ndev = {disk#9.exposed_devs[0]}\nsize = $(1 +)\n");
    const emptyRoot = mkdtempSync(path.join(dir, "root-"));
    const cases: [string[], NodeJS.ProcessEnv][] = [
      [["validate", path.join(ROOT, "examples/quickstart.conf")], env()],
      [["validate", bad], env()],
      [["validate", bad], env({ FORCE_COLOR: "1" })],
      [["plan", path.join(ROOT, "examples/quickstart.conf"), "--refresh", "false", "--root", emptyRoot], env()],
      [["print", "config", path.join(ROOT, "examples/quickstart.conf"), "--format", "json"], env()],
      [["--help"], env()],
      [["no-such-command"], env()],
    ];
    for (const [args, e] of cases) {
      const s = asCommand(BIN, args, e);
      const n = throughNode(BIN, args, e);
      expect(s.snapshot, args.join(" ")).toBe(true);
      // A plan names the moment it was made: the only text that may differ.
      const strip = (t: string) => t.replace(/"created_at": "[^"]*"/g, "");
      expect({ code: s.code, stdout: strip(s.stdout), stderr: s.stderr }, args.join(" ")).toEqual({ code: n.code, stdout: strip(n.stdout), stderr: n.stderr });
    }
  });

  it("is not used when missing, older than the bundle, or made by another node: the bundle runs", () => {
    const cases: [string, (d: string) => void][] = [
      ["missing", (d) => rmSync(path.join(d, "dist/osvc.blob"))],
      ["older", (d) => utimesSync(path.join(d, "dist/osvc.cjs"), Date.now() / 1000 + 60, Date.now() / 1000 + 60)],
      ["other-node", (d) => utimesSync(path.join(d, "dist/osvc.blob.node"), 1_000_000, 1_000_000)],
    ];
    for (const [name, spoil] of cases) {
      const d = copyTree(name);
      const ok = asCommand(path.join(d, "bin/osvc.js"), ["validate", path.join(ROOT, "examples/quickstart.conf")]);
      expect(ok.snapshot, `${name}: the intact copy uses its snapshot`).toBe(true);
      spoil(d);
      const r = asCommand(path.join(d, "bin/osvc.js"), ["validate", path.join(ROOT, "examples/quickstart.conf")]);
      expect(r.snapshot, name).toBe(false);
      expect(r.stderr, name).toBe("");
      expect(r.stdout, name).toContain("valid (3 resources)");
      expect(r.code, name).toBe(0);
    }
  });

  it("a tree moved after its build runs its own bundle (the snapshot names files under the old path)", () => {
    const d = copyTree("moved");
    const pkg = JSON.parse(readFileSync(path.join(d, "package.json"), "utf8")) as Record<string, unknown>;
    writeFileSync(path.join(d, "package.json"), JSON.stringify({ ...pkg, version: "9.9.9-moved" }));
    const v = asCommand(path.join(d, "bin/osvc.js"), ["--version"]);
    expect(v.snapshot).toBe(true);
    expect(v.stdout).toBe("osvc 9.9.9-moved\n");
    const b = asCommand(path.join(d, "bin/osvc.js"), ["validate", path.join(ROOT, "examples/quickstart.conf")]);
    expect(b.bundleRead, "the moved tree's bundle runs").toBe(true);
    const r = asCommand(path.join(d, "bin/osvc.js"), ["validate", path.join(ROOT, "examples/quickstart.conf")]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toContain("valid (3 resources)");
  });
});
