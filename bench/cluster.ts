// Cluster benchmark, on the real host (as root): provision + unprovision of a 3-node failover
// service on a real test cluster (test/helpers/cluster.ts: 3 network namespaces, each with its own
// sshd, hostname, mount namespace and state root; a SAN directory all see).
//
//   npm run build && node dist/bench/cluster.js          (OSVC_BENCH_ROUNDS=3 by default)
//
// The service (the one of test/cluster/orchestrate.e2e.test.ts): a shared loop disk + ext4 (the
// image in the SAN directory, created and mounted by the leader only), a per-node directory (in
// a private directory), a per-node address on the node's eth0 (standby) and an app (sleep).
// Methods, each from a clean state, the order rotating each round:
//   osvc      `osvc <name> create --config F --provision` then `osvc <name> unprovision`, from the
//             host, over ssh (ControlMaster) to each node's osvc: leader first, then the others in
//             parallel (the orchestration's own cost included: the reachability check, each
//             node's config installed by its own action's osvc, the store records), the embedded
//             cluster store.
//   osvc-etcd the same with the cluster store on a real 3-member etcd on loopback
//             (test/helpers/etcd.ts, started once, ended by pid): its cost over the embedded store
//             per orchestration is the difference of the medians (same run, interleaved rounds).
//   ansible   ansible-playbook over the same ssh_config, the same commands the nodes' osvc runs
//             (arping -D, ip addr add, arping -U; truncate, losetup -f --show, mkfs.ext4, mkdir,
//             mount; mkdir; start-stop-daemon --start; on the followers the app stopped again),
//             n1 first then n2 and n3 in one play (forks 10, pipelining, no fact gathering).
//             Skipped when ansible-playbook is not installed (apt-get install ansible-core).
//   local     the same node actions run directly inside each node (nsenter, no ssh, no
//             orchestrator): n1's `provision --local --leader --disable-rollback`, then n2 and n3's
//             `provision --local` in parallel (unprovision: n2, n3 then n1). Its critical path is
//             what the orchestration adds to: per-node overhead = (osvc - local) / 3.
// After each provision: checks on every node (its address, the mount in n1's mount namespace, the
// loop device); after each unprovision: nothing left. Targets: osvc >= 5x faster than Ansible;
// <= 50 ms per node of orchestration overhead over the local actions.
// OSVC_BENCH_METHODS=osvc,osvc-etcd runs only those methods (osvc is always run).
// BENCH_BEFORE=<dir>: also "osvc-before", another build (a copy of the tree at an earlier commit,
// built there, node_modules linked) as orchestrator AND as the nodes' osvc (its own cluster config),
// in the same interleaved rounds: before/after side by side.
// Where the time goes: the osvc methods run with --json; from the orchestrator's events (arrival
// time of each line, and the nodes' own event timestamps) each run is cut into phases, and each
// node's action (its ssh round trip, node_result's duration) is compared with the same node's
// action run locally (the local method): the per-node cost of the link, of the remote osvc and of
// the config install.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { startTestCluster, type TestCluster } from "../test/helpers/cluster.js";
import { NODES, serviceTemplate } from "../test/helpers/cluster-service.js";
import { startEtcd, type TestEtcd } from "../test/helpers/etcd.js";
import { commandExists, osvc, tail, timed, type Timed } from "./lib/host.js";
import { fmtMs, median, pad } from "./lib/stats.js";

const ROUNDS = Number(process.env.OSVC_BENCH_ROUNDS ?? 3);
/** Another build to compare with (BENCH_BEFORE), run in the same rounds. */
const BEFORE = process.env.BENCH_BEFORE || undefined;

interface Svc {
  name: string;
  cfg: string;
  text: string;
  addr: Record<string, string>;
  mnt: string;
  img: string;
  dir: (node: string) => string;
}

