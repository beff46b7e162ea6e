// container.podman against the real host: a busybox image imported from a local tarball, real
// containers, independent checks with `podman inspect` and /proc; the host network and
// /etc/containers must be left exactly as they were (no podman0, no ip_forward change).
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { buildRunArgs, defaultContainerName, parseDockerPs, parseInspect, parsePodmanPs, runArgsSetNetwork } from "../../providers/container-podman/oci.js";
import { containerPodmanProvider as P, defaultContainersConf } from "../../providers/container-podman/provider.js";
import { ProviderError } from "../../src/provider/api.js";
import type { Cli, HostNetSnapshot } from "../helpers/containers.js";
import {
  baseKw,
  buildBusyboxTar,
  containerNames,
  defineContainerSuite,
  hostNetSnapshot,
  importImage,
  inspectContainer,
  makeCli,
  removeImage,
  uniq,
  writeTestContainersConf,
} from "../helpers/containers.js";
import { BIN } from "../helpers/cli.js";
import { makeTempDir, res, sh, testContext } from "../helpers/host.js";

describe("container drivers: pure parts", () => {
  it("names containers <name>.<rid with # → .>, namespaced ones <ns>..<name>...", () => {
    expect(defaultContainerName("web", "container#0")).toBe("web.container.0");
    expect(defaultContainerName("root/svc/web", "container#1")).toBe("web.container.1");
    expect(defaultContainerName("prod/svc/web", "container#2")).toBe("prod..web.container.2");
  });

  it("builds run arguments: never pulls, none network by default, entrypoint split", () => {
    const r = res("container#1", "container.podman", {
      ...baseKw("localhost/img:1", { command: ["-c", "echo hi"], entrypoint: ["/bin/sh"] }),
      environment: ["A=1", "B=x y"],
      volume_mounts: ["/srv/a:/a:ro"],
      hostname: "h",
      user: "1:2",
      cwd: "/w",
      run_args: ["--cap-add", "NET_ADMIN"],
    });
    expect(buildRunArgs(r, "web.container.1", "web", {})).toEqual([
      "-d", "--pull", "never", "--name", "web.container.1", "--label", "osvc.object=web", "--label", "osvc.rid=container#1",
      "--network", "none", "--hostname", "h", "--init", "--user", "1:2", "--workdir", "/w",
      "--env", "A=1", "--env", "B=x y", "--volume", "/srv/a:/a:ro",
      "--entrypoint", "/bin/sh", "--cap-add", "NET_ADMIN", "--", "localhost/img:1", "-c", "echo hi",
    ]);
    const e2 = res("container#0", "container.podman", baseKw("i", { entrypoint: ["/bin/sh", "-c"], command: ["x"], init: false, rm: true }));
    expect(buildRunArgs(e2, "n", "o", { network: "container:other" }).slice(-6)).toEqual(["--entrypoint", "/bin/sh", "--", "i", "-c", "x"]);
    expect(buildRunArgs(e2, "n", "o", { network: "container:other" })).toEqual(expect.arrayContaining(["--network", "container:other", "--rm"]));
    expect(buildRunArgs(e2, "n", "o", {})).not.toContain("--init");
    // run_args choosing a network win over the default
    const bridge = res("container#0", "container.docker", baseKw("i", { run_args: ["--net=bridge", "-p", "80:80"] }));
    expect(runArgsSetNetwork(["--net=bridge"])).toBe(true);
    expect(runArgsSetNetwork(["--network", "x"])).toBe(true);
    expect(runArgsSetNetwork(["--netns"])).toBe(false);
    expect(buildRunArgs(bridge, "n", "o", {})).not.toContain("none");
    // template values add options, never operands: the image is always after `--`
    const hostile = res("container#0", "container.podman", baseKw("--help", {}));
    expect(() => buildRunArgs(hostile, "n", "o", {})).toThrow(/image: "--help" starts with "-"/);
    const operand = res("container#0", "container.podman", baseKw("i", { run_args: ["--rm", "other-image"] }));
    expect(() => buildRunArgs(operand, "n", "o", {})).toThrow(/run_args: "other-image" is not an option/);
  });

  it("parses podman and docker listings and inspect output", () => {
    expect(parsePodmanPs("[]")).toEqual([]);
    expect(parsePodmanPs('[{"Id":"abc","Names":["a"],"State":"running"}]')).toEqual([{ id: "abc", names: ["a"], state: "running" }]);
    expect(parseDockerPs('{"ID":"abc","Names":"a,b/c","State":"exited"}\n\n')).toEqual([{ id: "abc", names: ["a", "b/c"], state: "exited" }]);
    expect(parseDockerPs("")).toEqual([]);
    const [c] = parseInspect(
      JSON.stringify([
        {
          Id: "abc",
          Name: "/web.container.0",
          State: { Status: "running", Running: true, Pid: 42, ExitCode: 0, Error: "" },
          HostConfig: { NetworkMode: "container:def" },
          Config: { Labels: { "osvc.rid": "container#0" }, Image: "img:1" },
        },
      ]),
    );
    expect(c).toEqual({
      id: "abc",
      name: "web.container.0",
      status: "running",
      running: true,
      pid: 42,
      exitCode: 0,
      error: "",
      networkMode: "container:def",
      labels: { "osvc.rid": "container#0" },
      image: "img:1",
    });
  });

  it("writes a containers.conf within the node's hard limits, with a private network config dir", () => {
    const conf = defaultContainersConf({ nofileHard: 1024, nprocHard: 1e6, runc: true, netavark: false }, "/v/container.podman/networks");
    expect(conf).toContain('default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]');
    expect(conf).toContain('runtime = "runc"');
    expect(conf).not.toContain("network_backend");
    expect(conf).toMatch(/^\[network\]\nnetwork_config_dir = "\/v\/container.podman\/networks"$/m);
    expect(defaultContainersConf({ runc: false, netavark: true }, "/v/n")).not.toContain("runtime");
    // a TOML basic string: quotes and backslashes escaped
    expect(defaultContainersConf({ runc: false, netavark: true }, '/v/a"b\\c')).toContain('network_config_dir = "/v/a\\"b\\\\c"');
  });

  it("refuses what it cannot honour, before running anything", async () => {
    // A var dir of its own: the containers.conf osvc writes goes there (never a fixed /tmp path).
    const varDir = realpathSync(mkdtempSync(path.join(os.tmpdir(), "osvc-podman-refuse-")));
    onTestFinished(() => rmSync(varDir, { recursive: true, force: true }));
    const ctx = testContext({ varDir, objectName: `refuse-${uniq()}` });
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ detach: false }, /detach = false is not supported/],
      [{ volume_mounts: ["../sub:/d"] }, /absolute host path or <volname>/], // data/sub:/d names a volume now
      [{ name: "bad name" }, /invalid container name/],
      [{ containers_conf: "/nonexistent/containers.conf" }, /does not exist/],
    ];
    for (const [kw, re] of cases) {
      const r = res("container#0", "container.podman", { ...baseKw("localhost/x:1"), ...(kw as Record<string, never>) });
      await expect(P.start(ctx, r)).rejects.toThrow(re);
    }
    expect(ctx.commands.filter((c) => / run /.test(c))).toEqual([]);
  });
});

