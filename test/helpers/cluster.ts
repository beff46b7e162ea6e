// A real cluster on one machine, for one test file (reference/cluster.md §5): N nodes, each a
// network namespace with its own sshd, hostname (UTS namespace), mount namespace and state root;
// a controller namespace holding the bridge that links them; a client key, known_hosts and an
// ssh_config file naming the nodes n1..nN; a "SAN" directory every node sees.
//
//   const cluster = await startTestCluster({ nodes: 3 });   // beforeAll
//   ... osvc --cluster-config cluster.inventoryFile ...      // ssh n1 works through cluster.sshConfig
//   await cluster.stop();                                    // afterAll: safe after a partial start
//
// Nothing touches the host's own network, /etc/ssh or ~/.ssh: every name is unique per run
// (namespaces osvc-t-cl-<id>-ctl|nI, the subnet 10.<a>.<b>.0/24 encoded in <id>), every address and
// interface lives inside those namespaces (the veth pairs are created in the controller namespace),
// and every file under one temp dir. The osvc orchestrator runs in the host namespace and reaches the
// nodes through a ProxyCommand that enters the controller namespace (`nsenter --net` + bash /dev/tcp).
// On a node, `osvc` is `node <worktree>/bin/osvc.js` (PATH and OSVC_ROOT come from the sshd's SetEnv).
//
// Mount namespaces — read before mounting anything in a cluster test:
// - Each sshd runs under `unshare --mount --propagation private`: what a node's osvc mounts stays in
//   that node's mount namespace (its "own disk"), invisible to the host and to the other nodes. Look
//   at it with `cluster.nodeExec(name, ["findmnt", ...])` (nsenter into the node's namespaces).
// - A new mount namespace holds private COPIES of the mounts that existed when it was made: a loop
//   device mounted before then cannot detach until the process ends (the kernel keeps the fs busy).
//   So: start the cluster (beforeAll) BEFORE the test mounts anything, and end it by pid. To avoid
//   pinning the mounts of other test files running at the same time, each node lazily unmounts, in
//   its own namespace only, its copies of everything under the temp dir and of /run/netns/* before
//   sshd starts; what other tests mount after that never reaches the node.
// - A directory a node must own privately at the same path as the others (a data directory) is
//   `privateDirs`: a tmpfs over it in each node's mount namespace.
// - `ip netns add` run BY a node creates its /run/netns/<name> file in the host's /run (the node's
//   bind mount on it stays private): name such namespaces uniquely, as every test does.
import { execFile, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, mkdtempSync, writeFileSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { BIN } from "./cli.js";
import { forceCleanup, sh } from "./host.js";
import { alive } from "./proc.js";

export interface TestNode {
  readonly name: string; // n1: hostname, ssh_config alias, inventory name
  readonly ns: string; // its network namespace
  readonly addr: string; // its address on the cluster bridge
  readonly dir: string; // its files (host key, sshd config, log)
  readonly root: string; // its osvc state root (OSVC_ROOT)
  readonly home: string; // HOME of its remote commands
  pid: number; // its sshd (0 before it started)
}

export interface TestCluster {
  readonly id: string;
  readonly dir: string;
  readonly ctlNs: string;
  readonly subnet: string; // "10.a.b"
  readonly nodes: TestNode[];
  readonly sshConfig: string;
  readonly san: string; // a directory every node sees
  /** A cluster config naming the nodes (osvc --cluster-config). */
  readonly inventoryFile: string;
  /** The osvc command on the nodes, as shell words. */
  readonly osvcWords: string;
  /** Milliseconds startTestCluster took. */
  readonly startMs: number;
  node(name: string): TestNode;
  /** Runs argv inside the node's namespaces (net, mount, uts), as root on the host. */
  nodeExec(name: string, argv: readonly string[], opts?: { input?: string }): { rc: number; stdout: string; stderr: string };
  /** Cuts the node's link (eth0 down inside its namespace) / restores it. */
  cut(name: string): void;
  restore(name: string): void;
  /** Ends everything started; safe after a partial start and twice. Returns the problems met. */
  stop(): Promise<string[]>;
}

export interface TestClusterOptions {
  nodes?: number;
  /** Paths (absolute, existing) to hide under a private tmpfs in each node's mount namespace. */
  privateDirs?: readonly string[];
  /** Extra lines for the inventory file (appended). */
  inventoryExtra?: string;
}

const PREFIX = "osvc-t-cl-";

function run(file: string, args: readonly string[], input?: string): Promise<{ rc: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(file, [...args], { encoding: "utf8", timeout: 30_000 }, (err, stdout, stderr) => {
      const rc = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : -1) : 0;
      resolve({ rc, stdout: String(stdout), stderr: String(stderr) });
    });
    if (input !== undefined) child.stdin?.end(input);
  });
}

