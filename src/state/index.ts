export * from "./model.js";
export * from "./lock.js";
export * from "./store.js";
