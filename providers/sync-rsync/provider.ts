// sync.rsync: replicates paths to peers with rsync (opensvc-semantics §11, DESIGN §6). Status only:
// apply never runs it; `osvc <path> sync update` does, and its probe reports how fresh the copies are.
//
// peers      : "local" (dst on this node) and the nodes/drpnodes lists minus this node, reached over
//              ssh by node name (`[node] ssh_config` of the node config names an ssh client config,
//              e.g. to map names to addresses). Resolved by the engine, passed to syncUpdate.
// syncUpdate : for each peer, `dstfs` must be a mount point there when set (a safety check: never
//              fill the peer's root filesystem), then `rsync -aHAXx --numeric-ids --delete --force
//              [options] [--bwlimit] SRC... [NODE:]DST` (rsync protects its remote arguments; the
//              only remote command osvc runs itself is `findmnt -n -M DSTFS`, with DSTFS checked
//              to hold no shell metacharacter). The result per peer is recorded in
//              <var>/sync/<rid>.json (atomically); a failed peer fails the action after the others ran.
// probe      : up when every peer of the last update succeeded and it is younger than max_delay
//              (default 1d); its per-peer results are the resource's status log.
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Outputs } from "../../src/core/value.js";
import { checkOptionWords, RSYNC_OPTIONS } from "../../src/core/argv.js";
import { ProviderError } from "../../src/provider/api.js";
import type { Observed, ProbeContext, Provider, ProviderContext, ResourceSpec, StatusLogLine, SyncPeer } from "../../src/provider/api.js";
import { readMounts } from "../fs/mountinfo.js";
import { syncRsyncSpec } from "./spec.js";

const DEFAULT_MAX_DELAY_S = 86_400;
const DEFAULT_TIMEOUT_S = 3_600;
const DEFAULT_OPTIONS = ["-a", "-H", "-A", "-X", "-x", "--numeric-ids", "--delete", "--force"];
/** Paths osvc puts in a remote command line: no shell metacharacter, no whitespace. */
const SAFE_PATH = /^\/[A-Za-z0-9._+\/@%=:,-]*$/;
const SAFE_NODE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

interface PeerResult {
  readonly ok: boolean;
  readonly at: string;
  readonly error?: string;
  readonly durationMs?: number;
}

interface SyncRecord {
  readonly at: string;
  readonly peers: Readonly<Record<string, PeerResult>>;
}

function recordFile(varDir: string, rid: string): string {
  return path.join(varDir, "sync", `${rid.replace(/[^A-Za-z0-9_.-]/g, "_")}.json`);
}

async function readRecord(varDir: string, rid: string): Promise<SyncRecord | undefined> {
  try {
    const data = JSON.parse(await readFile(recordFile(varDir, rid), "utf8")) as SyncRecord;
    return data && typeof data.at === "string" && data.peers && typeof data.peers === "object" ? data : undefined;
  } catch {
    return undefined;
  }
}

async function writeRecord(varDir: string, rid: string, rec: SyncRecord): Promise<void> {
  const file = recordFile(varDir, rid);
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, JSON.stringify(rec, null, 2) + "\n", { mode: 0o600 });
  await rename(tmp, file);
}

function maxDelayMs(r: ResourceSpec): number {
  const v = r.kw.max_delay;
  return (typeof v === "number" && v > 0 ? v : DEFAULT_MAX_DELAY_S) * 1000;
}

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}m ago`;
  return `${Math.round(s / 3600)}h ago`;
}

async function probe(ctx: ProbeContext, resources: readonly ResourceSpec[]): Promise<Observed[]> {
  const now = Date.now();
  return Promise.all(
    resources.map(async (r): Promise<Observed> => {
      const rec = await readRecord(ctx.varDir, r.rid);
      if (!rec || Object.keys(rec.peers).length === 0) {
        return { provisioned: null, up: false, log: [{ level: "info", message: `never synced: run \`osvc ${ctx.objectName} sync update\`` }] };
      }
      const log: StatusLogLine[] = [];
      let up = true;
      for (const [node, p] of Object.entries(rec.peers).sort(([a], [b]) => a.localeCompare(b))) {
        const age = now - Date.parse(p.at);
        if (p.ok) log.push({ level: "info", message: `${node}: synced ${ago(age)}` });
        else log.push({ level: "warning", message: `${node}: last sync failed ${ago(age)}: ${p.error ?? "unknown error"}` });
        if (!p.ok || !(age <= maxDelayMs(r))) up = false;
      }
      const stale = Object.values(rec.peers).some((p) => p.ok && !(now - Date.parse(p.at) <= maxDelayMs(r)));
      return {
        provisioned: null,
        up,
        log,
        ...(stale ? { problems: [{ level: "warning" as const, message: `a copy is older than max_delay (${maxDelayMs(r) / 1000}s)`, hint: `run \`osvc ${ctx.objectName} sync update\`` }] } : {}),
      };
    }),
  );
}

function listOf(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : typeof v === "string" && v ? v.split(/\s+/) : [];
}

function sshCommand(peer: SyncPeer): string[] {
  if (peer.sshConfig !== undefined && !SAFE_PATH.test(peer.sshConfig)) {
    throw new ProviderError(`ssh_config ${JSON.stringify(peer.sshConfig)} must be an absolute path without spaces or shell characters`);
  }
  return ["ssh", ...(peer.sshConfig ? ["-F", peer.sshConfig] : []), "-o", "BatchMode=yes", "-o", "ConnectTimeout=10"];
}

