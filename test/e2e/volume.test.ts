// Volumes from pools, on the real host (issue 11, item 3): a service's [volume#0] creates a vol
// object from a loop or directory pool of the node config, claims it and mounts it; the service
// writes through {volume#0.mnt}; unprovision releases the claim and keeps the data; provision
// again finds it; purge of the vol is refused while claimed, then destroys image, loop device and
// mount. The vol configs the pools write are golden files.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildBusyboxTar, importImage, inspectContainer, makeCli, removeContainers, removeImage, writeTestContainersConf, type Cli } from "../helpers/containers.js";
import { golden } from "../helpers/golden.js";
import { ROOT, runCli } from "../helpers/cli.js";
import { loopsBackedBy, mountsUnder, sandbox, show, type Sandbox } from "../helpers/e2e.js";
import { findmnt } from "../helpers/host.js";

const NS = "voltest";

function uniq(prefix: string): string {
  return `${prefix}${process.pid.toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/** The service: a volume and an app-less directory on it, through {volume#0.mnt}. */
function service(volumeKw: string): string {
  return `[volume#0]\n${volumeKw}\n\n[fs#1]\ntype = directory\npath = {volume#0.mnt}/www\n`;
}

async function ok(sb: Sandbox, args: readonly string[]): Promise<string> {
  const r = await sb.osvc(args);
  expect(r.code, show(r)).toBe(0);
  return r.stdout;
}

/** A vol config with the sandbox's paths and the run's names made stable, for the golden file. */
function stable(text: string, sb: Sandbox, svc: string, vol: string): string {
  return text.split(sb.dir).join("<sandbox>").split(vol).join("<vol>").split(svc).join("<svc>").replace(/^id = [0-9a-f-]{36}$/m, "id = <uuid>");
}

async function lifecycle(sb: Sandbox, poolType: "loop" | "directory"): Promise<void> {
  const svc = uniq("vs");
  const object = `${NS}/svc/${svc}`;
  const volName = `${svc}-vol-0`;
  const vol = `${NS}/vol/${volName}`;
  const poolDir = sb.at(`pool-${poolType}`);
  mkdirSync(sb.root, { recursive: true });
  writeFileSync(path.join(sb.root, "node.conf"), `[pool#p${poolType}]\ntype = ${poolType}\npath = ${poolDir}\n${poolType === "loop" ? "mkfs_opt = -m 0\nmnt_opt = noatime\n" : ""}`);
  const tpl = sb.write(`${svc}.conf`, service(`pool = p${poolType}\nsize = 24m`));
  await ok(sb, [object, "create", "--config", tpl]);
  await ok(sb, [object, "provision", "--local"]);

  // The vol the pool wrote: its config (golden), claimed by the service.
  const volConfig = await ok(sb, [vol, "print", "config"]);
  golden(path.join(ROOT, `fixtures/volumes/${poolType}-pool.conf`), stable(volConfig, sb, svc, volName));
  expect(volConfig).toContain(`children = ${object}`);
  const mnt = path.join(poolDir, `${volName}.${NS}.vol`);
  const image = `${mnt}.img`;
  if (poolType === "loop") {
    expect(findmnt(mnt)?.fstype).toBe("ext4");
    expect(loopsBackedBy(image)).toHaveLength(1);
  } else {
    expect(existsSync(mnt)).toBe(true);
  }

  // {volume#0.mnt} resolved: the service's directory is on the volume; data written there.
  expect(existsSync(path.join(mnt, "www"))).toBe(true);
  writeFileSync(path.join(mnt, "www", "index.html"), "kept\n");

  // Re-plan: nothing to do.
  const again = await ok(sb, [object, "provision", "--local"]);
  expect(again).toMatch(/nothing to provision/);
  const status = JSON.parse(await ok(sb, [object, "print", "status", "--format", "json", "--local"])) as { avail: string };
  expect(status.avail).toBe("up");

  // stop/start the service: the vol stops (unmounted, detached) and starts again, claim kept.
  await ok(sb, [object, "stop", "--local"]);
  if (poolType === "loop") {
    expect(findmnt(mnt)).toBeFalsy();
    expect(loopsBackedBy(image)).toEqual([]);
  }
  // (a directory pool's vol has nothing to stop: its directory stays)
  expect(JSON.parse(await ok(sb, [vol, "print", "status", "--format", "json", "--local"])).avail).toBe(poolType === "loop" ? "down" : "up");
  await ok(sb, [object, "start", "--local"]);
  if (poolType === "loop") expect(findmnt(mnt)?.fstype).toBe("ext4");
  expect(JSON.parse(await ok(sb, [vol, "print", "status", "--format", "json", "--local"])).avail).toBe("up");
  expect(readFileSync(path.join(mnt, "www", "index.html"), "utf8")).toBe("kept\n");

  // The vol cannot be purged while the service claims it.
  const refused = await sb.osvc([vol, "purge", "--local"]);
  expect(refused.code, show(refused)).toBe(1);
  expect(refused.stderr).toMatch(new RegExp(`${vol} is claimed by ${object}`));
  const refusedU = await sb.osvc([vol, "unprovision", "--local"]);
  expect(refusedU.code, show(refusedU)).toBe(1);
  expect(refusedU.stderr).toMatch(/unprovisioning it would destroy the data they use/);
  expect(readFileSync(path.join(mnt, "www", "index.html"), "utf8")).toBe("kept\n");

  // Unprovision: unclaimed and stopped; the data stays (the image, or the directory).
  const unprov = await ok(sb, [object, "unprovision", "--local"]); // www holds data: kept
  expect(unprov).toMatch(/unclaimed/);
  expect(await ok(sb, [vol, "print", "config"])).not.toMatch(/children/);
  expect(mountsUnder(poolDir)).toEqual([]);
  if (poolType === "loop") {
    expect(loopsBackedBy(image)).toEqual([]);
    expect(existsSync(image)).toBe(true);
  }

  // Provision again: the same vol, the data is still there.
  await ok(sb, [object, "provision", "--local"]);
  expect(readFileSync(path.join(mnt, "www", "index.html"), "utf8")).toBe("kept\n");
  expect(await ok(sb, [vol, "print", "config"])).toContain(`children = ${object}`);

  // Purge the service (unclaims), then the vol: nothing left (no image, loop device or mount).
  await ok(sb, [object, "purge", "--local"]);
  await ok(sb, [vol, "purge", "--local"]);
  expect(mountsUnder(poolDir)).toEqual([]);
  expect(loopsBackedBy(image)).toEqual([]);
  expect(existsSync(image)).toBe(false);
  expect(existsSync(mnt)).toBe(false);
  expect((await sb.osvc([vol, "print", "config"])).code).toBe(1);
}

describe("volumes from pools (real host)", () => {
  it("loop pool: data survives unprovision + provision; purge leaves no image, loop or mount", async (ctx) => {
    await lifecycle(sandbox(ctx, "osvc-vol-"), "loop");
  }, 180_000);

  it("directory pool: the same", async (ctx) => {
    await lifecycle(sandbox(ctx, "osvc-vol-"), "directory");
  }, 180_000);

  it("the implicit default pool; osvc pool ls shows pools with size and free space; bad pool config is positioned", async (ctx) => {
    const sb = sandbox(ctx, "osvc-vol-");
    const svc = uniq("vd");
    const object = `${NS}/svc/${svc}`;
    const tpl = sb.write(`${svc}.conf`, service("size = 1m"));
    await ok(sb, [object, "create", "--config", tpl]);
    await ok(sb, [object, "provision", "--local"]);
    const vol = `${NS}/vol/${svc}-vol-0`;
    expect(await ok(sb, [vol, "print", "config"])).toContain("pool = default");
    expect(existsSync(path.join(sb.root, "pool/directory", `${svc}-vol-0.${NS}.vol`, "www"))).toBe(true);

    writeFileSync(path.join(sb.root, "node.conf"), `[pool#fast]\ntype = loop\npath = ${sb.at("fast")}\n`);
    const ls = JSON.parse(await ok(sb, ["pool", "ls", "--format", "json"])) as { name: string; type: string; path: string; size: number; free: number; volumes: string[] }[];
    expect(ls.map((p) => [p.name, p.type])).toEqual([["default", "directory"], ["fast", "loop"]]);
    expect(ls[0].volumes).toEqual([vol]);
    for (const p of ls) expect(p.size).toBeGreaterThan(p.free);
    const text = await ok(sb, ["pool", "ls"]);
    expect(text).toMatch(/^NAME\s+TYPE\s+PATH\s+VOLS\s+SIZE\s+FREE$/m);
    expect(text).toMatch(/^fast\s+loop\s+\S+\s+0\s+\d/m);

    writeFileSync(path.join(sb.root, "node.conf"), `[pool#fast]\ntype = lop\npath = ${sb.at("fast")}\n`);
    const bad = await sb.osvc(["pool", "ls"]);
    expect(bad.code, show(bad)).toBe(1);
    expect(bad.stderr).toMatch(/node\.conf:2:8/);
    expect(bad.stderr).toMatch(/unknown pool type "lop"/);
    expect(bad.stderr).toMatch(/loop/);
    // validate (no host): the node config's pools, and the pool a volume names.
    const badTpl = sb.write("badpool.conf", "[volume#0]\npool = fasst\nsize = 1m\n");
    const v = runCli(["validate", badTpl, "--node-config", path.join(sb.root, "node.conf")]);
    expect(v.code, show(v)).toBe(1);
    expect(v.stderr).toMatch(/node\.conf:2:8: error E6202/);
    expect(v.stderr).toMatch(/badpool\.conf:2:8: warning W2041: volume#0: no pool "fasst"/);

    await ok(sb, [object, "purge", "--local"]);
    await ok(sb, [vol, "purge", "--local"]);
    expect(existsSync(path.join(sb.root, "pool/directory", `${svc}-vol-0.${NS}.vol`))).toBe(false);
  }, 180_000);
});

describe("a raw volume (format = false)", () => {
  it("{volume#0.exposed_devs[0]} resolves to the vol's loop device: the service formats and mounts it", async (ctx) => {
    const sb = sandbox(ctx, "osvc-vol-");
    const svc = uniq("vr");
    const object = `${NS}/svc/${svc}`;
    const vol = `${NS}/vol/${svc}-vol-0`;
    mkdirSync(sb.root, { recursive: true });
    writeFileSync(path.join(sb.root, "node.conf"), `[pool#raw]\ntype = loop\npath = ${sb.at("raw")}\n`);
    const tpl = sb.write(`${svc}.conf`, `[volume#0]\nsize = 24m\nformat = false\n\n[fs#1]\ntype = ext4\ndev = {volume#0.exposed_devs[0]}\nmnt = ${sb.at("mnt")}\n`);
    await ok(sb, [object, "create", "--config", tpl]);
    await ok(sb, [object, "provision", "--local"]);
    const image = path.join(sb.at("raw"), `${svc}-vol-0.${NS}.vol.img`);
    const [dev] = loopsBackedBy(image);
    expect(dev).toMatch(/^\/dev\/loop\d+$/);
    expect(findmnt(sb.at("mnt"))?.source).toBe(dev);
    const volConfig = await ok(sb, [vol, "print", "config"]);
    expect(volConfig).not.toMatch(/\[fs#/);
    expect(volConfig).toContain("pool = raw");
    expect(await ok(sb, [object, "provision", "--local"])).toMatch(/nothing to provision/);
    await ok(sb, [object, "purge", "--local"]);
    await ok(sb, [vol, "purge", "--local"]);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(loopsBackedBy(image)).toEqual([]);
    expect(existsSync(image)).toBe(false);
  }, 180_000);
});

describe("containers: volume_mounts = <volname>/<sub>:/dst", () => {
  const tag = `localhost/osvc-t-vol-busybox:${uniq("t")}`;
  let podman: Cli;
  let dir = "";

  beforeAll(() => {
    dir = realpathSync(mkdtempSync(path.join(os.tmpdir(), "osvc-vol-img-")));
    podman = makeCli("podman", { CONTAINERS_CONF: writeTestContainersConf(dir) });
    importImage(podman, buildBusyboxTar(dir), tag);
  }, 120_000);

  afterAll(() => {
    if (podman) expect(removeImage(podman, tag)).toEqual([]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("resolve to the vol's mount point: what the container writes lands on the volume", async (ctx) => {
    const sb = sandbox(ctx, "osvc-vol-");
    const svc = uniq("vc");
    const object = `${NS}/svc/${svc}`;
    const vol = `${NS}/vol/${svc}-vol-0`;
    const container = `${NS}..${svc}.container.0`;
    ctx.onTestFinished(() => {
      expect(removeContainers(podman, [container])).toEqual([]);
    });
    mkdirSync(sb.root, { recursive: true });
    writeFileSync(path.join(sb.root, "node.conf"), `[pool#lp]\ntype = loop\npath = ${sb.at("lp")}\n`);
    const tpl = sb.write(
      `${svc}.conf`,
      `[volume#0]\npool = lp\nsize = 24m\n\n[fs#1]\ntype = directory\npath = {volume#0.mnt}/sub\n\n` +
        `[container#0]\ntype = podman\nimage = ${tag}\ncommand = /bin/sh -c "echo from-container > /data/out.txt; exec sleep 600"\nvolume_mounts = ${svc}-vol-0/sub:/data\n`,
    );
    await ok(sb, [object, "create", "--config", tpl]);
    await ok(sb, [object, "provision", "--local"]);
    const mnt = path.join(sb.at("lp"), `${svc}-vol-0.${NS}.vol`);
    expect(findmnt(mnt)?.fstype).toBe("ext4");
    const out = path.join(mnt, "sub", "out.txt");
    for (let i = 0; i < 100 && !existsSync(out); i++) await new Promise((r) => setTimeout(r, 100));
    expect(readFileSync(out, "utf8")).toBe("from-container\n");
    expect(inspectContainer(podman, container)?.State.Running).toBe(true);
    expect(await ok(sb, [object, "provision", "--local"])).toMatch(/nothing to provision/);

    // A source that is not a volume name nor an absolute path: refused, with the form to use.
    const bad = sb.write("bad.conf", `[container#0]\ntype = podman\nimage = ${tag}\nvolume_mounts = ../x:/data\n`);
    const r = await sb.osvc(["apply", bad, "--path", `${NS}/svc/${svc}x`, "--auto-approve"]);
    expect(r.code, show(r)).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/volume_mounts "\.\.\/x:\/data": the source must be an absolute host path or <volname>\[\/<sub>\]/);

    await ok(sb, [object, "purge", "--local", "--allow-destroy", "fs#1"]);
    expect(inspectContainer(podman, container)).toBeUndefined();
    await ok(sb, [vol, "purge", "--local"]);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(loopsBackedBy(`${mnt}.img`)).toEqual([]);
  }, 240_000);
});
