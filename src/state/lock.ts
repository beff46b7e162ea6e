// The object lock: the exclusive-create file lock of src/core/filelock.ts (also used by the
// providers' per-host locks, src/provider/hostlock.ts).
export * from "../core/filelock.js";
