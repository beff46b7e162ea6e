// Helpers for the container driver tests (host-environment §5): a busybox image imported from a
// local tarball (no registry), the podman/docker CLIs for independent checks, a private dockerd,
// and snapshots of the host settings a container engine could change behind our back.
import { spawn, spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdirSync, openSync, closeSync, readFileSync, readdirSync, readlinkSync, rmdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, expect, it } from "vitest";
import type { KwValue } from "../../src/core/value.js";
import { ProviderError } from "../../src/provider/api.js";
import type { Provider } from "../../src/provider/api.js";
import { createExec, displayCommand } from "../../src/provider/exec.js";
import { tracedExec, writesUnder } from "./fstrace.js";
import { cleanup, makeTempDir, probeOne, res, testContext } from "./host.js";
import { alive } from "./proc.js";

export interface CliResult {
  rc: number;
  stdout: string;
  stderr: string;
}

/** A container CLI with its environment (CONTAINERS_CONF / DOCKER_HOST), for independent checks. */
export interface Cli {
  readonly bin: "podman" | "docker";
  readonly env: Record<string, string>;
  run(args: readonly string[], timeoutMs?: number): CliResult;
}

export interface Inspected {
  Id: string;
  Name: string;
  State: { Status: string; Running: boolean; Pid: number; ExitCode: number };
  HostConfig: { NetworkMode: string };
  Config: { Hostname: string; Labels: Record<string, string> | null; Env: string[] | null; User: string; WorkingDir: string };
}

export function makeCli(bin: "podman" | "docker", env: Record<string, string>): Cli {
  return {
    bin,
    env,
    run(args, timeoutMs = 60_000) {
      const r = spawnSync(bin, [...args], { encoding: "utf8", env: { ...process.env, ...env }, timeout: timeoutMs });
      return { rc: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? String(r.error ?? "") };
    },
  };
}

/** `container inspect NAME`, or undefined when there is no such container. */
export function inspectContainer(cli: Cli, name: string): Inspected | undefined {
  const r = cli.run(["container", "inspect", name]);
  if (r.rc !== 0) return undefined;
  return (JSON.parse(r.stdout) as Inspected[])[0];
}

