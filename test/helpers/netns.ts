// Network-namespace helpers for the ip.* end-to-end tests (host-environment §4).
//
// Everything lives in namespaces the test creates (`ip netns add osvc-t-<tag>-<random>`): the host's
// own namespace is never touched. The provider under test "runs inside" a namespace through
// nsContext(ns): every command it runs goes through `ip netns exec NS`, which is exactly what running
// the osvc process there does (providers reach the host only through Exec). runNodeInNetns() runs a
// whole node process inside a namespace, for the tests that want the real thing.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import os from "node:os";
import type { Exec, ExecResult } from "../../src/provider/exec.js";
import { createExec, displayCommand } from "../../src/provider/exec.js";
import type { TestContext } from "./host.js";
import { sh, testContext } from "./host.js";

/** Registry of namespaces (and helper processes) to remove in afterEach. */
export const netnsCleanup = {
  names: [] as string[],
  pids: [] as number[],
  /** Kills the registered processes, deletes the registered namespaces; returns the problems met. */
  run(): string[] {
    const problems: string[] = [];
    for (const pid of this.pids.splice(0)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* already gone */
      }
    }
    for (const n of this.names.splice(0).reverse()) {
      const r = sh("ip", ["netns", "del", n]);
      if (r.rc !== 0 && !/No such file/.test(r.stderr)) problems.push(`ip netns del ${n}: ${r.stderr.trim()}`);
    }
    return problems;
  },
};

/** A fresh namespace "osvc-t-<tag>-<6 hex>" with lo up, registered for cleanup. */
export function makeNetns(tag: string): string {
  const name = `osvc-t-${tag}-${randomBytes(3).toString("hex")}`;
  const r = sh("ip", ["netns", "add", name]);
  if (r.rc !== 0) throw new Error(`ip netns add ${name}: ${r.stderr}`);
  netnsCleanup.names.push(name);
  must("ip", ["-n", name, "link", "set", "lo", "up"]);
  return name;
}

/** Runs a command, throws with its stderr on failure (test setup). */
export function must(file: string, args: readonly string[]): string {
  const r = sh(file, args);
  if (r.rc !== 0) throw new Error(`${displayCommand(file, args)}: rc=${r.rc}: ${r.stderr.trim()}`);
  return r.stdout;
}

/** A veth pair created inside namespace a (never in the root namespace): a.dev in a, b.dev in b, both up. */
export function vethBetween(a: { ns: string; dev: string }, b: { ns: string; dev: string }): void {
  must("ip", ["-n", a.ns, "link", "add", a.dev, "type", "veth", "peer", "name", b.dev, "netns", b.ns]);
  must("ip", ["-n", a.ns, "link", "set", a.dev, "up"]);
  must("ip", ["-n", b.ns, "link", "set", b.dev, "up"]);
}

export interface NsAddrRow {
  ifname: string;
  family: string;
  local: string;
  prefixlen: number;
  label?: string;
}

export interface NsLinkRow {
  ifname: string;
  ifindex: number;
  flags: string[];
  master?: string;
  address?: string;
  ifalias?: string;
  linkinfo?: { info_kind?: string };
  addr_info?: { family: string; local: string; prefixlen: number; label?: string }[];
}

/** `ip -n NS -d -j addr show` (all interfaces). */
export function nsLinksJ(ns: string): NsLinkRow[] {
  const out = must("ip", ["-n", ns, "-d", "-j", "addr", "show"]);
  return out.trim() ? (JSON.parse(out) as NsLinkRow[]) : [];
}

/** IPv4/IPv6 global addresses of a namespace (optionally of one device), from `ip -n NS -j addr show`. */
export function nsAddrs(ns: string, dev?: string): NsAddrRow[] {
  const out: NsAddrRow[] = [];
  for (const l of nsLinksJ(ns)) {
    if (dev && l.ifname !== dev) continue;
    for (const a of l.addr_info ?? []) {
      if (a.family === "inet6" && a.local.startsWith("fe80:")) continue;
      out.push({ ifname: l.ifname, family: a.family, local: a.local, prefixlen: a.prefixlen, ...(a.label ? { label: a.label } : {}) });
    }
  }
  return out;
}

