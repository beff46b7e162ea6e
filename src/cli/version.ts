// The osvc version, read from package.json without loading anything else.
import { readFileSync } from "node:fs";

let cached: string | undefined;

export function osvcVersion(): string {
  if (cached) return cached;
  const url = new URL("../../../package.json", import.meta.url);
  cached = (JSON.parse(readFileSync(url, "utf8")) as { version: string }).version;
  return cached;
}
