// Applies a config patch (core/patch.ts) to config text, keeping everything else as written.
import type { ConfigPatch } from "../core/patch.js";
import { setKeys, unsetKeys } from "./edit.js";

export function applyPatch(text: string, patch: ConfigPatch): string {
  let out = text;
  for (const e of patch) {
    out = e.value === undefined ? unsetKeys(out, e.section, [e.key]).text : setKeys(out, e.section, { [e.key]: e.value });
  }
  return out;
}
