// Shared CLI wiring: inputs, evaluation context, catalog, diagnostics output.
import type { ConfigPatch } from "../core/patch.js";
import { overlayWriteBacks } from "../apply/writeback.js";
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { BUILTIN_DRIVER_SPECS, DEFAULT_DRIVER_TYPES } from "../../providers/catalog.js";
import { parseObjectPath, pathFromFileName, type ObjectPath } from "../core/path.js";
import {
  compileTexts,
  InputError,
  KeywordCatalog,
  parseAny,
  readInput,
  resourcesToTemplate,
  type CompileResult,
  type LoadedText,
} from "../config/index.js";
import { SourceFile } from "../../grammar/index.js";
import { EngineError } from "../engine/context.js";
import { nodeEval } from "../engine/node.js";
import { colorsFor, type ColorMode } from "./views/color.js";
import { renderDiagnostics } from "./views/diagnostics.js";

export class UsageError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

let catalog: KeywordCatalog | undefined;
export function builtinCatalog(): KeywordCatalog {
  catalog ??= new KeywordCatalog(BUILTIN_DRIVER_SPECS, DEFAULT_DRIVER_TYPES);
  return catalog;
}

export interface TemplateOptions {
  path?: string;
  node?: string;
  /** The node config file (default: <root>/node.conf when it exists). */
  nodeConfig?: string;
  /** The state root, where node.conf is looked for. */
  root?: string;
  env?: string[];
  resource?: string[];
  interactive?: boolean;
  osEnv?: boolean;
  color?: ColorMode;
}

export function collect(value: string, prev: string[] = []): string[] {
  return [...prev, value];
}

export function parseEnvOverrides(list: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of list ?? []) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new UsageError(`--env ${item}: expected key=value`, "Example: --env fstype=xfs");
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export function resolvePath(explicit: string | undefined, templateName: string | undefined): ObjectPath {
  const text = explicit ?? (templateName && templateName !== "-" && !/^https?:/i.test(templateName) ? pathFromFileName(templateName) : undefined);
  if (!text) throw new UsageError("cannot tell the object's name", "Pass --path <name> (the template comes from stdin, a URL or --resource).");
  const p = parseObjectPath(text);
  if (!p.ok) throw new UsageError(p.error, explicit ? undefined : "Pass --path <name> to name the object.");
  return p.path;
}

export async function loadInputs(template: string | undefined, opts: TemplateOptions): Promise<LoadedText[]> {
  const texts: LoadedText[] = [];
  if (template !== undefined) texts.push(await readInput(template));
  if (opts.resource?.length) {
    const existing = texts.length ? parseAny(texts[0]).ast.sections.map((s) => s.name) : [];
    texts.push({ name: "<--resource>", text: resourcesToTemplate(opts.resource, { existing }) });
  }
  if (texts.length === 0) throw new UsageError("no template given", "Pass a template file, '-' for stdin, a URL, or --resource '<json>'.");
  return texts;
}

/** Prompts for each [env] key on a terminal (create --interactive). */
export async function promptEnv(texts: readonly LoadedText[], given: Record<string, string>): Promise<Record<string, string>> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    throw new UsageError("--interactive needs a terminal", "Run it from a terminal, or pass each value with --env key=value.");
  }
  const out = { ...given };
  const keys: { key: string; def: string; comment?: string }[] = [];
  for (const t of texts) {
    const env = parseAny(t).ast.sections.find((s) => s.name === "env");
    if (!env) continue;
    const comments = new Map(env.entries.filter((e) => e.key.endsWith(".comment")).map((e) => [e.key.slice(0, -8), e.value.text]));
    for (const e of env.entries) {
      if (e.key.endsWith(".comment") || e.key.includes("@") || e.key in out) continue;
      keys.push({ key: e.key, def: e.value.text, comment: comments.get(e.key) });
    }
  }
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    for (const k of keys) {
      if (k.comment) process.stdout.write(`${k.comment}\n`);
      let answer: string;
      try {
        answer = await rl.question(`${k.key} [${k.def}] > `);
      } catch {
        throw new UsageError(`the input closed before [env] ${k.key} was answered`, "Answer each prompt (Enter keeps the default shown in brackets).");
      }
      out[k.key] = answer === "" ? k.def : answer;
    }
  } finally {
    rl.close();
  }
  return out;
}

export async function compileFromOptions(template: string | undefined, opts: TemplateOptions, overlay?: (path: ObjectPath) => Promise<ConfigPatch>): Promise<CompileResult> {
  let texts = await loadInputs(template, opts);
  let envOverrides = parseEnvOverrides(opts.env);
  if (opts.interactive) envOverrides = await promptEnv(texts, envOverrides);
  const path = resolvePath(opts.path, template);
  // Write-back: the values the object's provisioners wrote into its installed config, replayed over the template (in memory).
  if (overlay) texts = overlayWriteBacks(texts, await overlay(path));
  return compileTexts(texts, {
    path,
    ...nodeEval(opts),
    envOverrides,
    osEnv: opts.osEnv ? process.env : undefined,
    catalog: builtinCatalog(),
  });
}

export { nodeEval } from "../engine/node.js";

export function sourcesOf(texts: readonly LoadedText[]): Map<string, SourceFile> {
  return new Map(texts.map((t) => [t.name, new SourceFile(t.name, t.text)]));
}

/** Prints diagnostics to stderr; returns true when there are errors. */
export function reportDiagnostics(r: CompileResult, color: ColorMode | undefined): boolean {
  const text = renderDiagnostics(r.diagnostics, sourcesOf(r.sources), colorsFor(color, process.stderr));
  if (text) process.stderr.write(text);
  return !r.ok;
}

export function printError(e: unknown, color: ColorMode | undefined): number {
  const c = colorsFor(color, process.stderr);
  if (e instanceof UsageError || e instanceof InputError || e instanceof EngineError) {
    process.stderr.write(`${c.red(c.bold("error"))}: ${e.message}\n${e.hint ? `  ${c.cyan("hint:")} ${e.hint}\n` : ""}`);
    return 1;
  }
  const err = e as Error & { hint?: string };
  if (err && typeof err === "object" && "hint" in err && err.name !== "Error") {
    process.stderr.write(`${c.red(c.bold("error"))}: ${err.message}\n${err.hint ? `  ${c.cyan("hint:")} ${err.hint}\n` : ""}`);
    return 1;
  }
  process.stderr.write(`${c.red(c.bold("error"))}: ${err?.stack ?? String(e)}\n`);
  return 1;
}

/** CAP_SYS_ADMIN (bit 21) in the effective capabilities of this process (/proc/self/status CapEff). */
function hasCapSysAdmin(): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync("/proc/self/status", "utf8"));
    return m !== null && (BigInt(`0x${m[1]}`) & (1n << 21n)) !== 0n;
  } catch {
    return false;
  }
}

/**
 * Commands that act on the host (or probe it to decide what to do) need root: as another user,
 * probes fail (blkid: permission denied) and actions half-apply. Said at once, before any plan.
 */
export function requireRoot(command: string, readOnlyHint = ""): void {
  const uid = process.geteuid?.() ?? 0;
  if (uid === 0 || hasCapSysAdmin()) return;
  throw new UsageError(
    `${command} needs root (or CAP_SYS_ADMIN): it probes and changes this host (loop devices, filesystems, mounts, addresses, processes), and this is uid ${uid}`,
    `Run it as root (sudo ${command} ...).${readOnlyHint} validate, render, keywords and plan --refresh false work without root.`,
  );
}
