// `osvc <path> sync update`: the sync resources (status-only providers with syncUpdate) run to
// their peers: "local", and the nodes/drpnodes of the object other than this one, over ssh.
import type { ApplyEvent } from "../apply/applier.js";
import type { CompileResult, EvaluatedResource } from "../config/index.js";
import type { ProviderContext, SyncPeer } from "../provider/api.js";
import { createExec } from "../provider/exec.js";
import { EngineError, type EngineContext } from "./context.js";
import { withLock } from "./lock.js";
import { listedNodes } from "./nodes.js";
import type { LockRequest } from "./requests.js";
import { loadInstalled, type Installed, type NodeTarget } from "./status.js";

export interface SyncRequest extends NodeTarget {
  readonly object: string;
  /** Only these sync resources (default: every one). */
  readonly rids?: readonly string[];
  /** Only this target (nodes, drpnodes or local) instead of each resource's `target`. */
  readonly syncTarget?: string;
}

export interface SyncSelection {
  readonly installed: Installed;
  readonly syncs: readonly EvaluatedResource[];
}

/** The sync resources a request runs (none: nothing to do); the compile result when the installed config has errors. */
export async function selectSyncs(ctx: EngineContext, req: SyncRequest): Promise<SyncSelection | { readonly invalid: CompileResult }> {
  const installed = await loadInstalled(ctx, req.object, req);
  const { compiled } = installed;
  if (!compiled.ok) return { invalid: compiled };
  const wanted = req.rids ?? [];
  const ev = compiled.evaluated;
  const known = ev.resources.map((r) => r.rid.toString());
  for (const w of wanted) if (!known.includes(w)) throw new EngineError(`${w}: no such resource in ${req.object}`, `Resources: ${known.join(", ")}`);
  const syncs = ev.resources.filter((r) => {
    const p = r.driver ? ctx.registry.get(r.driver.id) : undefined;
    return p?.syncUpdate && r.keywords.get("disable")?.value !== true && (wanted.length === 0 || wanted.includes(r.rid.toString()));
  });
  return { installed, syncs };
}

/** Runs the selected sync resources under the object's lock; the number that failed (each reported as an error event). */
export async function syncUpdate(ctx: EngineContext, req: SyncRequest, sel: SyncSelection, lock: Omit<LockRequest, "object">, emit: (e: ApplyEvent) => void): Promise<number> {
  const { store, registry: reg } = ctx;
  const object = req.object;
  const ev = sel.installed.compiled.evaluated;
  const me = ev.nodename.toLowerCase();
  const sshConfig = sel.installed.node.nodeConfig.node.ssh_config;
  let failed = 0;
  await withLock(ctx, { ...lock, object }, async () => {
    for (const r of sel.syncs) {
      const rid = r.rid.toString();
      const provider = reg.get(r.driver!.id)!;
      const targets = req.syncTarget ? [req.syncTarget] : (() => {
        const v = r.keywords.get("target")?.value;
        return Array.isArray(v) ? v.map(String) : [];
      })();
      const peers: SyncPeer[] = [];
      for (const t of targets) {
        if (t === "local") peers.push({ node: ev.nodename, local: true });
        else if (t === "nodes" || t === "drpnodes") {
          for (const n of listedNodes(ev, t)) if (n.toLowerCase() !== me && !peers.some((p) => p.node === n)) peers.push({ node: n, local: false, ...(sshConfig ? { sshConfig } : {}) });
        } else throw new EngineError(`${rid}: unknown target ${t}`, "Targets are nodes, drpnodes and local.");
      }
      const inputs = Object.fromEntries([...r.keywords].filter(([, k]) => k.value !== undefined).map(([name, k]) => [name, k.value!]));
      const pctx: ProviderContext = {
        exec: createExec(({ command, result }) => {
          if (!result) emit({ type: "log", rid, level: "info", message: command });
        }),
        log: (level, message) => emit({ type: "log", rid, level, message }),
        signal: new AbortController().signal,
        role: "solo",
        objectName: object,
        nodename: ev.nodename,
        varDir: store.varDir(object),
      };
      try {
        await provider.syncUpdate!(pctx, { rid, driver: r.driver!.id, kw: inputs }, peers);
      } catch (e) {
        failed++;
        emit({ type: "log", rid, level: "error", message: e instanceof Error ? e.message : String(e) });
      }
    }
  });
  return failed;
}