/** `ip -n NS -j route show default`. */
export function nsDefaultRoutes(ns: string): { gateway?: string; dev?: string }[] {
  const out = must("ip", ["-n", ns, "-j", "route", "show", "default"]);
  return out.trim() ? (JSON.parse(out) as { gateway?: string; dev?: string }[]) : [];
}

/** One ping from inside a namespace: true when answered. */
export function nsPing(ns: string, ip: string): boolean {
  return sh("ip", ["netns", "exec", ns, "ping", "-c", "1", "-W", "1", ip]).rc === 0;
}

/** Interfaces and addresses of the host's own namespace, for "nothing leaked there" assertions. */
export function rootSnapshot(): { links: string[]; addrs: string[] } {
  const out = must("ip", ["-j", "addr", "show"]);
  const rows = JSON.parse(out) as NsLinkRow[];
  return {
    links: rows.map((l) => l.ifname).sort(),
    addrs: rows.flatMap((l) => (l.addr_info ?? []).map((a) => `${l.ifname} ${a.local}/${a.prefixlen}`)).sort(),
  };
}

/** Root-namespace leftovers of these tests: osvc veth host ends, or any of the given addresses. */
export function rootLeaks(addrs: readonly string[]): string[] {
  const snap = rootSnapshot();
  return [
    ...snap.links.filter((l) => /^osvc[0-9a-f]{8}h$/.test(l)),
    ...snap.addrs.filter((a) => addrs.some((x) => a.split(" ")[1]?.startsWith(`${x}/`))),
  ];
}

/** An Exec running every command inside namespace `ns` (`ip netns exec NS file args...`). */
export function nsExec(ns: string, record?: (command: string) => void): Exec {
  const base = createExec();
  return async (file, args, opts) => {
    const command = displayCommand(file, args);
    if (record && !opts?.quiet) record(command);
    const r = await base("ip", ["netns", "exec", ns, file, ...args], opts);
    // `ip netns exec` reports a missing program as rc 1: give the provider what Exec gives (127).
    const missing = r.exitCode !== 0 && /^exec of ".*" failed: No such file or directory/.test(r.stderr);
    const out: ExecResult = { ...r, command, ...(missing ? { exitCode: 127, stderr: `${file}: command not found` } : {}) };
    return out;
  };
}

/** A Provider/Probe context whose commands all run inside namespace `ns`. */
export function nsContext(ns: string, opts: { objectName?: string; varDir?: string; exec?: Exec } = {}): TestContext {
  return testContext({ ...opts, exec: (record) => opts.exec ?? nsExec(ns, record) });
}

/** A process sleeping inside namespace `ns` (registered for cleanup): its /proc/PID/ns/net stands for a container's. */
export async function sleeperIn(ns: string): Promise<number> {
  // nsenter --net: no mount namespace of its own (ip netns exec would copy, and pin, every mount of that moment).
  const child = spawn("nsenter", [`--net=/run/netns/${ns}`, "sleep", "600"], { stdio: "ignore", detached: false });
  const pid = child.pid;
  if (!pid) throw new Error("cannot spawn a sleeper");
  child.unref();
  netnsCleanup.pids.push(pid);
  // nsenter execs sleep in place: same pid. Wait until it is in the namespace.
  const want = spawnSync("stat", ["-L", "-c", "%i", `/run/netns/${ns}`], { encoding: "utf8" }).stdout.trim();
  for (let i = 0; i < 100; i++) {
    const got = spawnSync("stat", ["-L", "-c", "%i", `/proc/${pid}/ns/net`], { encoding: "utf8" }).stdout.trim();
    if (got && got === want) return pid;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`sleeper ${pid} did not enter ${ns}`);
}

/** Runs `node -e SCRIPT ARGS...` inside namespace `ns` (a whole osvc-like process there). */
export function runNodeInNetns(ns: string, script: string, args: readonly string[] = [], cwd?: string): { rc: number; stdout: string; stderr: string } {
  const r = spawnSync("ip", ["netns", "exec", ns, process.execPath, "--input-type=module", "-e", script, "--", ...args], {
    encoding: "utf8",
    cwd,
    timeout: 60_000,
  });
  return { rc: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}