/** dstfs must be a mount point on the peer before anything is copied there. */
async function checkDstfs(ctx: ProviderContext, peer: SyncPeer, dstfs: string): Promise<void> {
  if (peer.local) {
    const mounted = (await readMounts()).some((m) => m.target === dstfs);
    if (!mounted) throw new ProviderError(`dstfs ${dstfs} is not mounted on this node: sync skipped (it would fill the parent filesystem)`, "mount it, or fix dstfs");
    return;
  }
  const [ssh, ...opts] = sshCommand(peer);
  const r = await ctx.exec(ssh, [...opts, peer.node, "findmnt", "-n", "-M", dstfs], { timeoutMs: 30_000, signal: ctx.signal });
  if (r.exitCode === 255) throw new ProviderError(`cannot reach ${peer.node} over ssh: ${(r.stderr || r.stdout).trim()}`);
  if (r.exitCode !== 0) throw new ProviderError(`dstfs ${dstfs} is not mounted on ${peer.node}: sync skipped (it would fill the parent filesystem)`, "mount it there, or fix dstfs");
}

async function syncUpdate(ctx: ProviderContext, r: ResourceSpec, peers: readonly SyncPeer[]): Promise<Outputs> {
  const src = listOf(r.kw.src);
  const dst = typeof r.kw.dst === "string" ? r.kw.dst : "";
  if (src.length === 0 || src.some((s) => !path.isAbsolute(s))) throw new ProviderError(`${r.rid}: src must list absolute paths`, "src = /srv/{name}/data/");
  if (!path.isAbsolute(dst)) throw new ProviderError(`${r.rid}: dst must be an absolute path`, "dst = /srv/{name}/data");
  if (r.kw.snap === true) throw new ProviderError(`${r.rid}: snap = true is not supported here (it needs LVM or btrfs snapshots of the source)`, "set snap = false");
  const dstfs = typeof r.kw.dstfs === "string" && r.kw.dstfs ? r.kw.dstfs : undefined;
  if (dstfs !== undefined && !SAFE_PATH.test(dstfs)) throw new ProviderError(`${r.rid}: dstfs ${JSON.stringify(dstfs)} must be an absolute path without spaces or shell characters`);
  if (peers.length === 0) {
    ctx.log("info", "no peer to sync to (target lists no other node)");
    return {};
  }
  const extra = listOf(r.kw.options);
  const checked = checkOptionWords(extra, RSYNC_OPTIONS);
  if (!checked.ok) throw new ProviderError(`${r.rid}: options: ${checked.error}`, checked.hint);
  const opts = [...(r.kw.reset_options === true ? [] : DEFAULT_OPTIONS), ...extra, ...(typeof r.kw.bwlimit === "string" && r.kw.bwlimit ? [`--bwlimit=${r.kw.bwlimit}`] : [])];
  const timeoutMs = (typeof r.kw.timeout === "number" && r.kw.timeout > 0 ? r.kw.timeout : DEFAULT_TIMEOUT_S) * 1000;
  const prior = await readRecord(ctx.varDir, r.rid);
  const results: Record<string, PeerResult> = {};
  for (const peer of peers) {
    const t0 = performance.now();
    const at = new Date().toISOString();
    try {
      if (!peer.local && !SAFE_NODE.test(peer.node)) throw new ProviderError(`node name ${JSON.stringify(peer.node)} cannot be an ssh destination`);
      if (dstfs) await checkDstfs(ctx, peer, dstfs);
      // `--` ends the options: src and dst are operands whatever they look like.
      const args = peer.local ? [...opts, "--", ...src, dst] : [...opts, "-e", sshCommand(peer).join(" "), "--", ...src, `${peer.node}:${dst}`];
      const res = await ctx.exec("rsync", args, { timeoutMs, signal: ctx.signal });
      if (res.exitCode === 127) throw new ProviderError("rsync is not installed", "apt-get install rsync");
      if (res.timedOut) throw new ProviderError(`rsync to ${peer.node} timed out after ${timeoutMs / 1000}s`, "raise timeout");
      if (res.exitCode !== 0) {
        const tail = (res.stderr || res.stdout).trim().split("\n").slice(-3).join("\n");
        throw new ProviderError(`rsync to ${peer.node} failed (exit code ${res.exitCode}): ${tail}`);
      }
      const ms = Math.round(performance.now() - t0);
      results[peer.node] = { ok: true, at, durationMs: ms };
      ctx.log("info", `synced to ${peer.node} in ${(ms / 1000).toFixed(2)}s`);
    } catch (e) {
      if (!(e instanceof ProviderError)) throw e;
      results[peer.node] = { ok: false, at, error: e.message };
      ctx.log("error", e.message);
    }
  }
  // Peers not in this run keep their last result only when they are still targets.
  const keep = Object.fromEntries(Object.entries(prior?.peers ?? {}).filter(([n]) => peers.some((p) => p.node === n) && !(n in results)));
  await writeRecord(ctx.varDir, r.rid, { at: new Date().toISOString(), peers: { ...keep, ...results } });
  const failed = Object.entries(results).filter(([, p]) => !p.ok);
  if (failed.length) throw new ProviderError(`sync to ${failed.map(([n]) => n).join(", ")} failed`, "see the errors above; the other peers were synced");
  return { last_sync: new Date().toISOString() };
}

async function nothing(): Promise<Outputs> {
  return {};
}

export const syncRsyncProvider: Provider = {
  type: "sync.rsync",
  spec: syncRsyncSpec,
  updatable: [],
  dataBearing: false,
  statusOnly: true,
  probe,
  provision: nothing,
  async unprovision() {},
  start: nothing,
  async stop() {},
  syncUpdate,
};
