// The "full service" apply benchmark's host side (bench/apply.ts, second table): N copies of
// ip.host + disk.loop + fs.ext4 + fs.directory + container.podman + app.simple, run inside a
// private network namespace the bench creates (never the host's own), from a local busybox image
// the bench imports under its own tag.
//
// Everything here touches only what the bench made: its network namespace (`osvc-bench-full-<pid>`),
// its image tag, containers named after its object, processes inside its namespace, and the loop
// devices / mounts of files under its /tmp/osvc-bench-* directory (cleanupDir in ./host.js).
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { cleanupDir, loopsUnder, mountsUnder, type Timed } from "./host.js";

/** What one benchmark session uses: its namespace, bridge, image tag and containers.conf. */
export interface FullEnv {
  /** Network namespace name (/run/netns/<ns>). */
  readonly ns: string;
  readonly bridge: string;
  /** The veth pair inside the namespace that gives the bridge a carrier (one end is a bridge port). */
  readonly veth: readonly [string, string];
  /** Local image tag, imported by buildImage(), removed by removeImage(). */
  readonly image: string;
  /** The containers.conf both methods run podman with (CONTAINERS_CONF). */
  readonly containersConf: string;
  /** osvc object name; containers are `<object>.container.<i>`. */
  readonly object: string;
  /** Copies of the service. */
  readonly n: number;
  /** Loop file size (osvc size keyword; the script uses the upper-case form for truncate). */
  readonly size: string;
}

export interface Copy {
  readonly i: number;
  readonly ip: string;
  readonly file: string;
  readonly mnt: string;
  readonly dir: string;
  readonly container: string;
  readonly pidfile: string;
  readonly log: string;
}

/** The i-th copy (1-based) under `dir`. */
export function copiesIn(env: FullEnv, dir: string): Copy[] {
  return Array.from({ length: env.n }, (_, k) => {
    const i = k + 1;
    return {
      i,
      ip: `10.98.0.${10 + i}`,
      file: join(dir, `d${i}.img`),
      mnt: join(dir, `m${i}`),
      dir: join(dir, `m${i}`, "data"),
      container: `${env.object}.container.${i}`,
      pidfile: join(dir, `app${i}.pid`),
      log: join(dir, `app${i}.log`),
    };
  });
}

// ------------------------------------------------------------------ host command helpers

function sh(file: string, args: readonly string[], env?: NodeJS.ProcessEnv): { rc: number | null; out: string; err: string } {
  const r = spawnSync(file, [...args], { encoding: "utf8", env: env ?? process.env });
  return { rc: r.status, out: r.stdout ?? "", err: (r.stderr ?? "") + (r.error ? String(r.error) : "") };
}

const podmanEnv = (env: FullEnv): NodeJS.ProcessEnv => ({ ...process.env, CONTAINERS_CONF: env.containersConf });

/**
 * The containers.conf the project's tests and examples use (host-environment §5), never /etc: its
 * network config dir is `dir`/networks (podman 4 creates /etc/containers/networks otherwise).
 */
export function containersConfText(dir: string): string {
  return `[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n[network]\nnetwork_config_dir = ${JSON.stringify(`${dir}/networks`)}\n`;
}

// ------------------------------------------------------------------ image

/**
 * Imports a busybox root filesystem (the host's static busybox) as `env.image`, the way
 * examples/import-busybox.sh does, but under the bench's own tag: the shared
 * localhost/osvc-busybox:latest is left alone. `work` is a scratch directory.
 */