let seq = 0;
function service(c: TestCluster, data: string, tag: string): Svc {
  const name = `bcl${process.pid % 10000}${tag}${++seq}`;
  const addr = Object.fromEntries(NODES.map((n, i) => [n, `${c.subnet}.${100 + ((seq * 4 + i) % 150)}`]));
  const mnt = `${data}/${name}/shared`;
  const img = `${c.san}/${name}.img`;
  const text = serviceTemplate({ name, img, mnt, data, addr });
  const cfg = path.join(c.dir, `${name}.conf`);
  writeFileSync(cfg, text);
  return { name, cfg, text, addr, mnt, img, dir: (n) => `${data}/${name}/local-${n}` };
}

function addrsOf(c: TestCluster, node: string): string[] {
  const r = c.nodeExec(node, ["ip", "-j", "addr", "show", "dev", "eth0"]);
  return (JSON.parse(r.stdout) as { addr_info: { local: string }[] }[]).flatMap((l) => l.addr_info.map((a) => a.local));
}

function loops(img: string): number {
  return (spawnSync("losetup", ["-j", img], { encoding: "utf8" }).stdout ?? "").split("\n").filter(Boolean).length;
}

/** Checks the service is up as the seed wants it: n1 leads; an address on every node. */
function checkUp(c: TestCluster, s: Svc): string[] {
  const bad: string[] = [];
  for (const n of NODES) {
    if (!addrsOf(c, n).includes(s.addr[n])) bad.push(`${n}: no ${s.addr[n]}`);
    if (c.nodeExec(n, ["test", "-d", s.dir(n)]).rc !== 0) bad.push(`${n}: no ${s.dir(n)}`);
  }
  if (c.nodeExec("n1", ["findmnt", "-n", s.mnt]).rc !== 0) bad.push(`n1: ${s.mnt} not mounted`);
  if (loops(s.img) !== 1) bad.push(`${s.img}: ${loops(s.img)} loop devices`);
  return bad;
}

function checkGone(c: TestCluster, s: Svc): string[] {
  const bad: string[] = [];
  for (const n of NODES) {
    if (addrsOf(c, n).includes(s.addr[n])) bad.push(`${n}: ${s.addr[n]} left`);
    if (c.nodeExec(n, ["test", "-e", s.dir(n)]).rc === 0) bad.push(`${n}: ${s.dir(n)} left`);
    if (c.nodeExec(n, ["findmnt", "-n", s.mnt]).rc === 0) bad.push(`${n}: ${s.mnt} mounted`);
  }
  if (loops(s.img) !== 0) bad.push(`${s.img}: loop device left`);
  if (existsSync(s.img)) bad.push(`${s.img} left`);
  return bad;
}

/** Runs argv inside a node's namespaces (nsenter), asynchronously, timed. */
function inNode(c: TestCluster, node: string, argv: readonly string[], input?: string): Promise<{ ms: number; rc: number; out: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn("nsenter", ["-t", String(c.node(node).pid), "-n", "-m", "-u", "--", "env", `OSVC_ROOT=${c.node(node).root}`, ...argv], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("close", (code) => resolve({ ms: performance.now() - t0, rc: code ?? -1, out }));
    child.stdin.end(input ?? "");
  });
}

interface Sample {
  provision: number;
  unprovision: number;
  /** local: installing the config on the 3 nodes (in parallel), which the orchestrated provision includes. */
  install?: number;
  /** local: each node's action (ms), provision and unprovision. */
  nodes?: { provision: Record<string, number>; unprovision: Record<string, number> };
  /** osvc methods: the phases of each run, from its events. */
  phases?: { provision: Phases; unprovision: Phases };
}

/**
 * The phases of an orchestrated run, from its --json events: `place` = spawn to the orchestration
 * event (CLI start-up, compile, store lock, the config install or reachability check, placement);
 * `first`/`second` = the first and second node waves (provision: leader then followers;
 * unprovision: followers then leader), each from its phase event to its last node_result;
 * `between` = the gap between the waves (records, shared resources); `finish` = the last
 * node_result to exit; `trip` = each node's round trip (node_result's duration_ms).
 */
interface Phases {
  place: number;
  first: number;
  between: number;
  second: number;
  finish: number;
  trip: Record<string, number>;
}

