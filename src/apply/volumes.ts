// The VolumeHost the volume driver gets (provider/api.ts): the vol objects of one namespace on
// this node. The vol's config lives in the state store like any object's; creating it writes the
// config a pool translates (config/pools.ts); the vol's own actions run through this node's osvc
// (`osvc <ns>/vol/<name> provision --local`), so that a vol is provisioned, started, stopped and
// recorded exactly as an object the user drives by hand.
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync, statfsSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseTemplate } from "../../grammar/index.js";
import { setKeys, unsetKeys } from "../config/edit.js";
import { choosePool, mergePools, parsePools, volumeConfig, type Pool } from "../config/pools.js";
import { HANDED_OVER_CA_CERTS } from "../core/launcher.js";
import { parseObjectPath, type ObjectPath } from "../core/path.js";
import { ProviderError, type VolumeAllocation, type VolumeHost, type VolumeInfo } from "../provider/api.js";
import { ExecError, type Exec } from "../provider/exec.js";
import type { Diagnostic } from "../core/diagnostics.js";
import type { StateStore } from "../state/store.js";

const LOCK_WAIT_MS = 60_000;

/** One diagnostic on one line: "file:line:col: summary (hint)". */
export function diagnosticLine(d: Diagnostic): string {
  const at = d.range ? `${d.range.file}:${d.range.start.line}:${d.range.start.col}: ` : "";
  return `${at}${d.summary}${d.hint ? ` (hint: ${d.hint})` : ""}`;
}

/**
 * The pools of the node whose state root is `root`: its node config (`nodeConfig`, else
 * <root>/node.conf), <root>/cluster.conf, the default; with the diagnostics of their [pool#...] sections and the texts read (for excerpts).
 */
export function nodePools(root: string, nodeConfig?: string): { pools: Pool[]; diagnostics: Diagnostic[]; sources: { name: string; text: string }[] } {
  const layers: Pool[][] = [];
  const diagnostics: Diagnostic[] = [];
  const sources: { name: string; text: string }[] = [];
  for (const file of [nodeConfig ?? join(root, "node.conf"), join(root, "cluster.conf")]) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch {
      continue;
    }
    const r = parsePools(text, file);
    layers.push(r.pools);
    diagnostics.push(...r.diagnostics);
    sources.push({ name: file, text });
  }
  return { pools: mergePools(root, ...layers), diagnostics, sources };
}

/** Size and free bytes of the filesystem holding `path` (its nearest existing ancestor). */
export function poolUsage(path: string): { size: number; free: number } | undefined {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  try {
    const s = statfsSync(p);
    return { size: s.blocks * s.bsize, free: s.bavail * s.bsize };
  } catch {
    return undefined;
  }
}

/** The head (mount point or directory) and DEFAULT keys of a vol config, as written. */
function readVolConfig(text: string): { children: string[]; pool?: string; mnt?: string } {
  const { ast } = parseTemplate(text, "<vol>");
  let children: string[] = [];
  let pool: string | undefined;
  let mnt: string | undefined;
  const fs = ast.sections.filter((s) => s.name.startsWith("fs#")).sort((a, b) => a.name.localeCompare(b.name));
  for (const s of ast.sections) {
    if (s.name !== "DEFAULT") continue;
    for (const e of s.entries) {
      if (e.key === "children") children = e.value.text.split(/\s+/).filter(Boolean);
      if (e.key === "pool") pool = e.value.text.trim();
    }
  }
  for (const e of fs[0]?.entries ?? []) if (e.key === "mnt" || e.key === "path") mnt = e.value.text.trim();
  return { children, ...(pool ? { pool } : {}), ...(mnt ? { mnt } : {}) };
}

export interface VolumeHostOptions {
  readonly store: StateStore;
  readonly namespace: string;
  readonly nodename: string;
  readonly exec: Exec;
  /** How to run this node's osvc: argv words (default: this process's node and script). */
  readonly osvc?: readonly string[];
}

/** The children (claimers) a vol config lists. */
export function volumeChildren(text: string): string[] {
  return readVolConfig(text).children;
}

/** The pool a vol config was allocated from (its DEFAULT.pool), if it names one. */
export function volumePool(text: string): string | undefined {
  return readVolConfig(text).pool;
}

/**
 * The environment osvc starts itself with (`node bin/osvc.js`, a vol's own action):
 * NODE_EXTRA_CA_CERTS handed over as the launcher does it (bin/osvc.js), so that the child's node
 * does not parse its root store at start and the child puts the variable back.
 */
function selfEnv(): Record<string, string | undefined> | undefined {
  const extra = process.env.NODE_EXTRA_CA_CERTS;
  return extra === undefined ? undefined : { NODE_EXTRA_CA_CERTS: undefined, [HANDED_OVER_CA_CERTS]: extra };
}

