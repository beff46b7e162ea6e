// A real 3-member etcd cluster on loopback for one test file (reference/cluster.md §5): Debian's
// etcd 3.4 server, ports found free by binding port 0, a unique --initial-cluster-token, data dirs
// and logs under one temp dir; every member ended by pid (TERM, then KILL).
//
//   const etcd = await startEtcd();      // beforeAll
//   etcd.endpoints                       // ["http://127.0.0.1:P1", ...]
//   etcd.kill(i) / await etcd.restart(i) / await etcd.leader()
//   await etcd.stop();                   // afterAll: safe after a partial start, and twice
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { alive } from "./proc.js";

export const ETCD_BIN = "/usr/bin/etcd";
export const ETCDCTL_BIN = "/usr/bin/etcdctl";

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly log: string;
  pid: number; // 0 when not running
}

export interface TestEtcd {
  readonly dir: string;
  readonly token: string;
  readonly members: EtcdMember[];
  readonly endpoints: string[];
  /** Milliseconds from spawn to a healthy cluster. */
  readonly startMs: number;
  /** SIGKILLs member i (0-based) and waits until it is gone. */
  kill(i: number): Promise<void>;
  /** Starts member i again (same data dir) and waits until it answers. */
  restart(i: number): Promise<void>;
  /** The index of the current raft leader (waits for one, bounded). */
  leader(timeoutMs?: number): Promise<number>;
  /** Runs etcdctl against every running member; never throws. */
  ctl(args: readonly string[]): Promise<{ rc: number; stdout: string; stderr: string }>;
  /** Ends every member by pid and removes the temp dir; returns the problems met. */
  stop(): Promise<string[]>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A TCP port free on 127.0.0.1 right now (the kernel's pick for port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function run(file: string, args: readonly string[], timeoutMs = 10_000): Promise<{ rc: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: timeoutMs, encoding: "utf8", env: { ...process.env, ETCDCTL_API: "3" } }, (err, stdout, stderr) => {
      const rc = err ? (typeof (err as { code?: unknown }).code === "number" ? ((err as { code: number }).code) : -1) : 0;
      resolve({ rc, stdout: stdout ?? "", stderr: stderr ?? "" });
    });
  });
}

async function endPid(pid: number, graceMs: number): Promise<void> {
  if (!alive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const until = Date.now() + graceMs;
  while (alive(pid) && Date.now() < until) await sleep(50);
  if (alive(pid)) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      /* gone */
    }
    const until2 = Date.now() + 5_000;
    while (alive(pid) && Date.now() < until2) await sleep(50);
  }
}

/** Starts the cluster; a port taken between our probe and etcd's bind is retried with new ports. */
export async function startEtcd(opts: EtcdOptions = {}): Promise<TestEtcd> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startEtcdOnce(opts);
    } catch (e) {
      if (attempt >= 3 || !/address already in use/i.test((e as Error).message)) throw e;
    }
  }
}

export interface EtcdOptions {
  members?: number;
  healthTimeoutMs?: number;
  /** Client URLs over https with this server certificate and key (PEM paths); `ca` is what etcdctl trusts. Peers stay http. */
  tls?: { readonly ca: string; readonly cert: string; readonly key: string };
}

