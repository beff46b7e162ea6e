// A process that takes a cluster store lock and hangs (tests kill it with SIGKILL).
// Usage: node store-holder.mjs '<json: {backend, root?, endpoints?, prefix?, object, ttl?}>'
// Needs dist/ (npm run build). Prints one JSON line (the holder record) once the lock is held.
import { openStoreConfig } from "../../dist/src/cluster/store/index.js";

const a = JSON.parse(process.argv[2]);
const store = await openStoreConfig(a.backend === "etcd" ? { backend: "etcd", endpoints: a.endpoints, prefix: a.prefix } : undefined, a.root);
const lock = await store.lock(a.object, { command: "store-holder test" }, { ttlSeconds: a.ttl ?? 2 });
process.stdout.write(`${JSON.stringify(lock.holder)}\n`);
setInterval(() => undefined, 1 << 30);
