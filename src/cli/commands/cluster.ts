// Cluster commands: `osvc node ls` (alias `osvc cluster nodes`).
import { defaultInventoryFile, loadInventory } from "../../cluster/inventory.js";
import { listNodes } from "../../cluster/nodes.js";
import { InventoryTransport } from "../../cluster/transport.js";
import { createExec } from "../../provider/exec.js";
import { defaultRoot } from "../../state/store.js";
import { sourcesOf, UsageError } from "../common.js";
import { colorsFor, type ColorMode } from "../views/color.js";
import { renderDiagnostics } from "../views/diagnostics.js";
import { nodesJson, nodesTable } from "../views/nodes.js";

export interface NodeLsOptions {
  root?: string;
  clusterConfig?: string;
  format?: string;
  parallelism?: string;
  color?: ColorMode;
}

/** Lists the inventory's nodes, reachability and osvc version. Exit 1 when a node does not answer. */
export async function nodeLsCommand(opts: NodeLsOptions): Promise<number> {
  const format = opts.format ?? "text";
  if (format !== "text" && format !== "json") throw new UsageError(`--format ${format}: expected text or json`);
  const parallelism = Number(opts.parallelism ?? "10");
  if (!Number.isInteger(parallelism) || parallelism < 1) throw new UsageError(`--parallelism ${opts.parallelism}: expected a whole number >= 1`);
  const root = opts.root ?? defaultRoot();
  const fallback = defaultInventoryFile(root);
  const loaded = loadInventory(opts.clusterConfig, fallback);
  if (!loaded) throw new UsageError(`no cluster config: ${fallback} does not exist`, "Write one ([cluster] nodes = n1 n2 ...) or pass --cluster-config FILE.");
  const text = renderDiagnostics(loaded.diagnostics, sourcesOf([{ name: opts.clusterConfig ?? fallback, text: loaded.text }]), colorsFor(opts.color, process.stderr));
  if (text) process.stderr.write(text);
  const inv = loaded.inventory;
  if (!inv) return 1;
  const nodes = await listNodes(inv, new InventoryTransport(createExec(), inv, { stateRoot: root }), { parallelism });
  process.stdout.write(format === "json" ? nodesJson(inv, nodes) : nodesTable(nodes, colorsFor(opts.color, process.stdout)));
  return nodes.every((n) => n.reachable && !n.error) ? 0 : 1;
}