async function startEtcdOnce(opts: EtcdOptions): Promise<TestEtcd> {
  const n = opts.members ?? 3;
  const dir = mkdtempSync(path.join(os.tmpdir(), "osvc-etcd-"));
  const token = `osvc-t-${process.pid}-${randomBytes(4).toString("hex")}`;
  const members: EtcdMember[] = [];
  const ports = new Set<number>();
  while (ports.size < 2 * n) ports.add(await freePort());
  const [clientPorts, peerPorts] = [[...ports].slice(0, n), [...ports].slice(n)];
  for (let i = 0; i < n; i++) {
    const name = `m${i + 1}`;
    members.push({ name, clientUrl: `${opts.tls ? "https" : "http"}://127.0.0.1:${clientPorts[i]}`, peerUrl: `http://127.0.0.1:${peerPorts[i]}`, dataDir: path.join(dir, name), log: path.join(dir, `${name}.log`), pid: 0 });
  }
  const initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
  const endpoints = members.map((m) => m.clientUrl);

  const spawnMember = (m: EtcdMember): void => {
    const fd = openSync(m.log, "a");
    try {
      const child = spawn(
        ETCD_BIN,
        [
          "--name", m.name,
          "--data-dir", m.dataDir,
          "--listen-client-urls", m.clientUrl,
          "--advertise-client-urls", m.clientUrl,
          "--listen-peer-urls", m.peerUrl,
          "--initial-advertise-peer-urls", m.peerUrl,
          "--initial-cluster", initialCluster,
          "--initial-cluster-token", token,
          "--initial-cluster-state", "new",
          "--logger", "zap",
          "--log-level", "warn",
          ...(opts.tls ? ["--cert-file", opts.tls.cert, "--key-file", opts.tls.key] : []),
        ],
        { stdio: ["ignore", fd, fd], detached: true },
      );
      child.unref();
      m.pid = child.pid ?? 0;
    } finally {
      closeSync(fd);
    }
  };

  const cacert = opts.tls ? ["--cacert", opts.tls.ca] : [];
  const ctl = (args: readonly string[]) => run(ETCDCTL_BIN, ["--endpoints", members.filter((m) => m.pid).map((m) => m.clientUrl).join(",") || endpoints.join(","), ...cacert, "--dial-timeout", "2s", "--command-timeout", "5s", ...args]);

  const waitHealthy = async (which: EtcdMember[], timeoutMs: number): Promise<void> => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const r = await run(ETCDCTL_BIN, ["--endpoints", which.map((m) => m.clientUrl).join(","), ...cacert, "--dial-timeout", "2s", "--command-timeout", "3s", "endpoint", "health"]);
      if (r.rc === 0) return;
      for (const m of which) {
        if (!alive(m.pid)) throw new Error(`etcd member ${m.name} exited:\n${existsSync(m.log) ? readFileSync(m.log, "utf8").slice(-2000) : "(no log)"}`);
      }
      if (Date.now() > until) throw new Error(`etcd not healthy after ${timeoutMs} ms: ${r.stderr || r.stdout}`);
      await sleep(200);
    }
  };

  const stop = async (): Promise<string[]> => {
    const problems: string[] = [];
    await Promise.all(
      members.map(async (m) => {
        await endPid(m.pid, 5_000);
        if (alive(m.pid)) problems.push(`etcd ${m.name} pid ${m.pid} still alive`);
        m.pid = 0;
      }),
    );
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (e) {
      problems.push(`rm ${dir}: ${(e as Error).message}`);
    }
    return problems;
  };

  const t0 = Date.now();
  try {
    for (const m of members) spawnMember(m);
    await waitHealthy(members, opts.healthTimeoutMs ?? 60_000);
  } catch (e) {
    await stop();
    throw e;
  }
  const startMs = Date.now() - t0;

  return {
    dir,
    token,
    members,
    endpoints,
    startMs,
    ctl,
    stop,
    async kill(i) {
      const m = members[i];
      const pid = m.pid;
      if (!pid) return;
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
      const until = Date.now() + 10_000;
      while (alive(pid) && Date.now() < until) await sleep(20);
      m.pid = 0;
    },
    async restart(i) {
      const m = members[i];
      if (m.pid && alive(m.pid)) return;
      spawnMember(m);
      const until = Date.now() + 60_000;
      // A member alone may not be "healthy" (no quorum): wait until it answers its status.
      for (;;) {
        const r = await run(ETCDCTL_BIN, ["--endpoints", m.clientUrl, "--dial-timeout", "2s", "--command-timeout", "3s", "endpoint", "status"]);
        if (r.rc === 0) return;
        if (!alive(m.pid)) throw new Error(`etcd member ${m.name} exited on restart:\n${readFileSync(m.log, "utf8").slice(-2000)}`);
        if (Date.now() > until) throw new Error(`etcd member ${m.name} did not answer after restart: ${r.stderr}`);
        await sleep(200);
      }
    },
    async leader(timeoutMs = 30_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const r = await ctl(["endpoint", "status", "-w", "json"]);
        if (r.rc === 0 || r.stdout.trim().startsWith("[")) {
          try {
            const rows = JSON.parse(r.stdout) as { Endpoint: string; Status: { header: { member_id: number | string }; leader: number | string } }[];
            const lead = rows.find((x) => String(x.Status.header.member_id) === String(x.Status.leader) && x.Status.leader);
            if (lead) {
              const i = members.findIndex((m) => m.clientUrl === lead.Endpoint);
              if (i >= 0) return i;
            }
          } catch {
            /* retry */
          }
        }
        if (Date.now() > until) throw new Error(`no etcd leader after ${timeoutMs} ms: ${r.stderr}`);
        await sleep(200);
      }
    },
  };
}
