// Helpers of the orchestration e2e tests: one real 3-node test cluster per test file, a failover
// service with a shared loop disk + ext4 (its image in the SAN directory), a per-node directory
// (in a private directory), a per-node address on the node's eth0 (standby: up on every node)
// and an app; checks made on each node through its own namespaces. The orchestrator's cluster store
// is the embedded one, or (store: "etcd") a real 3-member etcd started once per file, ended by pid.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { BIN } from "./cli.js";
import { startTestCluster, type TestCluster } from "./cluster.js";
import { ETCDCTL_BIN, startEtcd, type TestEtcd } from "./etcd.js";
import { cleanup, loopsOf, makeTempDir } from "./host.js";
import { alive } from "./proc.js";
import { NODES, serviceTemplate } from "./cluster-service.js";

export { NODES };

export interface Svc {
  name: string;
  cfg: string;
  addr: Record<string, string>;
  /** Rewrites the config file (extra DEFAULT lines, app keywords, more sections). */
  write(o?: SvcOptions): void;
}

export interface SvcOptions {
  /** Lines added to [DEFAULT]. */
  defaults?: readonly string[];
  /** Lines of [app#0] after its type (default: start = /bin/sleep 3600). */
  app?: readonly string[];
  /** More sections. */
  more?: readonly string[];
}

export type StoreKind = "embedded" | "etcd";

/** The etcd store's lock TTL in these tests (s): how long a killed orchestrator keeps its lock. */
export const ETCD_LOCK_TTL_S = 5;

/** An object's records in the orchestrator's cluster store (either backend). */
export interface ObjectRecordsDoc {
  config?: { text: string; sha256: string };
  shared: Record<string, { node: string }>;
  instances: Record<string, { provisioned: Record<string, boolean>; lastAction: { action: string; result: string } }>;
  orchestration?: { id: string; phase: string; leaders: string[]; nodes: Record<string, string>; startedAt: string; updatedAt: string };
}

export interface OrchCluster {
  readonly store: StoreKind;
  /** The etcd members (store "etcd"). */
  readonly etcd: TestEtcd | undefined;
  /** The etcd key prefix of this file's store. */
  readonly prefix: string;
  readonly cluster: TestCluster;
  /** The private data directory (a tmpfs on each node). */
  readonly data: string;
  readonly root: string;
  service(o?: SvcOptions): Svc;
  /** The orchestrator (the built CLI) with this cluster's config and root. */
  osvc(args: readonly string[]): Promise<CliRun>;
  /** The same, started: its process and its end. */
  spawnOsvc(args: readonly string[]): { child: ChildProcess; done: Promise<CliRun> };
  /** The records of an object (a name of root/svc, or a path such as root/vol/NAME) in the orchestrator's store, read directly (a file, or etcdctl); undefined: none. */
  records(name: string): ObjectRecordsDoc | undefined;
  /** An allocation record (key such as ip/NET/LEN/ADDR) in the orchestrator's store, read directly; undefined: none. */
  allocRecord(key: string): { owner: string } | undefined;
  /** The orchestration record of an object in the orchestrator's store. */
  orchestration(name: string): ObjectRecordsDoc["orchestration"];
  /** The holder of an object's lock in the orchestrator's store, read directly. */
  lockHolder(name: string): { id: string; pid: number; command: string; orchestrationId?: string } | undefined;
  nodeState(node: string, name: string): NodeState | undefined;
  addrsOf(node: string): string[];
  mounted(node: string, mnt: string): boolean;
  appPid(node: string, name: string): number | undefined;
  expectLeaderUp(s: Svc, leaders: readonly string[]): void;
  expectNothingLeft(s: Svc): void;
  /** Nothing of the service on any node (a follower the orchestration left untouched). */
  expectUntouched(s: Svc, node: string): void;
}

export interface CliRun {
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

/** Runs the built CLI (killed after 5 minutes: a bound, not a timing assertion). */
function spawnCli(args: readonly string[]): { child: ChildProcess; done: Promise<CliRun> } {
  const t0 = Date.now();
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: undefined }, stdio: ["ignore", "pipe", "pipe"], timeout: 300_000, killSignal: "SIGKILL" });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8");
  child.stderr!.setEncoding("utf8");
  child.stdout!.on("data", (d: string) => (stdout += d));
  child.stderr!.on("data", (d: string) => (stderr += d));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code: code ?? -1, signal, stdout, stderr, elapsedMs: Date.now() - t0 }));
  });
  return { child, done };
}

export interface NodeState {
  resources: Record<string, { provisioned: boolean | null; follow?: boolean; outputs?: Record<string, unknown> }>;
}

export function show(r: { code: number; stdout: string; stderr: string }): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;
}

