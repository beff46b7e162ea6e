// Cluster commands: `osvc node ls` (alias `osvc cluster nodes`), `osvc cluster status|migrate|
// force-unlock` (the cluster store), and the orchestrated forms of the object actions.
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { defaultInventoryFile, loadInventory, type Inventory } from "../../cluster/inventory.js";
import { listNodes } from "../../cluster/nodes.js";
import { orchestrate, OrchestrationError, type ClusterAction } from "../../cluster/orchestrate.js";
import { storeStatus } from "../../cluster/store-status.js";
import { canonicalObject } from "../../cluster/store/common.js";
import { EmbeddedStore, migrateObject, openStore, StoreError, type ClusterStore } from "../../cluster/store/index.js";
import { InventoryTransport } from "../../cluster/transport.js";
import { compileTexts, readInput } from "../../config/index.js";
import { sectionNames, setKeys } from "../../config/edit.js";
import { formatObjectPath, parseObjectPath, pathFromFileName, type ObjectPath } from "../../core/path.js";
import { createExec } from "../../provider/exec.js";
import { defaultRoot } from "../../state/store.js";
import { readNodeStats } from "../../engine/index.js";
import { builtinCatalog, sourcesOf, UsageError } from "../common.js";
import { clusterPlan, clusterStatus } from "../../cluster/views.js";
import { clusterJsonView, clusterPlanText, clusterStatusText, clusterTextView } from "../views/cluster-log.js";
import { lockTimeoutMs } from "./engine.js";
import { colorsFor, type ColorMode } from "../views/color.js";
import { renderDiagnostics } from "../views/diagnostics.js";
import { clusterTarget as objectTarget, type ClusterTarget } from "../../cluster/target.js";
import { nodesJson, nodesTable } from "../views/nodes.js";
import { holderText, migrateText, storeStatusJson, storeStatusText } from "../views/cluster-store.js";

export interface NodeLsOptions {
  root?: string;
  clusterConfig?: string;
  format?: string;
  parallelism?: string;
  color?: ColorMode;
}

/** The cluster config (--cluster-config, else <root>/cluster.conf), its diagnostics reported; UsageError without one. */
function requireInventory(opts: { root?: string; clusterConfig?: string; color?: ColorMode }): { inventory: Inventory | undefined; root: string } {
  const root = opts.root ?? defaultRoot();
  const fallback = defaultInventoryFile(root);
  const loaded = loadInventory(opts.clusterConfig, fallback);
  if (!loaded) throw new UsageError(`no cluster config: ${fallback} does not exist`, "Write one ([cluster] nodes = n1 n2 ...) or pass --cluster-config FILE.");
  const text = renderDiagnostics(loaded.diagnostics, sourcesOf([{ name: opts.clusterConfig ?? fallback, text: loaded.text }]), colorsFor(opts.color, process.stderr));
  if (text) process.stderr.write(text);
  return { inventory: loaded.inventory, root };
}

/** Lists the inventory's nodes, reachability and osvc version. Exit 1 when a node does not answer. */
export async function nodeLsCommand(opts: NodeLsOptions): Promise<number> {
  const format = opts.format ?? "text";
  if (format !== "text" && format !== "json") throw new UsageError(`--format ${format}: expected text or json`);
  const parallelism = Number(opts.parallelism ?? "10");
  if (!Number.isInteger(parallelism) || parallelism < 1) throw new UsageError(`--parallelism ${opts.parallelism}: expected a whole number >= 1`);
  const { inventory: inv, root } = requireInventory(opts);
  if (!inv) return 1;
  const nodes = await listNodes(inv, new InventoryTransport(createExec(), inv, { stateRoot: root }), { parallelism });
  process.stdout.write(format === "json" ? nodesJson(inv, nodes) : nodesTable(nodes, colorsFor(opts.color, process.stdout)));
  return nodes.every((n) => n.reachable && !n.error) ? 0 : 1;
}

