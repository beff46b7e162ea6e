import { OCI_RUN_OPTIONS } from "../../src/core/argv.js";
import type { DriverSpec, KeywordSpec } from "../../src/core/schema.js";

/** Keywords of the OCI container drivers (container.docker, container.podman). */
export const containerOciKeywords: KeywordSpec[] = [
  { name: "image", type: "string", scopable: true, default: "ghcr.io/opensvc/pause", aliases: ["run_image"], argv: { kind: "operand", tool: "the container run command" }, text: "The container image. It must be present locally (podman/docker load or import): osvc never pulls, a missing image fails the start.", example: "nginx:latest" },
  { name: "image_pull_policy", type: "string", scopable: true, default: "once", candidates: ["once", "always"], text: "Upstream: once pulls the image only when absent, always before every start. osvc never pulls: accepted for compatibility, always logs a warning." },
  { name: "run_args", type: "shlex", scopable: true, argv: { kind: "options", table: OCI_RUN_OPTIONS }, text: "Extra options of the container run command (shell words; options only: the image comes from image, the command from command).", example: "--net=bridge -p 80:80" },
  { name: "command", type: "shlex", scopable: true, aliases: ["run_command"], text: "The command run in the container, replacing the image's default command.", example: "/bin/bash" },
  { name: "entrypoint", type: "shlex", scopable: true, text: "Replaces the image's entrypoint.", example: "/bin/sh -c" },
  { name: "rm", type: "bool", scopable: true, default: "false", text: "Remove the container when it stops." },
  { name: "detach", type: "bool", scopable: true, default: "true", text: "Run the container in the background (only long-running containers make sense with false = run to completion)." },
  { name: "name", type: "string", scopable: true, text: "The container name; defaults to [<namespace>..]<name>.<rid with # replaced by .>, e.g. web.container.0.", example: "{name}-db" },
  { name: "hostname", type: "string", scopable: true, text: "The hostname inside the container.", example: "{name}" },
  { name: "netns", type: "string", scopable: true, aliases: ["net"], text: "Network namespace: container#N (share another container resource's), host, none, or a network name. Unset: none (osvc never uses the engine's default bridge network, which changes the host's network), unless run_args has --net/--network.", example: "container#0" },
  { name: "userns", type: "string", scopable: true, text: "User namespace: host or empty (private).", example: "host" },
  { name: "pidns", type: "string", scopable: true, text: "PID namespace: container#N, host or empty (private).", example: "host" },
  { name: "ipcns", type: "string", scopable: true, text: "IPC namespace: container#N, host, none or empty (private).", example: "container#0" },
  { name: "utsns", type: "string", scopable: true, text: "UTS namespace: host or empty (private).", example: "host" },
  { name: "privileged", type: "bool", scopable: true, default: "false", text: "Give the container extended privileges." },
  { name: "interactive", type: "bool", scopable: true, default: "false", text: "Keep the container's stdin open." },
  { name: "tty", type: "bool", scopable: true, default: "false", text: "Allocate a pseudo-terminal." },
  { name: "init", type: "bool", scopable: true, default: "true", text: "Run an init process as pid 1 that reaps zombies and forwards signals." },
  { name: "read_only", type: "bool", scopable: true, default: "false", text: "Mount the container's root filesystem read-only." },
  { name: "user", type: "string", format: "account-pair", scopable: true, text: "User (name or uid[:gid]) the command runs as.", example: "1000:1000" },
  { name: "cwd", type: "string", format: "abs-path", scopable: true, text: "Working directory of the command inside the container.", example: "/data" },
  { name: "volume_mounts", type: "shlex", scopable: true, text: "Mounts as <src>:<dst>[:<opts>] words; a src of <volname>/<sub> resolves a volume resource's mount point.", example: "/srv/{name}/data:/data:rw" },
  { name: "devices", type: "shlex", scopable: true, text: "Host devices exposed in the container, as <host dev>:<container dev> words.", example: "/dev/fuse:/dev/fuse" },
  { name: "environment", type: "shlex", format: "env-words", scopable: true, text: "Environment variables as KEY=VALUE words.", example: "TZ=UTC LANG=C.UTF-8" },
  { name: "configs_environment", type: "shlex", scopable: true, text: "Environment variables whose values come from config objects, as KEY=<cfg>/<key> words.", example: "CONF=app/nginx.conf" },
  { name: "secrets_environment", type: "shlex", scopable: true, sensitive: true, text: "Environment variables whose values come from secret objects, as KEY=<sec>/<key> words (values masked).", example: "PASSWORD=db/password" },
  { name: "sysctl", type: "shlex", scopable: true, text: "Namespaced kernel parameters set in the container, as key=value words.", example: "net.ipv4.ip_forward=1" },
  { name: "registry_creds", type: "string", scopable: true, text: "The secret object holding the registry credentials used to pull the image." },
  { name: "pull_timeout", type: "duration", scopable: true, default: "2m", text: "Time allowed for an image pull." },
  { name: "start_timeout", type: "duration", scopable: true, default: "5s", text: "Time allowed for the container to report running after start." },
  { name: "stop_timeout", type: "duration", scopable: true, default: "10s", text: "Time allowed for a graceful stop before the container is killed." },
  { name: "guestos", type: "string", scopable: true, text: "The container's operating system, for encapsulated agents.", example: "linux" },
  { name: "osvc_root_path", type: "string", scopable: true, text: "Path of the agent inside the container, for encapsulated agents." },
];

/** docker-only keywords. */
export const containerDockerKeywords: KeywordSpec[] = [
  {
    name: "docker_host",
    type: "string",
    scopable: true,
    text: "The docker daemon to use (DOCKER_HOST), e.g. a private dockerd's socket. Unset: the DOCKER_HOST of osvc's environment, else the docker CLI's default (unix:///var/run/docker.sock).",
    example: "unix:///run/osvc/docker.sock",
  },
];

export const containerDockerSpec: DriverSpec = {
  group: "container",
  type: "docker",
  text: "A docker container. Start runs it from a local image (never pulled), stop stops it, unprovision removes it; netns defaults to none.",
  keywords: [...containerOciKeywords, ...containerDockerKeywords],
};
