// container.docker against a private dockerd (host-environment §5): data-root, exec-root, pidfile,
// config and trust key in a temp dir, no bridge, no iptables, no ip_forward change; the driver
// reaches it through docker_host. The image is imported from a local busybox tarball.
import { existsSync, mkdtempSync, realpathSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { containerDockerProvider as P } from "../../providers/container-docker/provider.js";
import { ProviderError } from "../../src/provider/api.js";
import type { HostNetSnapshot, PrivateDockerd } from "../helpers/containers.js";
import {
  baseKw,
  buildBusyboxTar,
  containerNames,
  defineContainerSuite,
  hostNetSnapshot,
  importImage,
  inspectContainer,
  netnsOf,
  removeContainers,
  removeImage,
  startPrivateDockerd,
  uniq,
} from "../helpers/containers.js";
import { forceCleanup, probeOne, res, testContext } from "../helpers/host.js";

describe("container.docker on a private dockerd", () => {
  let dir = "";
  let dockerd: PrivateDockerd | undefined;
  let image = "";
  let netBefore: HostNetSnapshot;
  let etcDockerBefore = false;

  beforeAll(async () => {
    netBefore = hostNetSnapshot();
    etcDockerBefore = existsSync("/etc/docker/key.json");
    dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), "osvc-docker-")));
    dockerd = await startPrivateDockerd(dir);
    image = `osvc-e2e-busybox:${uniq()}`;
    importImage(dockerd.cli, buildBusyboxTar(dir), image);
  });

  afterAll(async () => {
    const problems: string[] = [];
    if (dockerd) {
      problems.push(...removeImage(dockerd.cli, image));
      problems.push(...(await dockerd.stop()));
    }
    if (dir) problems.push(...forceCleanup([dir]));
    expect(problems).toEqual([]);
    expect(existsSync("/etc/docker/key.json")).toBe(etcDockerBefore);
    expect(hostNetSnapshot()).toEqual(netBefore);
  });

  defineContainerSuite({
    driver: "container.docker",
    provider: P,
    cli: () => dockerd!.cli,
    image: () => image,
    kw: () => ({ docker_host: dockerd!.host }),
    varDir: () => dir,
  });

  it("re-creates a stopped container whose netns container was replaced (docker keeps the old id)", async () => {
    const cli = dockerd!.cli;
    const ctx = testContext({ varDir: dir, objectName: `ce2e-${uniq()}` });
    const kw = (extra = {}) => baseKw(image, { docker_host: dockerd!.host, ...extra });
    const r0 = res("container#0", "container.docker", kw());
    const r1 = res("container#1", "container.docker", kw({ netns: "container#0" }));
    const [n0, n1] = [0, 1].map((i) => `${ctx.objectName}.container.${i}`);
    try {
      const a0 = await P.start(ctx, r0);
      const a1 = await P.start(ctx, r1);
      expect(inspectContainer(cli, n1)!.HostConfig.NetworkMode).toBe(`container:${a0.container_id}`);
      await P.stop(ctx, r1);
      // container#0 replaced (a new container, new id) while container#1 is stopped
      await P.unprovision(ctx, r0);
      const b0 = await P.start(ctx, r0);
      expect(b0.container_id).not.toBe(a0.container_id);
      const b1 = await P.start(ctx, r1);
      expect(b1.container_id).not.toBe(a1.container_id);
      expect(ctx.logs.some((l) => /no longer exists: re-creating it/.test(l.message))).toBe(true);
      expect(netnsOf(b1.pid as number)).toBe(netnsOf(b0.pid as number));
      await P.unprovision(ctx, r1);
      await P.unprovision(ctx, r0);
      expect(containerNames(cli)).not.toContain(n0);
    } finally {
      removeContainers(cli, [n1, n0]);
    }
  });

  it("says clearly when the daemon cannot be reached", async () => {
    const ctx = testContext({ varDir: dir, objectName: `ce2e-${uniq()}` });
    const r = res("container#0", "container.docker", baseKw(image, { docker_host: `unix://${dir}/nobody-here.sock` }));
    const err = await probeOne(P, ctx, r).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    expect((err as ProviderError).message).toMatch(/cannot reach the docker daemon \(docker, DOCKER_HOST=unix:\/\/.*nobody-here\.sock\)/);
    await expect(P.start(ctx, res("container#0", "container.docker", baseKw(image, { docker_host: "/not/a/url" })))).rejects.toThrow(/not a daemon address/);
  });

  it("refuses netns = ns:PATH (docker cannot join a namespace by path)", async () => {
    const ctx = testContext({ varDir: dir, objectName: `ce2e-${uniq()}` });
    const r = res("container#0", "container.docker", baseKw(image, { docker_host: dockerd!.host, netns: "ns:/run/netns/x" }));
    await expect(P.start(ctx, r)).rejects.toThrow(/docker cannot join a namespace by path/);
    expect(containerNames(dockerd!.cli)).not.toContain(`${ctx.objectName}.container.0`);
  });

  it("left the host network untouched so far", () => {
    expect(hostNetSnapshot()).toEqual(netBefore);
  });
});