/** This node's score (placement = score), computed here from /proc (the orchestrator asks each node for it). */
export function nodeScoreCommand(opts: { format?: string }): number {
  const format = opts.format ?? "text";
  if (format !== "text" && format !== "json") throw new UsageError(`--format ${format}: expected text or json`);
  const st = readNodeStats();
  process.stdout.write(
    format === "json"
      ? JSON.stringify(st) + "\n"
      : `score ${st.score} (load 15m ${st.load_15m}, memory ${st.mem_avail}% available of ${st.mem_total} MiB, swap ${st.swap_avail}% available of ${st.swap_total} MiB)\n`,
  );
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The cluster store: status, migrate, force-unlock. They open the store of the cluster config's
// [store] section (the embedded one under the state root by default).

export interface StoreCliOptions {
  root?: string;
  clusterConfig?: string;
  format?: string;
  color?: ColorMode;
  all?: boolean;
  to?: string;
  force?: boolean;
  keepSource?: boolean;
  lockTimeout?: string;
  id?: string;
}

/** Runs `fn` with the cluster config's store, closed after; store errors become usage errors (exit 1, hint). */
async function withStore<T>(opts: StoreCliOptions, fn: (store: ClusterStore, ctx: { inventory: Inventory; root: string }) => Promise<T>): Promise<T | number> {
  const { inventory, root } = requireInventory(opts);
  if (!inventory) return 1;
  const store = await openStore(inventory, root);
  try {
    return await fn(store, { inventory, root });
  } catch (e) {
    if (e instanceof StoreError) throw new UsageError(e.message, e.hint);
    throw e;
  } finally {
    await store.close();
  }
}

/** The store's spelling of an object path (<namespace>/<kind>/<name>). */
function canonicalArg(arg: string): string {
  try {
    return canonicalObject(arg);
  } catch (e) {
    throw new UsageError(`${(e as Error).message} (${JSON.stringify(arg)})`);
  }
}

/**
 * `osvc cluster status [object...]`: the store's backend and health (etcd: every member), and what
 * it holds per object. Reads only (takes no lock). Exit 1 when the store is unhealthy.
 */
export async function storeStatusCommand(objects: readonly string[], opts: StoreCliOptions): Promise<number> {
  const format = opts.format ?? "text";
  if (format !== "text" && format !== "json") throw new UsageError(`--format ${format}: expected text or json`);
  const only = objects.map(canonicalArg);
  return withStore(opts, async (store) => {
    const st = await storeStatus(store, only);
    process.stdout.write(format === "json" ? storeStatusJson(st) : storeStatusText(st, colorsFor(opts.color, process.stdout)));
    return st.health.ok && !st.error ? 0 : 1;
  });
}

/**
 * `osvc cluster migrate <object...|--all> --to etcd|embedded`: moves the objects' records between
 * the embedded store (under the state root) and the etcd store of [store], both locked, verified;
 * the source's records are removed once the copy is verified (--keep-source keeps them).
 */
export async function storeMigrateCommand(objects: readonly string[], opts: StoreCliOptions): Promise<number> {
  const to = opts.to;
  if (to !== "etcd" && to !== "embedded") throw new UsageError(`--to ${to ?? "(missing)"}: expected etcd or embedded`, "osvc cluster migrate <object>|--all --to etcd");
  if (opts.all ? objects.length > 0 : objects.length === 0) throw new UsageError("name the objects to migrate, or pass --all (not both)");
  const only = objects.map(canonicalArg);
  const lockTimeout = lockTimeoutMs(opts);
  return withStore(opts, async (configured, { root }) => {
    if (configured.backend !== "etcd") throw new UsageError("the cluster config's [store] is not etcd: there is no etcd store to migrate to or from", "Set [store] backend = etcd and its endpoints in the cluster config.");
    const embedded = new EmbeddedStore(root);
    const [from, target] = to === "etcd" ? [embedded, configured] : [configured, embedded];
    const names = opts.all ? await from.listObjects() : only;
    if (names.length === 0) {
      process.stdout.write(`the ${from.backend} store holds no object: nothing to migrate\n`);
      return 0;
    }
    let failed = 0;
    for (const object of names) {
      try {
        const r = await migrateObject(from, target, object, { command: `osvc cluster migrate ${object} --to ${to}`, lockTimeoutMs: lockTimeout, removeSource: !opts.keepSource, ...(opts.force ? { force: true } : {}) });
        process.stdout.write(migrateText(r, from.backend, target.backend));
      } catch (e) {
        if (!(e instanceof StoreError)) throw e;
        failed++;
        process.stderr.write(`error: ${object}: ${e.message}\n${e.hint ? `  hint: ${e.hint}\n` : ""}`);
      }
    }
    return failed ? 1 : 0;
  });
}

/**
 * `osvc cluster force-unlock <object> --id <id>`: shows who holds the object's cluster lock and
 * removes it only given that lock's id (what a failed run printed, or this command without --id).
 */
export async function storeForceUnlockCommand(object: string, opts: StoreCliOptions): Promise<number> {
  const path = canonicalArg(object);
  return withStore(opts, async (store) => {
    const holder = await store.lockHolder(path);
    if (!holder) {
      process.stdout.write(`${path} is not locked in the ${store.backend} cluster store.\n`);
      return 0;
    }
    process.stdout.write(`${path} is locked by ${holderText(holder)}\n`);
    if (!opts.id) throw new UsageError(`not unlocked: pass the lock id to remove it`, `osvc cluster force-unlock ${path} --id ${holder.id} (only if that holder is gone or stuck: its writes are refused from then on)`);
    const removed = await store.forceUnlock(path, opts.id);
    process.stdout.write(`${path}: cluster lock ${removed.id} removed.\n`);
    return 0;
  });
}

// ---------------------------------------------------------------------------------------------
// Orchestrated object actions (DESIGN §8): without --local, an object whose `nodes` names several
// nodes of the cluster config is driven node by node (src/cluster/orchestrate.ts).

export interface ClusterCliOptions {
  root?: string;
  clusterConfig?: string;
  local?: boolean;
  leaderNode?: string;
  parallelism?: string;
  lockTimeout?: string;
  json?: boolean;
  color?: ColorMode;
  node?: string;
  nodeConfig?: string;
  force?: boolean;
  rid?: string;
}

export type { ClusterTarget } from "../../cluster/target.js";

/**
 * The orchestrated target of an object's config, or undefined when the action is local: --local,
 * no cluster config, or fewer than two nodes. A config or inventory error is reported (exit 1).
 */
export function clusterTarget(path: ObjectPath, text: string, opts: ClusterCliOptions): ClusterTarget | number | undefined {
  if (opts.local) return undefined;
  const root = opts.root ?? defaultRoot();
  const fallback = defaultInventoryFile(root);
  const loaded = loadInventory(opts.clusterConfig, fallback);
  if (!loaded) return undefined;
  const invText = renderDiagnostics(loaded.diagnostics, sourcesOf([{ name: opts.clusterConfig ?? fallback, text: loaded.text }]), colorsFor(opts.color, process.stderr));
  if (invText) process.stderr.write(invText);
  const inv = loaded.inventory;
  if (!inv) return 1;
  const r = objectTarget({ path, text, inventory: inv, root, ...(opts.node !== undefined ? { node: opts.node } : {}), ...(opts.nodeConfig !== undefined ? { nodeConfig: opts.nodeConfig } : {}), catalog: builtinCatalog() });
  if (r.kind === "local") return undefined;
  const dText = renderDiagnostics(r.diagnostics, sourcesOf(r.compiled.sources), colorsFor(opts.color, process.stderr));
  if (dText) process.stderr.write(dText);
  return r.kind === "invalid" ? 1 : r.target;
}

function positiveInt(text: string | undefined, dflt: number, what: string): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${what} ${text}: expected a whole number >= 1`);
  return n;
}

/** Opens the cluster's transport and store for an orchestrated command. */
export async function clusterContext(target: Pick<ClusterTarget, "inventory" | "root">): Promise<{ transport: InventoryTransport; store: ClusterStore }> {
  return { transport: new InventoryTransport(createExec(), target.inventory, { stateRoot: target.root }), store: await openStore(target.inventory, target.root) };
}

const VERBS: Record<ClusterAction, string> = { provision: "Provision", unprovision: "Unprovision", start: "Start", stop: "Stop", purge: "Purge" };

/** Runs an orchestrated action; exit 0 when every node ended ok, 1 otherwise. */
export async function orchestratedAction(target: ClusterTarget, action: ClusterAction, config: string | undefined, opts: ClusterCliOptions, command: string): Promise<number> {
  const { transport, store } = await clusterContext(target);
  const view = opts.json ? clusterJsonView(target.object, process.stdout) : clusterTextView(target.object, VERBS[action], target.nodes, process.stdout, colorsFor(opts.color, process.stdout));
  const rids = opts.rid ? opts.rid.split(",").map((r) => r.trim()).filter(Boolean) : [];
  try {
    const r = await orchestrate(
      {
        object: target.object,
        action,
        ...(config !== undefined ? { config } : {}),
        nodes: target.nodes,
        placement: target.placement,
        ...(opts.leaderNode ? { leaderNode: opts.leaderNode.toLowerCase() } : {}),
        parallelism: positiveInt(opts.parallelism, 10, "--parallelism"),
        lockTimeoutMs: lockTimeoutMs(opts),
        sharedRids: target.sharedRids,
        volumes: target.volumes, // vol branch
        allocating: target.allocating,
        ...(rids.length ? { rids } : {}),
        ...(opts.force ? { force: true } : {}),
        command,
      },
      { runner: transport, store, emit: (e) => view.event(e) },
    );
    view.done(r);
    return r.ok ? 0 : 1;
  } catch (e) {
    if (e instanceof OrchestrationError || e instanceof StoreError) throw new UsageError(e.message, e.hint);
    throw e;
  } finally {
    await store.close();
  }
}

/** The object's config in the cluster store (undefined without a cluster config or record). */
export async function clusterStoredConfig(path: ObjectPath, opts: ClusterCliOptions): Promise<string | undefined> {
  if (opts.local) return undefined;
  const root = opts.root ?? defaultRoot();
  const loaded = loadInventory(opts.clusterConfig, defaultInventoryFile(root));
  if (!loaded?.inventory) return undefined;
  const store = await openStore(loaded.inventory, root);
  try {
    return (await store.getConfig(formatObjectPath(path)))?.text;
  } finally {
    await store.close();
  }
}

/** `osvc <path> print status` of an orchestrated object: every instance (live, else the record, stale). */
export async function clusterStatusCommand(target: ClusterTarget, opts: ClusterCliOptions & { format?: string }): Promise<number> {
  const { transport, store } = await clusterContext(target);
  try {
    const st = await clusterStatus({ object: target.object, nodes: target.nodes, placement: target.placement, parallelism: positiveInt(opts.parallelism, 10, "--parallelism") }, { runner: transport, store });
    process.stdout.write(opts.format === "json" ? JSON.stringify(st, null, 2) + "\n" : clusterStatusText(st, colorsFor(opts.color, process.stdout)));
    return st.instances.every((i) => i.live) ? 0 : 1;
  } finally {
    await store.close();
  }
}

/** `osvc plan <template>` of an orchestrated object: each node's plan, the leader, what is shared. */
export async function clusterPlanCommand(target: ClusterTarget, template: string, opts: ClusterCliOptions & { detailedExitcode?: boolean }): Promise<number> {
  const { transport, store } = await clusterContext(target);
  try {
    const plan = await clusterPlan(
      { object: target.object, template, nodes: target.nodes, placement: target.placement, sharedRids: target.sharedRids, ...(opts.leaderNode ? { leaderNode: opts.leaderNode.toLowerCase() } : {}), parallelism: positiveInt(opts.parallelism, 10, "--parallelism") },
      { runner: transport, store },
    );
    process.stdout.write(opts.json ? JSON.stringify(plan, null, 2) + "\n" : clusterPlanText(plan, colorsFor(opts.color, process.stdout)));
    if (plan.nodes.some((n) => n.error)) return 1;
    return opts.detailedExitcode && plan.nodes.some((n) => n.changes > 0) ? 2 : 0;
  } finally {
    await store.close();
  }
}

/** A config installed on several nodes carries one DEFAULT.id: the given one, the stored one, or a new one. */
function withObjectId(text: string, stored: string | undefined, path: ObjectPath): string {
  const idOf = (t: string) => {
    const ev = compileTexts([{ name: "id", text: t }], { path, nodename: "-", catalog: builtinCatalog() }).evaluated.defaults.get("id");
    return ev && ev.origin === "section" ? String(ev.value ?? ev.text) : undefined;
  };
  if (idOf(text)) return text;
  const id = (stored && idOf(stored)) || randomUUID();
  return sectionNames(text).includes("DEFAULT") ? setKeys(text, "DEFAULT", { id }) : `[DEFAULT]\nid = ${id}\n\n${text}`;
}

export interface TemplateCliOptions extends ClusterCliOptions {
  path?: string;
  detailedExitcode?: boolean;
  out?: string;
}

/**
 * `osvc plan|apply <template>` and `osvc destroy <object|template>` of a multi-node object with a
 * cluster config: orchestrated. Undefined: the command is this node's (--local, stdin, a saved
 * plan, a single node, no cluster config).
 */
export async function clusterTemplateCommand(kind: "plan" | "apply" | "destroy", arg: string | undefined, opts: TemplateCliOptions): Promise<number | undefined> {
  if (opts.local || !arg || arg === "-" || opts.out) return undefined;
  // No cluster config: this node's command, with no compile of the template here (clusterTarget would find none either).
  if (opts.clusterConfig === undefined && !existsSync(defaultInventoryFile(opts.root ?? defaultRoot()))) return undefined;
  let text: string | undefined;
  let pathText = opts.path;
  if (existsSync(arg) || /^https?:\/\//.test(arg)) {
    text = (await readInput(arg)).text;
    if (/^\s*\{/.test(text)) return undefined; // a saved plan: applied here, as planned
    pathText ??= pathFromFileName(arg);
  } else if (kind === "destroy") pathText ??= arg;
  else return undefined;
  const parsed = parseObjectPath(pathText);
  if (!parsed.ok) return undefined;
  const path = parsed.path;
  const stored = await clusterStoredConfig(path, opts);
  text ??= stored;
  if (text === undefined) return undefined;
  if (kind !== "destroy") text = withObjectId(text, stored, path);
  const target = clusterTarget(path, text, opts);
  if (target === undefined || typeof target === "number") return target;
  const object = formatObjectPath(path);
  if (kind === "plan") return clusterPlanCommand(target, text, opts);
  if (kind === "apply") return orchestratedAction(target, "provision", text, opts, `osvc apply ${object}`);
  return orchestratedAction(target, "unprovision", undefined, opts, `osvc destroy ${object}`);
}