function phasesOf(t: Timed): Phases {
  const ev = t.lines.flatMap((l) => {
    try {
      const e = JSON.parse(l.text) as Record<string, unknown>;
      return [{ ms: l.ms, e }];
    } catch {
      return [];
    }
  });
  const at = (pred: (e: Record<string, unknown>) => boolean) => ev.find((x) => pred(x.e))?.ms ?? NaN;
  const phaseAt = ev.filter((x) => x.e.type === "phase" && Array.isArray(x.e.nodes) && (x.e.nodes as unknown[]).length);
  const results = ev.filter((x) => x.e.type === "node_result");
  const trip: Record<string, number> = {};
  for (const r of results) trip[String(r.e.node)] = Number(r.e.duration_ms);
  const waveEnd = (nodes: unknown) => Math.max(...results.filter((r) => (nodes as string[]).includes(String(r.e.node))).map((r) => r.ms));
  const [w1, w2] = phaseAt;
  const place = at((e) => e.type === "orchestration");
  const end1 = w1 ? waveEnd(w1.e.nodes) : place;
  const end2 = w2 ? waveEnd(w2.e.nodes) : end1;
  return { place, first: w1 ? end1 - w1.ms : 0, between: w2 ? w2.ms - end1 : 0, second: w2 ? end2 - w2.ms : 0, finish: t.ms - end2, trip };
}

async function runOsvc(c: TestCluster, data: string, root: string, inventoryFile = c.inventoryFile, build?: string): Promise<Sample> {
  const s = service(c, data, "o");
  const common = ["--root", root, "--cluster-config", inventoryFile, "--json"];
  const p = await osvc([s.name, "create", "--config", s.cfg, "--provision", ...common], build);
  if (p.status !== 0) throw new Error(`osvc provision: ${tail(p, 12)}`);
  const up = checkUp(c, s);
  if (up.length) throw new Error(`osvc provision: ${up.join("; ")}`);
  const u = await osvc([s.name, "unprovision", ...common], build);
  // OSVC_BENCH_TRACE=<dir>: each run's lines with their arrival time (ms since spawn), for a closer look.
  const trace = process.env.OSVC_BENCH_TRACE;
  if (trace) for (const [k, t] of [["provision", p], ["unprovision", u]] as const) writeFileSync(path.join(trace, `${s.name}-${k}.txt`), t.lines.map((l) => `${fmtMs(l.ms).padStart(8)} ${l.text}`).join("\n") + "\n");
  if (u.status !== 0) throw new Error(`osvc unprovision: ${tail(u, 12)}`);
  const gone = checkGone(c, s);
  if (gone.length) throw new Error(`osvc unprovision: ${gone.join("; ")}`);
  return { provision: p.ms, unprovision: u.ms, phases: { provision: phasesOf(p), unprovision: phasesOf(u) } };
}

async function runLocal(c: TestCluster, data: string): Promise<Sample> {
  const s = service(c, data, "l");
  const osvcWords = c.osvcWords.split(" ");
  // The config installed on each node first (not timed: the orchestrated run includes it).
  const text = s.text.replace("[DEFAULT]", `[DEFAULT]\nid = 00000000-0000-4000-8000-${String(seq).padStart(12, "0")}`);
  const installs = await Promise.all(NODES.map((n) => inNode(c, n, [...osvcWords, s.name, "create", "--config", "-", "--force", "--local"], text)));
  for (const [i, r] of installs.entries()) if (r.rc !== 0) throw new Error(`local create on ${NODES[i]}: ${r.out}`);
  const install = Math.max(...installs.map((r) => r.ms));
  const nodes: NonNullable<Sample["nodes"]> = { provision: {}, unprovision: {} };
  const act = async (n: string, words: string[]) => {
    const r = await inNode(c, n, [...osvcWords, s.name, ...words, "--local"]);
    if (r.rc !== 0) throw new Error(`local ${words.join(" ")} on ${n}: ${r.out.slice(-800)}`);
    nodes[words[0] === "provision" ? "provision" : "unprovision"][n] = r.ms;
    return r.ms;
  };
  const lp = await act("n1", ["provision", "--leader", "--disable-rollback"]);
  const fp = Math.max(...(await Promise.all(["n2", "n3"].map((n) => act(n, ["provision"])))));
  const up = checkUp(c, s);
  if (up.length) throw new Error(`local provision: ${up.join("; ")}`);
  const fu = Math.max(...(await Promise.all(["n2", "n3"].map((n) => act(n, ["unprovision"])))));
  const lu = await act("n1", ["unprovision", "--leader"]);
  const gone = checkGone(c, s);
  if (gone.length) throw new Error(`local unprovision: ${gone.join("; ")}`);
  return { provision: lp + fp, unprovision: fu + lu, install, nodes };
}

