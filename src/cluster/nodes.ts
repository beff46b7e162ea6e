// `osvc node ls`: each node of the inventory, how it is reached, whether it answers, and the osvc
// version there — asked of every node in parallel (bounded).
import { mapLimit } from "../core/limit.js";
import type { Inventory, TransportKind } from "./inventory.js";
import type { InventoryTransport } from "./transport.js";

export interface NodeInfo {
  readonly name: string;
  readonly transport: TransportKind;
  /** The ssh destination (ssh transport) or "local". */
  readonly destination: string;
  readonly reachable: boolean;
  /** The osvc version on the node, when it answered. */
  readonly version?: string;
  /** Why the node is unreachable, or why osvc failed there. */
  readonly error?: string;
  readonly durationMs: number;
}

export const DEFAULT_NODE_TIMEOUT_MS = 30_000;

function lastLine(s: string): string {
  const lines = s.trim().split("\n").map((l) => l.trim()).filter(Boolean);
  return lines[lines.length - 1] ?? "";
}

/** Asks every node of the inventory for `osvc --version`, at most `parallelism` at once. */
export async function listNodes(inv: Inventory, transport: InventoryTransport, opts: { parallelism?: number; timeoutMs?: number } = {}): Promise<NodeInfo[]> {
  return mapLimit(inv.nodes, opts.parallelism ?? 10, async (n): Promise<NodeInfo> => {
    const base = { name: n.name, transport: n.transport, destination: n.transport === "local" ? "local" : n.ssh };
    const r = await transport.osvc(n.name, ["--version"], { timeoutMs: opts.timeoutMs ?? DEFAULT_NODE_TIMEOUT_MS });
    if (r.unreachable) return { ...base, reachable: false, error: r.unreachable, durationMs: r.durationMs };
    if (r.timedOut) return { ...base, reachable: false, error: `no answer within ${Math.round((opts.timeoutMs ?? DEFAULT_NODE_TIMEOUT_MS) / 1000)} s`, durationMs: r.durationMs };
    const version = /^osvc (\S+)/.exec(r.stdout.trim())?.[1];
    if (r.exitCode !== 0 || !version) {
      const why = lastLine(r.stderr) || lastLine(r.stdout) || `exit code ${r.exitCode}`;
      return { ...base, reachable: true, error: `${n.osvc.join(" ")} --version: ${why}`, durationMs: r.durationMs };
    }
    return { ...base, reachable: true, version, durationMs: r.durationMs };
  });
}
