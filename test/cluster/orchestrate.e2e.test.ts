// Orchestrated provisioning across a real 3-node test cluster (DESIGN §8, the seed's provisioning):
// the orchestrator (the built CLI, in the host namespace) drives each node's `osvc ... --local`
// over ssh. Verified on each node through its own namespaces: addresses (ip -j addr), mounts
// (findmnt in its mount namespace), processes (/proc/PID), and its own state.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { runCliAsync } from "../helpers/e2e.js";
import { startTestCluster, type TestCluster } from "../helpers/cluster.js";
import { cleanup, loopsOf, makeTempDir } from "../helpers/host.js";

let cluster: TestCluster;
let data: string; // a private directory on every node (its "own disk")
let root: string; // the orchestrator's state root
let seq = 0;

beforeAll(async () => {
  data = makeTempDir("osvc-orch-data-");
  cluster = await startTestCluster({ nodes: 3, privateDirs: [data] });
  root = path.join(cluster.dir, "orchestrator");
}, 120_000);

afterAll(async () => {
  expect((await cluster?.stop()) ?? []).toEqual([]);
  expect(cleanup.run()).toEqual([]);
}, 120_000);

/** Every object a test provisioned: unprovisioned (--local on each node) even when the test failed. */
const made: string[] = [];
afterEach(async () => {
  for (const name of made.splice(0)) {
    for (const n of ["n2", "n3", "n1"]) {
      cluster.nodeExec(n, [...cluster.osvcWords.split(" "), name, "unprovision", "--local", "--leader", "--lock-timeout", "60s"]);
    }
  }
}, 300_000);

const NODES = ["n1", "n2", "n3"];

interface Svc {
  name: string;
  cfg: string;
  addr: Record<string, string>;
}

/** A failover service: shared loop disk + ext4 (SAN), a per-node directory, a per-node address (standby), an app. */
function service(extra = "", app = "start = /bin/sleep 3600"): Svc {
  const name = `orch${process.pid % 10000}x${++seq}`;
  const addr = Object.fromEntries(NODES.map((n, i) => [n, `${cluster.subnet}.${100 + seq * 4 + i}`]));
  const text = [
    "[DEFAULT]",
    "nodes = n1 n2 n3",
    extra,
    "",
    "[disk#0]",
    "type = loop",
    `file = ${cluster.san}/${name}.img`,
    "size = 24m",
    "shared = true",
    "",
    "[fs#0]",
    "type = ext4",
    "dev = {disk#0.exposed_devs[0]}",
    `mnt = ${data}/${name}/shared`,
    "shared = true",
    "",
    "[fs#1]",
    "type = directory",
    `path = ${data}/${name}/local-{nodename}`,
    "",
    "[ip#0]",
    "type = host",
    "ipdev = eth0",
    "netmask = 24",
    "standby = true",
    ...NODES.map((n) => `ipname@${n} = ${addr[n]}`),
    "",
    "[app#0]",
    "type = simple",
    app,
    "",
  ].join("\n");
  const cfg = path.join(cluster.dir, `${name}.conf`);
  writeFileSync(cfg, text);
  made.push(name);
  return { name, cfg, addr };
}

function osvc(args: readonly string[]) {
  return runCliAsync([...args, "--root", root, "--cluster-config", cluster.inventoryFile]);
}

function show(r: { code: number; stdout: string; stderr: string }): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

interface NodeState {
  resources: Record<string, { provisioned: boolean | null; follow?: boolean; outputs?: Record<string, unknown> }>;
}

function nodeState(node: string, name: string): NodeState | undefined {
  const f = path.join(cluster.node(node).root, "objects/root/svc", name, "state.json");
  return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as NodeState) : undefined;
}

function addrsOf(node: string): string[] {
  const r = cluster.nodeExec(node, ["ip", "-j", "addr", "show", "dev", "eth0"]);
  const doc = JSON.parse(r.stdout) as { addr_info: { local: string }[] }[];
  return doc.flatMap((l) => l.addr_info.map((a) => a.local));
}

function mounted(node: string, mnt: string): boolean {
  return cluster.nodeExec(node, ["findmnt", "-n", mnt]).rc === 0;
}

function appPid(node: string, name: string): number | undefined {
  const pid = nodeState(node, name)?.resources["app#0"]?.outputs?.pid;
  return typeof pid === "number" ? pid : undefined;
}

/** A live process (a zombie waiting for its new parent to reap it is not). */
function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) [ZX]/.test(stat);
  } catch {
    return false;
  }
}

