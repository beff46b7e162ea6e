// Shared code of the OCI container drivers, container.podman and container.docker
// (opensvc-semantics §11.10, host-environment §5). Both CLIs take the same run options and print
// the same `container inspect` JSON; the differences live in an OciEngine.
//
// probe      : per engine endpoint, ONE `ps -a` listing and ONE `container inspect` of the containers
//              found (state, pid, network mode); one image check per distinct image of the
//              containers that do not exist (a missing image is a warning: start will fail).
//              Containers have no provisioner: provisioned is always null ("/"), up = running.
// start      : running → nothing; exists but stopped → `start` (re-created if the container whose
//              network namespace it joins is gone); absent → `run -d --pull never --name NAME ...`.
//              Then waits for "running" (start_timeout); on failure the error carries the tail of
//              `logs`, and a container this call created is removed again. Never pulls: a missing
//              image fails before anything is created.
// stop       : `stop -t stop_timeout` (the container is kept, as upstream).
// provision  : start (nothing else to create).
// unprovision: stop, then `rm -f`.
//
// Network: `netns` absent means `--network none` here, not the engine's default bridge network: on
// first use, podman's default network creates the podman0 bridge, nft tables and sets
// net.ipv4.ip_forward=1 on the host, and the private dockerd osvc expects runs with --bridge=none.
// `netns = container#N` joins that container resource's namespace (`--network container:<name>`);
// `host`, `none`, `ns:/path` (podman) or a network name are passed through. A --net/--network
// option in run_args wins over the default.
//
// Outputs: name, container_id, and while running pid and netns_path = /proc/<pid>/ns/net (valid as
// long as the container runs; it changes at every restart). ip.netns uses netns_path.
import { existsSync } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import path from "node:path";
import type { KwValue, Outputs } from "../../src/core/value.js";
import { ProviderError } from "../../src/provider/api.js";
import { checkOperandWord, checkOptionWords, OCI_RUN_OPTIONS } from "../../src/core/argv.js";
import type { Observed, ProbeContext, Provider, ProviderContext, ResourceSpec, ProbeProblem } from "../../src/provider/api.js";
import { ExecError } from "../../src/provider/exec.js";
import type { ExecResult } from "../../src/provider/exec.js";
import { dataEnvironment } from "../../src/provider/data-env.js";
import { removeFile } from "../../src/provider/files.js";
import type { DriverSpec } from "../../src/core/schema.js";

type Problem = ProbeProblem;
type Ctx = ProbeContext & { readonly signal?: AbortSignal };

/** Labels osvc puts on the containers it creates, to find them back (netns = container#N). */
export const LABEL_OBJECT = "osvc.object";
export const LABEL_RID = "osvc.rid";

/** What differs between podman and docker. */
export interface OciEngine {
  readonly kind: "podman" | "docker";
  /** The CLI binary. */
  readonly bin: string;
  /** Environment of every CLI call for this resource (CONTAINERS_CONF, DOCKER_HOST). */
  env(ctx: ProbeContext, r: ResourceSpec): Promise<Record<string, string>>;
  /** A short description of the endpoint, for messages ("DOCKER_HOST=unix:///x.sock"). */
  endpoint(env: Record<string, string>): string;
  /** `ps -a` arguments printing every container, and their parser. */
  readonly psArgs: readonly string[];
  parsePs(stdout: string): PsRow[];
  /** Arguments whose exit code tells whether an image is present locally (0: present). */
  imageExistsArgs(image: string): string[];
  /** `--network ns:/path` is supported (podman only). */
  readonly nsPath: boolean;
  /** Hint for the user when the CLI is missing. */
  readonly installHint: string;
  /** Turns a failure to reach the engine into a user error, or returns undefined. */
  unreachable?(r: ExecResult, env: Record<string, string>): ProviderError | undefined;
}

/** One row of the `ps -a` listing. */
export interface PsRow {
  readonly id: string;
  readonly names: readonly string[];
  readonly state: string;
}

/** What osvc reads from `container inspect` (same JSON shape with podman and docker). */
export interface ContainerInfo {
  readonly id: string;
  readonly name: string;
  /** created, running, paused, exited, dead, ... */
  readonly status: string;
  readonly running: boolean;
  readonly pid: number;
  readonly exitCode: number;
  readonly error: string;
  /** none, host, container:<id>, ns:/path, bridge, ... */
  readonly networkMode: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly image: string;
}

