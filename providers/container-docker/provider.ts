// container.docker: a docker container (opensvc-semantics §11.10, host-environment §5). The
// operations are shared with container.podman (../container-podman/oci.ts).
//
// Daemon: the `docker_host` keyword sets DOCKER_HOST for every docker call (e.g. a private dockerd
// started with --bridge=none --iptables=false, as the tests do); unset, the DOCKER_HOST of osvc's
// environment or the CLI's default (unix:///var/run/docker.sock) applies. `docker run --pull never`
// (CLI 20.10+) guarantees no registry is contacted. Docker has no `--network ns:PATH`.
import { ProviderError } from "../../src/provider/api.js";
import type { ProbeContext, Provider, ResourceSpec } from "../../src/provider/api.js";
import type { ExecResult } from "../../src/provider/exec.js";
import { ociProvider, parseDockerPs } from "../container-podman/oci.js";
import type { OciEngine } from "../container-podman/oci.js";
import { containerDockerSpec } from "./spec.js";

async function dockerEnv(_ctx: ProbeContext, r: ResourceSpec): Promise<Record<string, string>> {
  const h = r.kw.docker_host;
  if (typeof h === "string" && h.trim() !== "") {
    const host = h.trim();
    if (!/^(unix|tcp|ssh|npipe|fd):\/\//.test(host)) {
      throw new ProviderError(`${r.rid}: docker_host ${JSON.stringify(host)} is not a daemon address`, "use unix:///path/to/docker.sock or tcp://host:port");
    }
    return { DOCKER_HOST: host };
  }
  return {};
}

function endpoint(env: Record<string, string>): string {
  return `docker, DOCKER_HOST=${env.DOCKER_HOST ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock"}`;
}

export const dockerEngine: OciEngine = {
  kind: "docker",
  bin: "docker",
  env: dockerEnv,
  endpoint,
  psArgs: ["ps", "-a", "--no-trunc", "--format", "{{json .}}"],
  parsePs: parseDockerPs,
  imageExistsArgs: (image) => ["image", "inspect", "--format", "{{.Id}}", image],
  nsPath: false,
  installHint: "apt-get install docker.io (the docker CLI and dockerd)",
  unreachable(r: ExecResult, env: Record<string, string>) {
    if (!/Cannot connect to the Docker daemon|error during connect|connect: no such file or directory|connection refused/i.test(r.stderr)) return undefined;
    return new ProviderError(`cannot reach the docker daemon (${endpoint(env)})`, "start dockerd, or set docker_host to the socket of the daemon to use");
  },
};

export const containerDockerProvider: Provider = ociProvider("container.docker", containerDockerSpec, dockerEngine);

export default containerDockerProvider;