/** The node where the app runs and the shared fs is mounted; the others: standby. */
function expectLeaderUp(s: Svc, leaders: readonly string[]) {
  for (const n of NODES) {
    const lead = leaders.includes(n);
    expect(addrsOf(n), n).toContain(s.addr[n]); // standby: up everywhere
    expect(existsSync(path.join(data, s.name, `local-${n}`)), `host sees no node dir ${n}`).toBe(false);
    expect(cluster.nodeExec(n, ["test", "-d", path.join(data, s.name, `local-${n}`)]).rc, `${n} local dir`).toBe(0);
    expect(alive(appPid(n, s.name)), `${n} app`).toBe(lead);
    const st = nodeState(n, s.name)!;
    expect(st.resources["disk#0"]).toMatchObject({ provisioned: true });
    expect(st.resources["fs#0"]).toMatchObject({ provisioned: true });
    if (n !== leaders[0]) expect(st.resources["disk#0"].follow, `${n} follows the shared disk`).toBe(true);
  }
  expect(mounted(leaders[0], path.join(data, s.name, "shared"))).toBe(true);
  for (const n of NODES.filter((x) => x !== leaders[0])) expect(mounted(n, path.join(data, s.name, "shared")), n).toBe(false);
  expect(loopsOf(path.join(cluster.san, `${s.name}.img`))).toHaveLength(1);
}

function expectNothingLeft(s: Svc) {
  for (const n of NODES) {
    expect(addrsOf(n), n).not.toContain(s.addr[n]);
    expect(cluster.nodeExec(n, ["test", "-e", path.join(data, s.name, `local-${n}`)]).rc, n).not.toBe(0);
    expect(mounted(n, path.join(data, s.name, "shared")), n).toBe(false);
    expect(Object.values(nodeState(n, s.name)?.resources ?? {}).filter((r) => r.provisioned)).toEqual([]);
  }
  expect(loopsOf(path.join(cluster.san, `${s.name}.img`))).toEqual([]);
  expect(existsSync(path.join(cluster.san, `${s.name}.img`))).toBe(false);
}

interface Summary {
  type: string;
  ok: boolean;
  leaders: string[];
  followers: string[];
  nodes: { node: string; role: string; state: string; error?: string }[];
}

function summaryOf(stdout: string): Summary {
  const lines = stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
  return lines.find((l) => l.type === "cluster_summary") as unknown as Summary;
}

describe("orchestrated provision (3-node failover service)", () => {
  it("the leader provisions and stays up, the others follow the shared resources and end in standby; status, plan, unprovision", async () => {
    const s = service();
    const t0 = performance.now();
    const p = await osvc([s.name, "create", "--config", s.cfg, "--provision"]);
    console.log(`orchestrated create --provision, 3 nodes: ${Math.round(performance.now() - t0)} ms`);
    if (process.env.DEBUG_ORCH) console.log(p.stdout);
    expect(p.code, show(p)).toBe(0);
    // The log: each line names its node; the leader runs first.
    expect(p.stdout).toMatch(new RegExp(`^n1 +INFO +${s.name}\\.disk#0 +provisioned`, "m"));
    expect(p.stdout).toMatch(new RegExp(`^n2 +INFO +${s.name}\\.disk#0 +recorded \\(shared, follower\\)`, "m"));
    expect(p.stdout.indexOf("n1 ")).toBeLessThan(p.stdout.search(/^n2 +INFO/m));
    expectLeaderUp(s, ["n1"]);

    // print status: every instance, read live.
    const st = await osvc([s.name, "print", "status", "--format", "json"]);
    expect(st.code, show(st)).toBe(0);
    const doc = JSON.parse(st.stdout) as { object: string; instances: { node: string; live: boolean; status: { avail: string; resources: { rid: string; provisioned: boolean }[] } }[] };
    expect(doc.instances.map((i) => [i.node, i.live])).toEqual(NODES.map((n) => [n, true]));
    expect(doc.instances[0].status.avail).toBe("up");
    for (const i of doc.instances) expect(i.status.resources.filter((r) => r.provisioned === false), `${i.node}: ${JSON.stringify(i.status)}`).toEqual([]);
    for (const i of doc.instances.slice(1)) expect(i.status.avail).not.toBe("up");
    const text = await osvc([s.name, "print", "status"]);
    expect(text.code, show(text)).toBe(0);
    for (const n of NODES) expect(text.stdout).toMatch(new RegExp(`^${n}\\b`, "m"));

    // plan across the nodes: no changes anywhere, n1 leads, disk#0 and fs#0 shared.
    const pl = await osvc(["plan", s.cfg, "--path", s.name, "--json"]);
    expect(pl.code, show(pl)).toBe(0);
    const plan = JSON.parse(pl.stdout) as { leaders: string[]; shared: string[]; nodes: { node: string; role: string; changes: number; plan: { resource_changes: { action: string }[] } }[] };
    expect(plan.leaders).toEqual(["n1"]);
    expect(plan.shared).toEqual(["disk#0", "fs#0"]);
    expect(plan.nodes.map((n) => [n.node, n.role, n.changes])).toEqual([["n1", "leader", 0], ["n2", "follower", 0], ["n3", "follower", 0]]);
    const pt = await osvc(["plan", s.cfg, "--path", s.name, "--detailed-exitcode"]);
    expect(pt.code, show(pt)).toBe(0);

    // Unprovision: the followers first, the leader (and the shared resources) last.
    const u = await osvc([s.name, "unprovision"]);
    expect(u.code, show(u)).toBe(0);
    expect(u.stdout.search(/^n1 +INFO/m)).toBeGreaterThan(u.stdout.search(/^n[23] +INFO/m));
    expectNothingLeft(s);
  }, 300_000);
});