function playbooks(s: Svc): { provision: string; unprovision: string } {
  const q = (v: string) => JSON.stringify(v);
  const ipUp = [
    `    - command: arping -D -c 2 -w 2 -I eth0 {{ addr }}`,
    `    - command: ip addr add {{ addr }}/24 dev eth0 label eth0:1`,
    `    - command: arping -U -c 1 -I eth0 -s {{ addr }} {{ addr }}`,
  ];
  const appStart = `    - command: start-stop-daemon --start --background --make-pidfile --pidfile ${q(`{{ dir }}.pid`)} --startas /bin/sleep -- 3600`;
  const appStop = `    - command: start-stop-daemon --stop --pidfile ${q(`{{ dir }}.pid`)} --remove-pidfile --retry 5`;
  const provision = [
    `- hosts: n1`,
    `  gather_facts: false`,
    `  tasks:`,
    ...ipUp,
    `    - command: truncate -s 24M ${s.img}`,
    `    - command: losetup -f --show ${s.img}`,
    `      register: loop`,
    `    - command: blkid -p {{ loop.stdout }}`,
    `      register: blkid`,
    `      failed_when: blkid.rc not in [0, 2]`,
    `    - command: mkfs.ext4 -F -q {{ loop.stdout }}`,
    `    - file: path=${s.mnt} state=directory`,
    `    - command: mount -t ext4 -- {{ loop.stdout }} ${s.mnt}`,
    `    - file: path={{ dir }} state=directory`,
    appStart,
    `- hosts: n2:n3`,
    `  gather_facts: false`,
    `  tasks:`,
    ...ipUp,
    `    - file: path={{ dir }} state=directory`,
    appStart,
    appStop,
    "",
  ].join("\n");
  const unprovision = [
    `- hosts: n2:n3`,
    `  gather_facts: false`,
    `  tasks:`,
    `    - command: ip addr del {{ addr }}/24 dev eth0`,
    `    - file: path={{ dir }} state=absent`,
    `- hosts: n1`,
    `  gather_facts: false`,
    `  tasks:`,
    appStop,
    `    - command: ip addr del {{ addr }}/24 dev eth0`,
    `    - command: umount ${s.mnt}`,
    `    - command: losetup -j ${s.img}`,
    `      register: lj`,
    `    - command: losetup -d {{ lj.stdout.split(':')[0] }}`,
    `    - file: path=${s.img} state=absent`,
    `    - file: path=${path.dirname(s.mnt)} state=absent`,
    "",
  ].join("\n");
  return { provision, unprovision };
}

