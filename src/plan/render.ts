// Plan views: human text (symbols, colors, closing summary grouped by action) and stable JSON.
import type { KwValue } from "../core/value.js";
import { ACTION_SYMBOL, ACTION_TEXT, allowFlag, countByAction, destructionText, SUMMARY_ORDER, type Action, type KeywordDiff, type Plan, type ResourceChange } from "./model.js";

export interface Paint {
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
  cyan(s: string): string;
  magenta(s: string): string;
  bold(s: string): string;
  dim(s: string): string;
}

const plain: Paint = { green: (s) => s, red: (s) => s, yellow: (s) => s, cyan: (s) => s, magenta: (s) => s, bold: (s) => s, dim: (s) => s };

function colorOf(a: Action, c: Paint): (s: string) => string {
  switch (a) {
    case "provision":
      return c.green;
    case "update":
      return c.yellow;
    case "replace":
    case "unprovision":
      return c.red;
    case "start":
    case "adopt":
      return c.cyan;
    case "stop":
      return c.yellow;
    case "follow":
      return c.magenta;
    default:
      return (s) => s;
  }
}

export function formatValue(v: KwValue | undefined, sensitive?: boolean): string {
  if (sensitive) return "(sensitive value)";
  if (v === undefined || v === null) return "null";
  if (Array.isArray(v)) return `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
  if (typeof v === "string") return JSON.stringify(v);
  return String(v);
}

function diffLine(d: KeywordDiff, action: Action, width: number, c: Paint): string {
  const key = d.key.padEnd(width);
  const replace = d.forcesReplace && action === "replace" ? c.red("  # forces replacement") : "";
  if (action === "provision" || action === "adopt" || action === "start") {
    const v = d.afterUnknown ? c.dim("(known after apply)") : formatValue(d.after, d.sensitive);
    return `      ${c.green("+")} ${key} = ${v}`;
  }
  if (action === "unprovision") return `      ${c.red("-")} ${key} = ${formatValue(d.before, d.sensitive)}`;
  const after = d.afterUnknown ? c.dim("(known after apply)") : formatValue(d.after, d.sensitive);
  return `      ${c.yellow("~")} ${key} = ${formatValue(d.before, d.sensitive)} -> ${after}${replace}`;
}

function changeBlock(ch: ResourceChange, c: Paint): string[] {
  const color = colorOf(ch.action, c);
  const sym = ACTION_SYMBOL[ch.action];
  const head = `  ${color(sym.padStart(3))} ${c.bold(ch.rid)} (${ch.driver}) ${ACTION_TEXT[ch.action]}: ${ch.reason}`;
  const lines = [head];
  if (ch.stateOnly) lines.push(`      ${c.dim(ch.stopFirst ? "(stopped, then forgotten: not unprovisioned)" : "(state only: nothing changes on the host)")}`);
  if (ch.destroys) {
    const mark = `! ${destructionText(ch.destroys)}`;
    lines.push(`      ${ch.destroys.kind === "keep" ? c.yellow(c.bold(mark)) : c.red(c.bold(mark))}: ${ch.destroys.detail}`);
    if (ch.destroys.refused) lines.push(`      ${c.red(c.bold("refused:"))} ${ch.destroys.refused}; pass ${allowFlag(ch.destroys)} ${ch.rid} to allow it`);
  }
  if (ch.blocked) lines.push(`      ${c.red(c.bold("refused:"))} ${ch.blocked}; pass --allow-replace ${ch.rid} to allow it`);
  const shown = ch.action === "provision" || ch.action === "unprovision" || ch.action === "update" || ch.action === "replace" || ch.action === "adopt" ? ch.diff : [];
  const width = Math.max(0, ...shown.map((d) => d.key.length));
  for (const d of shown) lines.push(diffLine(d, ch.action, width, c));
  return lines;
}

export interface RenderOptions {
  readonly color?: Paint;
  /** Also list unchanged resources. */
  readonly showUnchanged?: boolean;
}

export function renderPlanText(plan: Plan, opts: RenderOptions = {}): string {
  const c = opts.color ?? plain;
  const out: string[] = [];
  const changed = plan.changes.filter((x) => x.action !== "noop");
  const counts = countByAction(plan);
  const where = `${plan.object} on node ${plan.node}`;
  if (plan.options.targets.length || plan.options.excludes.length) {
    out.push(c.yellow(`Resource targeting is in effect (${[...plan.options.targets.map((t) => `--target ${t}`), ...plan.options.excludes.map((t) => `--exclude ${t}`)].join(" ")}): the plan may be incomplete.`), "");
  }
  if (!plan.options.refresh) out.push(c.yellow("Refresh is off: the plan trusts the recorded state, not the host."), "");
  if (changed.length === 0) {
    out.push(`${c.green(c.bold("No changes."))} ${where} matches the template (${counts.noop} resource${counts.noop === 1 ? "" : "s"} up to date).`);
    return out.join("\n") + "\n";
  }
  out.push(`osvc will perform these actions on ${c.bold(where)}:`, "");
  for (const ch of plan.changes) {
    if (ch.action === "noop") {
      if (opts.showUnchanged) out.push(`      ${c.dim(`${ch.rid} (${ch.driver}) unchanged: ${ch.reason}`)}`);
      continue;
    }
    out.push(...changeBlock(ch, c), "");
  }
  const parts: string[] = [];
  const label: Record<Action, string> = { provision: "to provision", update: "to update", replace: "to replace", unprovision: "to unprovision", start: "to start", stop: "to stop", adopt: "to adopt", follow: "to follow", noop: "unchanged" };
  for (const a of SUMMARY_ORDER) if (counts[a]) parts.push(colorOf(a, c)(`${counts[a]} ${label[a]}`));
  out.push(`${c.bold("Plan:")} ${parts.join(", ")}${counts.noop ? `, ${counts.noop} unchanged` : ""}.`);
  const destructive = changed.filter((x) => x.destroys && x.destroys.kind !== "keep");
  if (destructive.length) out.push(`  ${c.red(c.bold("DESTRUCTIVE:"))} ${destructive.map((x) => `${x.rid} ${destructionText(x.destroys!)}${x.destroys!.refused ? " (refused)" : ""}`).join(", ")}`);
  const width = Math.max(...SUMMARY_ORDER.filter((a) => counts[a]).map((a) => a.length)) + 1;
  for (const a of SUMMARY_ORDER) {
    const rids = changed.filter((x) => x.action === a).map((x) => x.rid);
    if (rids.length) out.push(`  ${colorOf(a, c)(`${a}:`.padEnd(width))} ${rids.join(", ")}`);
  }
  const blocked = changed.filter((x) => x.blocked);
  if (blocked.length) out.push("", c.red(`Refused: ${blocked.map((x) => x.rid).join(", ")} (data-bearing replace; see above).`));
  const refused = destructive.filter((x) => x.destroys!.refused);
  if (refused.length) out.push("", c.red(`Refused: ${refused.map((x) => `${x.rid} (${allowFlag(x.destroys!)} ${x.rid})`).join(", ")}: it would destroy data osvc did not create; see above.`));
  return out.join("\n") + "\n";
}

/** The machine-readable plan (format_version 1). Stable key order, no timestamps. */
export function planJson(plan: Plan): unknown {
  const counts = countByAction(plan);
  return {
    format_version: plan.formatVersion,
    osvc_version: plan.osvcVersion,
    object: plan.object,
    node: plan.node,
    role: plan.role,
    lineage: plan.lineage,
    serial: plan.serial,
    template_hash: plan.templateHash,
    options: {
      refresh: plan.options.refresh,
      targets: plan.options.targets,
      excludes: plan.options.excludes,
      allow_replace: plan.options.allowReplace,
      allow_format: plan.options.allowFormat ?? [],
      allow_destroy: plan.options.allowDestroy ?? [],
      destroy: plan.options.destroy,
    },
    destructive: plan.changes.filter((ch) => ch.destroys && ch.destroys.kind !== "keep").map((ch) => ({ rid: ch.rid, kind: ch.destroys!.kind, target: ch.destroys!.target, ...(ch.destroys!.refused ? { refused: ch.destroys!.refused } : {}) })),
    resource_changes: plan.changes.map((ch) => ({
      rid: ch.rid,
      driver: ch.driver,
      action: ch.action,
      symbol: ACTION_SYMBOL[ch.action].trim(),
      reason: ch.reason,
      ...(ch.blocked ? { refused: ch.blocked } : {}),
      ...(ch.destroys ? { destroys: { kind: ch.destroys.kind, marker: destructionText(ch.destroys), target: ch.destroys.target, detail: ch.destroys.detail, ...(ch.destroys.refused ? { refused: ch.destroys.refused } : {}) } } : {}),
      ...(ch.stateOnly ? { state_only: true } : {}),
      ...(ch.stopFirst ? { stop_first: true } : {}),
      depends_on: ch.dependsOn,
      change: {
        before: Object.fromEntries(ch.diff.filter((d) => d.before !== undefined).map((d) => [d.key, d.sensitive ? "(sensitive value)" : d.before])),
        after: Object.fromEntries(ch.diff.filter((d) => d.after !== undefined).map((d) => [d.key, d.sensitive ? "(sensitive value)" : d.after])),
        after_unknown: ch.diff.filter((d) => d.afterUnknown).map((d) => d.key),
        replace_keys: ch.diff.filter((d) => d.forcesReplace && ch.action === "replace").map((d) => d.key),
      },
    })),
    summary: Object.fromEntries(Object.entries(counts)),
    diagnostics: plan.diagnostics.map((d) => ({ code: d.code, severity: d.severity, summary: d.summary, detail: d.detail, hint: d.hint })),
  };
}