// ---------------------------------------------------------------------------------------------
// Parsers (pure)

function str(v: unknown): string {
  return typeof v === "string" ? v : v === undefined || v === null ? "" : String(v);
}

/** Parses `podman ps -a --format json` (a JSON array). */
export function parsePodmanPs(stdout: string): PsRow[] {
  if (!stdout.trim()) return [];
  const data = JSON.parse(stdout) as unknown;
  if (!Array.isArray(data)) throw new Error("not a JSON array");
  return data.map((c: Record<string, unknown>) => ({
    id: str(c.Id ?? c.ID),
    names: Array.isArray(c.Names) ? c.Names.map(str) : str(c.Names).split(",").filter(Boolean),
    state: str(c.State).toLowerCase(),
  }));
}

/** Parses `docker ps -a --format '{{json .}}'` (one JSON object a line; Names is "a,b"). */
export function parseDockerPs(stdout: string): PsRow[] {
  const rows: PsRow[] = [];
  for (const line of stdout.split("\n")) {
    if (!line.trim()) continue;
    const c = JSON.parse(line) as Record<string, unknown>;
    rows.push({
      id: str(c.ID ?? c.Id),
      names: (Array.isArray(c.Names) ? c.Names.map(str) : str(c.Names).split(",")).map((n) => n.replace(/^\//, "")).filter(Boolean),
      state: str(c.State).toLowerCase(),
    });
  }
  return rows;
}

/** Parses `container inspect` output (a JSON array, possibly partial when some ids vanished). */
export function parseInspect(stdout: string): ContainerInfo[] {
  if (!stdout.trim()) return [];
  const data = JSON.parse(stdout) as unknown;
  if (!Array.isArray(data)) throw new Error("not a JSON array");
  return data.map((c: Record<string, unknown>) => {
    const st = (c.State ?? {}) as Record<string, unknown>;
    const hc = (c.HostConfig ?? {}) as Record<string, unknown>;
    const cfg = (c.Config ?? {}) as Record<string, unknown>;
    const labels: Record<string, string> = {};
    const l = cfg.Labels;
    if (l && typeof l === "object") for (const [k, v] of Object.entries(l as Record<string, unknown>)) labels[k] = str(v);
    const status = str(st.Status).toLowerCase();
    const pid = typeof st.Pid === "number" ? st.Pid : Number(st.Pid ?? 0) || 0;
    return {
      id: str(c.Id ?? c.ID),
      name: str(c.Name).replace(/^\//, ""),
      status,
      running: st.Running === true && status === "running" && pid > 0,
      pid,
      exitCode: typeof st.ExitCode === "number" ? st.ExitCode : Number(st.ExitCode ?? 0) || 0,
      error: str(st.Error),
      networkMode: str(hc.NetworkMode),
      labels,
      image: str(c.ImageName) || str(cfg.Image),
    };
  });
}

// ---------------------------------------------------------------------------------------------
// Keywords

function kwString(r: ResourceSpec, k: string): string | undefined {
  const v = r.kw[k];
  if (v === undefined || v === null) return undefined;
  if (Array.isArray(v)) return v.join(" ") || undefined;
  const s = String(v).trim();
  return s === "" ? undefined : s;
}

function kwList(r: ResourceSpec, k: string): string[] {
  const v: KwValue | undefined = r.kw[k];
  if (v === undefined || v === null || v === "") return [];
  if (Array.isArray(v)) return [...v];
  // A plain string (tests, or a converter that kept text): split on whitespace.
  return String(v).split(/\s+/).filter(Boolean);
}

function kwBool(r: ResourceSpec, k: string, dflt: boolean): boolean {
  const v = r.kw[k];
  if (typeof v === "boolean") return v;
  if (v === undefined || v === null || v === "") return dflt;
  if (typeof v === "number") return v !== 0;
  const s = String(v).trim().toLowerCase();
  if (["yes", "y", "true", "t", "1", "on"].includes(s)) return true;
  if (["no", "n", "false", "f", "0", "off"].includes(s)) return false;
  return dflt;
}

/** A duration keyword in seconds. */
function kwSeconds(r: ResourceSpec, k: string, dflt: number): number {
  const v = r.kw[k];
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === "string" && /^\d+(\.\d+)?$/.test(v.trim())) return Number(v.trim());
  return dflt;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** The default container name: `[<namespace>..]<name>.<rid with # → .>` (upstream). */
export function defaultContainerName(objectName: string, rid: string): string {
  const parts = objectName.split("/");
  let base = parts[parts.length - 1];
  if (parts.length === 3 && parts[0] !== "root") base = `${parts[0]}..${base}`;
  return `${base}.${rid.replace(/#/g, ".")}`;
}

export function containerName(ctx: ProbeContext, r: ResourceSpec): string {
  const name = kwString(r, "name") ?? defaultContainerName(ctx.objectName, r.rid);
  if (!NAME_RE.test(name)) {
    throw new ProviderError(`${r.rid}: invalid container name ${JSON.stringify(name)}`, "use letters, digits, '_', '.' and '-', starting with a letter or digit");
  }
  return name;
}

function imageOf(r: ResourceSpec): string {
  const image = kwString(r, "image");
  if (!image) throw new ProviderError(`${r.rid}: keyword "image" is required`, "set image, e.g. image = localhost/busybox:latest");
  const c = checkOperandWord(image, "the container run command");
  if (!c.ok) throw new ProviderError(`${r.rid}: image: ${c.error}`, c.hint);
  return image;
}

/** run_args: options of the run command only (the image and command come from their keywords). */
function runArgsOf(r: ResourceSpec): string[] {
  const words = kwList(r, "run_args");
  const c = checkOptionWords(words, OCI_RUN_OPTIONS);
  if (!c.ok) throw new ProviderError(`${r.rid}: run_args: ${c.error}`, c.hint);
  return words;
}

const RID_REF = /^container#[A-Za-z0-9_.-]+$/;

/** run_args already choose a network (then the `none` default is not added). */
export function runArgsSetNetwork(runArgs: readonly string[]): boolean {
  return runArgs.some((a) => /^--net(work)?(=|$)/.test(a));
}

/** Keywords the drivers cannot honour here: refused with a clear message rather than ignored. */
function refuseUnsupported(r: ResourceSpec): void {
  if (!kwBool(r, "detach", true)) {
    throw new ProviderError(`${r.rid}: detach = false is not supported`, "a container resource is a long-running container: remove detach = false (use a task for run-to-completion jobs)");
  }
  for (const m of kwList(r, "volume_mounts")) {
    const src = m.split(":")[0];
    if (!src.startsWith("/") && !volumeSource(src)) {
      throw new ProviderError(
        `${r.rid}: volume_mounts ${JSON.stringify(m)}: the source must be an absolute host path or <volname>[/<sub>]`,
        "e.g. /srv/{name}/data:/data, or {name}-vol-0/data:/data for the vol object of a volume resource",
      );
    }
  }
}

/** A `<volname>[/<sub>]` source of volume_mounts: the vol object's name and the path under its head, or undefined. */
export function volumeSource(src: string): { vol: string; sub: string } | undefined {
  const m = /^([a-z0-9][a-z0-9.-]*)(?:\/(.*))?$/.exec(src);
  if (!m) return undefined;
  const sub = (m[2] ?? "").replace(/\/+$/, "");
  if (sub.split("/").some((c) => c === "..")) return undefined; // never outside the volume
  return { vol: m[1], sub };
}

/**
 * volume_mounts with their `<volname>/<sub>` sources replaced by the vol's mount point (the vol
 * object of this namespace, which must be up: its volume resource started it before).
 */
export async function resolveVolumeMounts(ctx: ProviderContext, r: ResourceSpec): Promise<string[]> {
  const out: string[] = [];
  for (const m of kwList(r, "volume_mounts")) {
    const [src, ...rest] = m.split(":");
    const v = src.startsWith("/") ? undefined : volumeSource(src);
    if (!v) {
      out.push(m);
      continue;
    }
    if (!ctx.volumes) throw new ProviderError(`${r.rid}: volume_mounts ${JSON.stringify(m)}: the vol objects cannot be reached here`);
    const info = await ctx.volumes.info(v.vol);
    if (!info.exists) throw new ProviderError(`${r.rid}: volume_mounts ${JSON.stringify(m)}: ${info.path} does not exist on this node`, `A volume resource with name = ${v.vol} creates it at provision.`);
    if (!info.up || !info.mnt) throw new ProviderError(`${r.rid}: volume_mounts ${JSON.stringify(m)}: ${info.path} is not up`, `Start it first: its volume resource, or osvc ${info.path} start.`);
    out.push([v.sub ? `${info.mnt}/${v.sub}` : info.mnt, ...rest].join(":"));
  }
  return out;
}

/** Resolved namespace options (container#N already turned into container:<name>). */
export interface NamespaceOpts {
  readonly network?: string;
  readonly pid?: string;
  readonly ipc?: string;
  readonly uts?: string;
  readonly userns?: string;
}

/** The `run` arguments after `run` (pure: everything resolved beforehand). */
export function buildRunArgs(r: ResourceSpec, name: string, objectName: string, ns: NamespaceOpts): string[] {
  const image = imageOf(r);
  const runArgs = runArgsOf(r);
  const a: string[] = ["-d", "--pull", "never", "--name", name, "--label", `${LABEL_OBJECT}=${objectName}`, "--label", `${LABEL_RID}=${r.rid}`];
  if (ns.network !== undefined) a.push("--network", ns.network);
  else if (!runArgsSetNetwork(runArgs)) a.push("--network", "none");
  if (ns.pid !== undefined) a.push("--pid", ns.pid);
  if (ns.ipc !== undefined) a.push("--ipc", ns.ipc);
  if (ns.uts !== undefined) a.push("--uts", ns.uts);
  if (ns.userns !== undefined) a.push("--userns", ns.userns);
  const hostname = kwString(r, "hostname");
  if (hostname) a.push("--hostname", hostname);
  if (kwBool(r, "init", true)) a.push("--init");
  if (kwBool(r, "rm", false)) a.push("--rm");
  if (kwBool(r, "privileged", false)) a.push("--privileged");
  if (kwBool(r, "interactive", false)) a.push("--interactive");
  if (kwBool(r, "tty", false)) a.push("--tty");
  if (kwBool(r, "read_only", false)) a.push("--read-only");
  const user = kwString(r, "user");
  if (user) a.push("--user", user);
  const cwd = kwString(r, "cwd");
  if (cwd) a.push("--workdir", cwd);
  for (const e of kwList(r, "environment")) a.push("--env", e);
  for (const v of kwList(r, "volume_mounts")) a.push("--volume", v);
  for (const d of kwList(r, "devices")) a.push("--device", d);
  for (const s of kwList(r, "sysctl")) a.push("--sysctl", s);
  // --entrypoint takes one executable; further entrypoint words go before the command.
  const entrypoint = kwList(r, "entrypoint");
  const command = kwList(r, "command");
  if (entrypoint.length) a.push("--entrypoint", entrypoint[0]);
  // `--` ends the options: the image is an operand whatever it looks like.
  a.push(...runArgs, "--", image, ...entrypoint.slice(1), ...command);
  return a;
}

// ---------------------------------------------------------------------------------------------
// CLI calls

const QUERY_TIMEOUT_MS = 30_000;

async function cli(engine: OciEngine, ctx: Ctx, env: Record<string, string>, args: readonly string[], timeoutMs = QUERY_TIMEOUT_MS): Promise<ExecResult> {
  const r = await ctx.exec(engine.bin, args, { env, timeoutMs, ...(ctx.signal ? { signal: ctx.signal } : {}) });
  if (r.exitCode === 127 && /not found/.test(r.stderr)) throw new ProviderError(`${engine.bin} is not installed on this node`, engine.installHint);
  if (r.exitCode !== 0) {
    const u = engine.unreachable?.(r, env);
    if (u) throw u;
  }
  return r;
}

async function cliOk(engine: OciEngine, ctx: Ctx, env: Record<string, string>, args: readonly string[], timeoutMs?: number): Promise<ExecResult> {
  const r = await cli(engine, ctx, env, args, timeoutMs);
  if (r.exitCode !== 0 || r.timedOut) throw new ExecError(r);
  return r;
}

function tail(s: string, lines = 10): string {
  return s.trim().split("\n").slice(-lines).join("\n");
}

/** `container inspect` of ids or names; missing ones are simply absent from the result. */
async function inspect(engine: OciEngine, ctx: Ctx, env: Record<string, string>, refs: readonly string[]): Promise<ContainerInfo[]> {
  if (refs.length === 0) return [];
  const r = await cli(engine, ctx, env, ["container", "inspect", ...refs]);
  let infos: ContainerInfo[];
  try {
    infos = r.stdout.trim() ? parseInspect(r.stdout) : [];
  } catch (e) {
    throw new ProviderError(`cannot parse ${engine.bin} container inspect output: ${(e as Error).message}`);
  }
  if (r.exitCode !== 0 && infos.length === 0 && !/no such|not known|not found/i.test(r.stderr)) throw new ExecError(r);
  return infos;
}

async function inspectOne(engine: OciEngine, ctx: Ctx, env: Record<string, string>, ref: string): Promise<ContainerInfo | undefined> {
  const [info] = await inspect(engine, ctx, env, [ref]);
  return info;
}

async function imageExists(engine: OciEngine, ctx: Ctx, env: Record<string, string>, image: string): Promise<boolean> {
  const r = await cli(engine, ctx, env, engine.imageExistsArgs(image));
  return r.exitCode === 0;
}

function missingImageError(engine: OciEngine, r: ResourceSpec, image: string, env: Record<string, string>): ProviderError {
  return new ProviderError(
    `${r.rid}: image ${JSON.stringify(image)} is not present locally (${engine.endpoint(env)}); osvc never pulls images`,
    `load it first, e.g. \`${engine.bin} load -i image.tar\` or \`${engine.bin} import rootfs.tar ${image}\``,
  );
}

function outputsOf(name: string, info: ContainerInfo | undefined): Outputs {
  if (!info) return { name };
  if (!info.running) return { name, container_id: info.id };
  return { name, container_id: info.id, pid: info.pid, netns_path: `/proc/${info.pid}/ns/net` };
}

// ---------------------------------------------------------------------------------------------
// Operations

async function probe(engine: OciEngine, ctx: ProbeContext, resources: readonly ResourceSpec[]): Promise<Observed[]> {
  if (resources.length === 0) return [];
  // Group by endpoint (docker_host / containers_conf): one listing and one inspect per endpoint.
  const groups = new Map<string, { env: Record<string, string>; idx: number[] }>();
  for (let i = 0; i < resources.length; i++) {
    const env = await engine.env(ctx, resources[i]);
    const key = JSON.stringify(env);
    const g = groups.get(key) ?? { env, idx: [] };
    g.idx.push(i);
    groups.set(key, g);
  }
  const out: Observed[] = new Array(resources.length);
  for (const { env, idx } of groups.values()) {
    const ps = await cli(engine, ctx, env, engine.psArgs);
    if (ps.exitCode !== 0) throw new ProviderError(`cannot list ${engine.kind} containers: ${new ExecError(ps).message}`);
    let rows: PsRow[];
    try {
      rows = engine.parsePs(ps.stdout);
    } catch (e) {
      throw new ProviderError(`cannot parse ${engine.bin} ps output: ${(e as Error).message}`);
    }
    const byName = new Map<string, PsRow>();
    for (const row of rows) for (const n of row.names) byName.set(n, row);
    // An invalid name is this resource's problem, not the whole probe's.
    const nameErrors = new Map<number, ProviderError>();
    const names = idx.map((i) => {
      try {
        return containerName(ctx, resources[i]);
      } catch (e) {
        if (!(e instanceof ProviderError)) throw e;
        nameErrors.set(i, e);
        return "";
      }
    });
    const ids = [...new Set(names.map((n) => byName.get(n)?.id).filter((x): x is string => Boolean(x)))];
    const infos = await inspect(engine, ctx, env, ids);
    const infoByName = new Map(infos.map((c) => [c.name, c]));
    // Images of the containers that do not exist yet: start would fail without them.
    const missingImages = new Set<string>();
    const toCheck = [...new Set(idx.filter((i, k) => names[k] && !infoByName.has(names[k])).map((i) => kwString(resources[i], "image")).filter((x): x is string => Boolean(x)))];
    await Promise.all(
      toCheck.map(async (img) => {
        if (!(await imageExists(engine, ctx, env, img))) missingImages.add(img);
      }),
    );
    idx.forEach((i, k) => {
      const r = resources[i];
      const nameError = nameErrors.get(i);
      if (nameError) {
        out[i] = { provisioned: null, up: false, problems: [{ level: "error", message: nameError.message, ...(nameError.hint ? { hint: nameError.hint } : {}) }] };
        return;
      }
      const info = infoByName.get(names[k]);
      const problems: Problem[] = [];
      const image = kwString(r, "image");
      if (!info && image && missingImages.has(image)) {
        problems.push({
          level: "warning",
          keyword: "image",
          message: `image ${JSON.stringify(image)} is not present locally (${engine.endpoint(env)}): starting ${names[k]} will fail`,
          hint: `osvc never pulls images: load it first (${engine.bin} load / ${engine.bin} import)`,
        });
      }
      if (info && !info.running && info.status && !["created", "exited", "stopped", "configured", "removing", "stopping"].includes(info.status)) {
        problems.push({ level: "warning", message: `container ${names[k]} is ${info.status}` });
      }
      out[i] = {
        provisioned: null,
        up: Boolean(info?.running),
        outputs: outputsOf(names[k], info),
        ...(problems.length ? { problems } : {}),
      };
    });
  }
  return out;
}

/** Resolves a namespace keyword: container#N → container:<name of that resource's container>. */
async function resolveNs(
  engine: OciEngine,
  ctx: ProviderContext,
  env: Record<string, string>,
  r: ResourceSpec,
  kw: string,
): Promise<string | undefined> {
  const v = kwString(r, kw);
  if (v === undefined) return undefined;
  if (!RID_REF.test(v)) {
    if (v.startsWith("ns:") && !engine.nsPath) {
      throw new ProviderError(`${r.rid}: ${kw} = ${v}: ${engine.kind} cannot join a namespace by path`, "use none, host or container#N");
    }
    return v;
  }
  if (v === r.rid) throw new ProviderError(`${r.rid}: ${kw} = ${v} names this resource itself`);
  // The container osvc created for that resource (labels), else one with its default name.
  const ps = await cli(engine, ctx, env, ["ps", "-a", "--filter", `label=${LABEL_OBJECT}=${ctx.objectName}`, "--filter", `label=${LABEL_RID}=${v}`, "--format", "{{.ID}}"]);
  const ids = ps.exitCode === 0 ? ps.stdout.split("\n").map((s) => s.trim()).filter(Boolean) : [];
  const dflt = defaultContainerName(ctx.objectName, v);
  const target = (await inspect(engine, ctx, env, ids.slice(0, 1)))[0] ?? (await inspectOne(engine, ctx, env, dflt));
  if (!target) {
    throw new ProviderError(`${r.rid}: ${kw} = ${v}, but the container of ${v} does not exist`, `start ${v} first (looked for the container labelled ${LABEL_RID}=${v}, and for ${dflt})`);
  }
  if (!target.running) {
    throw new ProviderError(`${r.rid}: ${kw} = ${v}, but its container ${target.name} is not running`, `start ${v} first`);
  }
  return `container:${target.name}`;
}

/** The tail of the container's logs, for error messages. */
async function logsTail(engine: OciEngine, ctx: Ctx, env: Record<string, string>, ref: string): Promise<string> {
  const r = await cli(engine, ctx, env, ["logs", "--tail", "20", ref]);
  if (r.exitCode !== 0) return "";
  return tail(`${r.stdout}\n${r.stderr}`, 20);
}

/** Polls inspect until the container runs; throws when it stopped, vanished or took too long. */
async function waitRunning(engine: OciEngine, ctx: ProviderContext, env: Record<string, string>, r: ResourceSpec, name: string, ref: string): Promise<ContainerInfo> {
  const timeoutS = kwSeconds(r, "start_timeout", 5);
  const deadline = Date.now() + timeoutS * 1000;
  for (;;) {
    const info = await inspectOne(engine, ctx, env, ref);
    if (info?.running) return info;
    const gone = !info;
    const ended = info && ["exited", "dead", "stopped"].includes(info.status);
    if (gone || ended || Date.now() >= deadline) {
      const logs = gone ? "" : await logsTail(engine, ctx, env, ref);
      const why = gone
        ? "vanished (exited and removed: rm = true?)"
        : ended
          ? `exited with code ${info.exitCode}${info.error ? ` (${info.error})` : ""}`
          : `is still ${info?.status || "not running"} after start_timeout = ${timeoutS}s`;
      throw new ProviderError(`${r.rid}: container ${name} ${why}${logs ? `\nlast log lines:\n${logs}` : ""}`, "check the image, command and entrypoint; the container logs are above");
    }
    await new Promise((res) => setTimeout(res, 100));
  }
}

/** The container joins the netns of a container id that no longer exists (docker keeps the id). */
async function staleNamespace(engine: OciEngine, ctx: ProviderContext, env: Record<string, string>, info: ContainerInfo): Promise<string | undefined> {
  const m = /^container:(.+)$/.exec(info.networkMode);
  if (!m) return undefined;
  const target = await inspectOne(engine, ctx, env, m[1]);
  return target ? undefined : m[1];
}

async function start(engine: OciEngine, ctx: ProviderContext, r: ResourceSpec): Promise<Outputs> {
  const env = await engine.env(ctx, r);
  const name = containerName(ctx, r);
  refuseUnsupported(r);
  let info = await inspectOne(engine, ctx, env, name);
  if (info?.running) return outputsOf(name, info);
  if (info && (info.status === "removing" || kwBool(r, "rm", false))) {
    // An rm = true container that stopped is being removed by its engine: wait, then run a new one.
    if (!(await waitGone(engine, ctx, env, name, 5000))) await cliOk(engine, ctx, env, ["rm", "-f", name]);
    info = undefined;
  }
  if (info) {
    const stale = await staleNamespace(engine, ctx, env, info);
    if (stale) {
      ctx.log("info", `${name} joined the network namespace of container ${stale.slice(0, 12)}, which no longer exists: re-creating it`);
      await cliOk(engine, ctx, env, ["rm", "-f", name]);
      info = undefined;
    }
  }
  if (info) {
    const s = await cli(engine, ctx, env, ["start", name], (kwSeconds(r, "start_timeout", 5) + 60) * 1000);
    if (s.exitCode !== 0) {
      const logs = await logsTail(engine, ctx, env, name);
      throw new ProviderError(`${r.rid}: cannot start container ${name}: ${tail(s.stderr || s.stdout, 5)}${logs ? `\nlast log lines:\n${logs}` : ""}`);
    }
    const up = await waitRunning(engine, ctx, env, r, name, name);
    ctx.log("info", `started container ${name} (pid ${up.pid})`);
    return outputsOf(name, up);
  }
  // Create and run it.
  const image = imageOf(r);
  if (kwString(r, "image_pull_policy") === "always") ctx.log("warning", `image_pull_policy = always ignored: osvc never pulls images`);
  if (!(await imageExists(engine, ctx, env, image))) throw missingImageError(engine, r, image, env);
  const ns: NamespaceOpts = {
    network: await resolveNs(engine, ctx, env, r, "netns"),
    pid: await resolveNs(engine, ctx, env, r, "pidns"),
    ipc: await resolveNs(engine, ctx, env, r, "ipcns"),
    uts: await resolveNs(engine, ctx, env, r, "utsns"),
    userns: await resolveNs(engine, ctx, env, r, "userns"),
  };
  // volume_mounts: <volname>/<sub> sources resolved to the vol's mount point (vol branch).
  const mounts = await resolveVolumeMounts(ctx, r);
  // configs_/secrets_environment: through a private env file (0600, removed right after the run),
  // so no value shows in a command line or a log.
  const envFile = await writeEnvFile(ctx, r, name, await dataEnvironment(ctx, r));
  const args = ["run", ...(envFile ? ["--env-file", envFile] : []), ...buildRunArgs({ ...r, kw: { ...r.kw, volume_mounts: mounts } }, name, ctx.objectName, ns)];
  let res: ExecResult;
  try {
    res = await cli(engine, ctx, env, args, (kwSeconds(r, "start_timeout", 5) + 60) * 1000);
  } finally {
    if (envFile) await removeFile(envFile);
  }
  try {
    if (res.exitCode !== 0 || res.timedOut) {
      const logs = (await inspectOne(engine, ctx, env, name)) ? await logsTail(engine, ctx, env, name) : "";
      const msg = res.timedOut ? `timed out after ${res.durationMs} ms` : tail(res.stderr || res.stdout, 5);
      if (/image not known|no such image|unable to find image/i.test(msg)) throw missingImageError(engine, r, image, env);
      throw new ProviderError(`${r.rid}: cannot run container ${name}: ${msg}${logs ? `\nlast log lines:\n${logs}` : ""}`, "check the image, command, entrypoint and run_args");
    }
    const id = res.stdout.trim().split("\n").pop() ?? name;
    const up = await waitRunning(engine, ctx, env, r, name, /^[0-9a-f]{12,64}$/.test(id) ? id : name);
    ctx.log("info", `container ${name} running (pid ${up.pid}, network ${ns.network ?? (runArgsSetNetwork(kwList(r, "run_args")) ? "from run_args" : "none")})`);
    return outputsOf(name, up);
  } catch (e) {
    // Leave nothing behind: the container this call created is removed again.
    if (await inspectOne(engine, ctx, env, name)) {
      const rm = await cli(engine, ctx, env, ["rm", "-f", name]);
      if (rm.exitCode === 0) ctx.log("info", `removed the failed container ${name}`);
    }
    throw e;
  }
}

/** Writes `vars` as an env file in the var dir (mode 0600); undefined when there is none. */
async function writeEnvFile(ctx: ProviderContext, r: ResourceSpec, name: string, vars: Record<string, string>): Promise<string | undefined> {
  const entries = Object.entries(vars);
  if (entries.length === 0) return undefined;
  for (const [k, v] of entries) {
    if (/[\r\n]/.test(v)) throw new ProviderError(`${r.rid}: the value of ${k} holds a line break, which an environment file cannot carry`, "store it without line breaks, or mount it as a file");
  }
  await mkdir(ctx.varDir, { recursive: true, mode: 0o700 });
  const file = path.join(ctx.varDir, `${name}.env`);
  await removeFile(file); // a leftover of an interrupted run
  const fh = await open(file, "wx", 0o600);
  try {
    await fh.writeFile(entries.map(([k, v]) => `${k}=${v}\n`).join(""));
  } finally {
    await fh.close();
  }
  return file;
}

/** Waits until no container has this name (an rm = true container being removed); true when gone. */
async function waitGone(engine: OciEngine, ctx: Ctx, env: Record<string, string>, name: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (!(await inspectOne(engine, ctx, env, name))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function stop(engine: OciEngine, ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  const env = await engine.env(ctx, r);
  const name = containerName(ctx, r);
  const info = await inspectOne(engine, ctx, env, name);
  if (!info?.running) return;
  const t = Math.ceil(kwSeconds(r, "stop_timeout", 10));
  const s = await cli(engine, ctx, env, ["stop", "-t", String(t), name], (t + 60) * 1000);
  const after = await inspectOne(engine, ctx, env, name);
  if (after?.running) {
    throw new ProviderError(`${r.rid}: cannot stop container ${name}: ${tail(s.stderr || s.stdout, 5) || "still running"}`);
  }
  if (after && kwBool(r, "rm", false)) await waitGone(engine, ctx, env, name, 5000);
  ctx.log("info", `stopped container ${name}`);
}

async function unprovision(engine: OciEngine, ctx: ProviderContext, r: ResourceSpec): Promise<void> {
  await stop(engine, ctx, r);
  const env = await engine.env(ctx, r);
  const name = containerName(ctx, r);
  const info = await inspectOne(engine, ctx, env, name);
  if (!info) return;
  const rm = await cli(engine, ctx, env, ["rm", "-f", name]);
  if (rm.exitCode !== 0 && !(await waitGone(engine, ctx, env, name, /in progress/.test(rm.stderr) ? 10_000 : 0))) {
    const msg = tail(rm.stderr || rm.stdout, 5);
    throw new ProviderError(
      `${r.rid}: cannot remove container ${name}: ${msg}`,
      /dependent/.test(msg) ? "other containers share its namespaces (netns = container#N): unprovision them first" : undefined,
    );
  }
  ctx.log("info", `removed container ${name}`);
}

/** A Provider over an OciEngine. */
export function ociProvider(type: string, spec: DriverSpec, engine: OciEngine): Provider {
  return {
    type,
    spec,
    updatable: [],
    dataBearing: false,
    probe: (ctx, rs) => probe(engine, ctx, rs),
    // Nothing to create besides the container itself: provision runs it (upstream flag "/").
    provision: (ctx, r) => start(engine, ctx, r),
    unprovision: (ctx, r) => unprovision(engine, ctx, r),
    start: (ctx, r) => start(engine, ctx, r),
    stop: (ctx, r) => stop(engine, ctx, r),
  };
}

/** First existing file among candidates (for optional host binaries). */
export function firstExisting(paths: readonly string[]): string | undefined {
  return paths.find((p) => existsSync(p));
}
