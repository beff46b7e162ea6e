// The osvc version, read from package.json without loading anything else. The nearest
// package.json named "osvc" above this file: dist/src/cli/ when compiled, dist/ when bundled.
import { readFileSync } from "node:fs";

let cached: string | undefined;

export function osvcVersion(): string {
  if (cached) return cached;
  for (let url = new URL("./", import.meta.url); ; url = new URL("../", url)) {
    try {
      const pkg = JSON.parse(readFileSync(new URL("package.json", url), "utf8")) as { name?: string; version: string };
      if (pkg.name === "osvc") return (cached = pkg.version);
    } catch {
      // not here: look one level up
    }
    if (url.pathname === "/") throw new Error("internal error (this is an osvc bug): package.json of osvc not found");
  }
}
