// container.podman (and container.oci, which the catalog resolves to it): a podman container (opensvc-semantics §11.10,
// host-environment §5). The operations are shared with container.docker (./oci.ts).
//
// Runtime settings: every podman call runs with CONTAINERS_CONF pointing to a private
// containers.conf, so the host's /etc/containers is never changed. It is the `containers_conf`
// keyword when set, else a file osvc writes in the object's var dir with what these hosts need:
//   - network_config_dir = <var dir>/container.podman/networks: podman 4 opens (creates) its network
//     config dir and `netavark.lock` in it at every start-up, whatever the command (even `ps`): by
//     default that is /etc/containers/networks, which a fresh host does not have. Named networks
//     (podman network create) therefore live there too; name the host's in your own containers_conf;
//   - default_ulimits nofile/nproc at most the node's hard limits: podman's defaults are above them,
//     and without CAP_SYS_RESOURCE runc fails with "setrlimit RLIMIT_NOFILE: Operation not permitted";
//   - runtime = "runc" when runc is installed: crun fails on hybrid cgroup hierarchies;
//   - network_backend = "netavark" when installed (no CNI plugin warnings; osvc only uses the
//     none / container: / ns: / host network modes, never a bridge).
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ProviderError } from "../../src/provider/api.js";
import type { ProbeContext, Provider, ResourceSpec } from "../../src/provider/api.js";
import { firstExisting, ociProvider, parsePodmanPs } from "./oci.js";
import type { OciEngine } from "./oci.js";
import { containerPodmanSpec } from "./spec.js";

const BIN_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** The node's hard limit of a resource from /proc/self/limits ("Max open files"), or undefined. */
function hardLimit(label: string): number | undefined {
  try {
    const line = readFileSync("/proc/self/limits", "utf8")
      .split("\n")
      .find((l) => l.startsWith(label));
    const m = line ? /^\S.*?\s{2,}(\S+)\s+(\S+)/.exec(line) : null;
    if (!m) return undefined;
    return m[2] === "unlimited" ? Infinity : Number(m[2]);
  } catch {
    return undefined;
  }
}

/** What the containers.conf osvc writes depends on in the host. */
export interface PodmanHost {
  readonly nofileHard?: number;
  readonly nprocHard?: number;
  readonly runc: boolean;
  readonly netavark: boolean;
}

/** The containers.conf osvc writes (pure but for the host probes passed in); networkConfigDir is absolute. */
export function defaultContainersConf(host: PodmanHost, networkConfigDir: string): string {
  const nofile = Math.min(20000, host.nofileHard ?? 20000);
  const nproc = Math.min(4096, host.nprocHard ?? 4096);
  const lines = [
    "# Written by osvc (container.podman). podman runs with CONTAINERS_CONF pointing here, so",
    "# /etc/containers is left untouched. Set the containers_conf keyword to use your own file.",
    "[containers]",
    `default_ulimits = ["nofile=${nofile}:${nofile}", "nproc=${nproc}:${nproc}"]`,
    "",
    "[engine]",
    ...(host.runc ? ['runtime = "runc"'] : []),
    "",
    "[network]",
    ...(host.netavark ? ['network_backend = "netavark"'] : []),
    // A TOML basic string: JSON's escapes are valid TOML.
    `network_config_dir = ${JSON.stringify(networkConfigDir)}`,
    "",
  ];
  return lines.join("\n");
}

function probeHost(): PodmanHost {
  return {
    nofileHard: hardLimit("Max open files"),
    nprocHard: hardLimit("Max processes"),
    runc: Boolean(firstExisting(BIN_DIRS.map((d) => `${d}/runc`))),
    netavark: Boolean(firstExisting(["/usr/lib/podman/netavark", "/usr/libexec/podman/netavark", "/usr/local/lib/podman/netavark", "/usr/local/libexec/podman/netavark"])),
  };
}

let cachedHost: PodmanHost | undefined;

/**
 * Writes (atomically, only when different) the default containers.conf in the var dir, and makes
 * its private network config dir (podman would make it with mode 0700 itself).
 */
export async function ensureContainersConf(varDir: string): Promise<string> {
  const dir = path.resolve(varDir, "container.podman");
  const file = path.join(dir, "containers.conf");
  const networks = path.join(dir, "networks");
  cachedHost ??= probeHost();
  const conf = defaultContainersConf(cachedHost, networks);
  let current: string | undefined;
  try {
    current = await readFile(file, "utf8");
  } catch {
    current = undefined;
  }
  await mkdir(networks, { recursive: true, mode: 0o700 });
  if (current !== conf) {
    const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    await writeFile(tmp, conf, { mode: 0o644 });
    await rename(tmp, file);
  }
  return file;
}

async function podmanEnv(ctx: ProbeContext, r: ResourceSpec): Promise<Record<string, string>> {
  const own = r.kw.containers_conf;
  if (typeof own === "string" && own.trim() !== "") {
    const file = own.trim();
    if (!path.isAbsolute(file)) throw new ProviderError(`${r.rid}: containers_conf must be an absolute path, got ${JSON.stringify(file)}`);
    if (!firstExisting([file])) throw new ProviderError(`${r.rid}: containers_conf ${file} does not exist`, "create it, or remove the keyword to use the one osvc writes");
    return { CONTAINERS_CONF: file };
  }
  return { CONTAINERS_CONF: await ensureContainersConf(ctx.varDir) };
}

export const podmanEngine: OciEngine = {
  kind: "podman",
  bin: "podman",
  env: podmanEnv,
  endpoint: (env) => `podman, CONTAINERS_CONF=${env.CONTAINERS_CONF ?? "(default)"}`,
  psArgs: ["ps", "-a", "--format", "json"],
  parsePs: parsePodmanPs,
  imageExistsArgs: (image) => ["image", "exists", image],
  nsPath: true,
  installHint: "apt-get install podman runc netavark catatonit",
};

/** Also serves container.oci, an alias the catalog resolves to container.podman. */
export const containerPodmanProvider: Provider = ociProvider("container.podman", containerPodmanSpec, podmanEngine);

export default containerPodmanProvider;
