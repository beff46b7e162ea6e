// The transport against a real cluster (test/helpers/cluster.ts): three nodes, each a network
// namespace with its own sshd and hostname, reached through OpenSSH with ControlMaster.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadInventory, type Inventory } from "../../src/cluster/inventory.js";
import { InventoryTransport, LocalTransport, remoteCommand, shellQuote, TransportError } from "../../src/cluster/transport.js";
import { mapLimit } from "../../src/core/limit.js";
import { createExec } from "../../src/provider/exec.js";
import { startTestCluster, type TestCluster } from "../helpers/cluster.js";

let cluster: TestCluster;
let inv: Inventory;
let transport: InventoryTransport;
let stateRoot: string;
const timings: Record<string, number> = {};

beforeAll(async () => {
  cluster = await startTestCluster({ nodes: 3 });
  timings["cluster start (3 sshd)"] = cluster.startMs;
  inv = loadInventory(cluster.inventoryFile, undefined)!.inventory!;
  stateRoot = path.join(cluster.dir, "orchestrator");
  transport = new InventoryTransport(createExec(), inv, { stateRoot });
}, 120_000);

afterAll(async () => {
  console.log(`transport timings (ms): ${JSON.stringify(timings)}`);
  const problems = (await cluster?.stop()) ?? [];
  expect(problems).toEqual([]);
  expect(existsSync(cluster.dir)).toBe(false);
  expect(spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout).not.toContain(cluster.ctlNs.replace(/-ctl$/, ""));
}, 60_000);

const ms = async <T>(label: string, fn: () => Promise<T>): Promise<T> => {
  const t = performance.now();
  const r = await fn();
  timings[label] = Math.round(performance.now() - t);
  return r;
};

describe("remote command quoting", () => {
  it("each word is single-quoted: sh reads back exactly the words, nothing expanded", () => {
    const word = fc.string({ unit: "binary", maxLength: 12 }).map((s) => s.replace(/[\x00-\x1f\x7f]/g, "x"));
    fc.assert(
      fc.property(fc.array(word, { minLength: 1, maxLength: 6 }), (words) => {
        const r = spawnSync("sh", ["-c", `printf '%s\\0' ${words.map(shellQuote).join(" ")}`], { encoding: "utf8" });
        expect(r.stdout.split("\0").slice(0, -1)).toEqual(words);
      }),
      { numRuns: 60 },
    );
  });

  it("control characters never reach the remote string (data goes on stdin)", () => {
    expect(() => remoteCommand(["osvc", "a\nb"])).toThrow(TransportError);
    expect(() => remoteCommand(["osvc", "a\0b"])).toThrow(/control character/);
    expect(() => remoteCommand([])).toThrow(TransportError);
    expect(remoteCommand(["osvc", "svc1", "print", "status", "it's"])).toBe(`'osvc' 'svc1' 'print' 'status' 'it'\\''s'`);
  });
});

