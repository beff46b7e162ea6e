// `osvc node ls` (and `osvc cluster nodes`) end to end: the built CLI against a real 3-node cluster.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, runCli } from "../helpers/cli.js";
import { startTestCluster, type TestCluster } from "../helpers/cluster.js";

let cluster: TestCluster;
let root: string;

beforeAll(async () => {
  cluster = await startTestCluster({ nodes: 3 });
  root = path.join(cluster.dir, "orchestrator");
}, 120_000);

afterAll(async () => {
  expect((await cluster?.stop()) ?? []).toEqual([]);
}, 60_000);

interface Row {
  name: string;
  transport: string;
  destination: string;
  reachable: boolean;
  version?: string;
  error?: string;
  durationMs: number;
}

const VERSION = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version as string;

describe("osvc node ls", () => {
  it("shows every node, its ssh destination, reachability and osvc version (text and json)", () => {
    const t = performance.now();
    const r = runCli(["node", "ls", "--root", root, "--cluster-config", cluster.inventoryFile]);
    console.log(`node ls, 3 nodes, first connections: ${Math.round(performance.now() - t)} ms`);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0].split(/\s+/)).toEqual(["NODE", "TRANSPORT", "DESTINATION", "REACHABLE", "OSVC", "ERROR"]);
    expect(lines.slice(1).map((l) => l.split(/\s+/))).toEqual(["n1", "n2", "n3"].map((n) => [n, "ssh", n, "yes", VERSION]));

    const t2 = performance.now();
    const j = runCli(["node", "ls", "--root", root, "--cluster-config", cluster.inventoryFile, "--format", "json"]);
    console.log(`node ls --format json, 3 nodes over open masters: ${Math.round(performance.now() - t2)} ms`);
    expect(j.code).toBe(0);
    const doc = JSON.parse(j.stdout) as { cluster: string; file: string; nodes: Row[] };
    expect(doc.cluster).toBe(`test-${cluster.id}`);
    expect(doc.file).toBe(cluster.inventoryFile);
    expect(doc.nodes.map(({ durationMs, ...x }) => (expect(durationMs).toBeGreaterThanOrEqual(0), x))).toEqual(
      ["n1", "n2", "n3"].map((name) => ({ name, transport: "ssh", destination: name, reachable: true, version: VERSION })),
    );
    // The alias gives the same document.
    const alias = runCli(["cluster", "nodes", "--root", root, "--cluster-config", cluster.inventoryFile, "--format", "json"]);
    expect(alias.code).toBe(0);
    expect((JSON.parse(alias.stdout) as { nodes: Row[] }).nodes.map((n) => n.name)).toEqual(["n1", "n2", "n3"]);
  });

  it("<root>/cluster.conf is the default cluster config", () => {
    const r2 = path.join(cluster.dir, "orchestrator2");
    mkdirSync(r2, { recursive: true });
    writeFileSync(path.join(r2, "cluster.conf"), `[cluster]\nnodes = n2\n[ssh]\nconfig = ${cluster.sshConfig}\n[node.n2]\nosvc = ${cluster.osvcWords}\n`);
    const r = runCli(["node", "ls", "--root", r2, "--format", "json"]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { nodes: Row[] }).nodes.map((n) => [n.name, n.reachable])).toEqual([["n2", true]]);
    // OSVC_ROOT is the default root.
    const e = runCli(["node", "ls", "--format", "json"], { env: { OSVC_ROOT: r2 } });
    expect(e.code).toBe(0);
  });

  it("an unreachable node, a node without osvc and a local node: each row says so; exit 1", () => {
    const inv = path.join(cluster.dir, "mixed.conf");
    writeFileSync(
      inv,
      readFileSync(cluster.inventoryFile, "utf8")
        .replace(/nodes = .*/, "nodes = n1 n2 n3 here")
        .replace(/\[node\.n3\]\nosvc = .*/, "[node.n3]\nosvc = /nonexistent/osvc") +
        `\n[node.here]\ntransport = local\nosvc = ${process.execPath} ${BIN}\n`,
    );
    cluster.cut("n2");
    let r;
    const t = performance.now();
    try {
      r = runCli(["node", "ls", "--root", root, "--cluster-config", inv, "--format", "json"]);
    } finally {
      cluster.restore("n2");
    }
    console.log(`node ls with n2 cut: ${Math.round(performance.now() - t)} ms`);
    expect(r.code).toBe(1);
    const rows = (JSON.parse(r.stdout) as { nodes: Row[] }).nodes;
    const by = (n: string) => rows.find((x) => x.name === n)!;
    expect(by("n1")).toMatchObject({ reachable: true, version: VERSION });
    expect(by("n2")).toMatchObject({ reachable: false });
    expect(by("n2").error).toBeTruthy();
    expect(by("n2").version).toBeUndefined();
    expect(by("n3")).toMatchObject({ reachable: true });
    expect(by("n3").error).toMatch(/\/nonexistent\/osvc --version: .*(No such file|not found)/);
    expect(by("here")).toMatchObject({ transport: "local", destination: "local", reachable: true, version: VERSION });
    // The text view shows the same, with the errors.
    const text = runCli(["node", "ls", "--root", root, "--cluster-config", inv]);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^n3\s+ssh\s+n3\s+yes\s+-\s+\/nonexistent\/osvc --version: /m);
  });

  it("a bad cluster config: positioned diagnostics, nothing is asked of any node", () => {
    const bad = path.join(cluster.dir, "bad.conf");
    writeFileSync(bad, "[cluster]\nnodes = n1 n1\n[node.n1]\nsssh = x\n");
    const r = runCli(["node", "ls", "--root", root, "--cluster-config", bad]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${bad}:2:12`);
    expect(r.stderr).toContain(`${bad}:4:1`);
    expect(r.stderr).toMatch(/Did you mean "ssh"\?/);
    const missing = runCli(["node", "ls", "--root", root, "--cluster-config", path.join(cluster.dir, "nope.conf")]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read the cluster config .*nope\.conf: no such file/);
    const none = runCli(["node", "ls", "--root", path.join(cluster.dir, "empty-root")]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no cluster config: .*empty-root\/cluster\.conf does not exist/);
  });
});
