// Triggers: [blocking_]{pre,post}_{provision,unprovision,start,stop} commands around an action.
// A trigger is an argument vector (POSIX shell-word split of the keyword) run without a shell, or,
// as upstream, `/bin/sh -c <line>` when the line holds shell operators as written in the template
// (validation refuses substituted values holding shell syntax: src/core/command.ts).
import { isShell, shellArgv, usesShellOperators } from "../core/command.js";
import { shlexSplit } from "../core/convert.js";
import type { KwValue } from "../core/value.js";
import { ProviderError } from "../provider/api.js";
import type { Exec } from "../provider/exec.js";

export type TriggerAction = "provision" | "unprovision" | "start" | "stop";
export type TriggerWhen = "pre" | "post";


export function triggerArgv(command: string): { argv: string[] } | { error: string; hint?: string } {
  const r = shlexSplit(command);
  if (!r.ok) return { error: r.error, hint: r.hint };
  if (r.value.length === 0) return { argv: [] };
  if (usesShellOperators(command) && !isShell(r.value[0])) return { argv: shellArgv(command) };
  return { argv: r.value };
}

export interface TriggerContext {
  readonly exec: Exec;
  readonly log: (level: "info" | "warning" | "error", message: string) => void;
  readonly env: Readonly<Record<string, string>>;
  readonly timeoutMs?: number;
}

/** Runs the blocking then the non-blocking trigger of one phase. A blocking failure throws. */
export async function runTriggers(kw: Readonly<Record<string, KwValue>>, when: TriggerWhen, action: TriggerAction, ctx: TriggerContext): Promise<void> {
  for (const blocking of [true, false]) {
    const key = `${blocking ? "blocking_" : ""}${when}_${action}`;
    const value = kw[key];
    if (typeof value !== "string" || value.trim() === "") continue;
    const parsed = triggerArgv(value);
    if ("error" in parsed) {
      if (blocking) throw new ProviderError(`${key}: ${parsed.error}`, parsed.hint);
      ctx.log("warning", `${key}: ${parsed.error}${parsed.hint ? ` (${parsed.hint})` : ""}`);
      continue;
    }
    const [file, ...args] = parsed.argv;
    const r = await ctx.exec(file, args, { env: { ...ctx.env, OSVC_TRIGGER: key }, timeoutMs: ctx.timeoutMs ?? 120_000 });
    if (r.exitCode === 0) continue;
    const tail = (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ");
    const msg = `${key} failed (exit ${r.exitCode})${tail ? `: ${tail}` : ""}`;
    if (blocking) throw new ProviderError(msg, `The blocking trigger aborts the ${action}.`);
    ctx.log("warning", msg);
  }
}