describe("ssh transport on a 3-node cluster", () => {
  it("runs hostname on each node; the first connection opens a master, the next calls reuse it", async () => {
    const first = await ms("first connect n1 (hostname)", () => transport.run("n1", ["hostname"]));
    expect(first).toMatchObject({ node: "n1", exitCode: 0, stdout: "n1\n" });
    expect(first.unreachable).toBeUndefined();
    // The master's socket lives under <state root>/ssh.
    expect(readdirSync(path.join(stateRoot, "ssh")).some((f) => f.startsWith("cm-"))).toBe(true);
    const again = await ms("over open master n1 (hostname)", () => transport.run("n1", ["hostname"]));
    expect(again.stdout).toBe("n1\n");
    const median: number[] = [];
    for (let i = 0; i < 5; i++) median.push((await transport.run("n1", ["true"])).durationMs);
    timings["over open master n1 (true), median of 5"] = median.sort((a, b) => a - b)[2];
    expect(timings["over open master n1 (true), median of 5"]).toBeLessThan(first.durationMs);
    const all = await ms("first connect n2+n3 in parallel", () => mapLimit(["n2", "n3"], 3, (n) => transport.run(n, ["hostname"])));
    expect(all.map((r) => r.stdout)).toEqual(["n2\n", "n3\n"]);
    const par = await ms("3 nodes in parallel over masters (hostname)", () => mapLimit(["n1", "n2", "n3"], 3, (n) => transport.run(n, ["hostname"])));
    expect(par.map((r) => `${r.node}:${r.exitCode}:${r.stdout.trim()}`)).toEqual(["n1:0:n1", "n2:0:n2", "n3:0:n3"]);
  });

  it("each node has its own state root and runs osvc --version", async () => {
    const rs = await mapLimit(["n1", "n2", "n3"], 3, (n) => transport.osvc(n, ["--version"]));
    for (const r of rs) {
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^osvc \d+\.\d+\.\d+/);
    }
    const roots = await mapLimit(["n1", "n2", "n3"], 3, (n) => transport.run(n, ["printenv", "OSVC_ROOT"]));
    expect(roots.map((r) => r.stdout.trim())).toEqual(cluster.nodes.map((n) => n.root));
  });

  it("stdin arrives byte-identical and is never interpreted; hostile argv words stay words", async () => {
    const marker = path.join(cluster.dir, "pwned");
    const hostile = [
      `it's "quoted" \`uname\` $(touch ${marker}) \${HOME} ; touch ${marker} && echo x | tee ${marker}`,
      "line 2\r\n\ttab\\backslash\\\n; rm -rf / --no-preserve-root # not run",
      "ünïcödé ✓ 日本語 $((1+1)) !! *",
      "x".repeat(300_000),
      "no final newline",
    ].join("\n");
    const rs = await mapLimit(["n1", "n2", "n3"], 3, (n) => transport.run(n, ["cat"], { input: hostile }));
    for (const r of rs) {
      expect(r.exitCode).toBe(0);
      expect(r.stdout.length).toBe(hostile.length);
      expect(r.stdout === hostile).toBe(true);
    }
    const words = [`$(touch ${marker})`, `; touch ${marker}`, "`id`", "a'b\"c", "*", "~", "-n", "--", "", "  spaced  "];
    const p = await transport.run("n2", ["printf", "[%s]", ...words]);
    expect(p.exitCode).toBe(0);
    expect(p.stdout).toBe(words.map((w) => `[${w}]`).join(""));
    expect(existsSync(marker)).toBe(false);
    expect(cluster.nodeExec("n2", ["test", "-e", marker]).rc).not.toBe(0);
  });

  it("a remote command's failure is not 'unreachable'", async () => {
    const r = await transport.run("n1", ["sh", "-c", "echo oops >&2; exit 3"]);
    expect(r).toMatchObject({ exitCode: 3, stderr: "oops\n" });
    expect(r.unreachable).toBeUndefined();
    const missing = await transport.run("n1", ["osvc-not-installed-here", "--version"]);
    expect(missing.exitCode).toBe(127);
    expect(missing.unreachable).toBeUndefined();
    await expect(transport.run("n9", ["true"])).rejects.toThrow(/node n9 is not in the cluster config/);
  });

  it("a node whose link is cut is reported unreachable within seconds, then works again once restored", async () => {
    const sleep = (n: number) => new Promise((r) => setTimeout(r, n));
    // 1. The link drops while a command runs: ServerAlive notices it (~3 s), ssh exits 255.
    expect((await transport.run("n3", ["true"])).exitCode).toBe(0); // a master is open
    const running = transport.run("n3", ["sleep", "30"]);
    await sleep(1000);
    cluster.cut("n3");
    try {
      let t = performance.now();
      const [mid, ok] = await Promise.all([running, transport.run("n1", ["hostname"])]);
      timings["link cut mid-command -> unreachable"] = Math.round(performance.now() - t);
      expect(mid.exitCode).toBe(255);
      expect(mid.unreachable).toBeTruthy();
      expect(timings["link cut mid-command -> unreachable"]).toBeLessThan(12_000);
      expect(ok.stdout).toBe("n1\n"); // the other nodes are not affected
      // 2. A new command while the link is down: a fresh connection times out (ConnectTimeout 3).
      t = performance.now();
      const fresh = await transport.run("n3", ["hostname"]);
      timings["link down -> unreachable (fresh connection)"] = Math.round(performance.now() - t);
      expect(fresh.exitCode).toBe(255);
      expect(fresh.unreachable).toMatch(/timed out|No route|unreachable|closed/i);
      expect(timings["link down -> unreachable (fresh connection)"]).toBeLessThan(12_000);
    } finally {
      cluster.restore("n3");
    }
    expect(await transport.run("n3", ["hostname"])).toMatchObject({ exitCode: 0, stdout: "n3\n" });
    // 3. The link drops while the master is idle: the next command finds the master dead
    //    (ServerAlive, ~3 s), then ssh tries one fresh connection (ConnectTimeout): ~6 s in all.
    cluster.cut("n3");
    try {
      const t = performance.now();
      const stale = await transport.run("n3", ["hostname"]);
      timings["link cut, idle master -> unreachable"] = Math.round(performance.now() - t);
      expect(stale.exitCode).toBe(255);
      expect(stale.unreachable).toBeTruthy();
      expect(timings["link cut, idle master -> unreachable"]).toBeLessThan(15_000);
    } finally {
      cluster.restore("n3");
    }
    const back = await transport.run("n3", ["hostname"]);
    expect(back).toMatchObject({ exitCode: 0, stdout: "n3\n" });
    expect(back.unreachable).toBeUndefined();
  });

  it("a timeout or an abort ends the local ssh; neither is mistaken for an unreachable node", async () => {
    const t = await transport.run("n1", ["sleep", "30"], { timeoutMs: 1500 });
    expect(t.timedOut).toBe(true);
    expect(t.durationMs).toBeLessThan(15_000);
    expect(t.unreachable).toBeUndefined();
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 500);
    const a = await transport.run("n1", ["sleep", "30"], { signal: ac.signal });
    expect(a.exitCode).not.toBe(0);
    expect(a.durationMs).toBeLessThan(15_000);
    expect(a.unreachable).toBeUndefined();
    // The master still serves the node.
    expect((await transport.run("n1", ["hostname"])).stdout).toBe("n1\n");
  });

  it("closeMaster ends a master; the next call opens a new one", async () => {
    await transport.run("n2", ["true"]);
    await transport.ssh.closeMaster("n2");
    const check = spawnSync("ssh", [...transport.ssh.sshArgs("n2").slice(0, -2), "-O", "check", "n2"], { encoding: "utf8" });
    expect(check.status).not.toBe(0);
    expect((await transport.run("n2", ["hostname"])).stdout).toBe("n2\n");
  });
});

describe("local transport", () => {
  it("runs the argv directly on this host, stdin included", async () => {
    const local = new LocalTransport(createExec());
    const r = await local.run("here", ["hostname"]);
    expect(r).toMatchObject({ node: "here", exitCode: 0, stdout: `${os.hostname()}\n` });
    const c = await local.run("here", ["cat"], { input: "$(x) 'y'\n" });
    expect(c.stdout).toBe("$(x) 'y'\n");
  });
});