describe("container.podman on the host", () => {
  let dir = "";
  let cli: Cli;
  let image = "";
  let netBefore: HostNetSnapshot;

  beforeAll(() => {
    netBefore = hostNetSnapshot();
    dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), "osvc-podman-")));
    cli = makeCli("podman", { CONTAINERS_CONF: writeTestContainersConf(dir) });
    image = `localhost/osvc-e2e-busybox:${uniq()}`;
    importImage(cli, buildBusyboxTar(dir), image);
  });

  afterAll(() => {
    const problems = cli ? removeImage(cli, image) : [];
    if (dir) rmSync(dir, { recursive: true, force: true });
    expect(problems).toEqual([]);
    // The host network and /etc/containers as they were before the first podman call.
    expect(hostNetSnapshot()).toEqual(netBefore);
  });

  defineContainerSuite({
    driver: "container.podman",
    provider: P,
    cli: () => cli,
    image: () => image,
    kw: () => ({}),
    varDir: () => dir,
  });

  it("runs podman with the containers.conf it writes (runc, ulimits), or the one containers_conf names", async () => {
    const ctx = testContext({ varDir: dir, objectName: `ce2e-${uniq()}` });
    const r = res("container#0", "container.podman", baseKw(image));
    const name = `${ctx.objectName}.container.0`;
    try {
      await P.start(ctx, r);
      const conf = readFileSync(path.join(dir, "container.podman", "containers.conf"), "utf8");
      expect(conf).toMatch(/^runtime = "runc"$/m);
      // podman's network config (netavark.lock) in the var dir, not in /etc/containers/networks
      expect(conf).toContain(`network_config_dir = "${dir}/container.podman/networks"`);
      expect(existsSync(path.join(dir, "container.podman", "networks", "netavark.lock"))).toBe(true);
      expect(conf).toMatch(/^default_ulimits = \["nofile=\d+:\d+", "nproc=\d+:\d+"\]$/m);
      expect(inspectContainer(cli, name)).toMatchObject({ State: { Running: true } });
      const info = JSON.parse(cli.run(["container", "inspect", "--format", "{{json .OCIRuntime}}", name]).stdout) as string;
      expect(info).toBe("runc");
      await P.unprovision(ctx, r);
      // A containers_conf of the user's: used as is (here the test's own file).
      const own = res("container#0", "container.podman", baseKw(image, { containers_conf: cli.env.CONTAINERS_CONF }));
      const out = await P.start(ctx, own);
      expect(inspectContainer(cli, name)?.State.Pid).toBe(out.pid);
      await P.unprovision(ctx, own);
      expect(containerNames(cli)).not.toContain(name);
    } finally {
      cli.run(["rm", "-f", name]);
    }
  });

  it("unprovisioning a container others share refuses with a hint and removes nothing", async () => {
    const ctx = testContext({ varDir: dir, objectName: `ce2e-${uniq()}` });
    const r0 = res("container#0", "container.podman", baseKw(image));
    const r1 = res("container#1", "container.podman", baseKw(image, { netns: "container#0" }));
    const [n0, n1] = [0, 1].map((i) => `${ctx.objectName}.container.${i}`);
    try {
      await P.start(ctx, r0);
      await P.start(ctx, r1);
      const err = await P.unprovision(ctx, r0).then(
        () => undefined,
        (e: unknown) => e,
      );
      // podman refuses to remove a container others depend on; stop went through.
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).hint).toMatch(/unprovision them first/);
      expect(containerNames(cli)).toEqual(expect.arrayContaining([n0, n1]));
    } finally {
      cli.run(["rm", "-f", n1]);
      cli.run(["rm", "-f", n0]);
    }
  });

  it("refuses netns = container#N when that container does not exist", async () => {
    const ctx = testContext({ varDir: dir, objectName: `ce2e-${uniq()}` });
    const r1 = res("container#1", "container.podman", baseKw(image, { netns: "container#0" }));
    await expect(P.start(ctx, r1)).rejects.toThrow(/netns = container#0, but the container of container#0 does not exist/);
    expect(containerNames(cli)).not.toContain(`${ctx.objectName}.container.1`);
  });

  it("probe reports an invalid name as that resource's error, the others are probed", async () => {
    const ctx = testContext({ varDir: dir, objectName: `ce2e-${uniq()}` });
    const obs = await P.probe(ctx, [res("container#0", "container.podman", baseKw(image, { name: "bad name" })), res("container#1", "container.podman", baseKw(image))]);
    expect(obs[0]).toMatchObject({ provisioned: null, up: false, problems: [{ level: "error", message: expect.stringMatching(/invalid container name/) }] });
    expect(obs[1]).toEqual({ provisioned: null, up: false, outputs: { name: `${ctx.objectName}.container.1` } });
  });

  it("on a fresh host (no /etc/containers/networks) a plan creates nothing under /etc/containers", () => {
    // The fresh host: a private mount namespace where /etc/containers is a copy of the host's
    // without networks/ (the host's own /etc is never changed). osvc runs there; plan probes
    // through podman (ps, image exists), which is enough for podman to create its network config dir.
    const t = makeTempDir("osvc-podman-fresh-");
    const etc = path.join(t, "etc-containers");
    expect(sh("cp", ["-a", "/etc/containers", etc]).rc).toBe(0);
    rmSync(path.join(etc, "networks"), { recursive: true, force: true });
    const before = sh("find", [etc, "-printf", "%P %y %s %T@\n"]).stdout;
    const tpl = path.join(t, "fresh.conf");
    writeFileSync(tpl, `[container#0]\ntype = podman\nimage = ${image}\ncommand = sleep 300\n`);
    const name = `ce2e-fresh-${uniq()}`;
    const inFreshHost = (args: string[]) =>
      sh("unshare", ["-m", "--propagation", "private", "sh", "-c", 'mount --bind "$1" /etc/containers && shift && exec "$@"', "sh", etc, process.execPath, BIN, ...args, "--root", path.join(t, "root")]);
    const p = inFreshHost(["plan", tpl, "--path", name, "--color", "never"]);
    expect(p.rc, p.stderr + p.stdout).toBe(0);
    expect(p.stdout).toMatch(/> container#0 \(container\.podman\) will be started/);
    expect(p.stderr).not.toMatch(/not present locally/); // podman ran there, and found the image
    expect(sh("find", [etc, "-printf", "%P %y %s %T@\n"]).stdout).toBe(before);
    expect(existsSync(path.join(etc, "networks"))).toBe(false);
  });

  it("left the host network and /etc/containers untouched so far", () => {
    expect(hostNetSnapshot()).toEqual(netBefore);
  });
});