export interface Summary {
  type: string;
  ok: boolean;
  id: string;
  resumed: boolean;
  leaders: string[];
  followers: string[];
  nodes: { node: string; role: string; state: string; error?: string }[];
}

/** The NDJSON lines of an orchestrated --json run. */
export function eventsOf(stdout: string): Record<string, unknown>[] {
  return stdout.trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
}

export function summaryOf(stdout: string): Summary {
  return eventsOf(stdout).find((l) => l.type === "cluster_summary") as unknown as Summary;
}

/** Starts the cluster (beforeAll), unprovisions what each test made (afterEach), ends it (afterAll). */
export function useOrchCluster(tag: string, opts: { store?: StoreKind } = {}): OrchCluster {
  const store = opts.store ?? "embedded";
  let etcd: TestEtcd | undefined;
  const prefix = `/osvc-${tag}-${process.pid}`;
  let cluster!: TestCluster;
  let data = "";
  let root = "";
  let seq = 0;
  const made: string[] = [];
  beforeAll(async () => {
    data = makeTempDir("osvc-orch-data-");
    if (store === "etcd") etcd = await startEtcd();
    const storeSection = etcd ? ["[store]", "backend = etcd", `endpoints = ${etcd.endpoints.join(" ")}`, `prefix = ${prefix}`, `lock_ttl = ${ETCD_LOCK_TTL_S}`, ""].join("\n") : "";
    cluster = await startTestCluster({ nodes: 3, privateDirs: [data], inventoryExtra: storeSection });
    root = path.join(cluster.dir, "orchestrator");
  }, 120_000);
  afterEach(async () => {
    // On etcd, nothing of the run landed in the embedded store (the orchestrator's root).
    if (etcd) expect(existsSync(path.join(root, "cluster")), "the embedded store of an etcd run").toBe(false);
    for (const name of made.splice(0)) {
      for (const n of ["n2", "n3", "n1"]) cluster.nodeExec(n, [...cluster.osvcWords.split(" "), name, "unprovision", "--local", "--leader", "--lock-timeout", "60s"]);
    }
  }, 300_000);
  afterAll(async () => {
    const problems = [...((await cluster?.stop()) ?? []), ...((await etcd?.stop()) ?? [])];
    expect(problems).toEqual([]);
    expect(cleanup.run()).toEqual([]);
  }, 120_000);

  /** etcdctl get --prefix: key -> value (values are one-line JSON). */
  const etcdGet = (key: string, asPrefix: boolean): Map<string, string> => {
    const out = execFileSync(ETCDCTL_BIN, ["--endpoints", etcd!.endpoints.join(","), "--command-timeout=10s", "get", key, ...(asPrefix ? ["--prefix"] : [])], { encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" }, timeout: 20_000 });
    const lines = out.split("\n").filter((l) => l !== "");
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < lines.length; i += 2) m.set(lines[i], lines[i + 1]);
    return m;
  };
  /** root/svc/NAME for a bare name, else the path as given. */
  const objectPath = (name: string) => (name.includes("/") ? name : `root/svc/${name}`);
  const objectKey = (name: string) => `${prefix}/objects/${objectPath(name)}/`;
  const objectDir = (name: string) => path.join(root, "cluster/objects", objectPath(name));

  const o: OrchCluster = {
    store,
    get etcd() {
      return etcd;
    },
    prefix,
    get cluster() {
      return cluster;
    },
    get data() {
      return data;
    },
    get root() {
      return root;
    },
    service(opts = {}) {
      const name = `${tag}${process.pid % 10000}x${++seq}`;
      const addr = Object.fromEntries(NODES.map((n, i) => [n, `${cluster.subnet}.${100 + seq * 4 + i}`]));
      const cfg = path.join(cluster.dir, `${name}.conf`);
      const write = (w: SvcOptions = {}) => {
        const text = serviceTemplate({ name, img: `${cluster.san}/${name}.img`, mnt: `${data}/${name}/shared`, data, addr, ...w });
        writeFileSync(cfg, text);
      };
      write(opts);
      made.push(name);
      return { name, cfg, addr, write };
    },
    osvc(args) {
      return o.spawnOsvc(args).done;
    },
    spawnOsvc(args) {
      return spawnCli([...args, "--root", root, "--cluster-config", cluster.inventoryFile]);
    },
    records(name) {
      if (etcd) {
        const kvs = etcdGet(objectKey(name), true);
        if (![...kvs.keys()].some((k) => !k.endsWith("/lock"))) return undefined;
        const rec: ObjectRecordsDoc = { shared: {}, instances: {} };
        for (const [k, v] of kvs) {
          const sub = k.slice(objectKey(name).length);
          if (sub === "config") rec.config = JSON.parse(v) as ObjectRecordsDoc["config"];
          else if (sub === "orchestration") rec.orchestration = JSON.parse(v) as ObjectRecordsDoc["orchestration"];
          else if (sub.startsWith("instances/")) rec.instances[sub.slice(10)] = JSON.parse(v) as ObjectRecordsDoc["instances"][string];
          else if (sub.startsWith("shared/")) rec.shared[sub.slice(7)] = JSON.parse(v) as ObjectRecordsDoc["shared"][string];
        }
        return rec;
      }
      const f = path.join(objectDir(name), "records.json");
      try {
        return JSON.parse(readFileSync(f, "utf8")) as ObjectRecordsDoc;
      } catch {
        return undefined; // not written yet, or being replaced
      }
    },
    allocRecord(key) {
      let raw: string | undefined;
      if (etcd) raw = etcdGet(`${prefix}/alloc/${key}`, false).get(`${prefix}/alloc/${key}`);
      else {
        const f = path.join(root, "cluster/alloc", `${encodeURIComponent(key)}.json`);
        raw = existsSync(f) ? readFileSync(f, "utf8") : undefined;
      }
      return raw === undefined ? undefined : (JSON.parse(raw) as { owner: string });
    },
    orchestration(name) {
      return o.records(name)?.orchestration;
    },
    lockHolder(name) {
      let raw: string | undefined;
      if (etcd) raw = etcdGet(`${objectKey(name)}lock`, false).get(`${objectKey(name)}lock`);
      else {
        const dir = objectDir(name);
        raw = existsSync(path.join(dir, "lock")) && existsSync(path.join(dir, "holder.json")) ? readFileSync(path.join(dir, "holder.json"), "utf8") : undefined;
      }
      try {
        return raw ? (JSON.parse(raw) as ReturnType<OrchCluster["lockHolder"]>) : undefined;
      } catch {
        return undefined; // being written
      }
    },
    nodeState(node, name) {
      const f = path.join(cluster.node(node).root, "objects/root/svc", name, "state.json");
      return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as NodeState) : undefined;
    },
    addrsOf(node) {
      const r = cluster.nodeExec(node, ["ip", "-j", "addr", "show", "dev", "eth0"]);
      const doc = JSON.parse(r.stdout) as { addr_info: { local: string }[] }[];
      return doc.flatMap((l) => l.addr_info.map((a) => a.local));
    },
    mounted(node, mnt) {
      return cluster.nodeExec(node, ["findmnt", "-n", mnt]).rc === 0;
    },
    appPid(node, name) {
      const pid = o.nodeState(node, name)?.resources["app#0"]?.outputs?.pid;
      return typeof pid === "number" ? pid : undefined;
    },
    expectLeaderUp(s, leaders) {
      for (const n of NODES) {
        const lead = leaders.includes(n);
        expect(o.addrsOf(n), n).toContain(s.addr[n]); // standby: up everywhere
        expect(existsSync(path.join(data, s.name, `local-${n}`)), `host sees no node dir ${n}`).toBe(false);
        expect(cluster.nodeExec(n, ["test", "-d", path.join(data, s.name, `local-${n}`)]).rc, `${n} local dir`).toBe(0);
        expect(alive(o.appPid(n, s.name)), `${n} app`).toBe(lead);
        const st = o.nodeState(n, s.name)!;
        expect(st.resources["disk#0"]).toMatchObject({ provisioned: true });
        expect(st.resources["fs#0"]).toMatchObject({ provisioned: true });
        if (n !== leaders[0]) expect(st.resources["disk#0"].follow, `${n} follows the shared disk`).toBe(true);
      }
      expect(o.mounted(leaders[0], path.join(data, s.name, "shared"))).toBe(true);
      for (const n of NODES.filter((x) => x !== leaders[0])) expect(o.mounted(n, path.join(data, s.name, "shared")), n).toBe(false);
      expect(loopsOf(path.join(cluster.san, `${s.name}.img`))).toHaveLength(1);
    },
    expectUntouched(s, n) {
      expect(o.addrsOf(n), n).not.toContain(s.addr[n]);
      expect(cluster.nodeExec(n, ["test", "-e", path.join(data, s.name, `local-${n}`)]).rc, n).not.toBe(0);
      expect(Object.values(o.nodeState(n, s.name)?.resources ?? {}).filter((r) => r.provisioned)).toEqual([]);
    },
    expectNothingLeft(s) {
      for (const n of NODES) {
        o.expectUntouched(s, n);
        expect(o.mounted(n, path.join(data, s.name, "shared")), n).toBe(false);
      }
      expect(loopsOf(path.join(cluster.san, `${s.name}.img`))).toEqual([]);
      expect(existsSync(path.join(cluster.san, `${s.name}.img`))).toBe(false);
    },
  };
  return o;
}

export { alive };