export function volumeHost(o: VolumeHostOptions): VolumeHost {
  const { store, namespace, nodename, exec } = o;
  const osvc = o.osvc ?? [process.execPath, process.argv[1]];
  const env = o.osvc ? undefined : selfEnv();
  const volPath = (name: string): string => {
    const p = parseObjectPath(`${namespace}/vol/${name}`);
    if (!p.ok) throw new ProviderError(`volume name "${name}": ${p.error}`, "The volume name keyword names a vol object of this namespace: lowercase letters, digits, '.' and '-'.");
    return `${namespace}/vol/${p.path.name}`;
  };
  const run = async (name: string, args: readonly string[], log?: (line: string) => void) => {
    const r = await exec(osvc[0], [...osvc.slice(1), volPath(name), ...args, "--root", store.root, "--node", nodename, "--color", "never"], { timeoutMs: 600_000, ...(env ? { env } : {}) });
    if (log) for (const line of r.stdout.split("\n")) if (line.trim()) log(line);
    return r;
  };
  const editChildren = async (name: string, consumer: string, add: boolean): Promise<void> => {
    const path = volPath(name);
    const lock = await store.lock(path, { timeoutMs: LOCK_WAIT_MS, command: `osvc ${consumer} volume ${add ? "claim" : "unclaim"} ${path}` });
    try {
      const text = await store.readConfig(path);
      if (text === null) {
        if (add) throw new ProviderError(`${path} does not exist on this node`);
        return;
      }
      const { children } = readVolConfig(text);
      const next = add ? (children.includes(consumer) ? children : [...children, consumer]) : children.filter((c) => c !== consumer);
      if (next.join(" ") === children.join(" ")) return;
      await store.installConfig(path, next.length ? setKeys(text, "DEFAULT", { children: next.join(" ") }) : unsetKeys(text, "DEFAULT", ["children"]).text);
    } finally {
      await lock.release();
    }
  };
  return {
    async info(name): Promise<VolumeInfo> {
      const path = volPath(name);
      const text = await store.readConfig(path);
      if (text === null) return { path, exists: false, children: [], provisioned: false, up: false, exposedDevs: [] };
      const c = readVolConfig(text);
      const state = await store.readState(path).catch(() => null);
      const resources = Object.values(state?.resources ?? {});
      const provisioned = resources.length > 0 && resources.every((r) => r.provisioned === true);
      const devs = resources
        .filter((r) => r.rid.startsWith("disk#"))
        .sort((a, b) => a.rid.localeCompare(b.rid))
        .flatMap((r) => ((r.outputs as Record<string, unknown> | undefined)?.exposed_devs as string[] | undefined) ?? []);
      let up = false;
      let down: string | undefined;
      if (provisioned) {
        const r = await exec(osvc[0], [...osvc.slice(1), path, "print", "status", "--format", "json", "--local", "--root", store.root, "--node", nodename, "--color", "never"], { timeoutMs: 120_000, quiet: true, ...(env ? { env } : {}) });
        try {
          const st = JSON.parse(r.stdout) as { avail?: string; resources?: { rid: string; status: string }[] };
          up = r.exitCode === 0 && st.avail === "up";
          if (!up) down = `avail ${st.avail ?? "unknown"}${(st.resources ?? []).filter((x) => x.status !== "up").map((x) => `, ${x.rid} ${x.status}`).join("")}`;
        } catch {
          down = `print status: exit code ${r.exitCode}: ${(r.stderr || r.stdout).trim().split("\n").pop() ?? ""}`;
        }
      }
      return { path, exists: true, children: c.children, ...(c.pool ? { pool: c.pool } : {}), provisioned, up, ...(down ? { down } : {}), ...(c.mnt ? { mnt: c.mnt } : {}), exposedDevs: devs };
    },
    async create(name, req: VolumeAllocation, consumer) {
      const path = volPath(name);
      const lock = await store.lock(path, { timeoutMs: LOCK_WAIT_MS, command: `osvc ${consumer} volume create ${path}` });
      try {
        const existing = await store.readConfig(path);
        if (existing !== null) return readVolConfig(existing).pool ?? "";
        const { pools, diagnostics } = nodePools(store.root);
        const errors = diagnostics.filter((d) => d.severity === "error").map(diagnosticLine);
        if (errors.length) throw new ProviderError(`the pool config has errors:\n  ${errors.join("\n  ")}`, "Fix the [pool#...] sections of the node config (osvc pool ls shows them).");
        const choice = choosePool(pools, req, (p) => poolUsage(p.path)?.free);
        if (!choice.ok) throw new ProviderError(`${path}: ${choice.error}`, choice.hint);
        const vol = parseObjectPath(path);
        await store.installConfig(path, volumeConfig(choice.pool, (vol as { ok: true; path: ObjectPath }).path, req, [consumer], randomUUID()));
        return choice.pool.name;
      } finally {
        await lock.release();
      }
    },
    claim: (name, consumer) => editChildren(name, consumer, true),
    unclaim: (name, consumer) => editChildren(name, consumer, false),
    async act(name, action, log, opts) {
      const args = [action, "--local", ...(action === "provision" ? ["--disable-rollback", ...(opts?.leader ? ["--leader"] : [])] : [])];
      try {
        const r = await run(name, args, log);
        if (r.exitCode !== 0) {
          const tail = (r.stderr || r.stdout).trim().split("\n").slice(-6).join("\n");
          throw new ProviderError(`${volPath(name)} ${action} failed (exit code ${r.exitCode})${tail ? `:\n${tail}` : ""}`, `See: osvc ${volPath(name)} print status --root ${store.root}`);
        }
      } catch (e) {
        if (e instanceof ExecError) throw new ProviderError(`${volPath(name)} ${action}: ${e.message}`);
        throw e;
      }
    },
  };
}
