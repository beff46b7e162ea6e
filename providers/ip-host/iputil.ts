// Shared by ip.host and ip.netns: keyword readers and `ip -j route` parsing.
import type { KwValue } from "../../src/core/value.js";
import { ipLiteral } from "./spec.js";

export const ARPING_HINT = "install iputils-arping (apt-get install iputils-arping)";

export function str(v: KwValue | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === "string") return v.trim() === "" ? undefined : v.trim();
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return v.length ? v.join(" ") : undefined;
}

export function flag(v: KwValue | undefined, dflt: boolean): boolean {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") return !/^(false|no|0|off)$/i.test(v.trim());
  return dflt;
}

export interface DefaultRoute {
  readonly gateway?: string;
  readonly dev?: string;
}

/** `ip -j route show default` output. */
export function parseDefaultRoutes(stdout: string): DefaultRoute[] {
  if (!stdout.trim()) return [];
  return (JSON.parse(stdout) as { gateway?: string; dev?: string }[]).map((x) => ({
    ...(typeof x.gateway === "string" ? { gateway: ipLiteral(x.gateway)?.addr ?? x.gateway } : {}),
    ...(typeof x.dev === "string" ? { dev: x.dev } : {}),
  }));
}