export function buildImage(env: FullEnv, work: string): { ok: boolean; error?: string } {
  const busybox = sh("sh", ["-c", "command -v busybox"]).out.trim();
  if (!busybox) return { ok: false, error: "busybox not found (apt-get install busybox-static)" };
  const root = join(work, "rootfs");
  for (const d of ["bin", "etc", "tmp", "proc", "sys", "dev"]) mkdirSync(join(root, d), { recursive: true });
  copyFileSync(busybox, join(root, "bin", "busybox"));
  for (const a of ["sh", "ls", "cat", "sleep", "echo"]) symlinkSync("busybox", join(root, "bin", a));
  writeFileSync(join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
  const tar = join(work, "busybox.tar");
  const t = sh("tar", ["-C", root, "-cf", tar, "."]);
  if (t.rc !== 0) return { ok: false, error: `tar: ${t.err.trim()}` };
  const r = sh("podman", ["import", "--change", 'CMD ["/bin/sh"]', tar, env.image], podmanEnv(env));
  rmSync(root, { recursive: true, force: true });
  rmSync(tar, { force: true });
  return r.rc === 0 ? { ok: true } : { ok: false, error: `podman import: ${(r.err || r.out).trim()}` };
}

export function removeImage(env: FullEnv): string[] {
  const r = sh("podman", ["rmi", "-f", env.image], podmanEnv(env));
  if (r.rc === 0 || /image not known|no such image/i.test(r.err)) return [];
  return [`podman rmi -f ${env.image}: ${r.err.trim()}`];
}

export function imageExists(env: FullEnv): boolean {
  return sh("podman", ["image", "exists", env.image], podmanEnv(env)).rc === 0;
}

// ------------------------------------------------------------------ network namespace

const nsPath = (env: FullEnv) => `/run/netns/${env.ns}`;

export function netnsExists(env: FullEnv): boolean {
  return existsSync(nsPath(env));
}

/**
 * A fresh namespace: lo up, the bridge, and a veth pair whose one end is a bridge port, so the
 * bridge has a carrier (as a host interface would): ip.host then checks the address with arping
 * as on a real host (without carrier, it refuses unless check_carrier = false, which also skips arping).
 */
export function netnsCreate(env: FullEnv): { ok: boolean; error?: string } {
  if (netnsExists(env)) {
    const errs = netnsDelete(env);
    if (errs.length) return { ok: false, error: errs.join("; ") };
  }
  const [a, b] = env.veth;
  const steps: string[][] = [
    ["netns", "add", env.ns],
    ["-n", env.ns, "link", "set", "lo", "up"],
    ["-n", env.ns, "link", "add", env.bridge, "type", "bridge"],
    ["-n", env.ns, "link", "add", a, "type", "veth", "peer", "name", b],
    ["-n", env.ns, "link", "set", a, "master", env.bridge],
    ["-n", env.ns, "link", "set", a, "up"],
    ["-n", env.ns, "link", "set", b, "up"],
    ["-n", env.ns, "link", "set", env.bridge, "up"],
  ];
  for (const s of steps) {
    const r = sh("ip", s);
    if (r.rc !== 0) return { ok: false, error: `ip ${s.join(" ")}: ${r.err.trim()}` };
  }
  // Wait for the carrier (LOWER_UP) on the bridge: the port's state propagates asynchronously.
  for (let k = 0; k < 50; k++) {
    const r = sh("ip", ["-n", env.ns, "-j", "link", "show", "dev", env.bridge]);
    if (r.rc === 0 && /"LOWER_UP"/.test(r.out)) return { ok: true };
    spawnSync("sleep", ["0.1"]);
  }
  return { ok: false, error: `${env.bridge} in ${env.ns} got no carrier within 5 s` };
}

/** The inode of the namespace file, as in /proc/PID/ns/net ("net:[INODE]"). */
function netnsInode(env: FullEnv): number | undefined {
  try {
    return statSync(nsPath(env)).ino;
  } catch {
    return undefined;
  }
}

/** Pids of the processes inside the bench's namespace (with their command line). */
export function procsInNetns(env: FullEnv): { pid: number; cmdline: string }[] {
  const ino = netnsInode(env);
  if (ino === undefined) return [];
  const want = `net:[${ino}]`;
  const out: { pid: number; cmdline: string }[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      if (readlinkSync(`/proc/${e}/ns/net`) !== want) continue;
      const cmdline = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ");
      const state = /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${e}/stat`, "utf8"))?.[1];
      if (state === "Z" || state === "X") continue; // exited: already out of the namespace
      out.push({ pid: Number(e), cmdline });
    } catch {
      // gone, or a kernel thread
    }
  }
  return out;
}

/** SIGKILLs every process left inside the bench's namespace (they are all the bench's) and waits for them. */
export function killNetnsProcs(env: FullEnv): { killed: number; what: string[]; errors: string[] } {
  // podman's own helpers (conmon, `podman container cleanup`) finish by themselves shortly after
  // `podman rm -f`: give them up to 3 s before killing what is left.
  for (let k = 0; k < 30 && procsInNetns(env).some((p) => /(^|\/)(conmon|podman)( |$)/.test(p.cmdline)); k++) spawnSync("sleep", ["0.1"]);
  const procs = procsInNetns(env).filter((p) => p.pid !== process.pid);
  for (const p of procs) {
    try {
      process.kill(p.pid, "SIGKILL");
    } catch {
      // gone
    }
  }
  for (let k = 0; k < 50 && procsInNetns(env).length; k++) spawnSync("sleep", ["0.1"]);
  const left = procsInNetns(env);
  return { killed: procs.length, what: procs.map((p) => p.cmdline), errors: left.length ? [`${left.length} process(es) still in ${env.ns}: ${left.map((p) => `${p.pid} ${p.cmdline}`).join(", ")}`] : [] };
}

export function netnsDelete(env: FullEnv): string[] {
  if (!netnsExists(env)) return [];
  const r = sh("ip", ["netns", "del", env.ns]);
  return r.rc === 0 ? [] : [`ip netns del ${env.ns}: ${r.err.trim()}`];
}

// ------------------------------------------------------------------ generated inputs

/** The osvc template: ip#i, disk#i, fs#i (ext4), fs#dir<i> (directory in the mount), container#i, app#i. */
export function fullTemplate(env: FullEnv, dir: string): string {
  const out = [
    `# generated by bench/lib/fullservice.ts: ${env.n} copies of ip.host + disk.loop + fs.ext4 + fs.directory + container.podman + app.simple under ${dir}`,
    "",
  ];
  for (const c of copiesIn(env, dir)) {
    out.push(`[ip#${c.i}]`, "type = host", `ipname = ${c.ip}`, "netmask = 24", `ipdev = ${env.bridge}`, "");
    out.push(`[disk#${c.i}]`, "type = loop", `file = ${c.file}`, `size = ${env.size}`, "");
    out.push(`[fs#${c.i}]`, "type = ext4", `dev = {disk#${c.i}.exposed_devs[0]}`, `mnt = ${c.mnt}`, "");
    out.push(`[fs#dir${c.i}]`, "type = directory", `path = ${c.dir}`, "");
    out.push(`[container#${c.i}]`, "type = podman", `image = ${env.image}`, "command = sleep 100000", `containers_conf = ${env.containersConf}`, "");
    out.push(`[app#${c.i}]`, "type = simple", "start = sleep 100000", "");
  }
  return out.join("\n");
}

/** Columns of the "where the time goes" table: before the first resource, the driver groups, after the last. */
export const PHASES = ["start-up", "ip", "disk", "fs", "container", "app", "finish"] as const;

/**
 * The same host commands as osvc's drivers, one after another, in osvc's group order. `arping`:
 * false leaves out the duplicate-address check and the announce (the `script -arping` row).
 */
export function fullScript(env: FullEnv, dir: string, opts: { arping: boolean }): string {
  const cs = copiesIn(env, dir);
  const sleep = sh("sh", ["-c", "command -v sleep"]).out.trim() || "/bin/sleep";
  const out = [
    "#!/bin/bash",
    `# generated by bench/lib/fullservice.ts: ${env.n} copies of the full service under ${dir}, one command after another`,
    `# run inside the network namespace ${env.ns} (nsenter --net)`,
    "set -euo pipefail",
    `export CONTAINERS_CONF=${env.containersConf}`,
    'phase() { echo "@phase $1"; }   # the bench times the arrival of these lines',
    "",
    "phase ip",
  ];
  cs.forEach((c, k) => {
    if (opts.arping) out.push(`arping -D -c 2 -w 2 -I ${env.bridge} ${c.ip} >/dev/null   # exit 1: someone answers -> abort`);
    out.push(`ip addr add ${c.ip}/24 dev ${env.bridge} label ${env.bridge}:${k + 1}`);
    if (opts.arping) out.push(`arping -U -c 1 -I ${env.bridge} -s ${c.ip} ${c.ip} >/dev/null || true`);
  });
  out.push("", "phase disk");
  for (const c of cs) out.push(`truncate -s ${env.size.toUpperCase()} ${c.file}`, `dev${c.i}=$(losetup -f --show ${c.file})`);
  out.push("", "phase fs");
  for (const c of cs) {
    out.push(`if ! blkid -p "$dev${c.i}" >/dev/null; then mkfs.ext4 -F -q "$dev${c.i}"; fi`, `mkdir -p ${c.mnt}`, `mount -t ext4 "$dev${c.i}" ${c.mnt}`, `mkdir -p ${c.dir}`);
  }
  out.push("", "phase container");
  for (const c of cs) out.push(`podman run -d --pull never --name ${c.container} --network none --init ${env.image} sleep 100000 >/dev/null`);
  out.push("", "phase app");
  for (const c of cs) {
    out.push(`start-stop-daemon --start --background --make-pidfile --pidfile ${c.pidfile} --output ${c.log} --chdir / --startas ${sleep} -- 100000`);
  }
  out.push("phase end", "");
  return out.join("\n");
}

/**
 * Phases of a run, from the arrival times of its output lines: `marks` are (phase, ms) in order;
 * a phase lasts until the next one starts; "start-up" is before the first, "finish" after the last
 * (the last mark ends its phase at `endMs`, when there is one).
 */
function phasesFrom(marks: readonly { name: string; ms: number }[], totalMs: number, endMs?: number): Map<string, number> {
  const out = new Map<string, number>();
  if (!marks.length) return out;
  out.set("start-up", marks[0].ms);
  for (let k = 0; k < marks.length; k++) {
    const until = k + 1 < marks.length ? marks[k + 1].ms : (endMs ?? totalMs);
    out.set(marks[k].name, (out.get(marks[k].name) ?? 0) + until - marks[k].ms);
  }
  out.set("finish", totalMs - (endMs ?? totalMs));
  return out;
}

/** The script's phases: its `@phase NAME` lines ("@phase end" after the last command). */
export function scriptPhases(t: Timed): Map<string, number> {
  const marks = t.lines.flatMap((l) => {
    const m = /^@phase (\S+)$/.exec(l.text);
    return m ? [{ name: m[1], ms: l.ms }] : [];
  });
  const end = marks.find((m) => m.name === "end");
  return phasesFrom(
    marks.filter((m) => m.name !== "end"),
    t.ms,
    end?.ms,
  );
}

/**
 * osvc's phases from its text log: a driver group starts with its first log line (`INFO
 * <object>.<group>#<n> ...`) and lasts until the next group's first line (the groups run in waves);
 * the last group ends with its last line; "finish" is the rest (state, "Apply complete", exit).
 */
export function osvcPhases(t: Timed): Map<string, number> {
  const first = new Map<string, number>();
  let last: number | undefined;
  for (const l of t.lines) {
    const m = /^[A-Z]+\s+\S*?\.(ip|disk|fs|container|app)#\S*\s/.exec(l.text);
    if (!m) continue;
    if (!first.has(m[1])) first.set(m[1], l.ms);
    last = l.ms;
  }
  const marks = [...first].map(([name, ms]) => ({ name, ms })).sort((a, b) => a.ms - b.ms);
  return phasesFrom(marks, t.ms, last);
}

// ------------------------------------------------------------------ what is up

export interface FullUp {
  readonly ips: number;
  readonly fs: number;
  readonly dirs: number;
  readonly containers: number;
  readonly apps: number;
}

export const allUp = (env: FullEnv, u: FullUp): boolean => u.ips === env.n && u.fs === env.n && u.dirs === env.n && u.containers === env.n && u.apps === env.n;

export const describeUp = (env: FullEnv, u: FullUp): string =>
  `ip ${u.ips}/${env.n}, fs ${u.fs}/${env.n}, dir ${u.dirs}/${env.n}, container ${u.containers}/${env.n}, app ${u.apps}/${env.n}`;

/** Independent checks: `ip -j addr`, findmnt + losetup, the directories, `podman inspect`, /proc. */
export function fullUp(env: FullEnv, dir: string): FullUp {
  const cs = copiesIn(env, dir);
  const a = sh("ip", ["-n", env.ns, "-j", "addr", "show", "dev", env.bridge]);
  let ips = 0;
  if (a.rc === 0 && a.out.trim()) {
    const addrs = (JSON.parse(a.out) as { addr_info?: { local?: string; prefixlen?: number }[] }[]).flatMap((l) => l.addr_info ?? []);
    ips = cs.filter((c) => addrs.some((x) => x.local === c.ip && x.prefixlen === 24)).length;
  }
  const mounts = new Map(mountsUnder(dir).map((m) => [m.target, m]));
  const loops = new Map(loopsUnder(dir).map((l) => [l.name, l.backFile]));
  const fsUp = cs.filter((c) => {
    const m = mounts.get(c.mnt);
    return m !== undefined && m.fstype === "ext4" && loops.get(m.source) === c.file;
  });
  const dirs = fsUp.filter((c) => existsSync(c.dir) && statSync(c.dir).isDirectory()).length;
  const p = sh("podman", ["inspect", "--format", "{{.Name}} {{.State.Running}}", ...cs.map((c) => c.container)], podmanEnv(env));
  const running = new Set(
    p.out
      .split("\n")
      .map((l) => l.trim().split(" "))
      .filter((w) => w[1] === "true")
      .map((w) => w[0]),
  );
  const containers = cs.filter((c) => running.has(c.container)).length;
  // The apps: `sleep 100000` processes inside the bench namespace (the containers' own sleep runs
  // in the container's namespace, network none, so it is not counted here).
  const apps = Math.min(env.n, procsInNetns(env).filter((x) => /(^|\/)sleep 100000$/.test(x.cmdline)).length);
  return { ips, fs: fsUp.length, dirs, containers, apps };
}

// ------------------------------------------------------------------ cleanup

export interface FullCleaned {
  readonly containers: number;
  readonly killed: number;
  /** Command lines of the killed processes. */
  readonly killedWhat: string[];
  readonly unmounted: number;
  readonly detached: number;
  readonly errors: string[];
}

/** Containers of the bench object that exist (any state). */
export function benchContainers(env: FullEnv): string[] {
  const r = sh("podman", ["ps", "-a", "--format", "{{.Names}}"], podmanEnv(env));
  const names = new Set(copiesIn(env, "/").map((c) => c.container));
  return r.out
    .split("\n")
    .map((l) => l.trim())
    .filter((n) => names.has(n));
}

/**
 * After every run and on error: `podman rm -f` of the bench's containers by name, SIGKILL of the
 * processes left in the bench namespace (the apps), umount / losetup -d / rm of the bench
 * directory, `ip netns del`. The image stays (removeImage at the end).
 */
export function cleanupFull(env: FullEnv, dir: string | undefined): FullCleaned {
  const errors: string[] = [];
  const there = benchContainers(env);
  if (there.length) {
    const r = sh("podman", ["rm", "-f", "-t", "0", ...there], podmanEnv(env));
    if (r.rc !== 0) errors.push(`podman rm -f ${there.join(" ")}: ${r.err.trim()}`);
  }
  const k = killNetnsProcs(env);
  errors.push(...k.errors);
  let unmounted = 0;
  let detached = 0;
  if (dir) {
    const c = cleanupDir(dir);
    unmounted = c.unmounted;
    detached = c.detached;
    errors.push(...c.errors);
  }
  errors.push(...netnsDelete(env));
  return { containers: there.length, killed: k.killed, killedWhat: k.what, unmounted, detached, errors };
}

/** What is still there after a cleanup: containers, namespace, mounts and loop devices of `dir`. */
export function fullLeftovers(env: FullEnv, dir: string): string[] {
  const out: string[] = [];
  for (const c of benchContainers(env)) out.push(`container ${c}`);
  if (netnsExists(env)) out.push(`netns ${env.ns}`);
  for (const m of mountsUnder(dir)) out.push(`mount ${m.target}`);
  for (const l of loopsUnder(dir)) out.push(`loop ${l.name}`);
  return out;
}