/** Names of every container (`ps -a`). */
export function containerNames(cli: Cli): string[] {
  const r = cli.run(["ps", "-a", "--format", "{{.Names}}"]);
  if (r.rc !== 0) throw new Error(`${cli.bin} ps -a: ${r.stderr}`);
  return r.stdout
    .split("\n")
    .flatMap((l) => l.split(/[ ,]/))
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Removes containers by name, dependents first (the order given); returns the problems met. */
export function removeContainers(cli: Cli, names: readonly string[]): string[] {
  const problems: string[] = [];
  for (const n of names) {
    if (!inspectContainer(cli, n)) continue;
    const r = cli.run(["rm", "-f", n]);
    if (r.rc !== 0 && inspectContainer(cli, n)) problems.push(`${cli.bin} rm -f ${n}: ${r.stderr.trim()}`);
  }
  return problems;
}

/** The network namespace of a process, as `readlink /proc/PID/ns/net` prints it. */
export function netnsOf(pid: number | string): string {
  return readlinkSync(`/proc/${pid}/ns/net`);
}

/** A busybox rootfs tarball (2 MB) built from the host's static /bin/busybox. */
export function buildBusyboxTar(dir: string): string {
  const busybox = ["/bin/busybox", "/usr/bin/busybox"].find((p) => existsSync(p));
  if (!busybox) throw new Error("busybox not found: apt-get install busybox-static");
  const root = path.join(dir, "rootfs");
  for (const d of ["bin", "etc", "tmp", "proc", "sys", "dev", "root", "data"]) mkdirSync(path.join(root, d), { recursive: true });
  chmodSync(path.join(root, "tmp"), 0o1777);
  copyFileSync(busybox, path.join(root, "bin", "busybox"));
  chmodSync(path.join(root, "bin", "busybox"), 0o755);
  for (const a of ["sh", "ls", "cat", "sleep", "echo", "hostname", "id", "pwd", "env", "touch", "true", "false", "readlink"]) {
    symlinkSync("busybox", path.join(root, "bin", a));
  }
  writeFileSync(path.join(root, "etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n");
  writeFileSync(path.join(root, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
  const tar = path.join(dir, "busybox.tar");
  const r = spawnSync("tar", ["-C", root, "-cf", tar, "."], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`tar: ${r.stderr}`);
  return tar;
}

/** Imports the tarball as a local image (`import --change CMD`), never touching a registry. */
export function importImage(cli: Cli, tar: string, tag: string): void {
  const r = cli.run(["import", "--change", 'CMD ["/bin/sh"]', tar, tag]);
  if (r.rc !== 0) throw new Error(`${cli.bin} import: ${r.stderr}`);
}

export function removeImage(cli: Cli, tag: string): string[] {
  const r = cli.run(["rmi", "-f", tag]);
  return r.rc === 0 || /no such image|image not known|not found/i.test(r.stderr) ? [] : [`${cli.bin} rmi ${tag}: ${r.stderr.trim()}`];
}

/** A containers.conf for the tests' own podman calls (the settings of host-environment §5). */
export function writeTestContainersConf(dir: string): string {
  const f = path.join(dir, "containers.conf");
  // network_config_dir: podman 4 makes /etc/containers/networks at every start-up otherwise.
  const networks = path.join(dir, "networks");
  writeFileSync(f, `[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n[engine]\nruntime = "runc"\n[network]\nnetwork_backend = "netavark"\nnetwork_config_dir = ${JSON.stringify(networks)}\n`);
  return f;
}

/**
 * What a container engine could change on the host: ip_forward, its bridges (podman0, cni-podman0,
 * docker0, br-*: only those, other tests may add links of their own meanwhile), /etc/containers
 * and /etc/docker.
 */
export interface HostNetSnapshot {
  ipForward: string;
  engineLinks: string[];
  etcContainers: string[];
  etcDocker: string[];
}

function treeListing(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let entries: string[];
    try {
      entries = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const e of entries) {
      const p = path.join(d, e);
      const st = statSync(p, { throwIfNoEntry: false });
      if (!st) continue;
      out.push(`${p} ${st.isDirectory() ? "d" : st.size} ${st.mtimeMs}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out;
}

export function hostNetSnapshot(): HostNetSnapshot {
  const engineLinks = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" })
    .stdout.split("\n")
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1])
    .filter((x): x is string => Boolean(x) && /^(podman\d+|cni-podman\d+|docker\d+|br-[0-9a-f]{12})$/.test(x!))
    .sort();
  return {
    ipForward: readFileSync("/proc/sys/net/ipv4/ip_forward", "utf8").trim(),
    engineLinks,
    etcContainers: treeListing("/etc/containers"),
    etcDocker: treeListing("/etc/docker"),
  };
}

/** A unique suffix for names and tags. */
export function uniq(): string {
  return `${process.pid}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
}

// ---------------------------------------------------------------------------------------------
// A private dockerd (host-environment §5)

export interface PrivateDockerd {
  readonly host: string;
  readonly pid: number;
  readonly cli: Cli;
  /** Stops the daemon (TERM, then KILL) and removes the /run leftovers it created; returns problems. */
  stop(): Promise<string[]>;
}

const RUN_LEFTOVERS = ["/run/docker/plugins", "/run/docker", "/run/containerd/s", "/run/containerd"];

/** Pids of live processes whose command line mentions `text` (this daemon's dir). */
function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/cmdline`, "utf8").includes(text)) out.push(Number(e));
    } catch {
      /* exited */
    }
  }
  return out;
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));

/**
 * Starts dockerd with everything under `dir` (data-root, exec-root, pidfile, config, trust key:
 * nothing in /etc or /var/lib), no bridge, no iptables, no ip_forward change.
 */
export async function startPrivateDockerd(dir: string): Promise<PrivateDockerd> {
  const existedBefore = new Set(RUN_LEFTOVERS.filter((p) => existsSync(p)));
  const sock = path.join(dir, "docker.sock");
  const config = path.join(dir, "daemon.json");
  // The trust key goes to /etc/docker/key.json unless the config file says otherwise.
  writeFileSync(config, JSON.stringify({ "deprecated-key-path": path.join(dir, "key.json") }));
  const logFd = openSync(path.join(dir, "dockerd.log"), "a");
  const child = spawn(
    "dockerd",
    [
      "--config-file", config,
      "--host", `unix://${sock}`,
      "--data-root", path.join(dir, "data"),
      "--exec-root", path.join(dir, "exec"),
      "--pidfile", path.join(dir, "docker.pid"),
      "--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-forward=false", "--ip-masq=false",
    ],
    { detached: true, stdio: ["ignore", logFd, logFd] },
  );
  closeSync(logFd);
  child.unref();
  const pid = child.pid ?? -1;
  const host = `unix://${sock}`;
  const cli = makeCli("docker", { DOCKER_HOST: host });
  const stop = async (): Promise<string[]> => {
    const problems: string[] = [];
    if (pid > 0 && alive(pid)) {
      process.kill(pid, "SIGTERM");
      for (let i = 0; i < 150 && alive(pid); i++) await sleep(100);
      if (alive(pid)) {
        problems.push(`dockerd ${pid} ignored SIGTERM for 15 s: killed`);
        process.kill(pid, "SIGKILL");
        for (let i = 0; i < 50 && alive(pid); i++) await sleep(100);
      }
    }
    // containerd shims of this daemon exit on their own shortly after it; wait for them (then kill).
    for (let i = 0; i < 100 && processesMentioning(dir).length > 0; i++) await sleep(100);
    for (const p of processesMentioning(dir)) {
      problems.push(`process ${p} of the private dockerd still running after 10 s: killed`);
      try {
        process.kill(p, "SIGKILL");
      } catch {
        /* gone meanwhile */
      }
    }
    for (const p of RUN_LEFTOVERS) {
      if (existedBefore.has(p) || !existsSync(p)) continue;
      try {
        rmdirSync(p); // only when empty: another daemon may be using it meanwhile
      } catch {
        /* not empty: left alone */
      }
    }
    return problems;
  };
  const t0 = Date.now();
  for (;;) {
    if (cli.run(["version", "--format", "{{.Server.Version}}"], 5000).rc === 0) break;
    if (!alive(pid) || Date.now() - t0 > 20_000) {
      await stop();
      const log = existsSync(path.join(dir, "dockerd.log")) ? readFileSync(path.join(dir, "dockerd.log"), "utf8").split("\n").slice(-15).join("\n") : "";
      throw new Error(`private dockerd did not start:\n${log}`);
    }
    await sleep(100);
  }
  return { host, pid, cli, stop };
}

// ---------------------------------------------------------------------------------------------
// The scenario both drivers must pass (each test file adds engine-specific checks)

export interface SuiteOptions {
  readonly driver: "container.podman" | "container.docker";
  readonly provider: Provider;
  /** Available once the file's beforeAll ran. */
  cli(): Cli;
  image(): string;
  /** Extra keywords every resource gets (docker_host...). */
  kw(): Record<string, KwValue>;
  varDir(): string;
}

/** Keyword values as the engine passes them (defaults applied, durations in seconds). */
export function baseKw(image: string, extra: Record<string, KwValue> = {}): Record<string, KwValue> {
  return {
    image,
    image_pull_policy: "once",
    command: ["sleep", "300"],
    rm: false,
    detach: true,
    init: true,
    privileged: false,
    interactive: false,
    tty: false,
    read_only: false,
    pull_timeout: 120,
    start_timeout: 5,
    stop_timeout: 2,
    ...extra,
  };
}

export function defineContainerSuite(o: SuiteOptions): void {
  const P = o.provider;
  const created: string[] = [];
  const track = (...names: string[]) => created.push(...names);

  afterEach(() => {
    const problems = removeContainers(o.cli(), created.splice(0).reverse());
    expect([...problems, ...cleanup.run()]).toEqual([]);
  });

  const kw = (extra: Record<string, KwValue> = {}) => baseKw(o.image(), { ...o.kw(), ...extra });
  const newCtx = () => {
    const objectName = `ce2e-${uniq()}`;
    return testContext({ varDir: o.varDir(), objectName });
  };
  const count = (cmds: readonly string[], sub: string) => cmds.filter((c) => c.startsWith(`${o.cli().bin} ${sub}`)).length;

  it("runs, probes, shares a network namespace, stops, restarts and removes containers", async () => {
    const cli = o.cli();
    const ctx = newCtx();
    const n0 = `${ctx.objectName}.container.0`;
    const n1 = `${ctx.objectName}.container.1`;
    track(n0, n1);
    const r0 = res("container#0", o.driver, kw());
    const r1 = res("container#1", o.driver, kw({ netns: "container#0" }));

    const before = await P.probe(ctx, [r0, r1]);
    expect(before).toEqual([
      { provisioned: null, up: false, outputs: { name: n0 } },
      { provisioned: null, up: false, outputs: { name: n1 } },
    ]);

    // provision = run: running, in a network namespace of its own (none)
    ctx.reset();
    const out0 = await P.provision(ctx, r0);
    expect(out0).toMatchObject({ name: n0, container_id: expect.stringMatching(/^[0-9a-f]{64}$/), pid: expect.any(Number) });
    const pid0 = out0.pid as number;
    expect(out0.netns_path).toBe(`/proc/${pid0}/ns/net`);
    const run = ctx.commands.find((c) => c.startsWith(`${cli.bin} run `)) ?? "";
    expect(run).toContain(`--pull never --name ${n0}`);
    expect(run).toContain("--network none");
    expect(run).toContain("--init");
    expect(run).not.toContain("--rm");
    expect(run.endsWith(`${o.image()} sleep 300`)).toBe(true);
    // independent checks
    const i0 = inspectContainer(cli, n0)!;
    expect(i0.State).toMatchObject({ Status: "running", Running: true, Pid: pid0 });
    expect(i0.Id).toBe(out0.container_id);
    expect(i0.HostConfig.NetworkMode).toBe("none");
    expect(i0.Config.Labels).toMatchObject({ "osvc.object": ctx.objectName, "osvc.rid": "container#0" });
    expect(existsSync(`/proc/${pid0}`)).toBe(true);
    const ns0 = netnsOf(pid0);
    expect(ns0).not.toBe(netnsOf("self"));

    // start again: nothing to do
    ctx.reset();
    expect(await P.start(ctx, r0)).toEqual(out0);
    expect(count(ctx.commands, "run") + count(ctx.commands, "start")).toBe(0);

    // container#1 joins container#0's network namespace
    const out1 = await P.start(ctx, r1);
    expect(netnsOf(out1.pid as number)).toBe(ns0);
    expect(inspectContainer(cli, n1)!.HostConfig.NetworkMode).toMatch(/^container:/);

    // one batched probe: one listing, one inspect
    ctx.reset();
    const up = await P.probe(ctx, [r0, r1]);
    expect(up).toEqual([
      { provisioned: null, up: true, outputs: out0 },
      { provisioned: null, up: true, outputs: out1 },
    ]);
    expect(ctx.commands).toHaveLength(2);
    expect(count(ctx.commands, "ps")).toBe(1);
    expect(count(ctx.commands, "container inspect")).toBe(1);

    // stop (dependents first, as the engine orders them): down, kept
    await P.stop(ctx, r1);
    await P.stop(ctx, r0);
    expect(inspectContainer(cli, n0)!.State.Status).toMatch(/^(exited|stopped)$/);
    expect(inspectContainer(cli, n1)!.State.Running).toBe(false);
    const down = await P.probe(ctx, [r0, r1]);
    expect(down).toEqual([
      { provisioned: null, up: false, outputs: { name: n0, container_id: out0.container_id } },
      { provisioned: null, up: false, outputs: { name: n1, container_id: out1.container_id } },
    ]);
    ctx.reset();
    await P.stop(ctx, r0); // idempotent
    expect(count(ctx.commands, "stop")).toBe(0);

    // start again: the same containers, new processes, the namespace still shared
    ctx.reset();
    const again0 = await P.start(ctx, r0);
    const again1 = await P.start(ctx, r1);
    expect(count(ctx.commands, "run")).toBe(0);
    expect(again0.container_id).toBe(out0.container_id);
    expect(again1.container_id).toBe(out1.container_id);
    expect(inspectContainer(cli, n0)!.State.Running).toBe(true);
    expect(netnsOf(again1.pid as number)).toBe(netnsOf(again0.pid as number));
    expect((await P.probe(ctx, [r0, r1])).map((x) => x.up)).toEqual([true, true]);

    // unprovision: stopped and removed; again is a no-op
    await P.unprovision(ctx, r1);
    await P.unprovision(ctx, r0);
    const names = containerNames(cli);
    expect(names).not.toContain(n0);
    expect(names).not.toContain(n1);
    expect(await P.probe(ctx, [r0, r1])).toEqual([
      { provisioned: null, up: false, outputs: { name: n0 } },
      { provisioned: null, up: false, outputs: { name: n1 } },
    ]);
    await P.unprovision(ctx, r0);
  });

  it("changes no host configuration: no CLI call it makes writes under /etc or the home directory (strace)", async () => {
    const traced = tracedExec(o.cli().bin, makeTempDir("osvc-trace-"));
    const ctx = testContext({ varDir: o.varDir(), objectName: `ce2e-${uniq()}`, exec: traced.exec });
    const [n0, n1] = [0, 1].map((i) => `${ctx.objectName}.container.${i}`);
    track(n0, n1);
    const r0 = res("container#0", o.driver, kw());
    const r1 = res("container#1", o.driver, kw({ netns: "container#0" }));
    // The whole life of two containers: probe, run, share a namespace, stop, start, remove.
    expect((await P.probe(ctx, [r0, r1])).map((x) => x.up)).toEqual([false, false]);
    await P.start(ctx, r0);
    await P.start(ctx, r1);
    await P.stop(ctx, r1);
    await P.stop(ctx, r0);
    await P.start(ctx, r0);
    await P.start(ctx, r1);
    expect((await P.probe(ctx, [r0, r1])).map((x) => x.up)).toEqual([true, true]);
    await P.unprovision(ctx, r1);
    await P.unprovision(ctx, r0);
    expect(containerNames(o.cli()).filter((n) => n === n0 || n === n1)).toEqual([]);
    const calls = traced.calls();
    expect(traced.count()).toBeGreaterThan(10);
    // Not blind: the CLI's reads of its host configuration are seen (opens are all traced).
    expect(calls.some((c) => !c.write && c.path.startsWith("/etc/"))).toBe(true);
    // podman 4 opens (creating on a fresh host) /etc/containers/networks/netavark.lock at every
    // start-up unless containers.conf names another network_config_dir.
    expect(writesUnder(calls, ["/etc", os.homedir()]).map((c) => c.line)).toEqual([]);
  });

  it("honours a custom name, and netns = container#N finds that container by its osvc labels", async () => {
    const cli = o.cli();
    const ctx = newCtx();
    const custom = `${ctx.objectName}-db`;
    const n1 = `${ctx.objectName}.container.1`;
    track(custom, n1);
    const r0 = res("container#0", o.driver, kw({ name: custom }));
    const r1 = res("container#1", o.driver, kw({ netns: "container#0" }));
    const out0 = await P.start(ctx, r0);
    expect(out0.name).toBe(custom);
    expect(inspectContainer(cli, custom)?.State.Pid).toBe(out0.pid);
    const out1 = await P.start(ctx, r1);
    expect(netnsOf(out1.pid as number)).toBe(netnsOf(out0.pid as number));
    expect(ctx.commands.some((c) => c.includes(`--network container:${custom}`))).toBe(true);
    expect((await P.probe(ctx, [r0, r1])).map((x) => [x.up, x.outputs?.name])).toEqual([
      [true, custom],
      [true, n1],
    ]);
    await P.unprovision(ctx, r1);
    await P.unprovision(ctx, r0);
    expect(containerNames(cli).filter((n) => n === custom || n === n1)).toEqual([]);
  });

  it("fails fast on an image that is not present locally, without creating anything", async () => {
    const cli = o.cli();
    const ctx = newCtx();
    const name = `${ctx.objectName}.container.0`;
    track(name);
    const image = `localhost/osvc-no-such-image:${uniq()}`;
    const r = res("container#0", o.driver, kw({ image }));
    const [obs] = await P.probe(ctx, [r]);
    expect(obs.up).toBe(false);
    expect(obs.problems).toEqual([expect.objectContaining({ level: "warning", message: expect.stringMatching(/not present locally/) })]);
    const t0 = performance.now();
    const err = await P.start(ctx, r).then(
      () => undefined,
      (e: unknown) => e,
    );
    const ms = performance.now() - t0;
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).message).toMatch(new RegExp(`image "${image}" is not present locally.*never pulls`));
    expect((err as ProviderError).hint).toMatch(/load/);
    expect(ms).toBeLessThan(10_000);
    expect(containerNames(cli)).not.toContain(name);
  });

  it("passes hostname, environment, volume mounts, user, cwd and a multi-word entrypoint", async () => {
    const cli = o.cli();
    const ctx = newCtx();
    const name = `${ctx.objectName}.container.0`;
    track(name);
    const dir = makeTempDir();
    chmodSync(dir, 0o777);
    const r = res(
      "container#0",
      o.driver,
      kw({
        hostname: "ce2e-host",
        environment: ["FOO=bar baz", "X=1"],
        volume_mounts: [`${dir}:/data:rw`],
        cwd: "/data",
        user: "65534:65534",
        entrypoint: ["/bin/sh", "-c"],
        command: ['{ echo "$FOO"; hostname; pwd; id -u; } > out.txt; exec sleep 300'],
      }),
    );
    const out = await P.start(ctx, r);
    const file = path.join(dir, "out.txt");
    for (let i = 0; i < 50 && !(existsSync(file) && readFileSync(file, "utf8").split("\n").length >= 5); i++) await sleep(100);
    expect(readFileSync(file, "utf8")).toBe("bar baz\nce2e-host\n/data\n65534\n");
    expect(statSync(file).uid).toBe(65534);
    const i = inspectContainer(cli, name)!;
    expect(i.Config.Hostname).toBe("ce2e-host");
    expect(i.Config.Env).toEqual(expect.arrayContaining(["FOO=bar baz", "X=1"]));
    expect(i.State.Pid).toBe(out.pid);
    await P.unprovision(ctx, r);
    expect(containerNames(cli)).not.toContain(name);
  });

  it("passes configs_/secrets_environment through a private env file, never on the command line", async () => {
    const cli = o.cli();
    const base = newCtx();
    const ctx = { ...base, readData: async (kind: "cfg" | "sec", name: string, key: string) => Buffer.from(`${kind} ${name}/${key} value`) };
    const name = `${ctx.objectName}.container.0`;
    track(name);
    const r = res("container#0", o.driver, kw({ environment: ["PLAIN=1"], secrets_environment: ["PW=db/password"], configs_environment: ["MODE=app/mode"] }));
    await P.start(ctx, r);
    const env = inspectContainer(cli, name)!.Config.Env ?? [];
    expect(env).toEqual(expect.arrayContaining(["PLAIN=1", "PW=sec db/password value", "MODE=cfg app/mode value"]));
    const run = base.commands.find((c) => c.startsWith(`${cli.bin} run `)) ?? "";
    expect(run).toMatch(/--env-file \S+\.env/);
    expect(base.commands.join("\n")).not.toContain("db/password value");
    expect(existsSync(run.match(/--env-file (\S+)/)![1])).toBe(false); // removed right after the run
    await P.unprovision(ctx, r);
    // a malformed word, and a context without cfg/sec objects: clear errors, nothing run
    base.reset();
    await expect(P.start(ctx, res("container#0", o.driver, kw({ secrets_environment: ["PW=nokey"] })))).rejects.toThrow(/secrets_environment: "PW=\.\.\." is not VAR=<sec>\/<key>/);
    await expect(P.start(base, res("container#0", o.driver, kw({ configs_environment: ["MODE=app/mode"] })))).rejects.toThrow(/needs cfg objects/);
    expect(base.commands.filter((c) => c.startsWith(`${cli.bin} run `))).toEqual([]);
  });

  it("a container that exits at once fails the start with its last log lines, and is removed", async () => {
    const cli = o.cli();
    const objectName = `ce2e-${uniq()}`;
    const name = `${objectName}.container.0`;
    track(name);
    // On a loaded host osvc's first look may come before the shell in the container exited: then
    // the start rightly succeeds (it was running). To test the exited case every time, each
    // inspect osvc makes after its `run` waits until the engine reports the container ended.
    const base = createExec();
    let ran = false;
    const ctx = testContext({
      varDir: o.varDir(),
      objectName,
      exec: (record) => async (file, args, opts) => {
        if (!opts?.quiet) record(displayCommand(file, args));
        if (ran && file === cli.bin && args[0] === "container" && args[1] === "inspect") {
          for (let i = 0; i < 300 && /^(created|running|configured)$/.test(cli.run(["container", "inspect", "--format", "{{.State.Status}}", name]).stdout.trim()); i++) await sleep(100);
        }
        const out = await base(file, args, opts);
        if (file === cli.bin && args[0] === "run") ran = true;
        return out;
      },
    });
    const r = res("container#0", o.driver, kw({ command: ["sh", "-c", "echo boom-osvc >&2; exit 3"] }));
    const err = await P.start(ctx, r).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as Error).message).toMatch(/exited with code 3[\s\S]*boom-osvc/);
    expect(containerNames(cli)).not.toContain(name);
    expect(ctx.logs.some((l) => /removed the failed container/.test(l.message))).toBe(true);
  });

  it("rm = true: stop removes the container, start runs a new one", async () => {
    const cli = o.cli();
    const ctx = newCtx();
    const name = `${ctx.objectName}.container.0`;
    track(name);
    const r = res("container#0", o.driver, kw({ rm: true }));
    const out = await P.start(ctx, r);
    expect(inspectContainer(cli, name)?.State.Running).toBe(true);
    await P.stop(ctx, r); // returns once the engine removed it
    expect(containerNames(cli)).not.toContain(name);
    expect(await probeOne(P, ctx, r)).toEqual({ provisioned: null, up: false, outputs: { name } });
    const again = await P.start(ctx, r);
    expect(again.container_id).not.toBe(out.container_id);
    await P.unprovision(ctx, r);
    expect(containerNames(cli)).not.toContain(name);
  });
}