async function runAnsible(c: TestCluster, data: string, work: string): Promise<Sample> {
  const s = service(c, data, "a");
  const pb = playbooks(s);
  const inv = path.join(work, `${s.name}.ini`);
  writeFileSync(
    inv,
    [
      "[all]",
      ...NODES.map((n) => `${n} addr=${s.addr[n]} dir=${s.dir(n)}`),
      "[all:vars]",
      `ansible_ssh_common_args=-F ${c.sshConfig}`,
      "ansible_python_interpreter=/usr/bin/python3",
      "",
    ].join("\n"),
  );
  const prov = path.join(work, `${s.name}-provision.yml`);
  const unprov = path.join(work, `${s.name}-unprovision.yml`);
  writeFileSync(prov, pb.provision);
  writeFileSync(unprov, pb.unprovision);
  const env = {
    ...process.env,
    ANSIBLE_HOME: path.join(work, "home"),
    ANSIBLE_LOCAL_TEMP: path.join(work, "tmp"),
    ANSIBLE_REMOTE_TMP: path.join(work, "remote-tmp"),
    ANSIBLE_SSH_CONTROL_PATH_DIR: path.join(work, "cp"),
    ANSIBLE_HOST_KEY_CHECKING: "False",
    ANSIBLE_PIPELINING: "True",
    ANSIBLE_FORKS: "10",
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_RETRY_FILES_ENABLED: "False",
  };
  const p = await timed("ansible-playbook", ["-i", inv, prov], { env });
  if (p.status !== 0) throw new Error(`ansible provision: ${tail(p, 20)}`);
  const up = checkUp(c, s);
  if (up.length) throw new Error(`ansible provision: ${up.join("; ")}`);
  const u = await timed("ansible-playbook", ["-i", inv, unprov], { env });
  if (u.status !== 0) throw new Error(`ansible unprovision: ${tail(u, 20)}`);
  const gone = checkGone(c, s);
  if (gone.length) throw new Error(`ansible unprovision: ${gone.join("; ")}`);
  return { provision: p.ms, unprovision: u.ms };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("run as root (the test cluster needs namespaces and sshd)");
  const data = mkdtempSync(path.join(os.tmpdir(), "osvc-bench-cluster-data-"));
  const work = mkdtempSync(path.join(os.tmpdir(), "osvc-bench-cluster-"));
  let cluster: TestCluster | undefined;
  let etcd: TestEtcd | undefined;
  const stop = async () => {
    const problems = [...((await cluster?.stop()) ?? []), ...((await etcd?.stop()) ?? [])];
    rmSync(work, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
    if (problems.length) console.error(`cleanup problems: ${problems.join("; ")}`);
  };
  process.on("SIGINT", () => void stop().then(() => process.exit(130)));
  try {
    cluster = await startTestCluster({ nodes: 3, privateDirs: [data] });
    const c = cluster;
    const root = path.join(c.dir, "orchestrator");
    mkdirSync(root, { recursive: true });
    const only = process.env.OSVC_BENCH_METHODS?.split(",").map((m) => m.trim());
    const wanted = (m: string) => m === "osvc" || !only || only.includes(m);
    const ansible = wanted("ansible") && commandExists("ansible-playbook");
    // The etcd store: the same cluster config plus [store] (its own state root, prefix).
    const etcdInventory = path.join(c.dir, "cluster-etcd.conf");
    const etcdRoot = path.join(c.dir, "orchestrator-etcd");
    if (wanted("osvc-etcd")) {
      etcd = await startEtcd();
      mkdirSync(etcdRoot, { recursive: true });
      const store = ["", "[store]", "backend = etcd", `endpoints = ${etcd.endpoints.join(" ")}`, `prefix = /osvc-bench-${process.pid}`, ""];
      writeFileSync(etcdInventory, readFileSync(c.inventoryFile, "utf8") + store.join("\n"));
    }
    // The build before (BENCH_BEFORE): its own orchestrator state root and a cluster config whose nodes run its osvc.
    const beforeInventory = path.join(c.dir, "cluster-before.conf");
    const beforeRoot = path.join(c.dir, "orchestrator-before");
    if (BEFORE) {
      mkdirSync(beforeRoot, { recursive: true });
      const words = `${process.execPath} ${path.resolve(BEFORE, "bin/osvc.js")}`;
      writeFileSync(beforeInventory, readFileSync(c.inventoryFile, "utf8").split(`osvc = ${c.osvcWords}`).join(`osvc = ${words}`));
      console.log(`osvc-before: the build in ${BEFORE} (orchestrator and nodes)`);
    }
    const methods: [string, () => Promise<Sample>][] = [
      ["osvc", () => runOsvc(c, data, root)],
      ...(BEFORE ? ([["osvc-before", () => runOsvc(c, data, beforeRoot, beforeInventory, BEFORE)]] as [string, () => Promise<Sample>][]) : []),
      ...(etcd ? ([["osvc-etcd", () => runOsvc(c, data, etcdRoot, etcdInventory)]] as [string, () => Promise<Sample>][]) : []),
      ...(wanted("local") ? ([["local", () => runLocal(c, data)]] as [string, () => Promise<Sample>][]) : []),
      ...(ansible ? ([["ansible", () => runAnsible(c, data, work)]] as [string, () => Promise<Sample>][]) : []),
    ];
    // Warm-up (ssh masters, page cache, the etcd client), not counted.
    await runOsvc(c, data, root);
    if (BEFORE) await runOsvc(c, data, beforeRoot, beforeInventory, BEFORE);
    if (etcd) await runOsvc(c, data, etcdRoot, etcdInventory);
    const samples = new Map<string, Sample[]>(methods.map(([m]) => [m, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < methods.length; i++) {
        const [m, fn] = methods[(i + r) % methods.length];
        samples.get(m)!.push(await fn());
      }
    }
    const med = (m: string, k: "provision" | "unprovision") => median(samples.get(m)!.map((x) => x[k]));
    console.log(`Cluster bench: provision + unprovision of a 3-node failover service (shared loop disk + ext4, a per-node directory, address and app), ${ROUNDS} rounds, median wall time\n`);
    const range = (xs: number[]) => `${fmtMs(Math.min(...xs))}-${fmtMs(Math.max(...xs))}`;
    const col = (m: string, k: "provision" | "unprovision" | "total") => {
      const xs = samples.get(m)!.map((x) => (k === "total" ? x.provision + x.unprovision : x[k]));
      return `${fmtMs(median(xs))} (${range(xs)})`;
    };
    console.log(`${pad("method", 12)} ${pad("provision ms (min-max)", 26, true)} ${pad("unprovision ms (min-max)", 26, true)} ${pad("total ms (min-max)", 26, true)}`);
    for (const [m] of methods) console.log(`${pad(m, 12)} ${pad(col(m, "provision"), 26, true)} ${pad(col(m, "unprovision"), 26, true)} ${pad(col(m, "total"), 26, true)}`);
    // Where the time goes (osvc methods): medians of the phases, and each node's round trip over its local action.
    const local = samples.get("local");
    for (const [m] of methods.filter(([m]) => samples.get(m)![0].phases)) {
      for (const k of ["provision", "unprovision"] as const) {
        const ph = samples.get(m)!.map((x) => x.phases![k]);
        const f = (sel: (p: Phases) => number) => fmtMs(median(ph.map(sel)));
        const waves = k === "provision" ? ["leader", "followers"] : ["followers", "leader"];
        const trips = NODES.map((n) => {
          const trip = median(ph.map((p) => p.trip[n]));
          const loc = local ? median(local.map((x) => x.nodes![k][n])) : undefined;
          return `${n} ${fmtMs(trip)}${loc !== undefined ? ` (local ${fmtMs(loc)}, +${fmtMs(trip - loc)})` : ""}`;
        });
        console.log(`  ${m} ${k}: to placement ${f((p) => p.place)}, ${waves[0]} ${f((p) => p.first)}, between ${f((p) => p.between)}, ${waves[1]} ${f((p) => p.second)}, finish ${f((p) => p.finish)} ms; round trips: ${trips.join(", ")} ms`);
      }
    }
    if (!ansible) console.log(wanted("ansible") ? "ansible: skipped (ansible-playbook not installed)" : "ansible: not run (OSVC_BENCH_METHODS)");
    const osvcTotal = med("osvc", "provision") + med("osvc", "unprovision");
    console.log("");
    if (BEFORE) {
      const b = med("osvc-before", "provision") + med("osvc-before", "unprovision");
      const per = samples.get("osvc")!.map((x, i) => (x.provision + x.unprovision) / (samples.get("osvc-before")![i].provision + samples.get("osvc-before")![i].unprovision));
      console.log(`osvc vs osvc-before: total (sum of the medians) ${fmtMs(osvcTotal)} vs ${fmtMs(b)} ms (provision ${fmtMs(med("osvc", "provision") - med("osvc-before", "provision"))} ms, unprovision ${fmtMs(med("osvc", "unprovision") - med("osvc-before", "unprovision"))} ms); per-round ratio after/before: median ${median(per).toFixed(2)} (${per.map((x) => x.toFixed(2)).join(", ")})`);
    }
    if (ansible) {
      const x = (med("ansible", "provision") + med("ansible", "unprovision")) / osvcTotal;
      console.log(`${x >= 5 ? "PASS" : "FAIL"} osvc vs ansible: ${x.toFixed(1)}x faster (target >= 5x)`);
      if (BEFORE) console.log(`info osvc-before vs ansible: ${((med("ansible", "provision") + med("ansible", "unprovision")) / (med("osvc-before", "provision") + med("osvc-before", "unprovision"))).toFixed(1)}x faster`);
    }
    if (etcd) {
      const d = (k: "provision" | "unprovision") => med("osvc-etcd", k) - med("osvc", k);
      const each = samples.get("osvc-etcd")!.map((x, i) => x.provision + x.unprovision - (samples.get("osvc")![i].provision + samples.get("osvc")![i].unprovision));
      console.log(
        `etcd store over the embedded one, per orchestration (median difference): provision ${fmtMs(d("provision"))} ms, unprovision ${fmtMs(d("unprovision"))} ms, both ${fmtMs(d("provision") + d("unprovision"))} ms ` +
          `(${(((d("provision") + d("unprovision")) / osvcTotal) * 100).toFixed(1)}% of the embedded total; per round: ${each.map((x) => fmtMs(x)).join(", ")} ms)`,
      );
    }
    if (samples.has("local")) {
      const localTotal = med("local", "provision") + med("local", "unprovision");
      const install = median(samples.get("local")!.map((x) => x.install ?? 0));
      console.log(`local: installing the config on the 3 nodes (in parallel) takes ${fmtMs(install)} ms (included in osvc's provision, not in local's)`);
      const perNode = (osvcTotal - localTotal) / 3;
      if (BEFORE) console.log(`info osvc-before's orchestration overhead over the local actions (ms per node): total ${fmtMs((med("osvc-before", "provision") + med("osvc-before", "unprovision") - localTotal) / 3)}; counting the config install as local work: ${fmtMs((med("osvc-before", "provision") + med("osvc-before", "unprovision") - localTotal - install) / 3)}`);
      // The overhead split: the orchestrator's own fixed cost (its start-up to placement, the gap between the waves, its finish) and the rest (the nodes' round trips over their local actions).
      for (const m of ["osvc", ...(BEFORE ? ["osvc-before"] : [])]) {
        const fixed = (["provision", "unprovision"] as const).reduce((a, k) => a + median(samples.get(m)!.map((x) => x.phases![k].place + x.phases![k].between + x.phases![k].finish)), 0);
        const total = med(m, "provision") + med(m, "unprovision");
        console.log(`info ${m}: the orchestrator's fixed cost per provision + unprovision (start-up to placement, between the waves, finish) ${fmtMs(fixed)} ms = ${fmtMs(fixed / 3)} ms per node; the rest of the overhead, ${fmtMs((total - localTotal - fixed) / 3)} ms per node, is in the nodes' round trips over their local actions`);
      }
      console.log(`${perNode <= 50 ? "PASS" : "FAIL"} orchestration overhead over the local actions (ms per node): provision ${fmtMs((med("osvc", "provision") - med("local", "provision")) / 3)}, unprovision ${fmtMs((med("osvc", "unprovision") - med("local", "unprovision")) / 3)}, total ${fmtMs((osvcTotal - localTotal) / 3)}; counting the config install as local work: ${fmtMs((osvcTotal - localTotal - install) / 3)} (target <= 50 ms)`);
    }
  } finally {
    await stop();
  }
}

main().catch((e) => {
  console.error(`bench failed: ${(e as Error).message}`);
  process.exitCode = 1;
});
