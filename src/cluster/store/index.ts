// The cluster store: one interface (types.ts), two backends. openStore picks the backend from the
// cluster config's [store] section; the etcd module (and its gRPC client) loads only when used.
import { readFile } from "node:fs/promises";
import type { Inventory, StoreConfig } from "../inventory.js";
import { EmbeddedStore } from "./embedded.js";
import { StoreError, type ClusterStore } from "./types.js";

export * from "./types.js";
export { EmbeddedStore } from "./embedded.js";
export { migrateObject, type MigrateOptions, type MigrateResult } from "./migrate.js";

async function readPem(file: string | undefined, what: string): Promise<Buffer | undefined> {
  if (!file) return undefined;
  try {
    return await readFile(file);
  } catch (e) {
    throw new StoreError(`cannot read the etcd ${what} file ${file}: ${(e as Error).message}`, "Check [store] in the cluster config.");
  }
}

/** Opens the store a [store] section describes (embedded under `root` when absent). */
export async function openStoreConfig(cfg: StoreConfig | undefined, root: string): Promise<ClusterStore> {
  if (!cfg || cfg.backend === "embedded") return new EmbeddedStore(root);
  const { EtcdStore } = await import("./etcd.js");
  const [ca, cert, key] = await Promise.all([readPem(cfg.ca, "CA"), readPem(cfg.cert, "certificate"), readPem(cfg.key, "key")]);
  const tls = ca || cert || key ? { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) } : undefined;
  return new EtcdStore({ endpoints: cfg.endpoints, ...(cfg.prefix ? { prefix: cfg.prefix } : {}), ...(tls ? { tls } : {}), ...(cfg.lockTtlS ? { ttlSeconds: cfg.lockTtlS } : {}) });
}

/** The cluster store of an inventory (its [store] section), the embedded one under `root` by default. */
export function openStore(inventory: Inventory | undefined, root: string): Promise<ClusterStore> {
  return openStoreConfig(inventory?.store, root);
}