async function must(file: string, args: readonly string[]): Promise<string> {
  const r = await run(file, args);
  if (r.rc !== 0) throw new Error(`${file} ${args.join(" ")}: rc=${r.rc}: ${r.stderr.trim()}`);
  return r.stdout;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A subnet 10.a.b.0/24 derived from the pid, not used by another test cluster (the namespace names carry it). */
function pickSubnet(taken: ReadonlySet<string>, attempt: number): { id: string; subnet: string } {
  const a = 100 + (process.pid % 100);
  for (let i = 0; i < 256; i++) {
    const b = (((process.pid >> 7) + attempt * 37 + i + randomBytes(1)[0]) & 0xff) || 1;
    const id = `${a.toString(16).padStart(2, "0")}${b.toString(16).padStart(2, "0")}`;
    if (!taken.has(id)) return { id, subnet: `10.${a}.${b}` };
  }
  throw new Error("no free test subnet");
}

function takenIds(): Set<string> {
  const out = new Set<string>();
  for (const line of sh("ip", ["netns", "list"]).stdout.split("\n")) {
    const m = new RegExp(`^${PREFIX}([0-9a-f]{4})-`).exec(line);
    if (m) out.add(m[1]);
  }
  return out;
}

/** The node's shell script: hostname, unpin foreign mounts, private dirs, then sshd in the foreground. */
const NODE_SCRIPT = [
  'set -e; name=$1 cfg=$2 log=$3 tmp=$4; shift 4',
  'hostname "$name"',
  // Our private copies of other tests' mounts (temp dirs, netns files) would pin them: drop them here.
  'findmnt -rn -o TARGET | while read -r t; do case "$t" in /tmp/*|"$tmp"/*|/run/netns/*) umount -l "$t" 2>/dev/null || true;; esac; done',
  'for d in "$@"; do mount -t tmpfs -o mode=0755 osvc-node "$d"; done',
  'exec /usr/sbin/sshd -D -f "$cfg" -E "$log"',
].join("\n");

export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const t0 = performance.now();
  const count = opts.nodes ?? 3;
  const dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), "osvc-cluster-")));
  const nodes: TestNode[] = [];
  const namespaces: string[] = []; // registered BEFORE creation: stop() deletes what exists
  let stopped = false;
  const sshConfig = path.join(dir, "ssh_config");
  const nodeBin = path.dirname(process.execPath);
  const osvcWords = `${process.execPath} ${BIN}`;

  let id = "";
  let subnet = "";
  let ctlNs = "";

  const nodeOf = (name: string): TestNode => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no test node ${name}`);
    return n;
  };

  const stop = async (): Promise<string[]> => {
    if (stopped) return [];
    stopped = true;
    const problems: string[] = [];
    // 1. ssh masters (of the test config and of any osvc state root under dir): ssh -O exit each socket.
    for (const sock of findSockets(dir)) {
      await run("ssh", ["-F", "/dev/null", "-o", `ControlPath=${sock}`, "-O", "exit", "x"]);
    }
    // 2. Every process inside our namespaces (sshd and its sessions, the proxies), by pid.
    const pidsOf = (ns: string) =>
      sh("ip", ["netns", "pids", ns])
        .stdout.split("\n")
        .map((s) => Number(s.trim()))
        .filter((n) => Number.isInteger(n) && n > 1 && n !== process.pid);
    const all = () => [...new Set([...nodes.map((n) => n.pid).filter((p) => p > 0), ...namespaces.flatMap(pidsOf)])];
    for (const sig of ["SIGTERM", "SIGKILL"] as const) {
      const pids = all().filter(alive);
      for (const pid of pids) {
        try {
          process.kill(pid, sig);
        } catch {
          /* gone */
        }
      }
      for (let i = 0; i < 100 && all().some(alive); i++) await sleep(20);
    }
    const left = all().filter(alive);
    if (left.length) problems.push(`processes still alive: ${left.join(" ")}`);
    // 3. Namespaces (nodes first, the controller last: its bridge and veth ends go with it).
    for (const ns of [...namespaces].reverse()) {
      const r = sh("ip", ["netns", "del", ns]);
      if (r.rc !== 0 && !/No such file|Invalid netns/.test(r.stderr)) problems.push(`ip netns del ${ns}: ${r.stderr.trim()}`);
    }
    // 4. Files (unmounting anything a test left mounted below dir first).
    problems.push(...forceCleanup([dir]));
    return problems;
  };

  const cluster: TestCluster = {
    get id() {
      return id;
    },
    dir,
    get ctlNs() {
      return ctlNs;
    },
    get subnet() {
      return subnet;
    },
    nodes,
    sshConfig,
    san: path.join(dir, "san"),
    inventoryFile: path.join(dir, "cluster.conf"),
    osvcWords,
    startMs: 0,
    node: nodeOf,
    nodeExec(name, argv, o = {}) {
      const n = nodeOf(name);
      const r = spawnSync("nsenter", ["-t", String(n.pid), "-n", "-m", "-u", "--", ...argv], { encoding: "utf8", input: o.input, timeout: 60_000 });
      return { rc: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    },
    cut(name) {
      const r = sh("ip", ["-n", nodeOf(name).ns, "link", "set", "eth0", "down"]);
      if (r.rc !== 0) throw new Error(`cut ${name}: ${r.stderr}`);
    },
    restore(name) {
      const r = sh("ip", ["-n", nodeOf(name).ns, "link", "set", "eth0", "up"]);
      if (r.rc !== 0) throw new Error(`restore ${name}: ${r.stderr}`);
    },
    stop,
  };

  try {
    mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
    mkdirSync(cluster.san);
    // Controller namespace: a unique name (retry when another test file took the same subnet meanwhile).
    for (let attempt = 0; ; attempt++) {
      ({ id, subnet } = pickSubnet(takenIds(), attempt));
      ctlNs = `${PREFIX}${id}-ctl`;
      const r = await run("ip", ["netns", "add", ctlNs]);
      if (r.rc === 0) {
        namespaces.push(ctlNs);
        break;
      }
      if (attempt >= 5) throw new Error(`ip netns add ${ctlNs}: ${r.stderr}`);
    }
    for (let i = 1; i <= count; i++) {
      const name = `n${i}`;
      const nd = path.join(dir, name);
      nodes.push({ name, ns: `${PREFIX}${id}-${name}`, addr: `${subnet}.${10 + i}`, dir: nd, root: path.join(nd, "root"), home: path.join(nd, "home"), pid: 0 });
    }
    const ctlSetup = (async () => {
      await must("ip", ["-n", ctlNs, "link", "set", "lo", "up"]);
      await must("ip", ["-n", ctlNs, "link", "add", "br0", "type", "bridge"]);
      await must("ip", ["-n", ctlNs, "addr", "add", `${subnet}.1/24`, "dev", "br0"]);
      await must("ip", ["-n", ctlNs, "link", "set", "br0", "up"]);
    })();
    const clientKey = path.join(dir, "clientkey");
    const keys = [must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "osvc-test-client", "-f", clientKey])];
    for (const n of nodes) {
      mkdirSync(n.root, { recursive: true });
      mkdirSync(n.home, { recursive: true });
      keys.push(must("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", n.name, "-f", path.join(n.dir, "hostkey")]));
    }
    await Promise.all([ctlSetup, ...keys]);

    // Node namespaces and links, in parallel.
    await Promise.all(
      nodes.map(async (n, i) => {
        namespaces.push(n.ns);
        await must("ip", ["netns", "add", n.ns]);
        await must("ip", ["-n", n.ns, "link", "set", "lo", "up"]);
        const veth = `v${i + 1}`;
        await must("ip", ["-n", ctlNs, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", n.ns]);
        await must("ip", ["-n", ctlNs, "link", "set", veth, "master", "br0", "up"]);
        await must("ip", ["-n", n.ns, "addr", "add", `${n.addr}/24`, "dev", "eth0"]);
        await must("ip", ["-n", n.ns, "link", "set", "eth0", "up"]);
      }),
    );

    // Files: authorized keys, sshd configs, known_hosts, ssh_config, the proxy, the inventory.
    const clientPub = readFileSync(`${clientKey}.pub`, "utf8");
    const known: string[] = [];
    for (const n of nodes) {
      writeFileSync(path.join(n.dir, "authorized_keys"), clientPub);
      const hostPub = readFileSync(path.join(n.dir, "hostkey.pub"), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
      known.push(`${n.name} ${hostPub}`);
      writeFileSync(
        path.join(n.dir, "sshd_config"),
        [
          `ListenAddress ${n.addr}:22`,
          `HostKey ${path.join(n.dir, "hostkey")}`,
          `PidFile ${path.join(n.dir, "sshd.pid")}`,
          `AuthorizedKeysFile ${path.join(n.dir, "authorized_keys")}`,
          "PermitRootLogin prohibit-password",
          "PasswordAuthentication no",
          "KbdInteractiveAuthentication no",
          "UsePAM no",
          "StrictModes no",
          "UseDNS no",
          "PrintMotd no",
          "PrintLastLog no",
          "MaxSessions 64",
          "MaxStartups 64:30:128",
          "LogLevel INFO",
          `SetEnv OSVC_ROOT=${n.root} HOME=${n.home} PATH=${nodeBin}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`,
          "",
        ].join("\n"),
      );
    }
    writeFileSync(path.join(dir, "known_hosts"), known.join("\n") + "\n");
    const proxy = path.join(dir, "proxy");
    // ssh runs it as `sh -c 'exec <proxy> host port'`. Its stderr goes to a log for debugging (under
    // ControlPersist, ssh itself would send it to /dev/null: the master outlives the first ssh).
    writeFileSync(
      proxy,
      [
        "#!/bin/bash",
        `exec 2>>${shq(path.join(dir, "proxy.log"))}`,
        // nsenter --net, not ip netns exec: the latter makes a mount namespace, a copy of every mount
        // of that moment, that the proxy (alive as long as the ssh master) would keep busy.
        `exec nsenter --net=/run/netns/${ctlNs} bash -c 'exec 3<>"/dev/tcp/$1/$2" || exit 1; cat <&3 & exec cat >&3' proxy "$1" "$2"`,
        "",
      ].join("\n"),
    );
    chmodSync(proxy, 0o755);
    const lines: string[] = [];
    for (const n of nodes) lines.push(`Host ${n.name}`, `  HostName ${n.addr}`, `  HostKeyAlias ${n.name}`, "");
    lines.push(
      "Host *",
      "  User root",
      `  IdentityFile ${clientKey}`,
      "  IdentitiesOnly yes",
      "  BatchMode yes",
      "  StrictHostKeyChecking yes",
      `  UserKnownHostsFile ${path.join(dir, "known_hosts")}`,
      "  GlobalKnownHostsFile /dev/null",
      "  ConnectTimeout 3",
      "  ServerAliveInterval 1",
      "  ServerAliveCountMax 3",
      "  LogLevel ERROR",
      "  ControlMaster auto",
      `  ControlPath ${path.join(dir, "cm-%r@%n")}`,
      "  ControlPersist 60",
      `  ProxyCommand ${proxy} %h %p`,
      "",
    );
    writeFileSync(sshConfig, lines.join("\n"));
    writeFileSync(
      cluster.inventoryFile,
      [
        "[cluster]",
        `name = test-${id}`,
        `nodes = ${nodes.map((n) => n.name).join(" ")}`,
        "",
        "[ssh]",
        `config = ${sshConfig}`,
        "connect_timeout = 3",
        "",
        ...nodes.flatMap((n) => [`[node.${n.name}]`, `osvc = ${osvcWords}`, ""]),
        opts.inventoryExtra ?? "",
      ].join("\n"),
    );

    // sshd of every node, in parallel; each waited for by its log line, bounded.
    const tmpRoot = realpathSync(os.tmpdir());
    for (const d of opts.privateDirs ?? []) if (!path.isAbsolute(d) || !statSync(d).isDirectory()) throw new Error(`privateDirs: ${d} is not an existing absolute directory`);
    await Promise.all(
      nodes.map(async (n) => {
        const log = path.join(n.dir, "sshd.log");
        const child = spawn(
          "ip",
          ["netns", "exec", n.ns, "unshare", "--uts", "--mount", "--propagation", "private", "sh", "-c", NODE_SCRIPT, "node", n.name, path.join(n.dir, "sshd_config"), log, tmpRoot, ...(opts.privateDirs ?? [])],
          { stdio: ["ignore", "ignore", "pipe"] },
        );
        let err = "";
        child.stderr?.on("data", (b: Buffer) => (err += b.toString()));
        child.unref();
        // ip netns exec, unshare and sh all exec in place: this pid is sshd's.
        if (!child.pid) throw new Error(`${n.name}: cannot spawn sshd`);
        n.pid = child.pid;
        let exited: number | null | undefined;
        child.on("exit", (code) => (exited = code));
        const deadline = Date.now() + 20_000;
        for (;;) {
          if (existsSync(log) && /Server listening on/.test(readFileSync(log, "utf8"))) return;
          if (exited !== undefined) throw new Error(`${n.name}: sshd exited (${exited}): ${err}${existsSync(log) ? readFileSync(log, "utf8") : ""}`);
          if (Date.now() > deadline) throw new Error(`${n.name}: sshd did not listen within 20 s: ${err}`);
          await sleep(15);
        }
      }),
    );
    // Each port answers from the controller namespace (where the proxies connect), bounded.
    const probe = await run("ip", [
      "netns", "exec", ctlNs, "bash", "-c",
      'for a; do ok=; for i in $(seq 200); do if (exec 3<>"/dev/tcp/$a/22") 2>/dev/null; then ok=1; break; fi; sleep 0.05; done; [ -n "$ok" ] || { echo "$a:22 does not answer"; exit 1; }; done',
      "probe", ...nodes.map((n) => n.addr),
    ]);
    if (probe.rc !== 0) throw new Error(`test cluster: ${probe.stdout}${probe.stderr}`);
  } catch (e) {
    const problems = await stop();
    if (problems.length) (e as Error).message += `\n(cleanup: ${problems.join("; ")})`;
    Object.assign(e as Error, { clusterDir: dir, clusterId: id });
    throw e;
  }
  (cluster as { startMs: number }).startMs = Math.round(performance.now() - t0);
  return cluster;
}

/** ssh control sockets (cm-*) anywhere under dir. */
function findSockets(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isSocket() && e.name.startsWith("cm-")) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** POSIX single-quote (test files only). */
function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
