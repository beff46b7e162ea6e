// osvc validate | render | keywords
import { BUILTIN_DRIVER_SPECS } from "../../../providers/catalog.js";
import { DEFAULT_KEYWORDS, GENERIC_RESOURCE_KEYWORDS } from "../../config/keywords/generic.js";
import { formatKeywords } from "../../config/keywords/print.js";
import { renderConfig, type RenderFormat } from "../../config/index.js";
import { compileFromOptions, reportDiagnostics, UsageError, type TemplateOptions } from "../common.js";
import { diagnosticsJson } from "../views/diagnostics.js";
import { gateCompiled } from "../gate.js";

export async function validateCommand(template: string | undefined, opts: TemplateOptions & { format?: string; strict?: boolean }): Promise<number> {
  const r = gateCompiled(await compileFromOptions(template, opts), opts.strict);
  if (opts.format === "json") {
    const diagnostics = diagnosticsJson(r.diagnostics);
    const omitted = r.diagnostics.length - diagnostics.length;
    process.stdout.write(JSON.stringify({ valid: r.ok, diagnostics, ...(omitted > 0 ? { omitted } : {}) }, null, 2) + "\n");
    return r.ok ? 0 : 1;
  }
  // vol branch: the node's pools, for the volume resources (commands/pool.ts).
  const hasVolumes = r.ok && r.evaluated.resources.some((x) => x.rid.toString().startsWith("volume#"));
  const failed = reportDiagnostics(r, opts.color) || (hasVolumes && (await import("./pool.js")).reportVolumePools(r, opts));
  if (!failed) {
    const n = r.evaluated.resources.length;
    process.stdout.write(`${r.sources.map((s) => s.name).join(", ")}: valid (${n} resource${n === 1 ? "" : "s"})\n`);
  }
  return failed ? 1 : 0;
}

export async function renderCommand(template: string | undefined, opts: TemplateOptions & { format?: string }): Promise<number> {
  const format = (opts.format ?? "ini") as RenderFormat;
  if (!["ini", "json", "yaml"].includes(format)) throw new UsageError(`unknown format "${opts.format}"`, "Use --format ini, json or yaml.");
  const r = await compileFromOptions(template, opts);
  const failed = reportDiagnostics(r, opts.color);
  if (failed) return 1;
  process.stdout.write(renderConfig(r.evaluated, format));
  return 0;
}

export async function keywordsCommand(driver: string | undefined): Promise<number> {
  const { BUILTIN_PROVIDERS } = await import("../../../providers/index.js");
  const r = formatKeywords(BUILTIN_DRIVER_SPECS, GENERIC_RESOURCE_KEYWORDS, DEFAULT_KEYWORDS, driver, new Set(BUILTIN_PROVIDERS.map((p) => p.type)));
  if ("error" in r) {
    process.stderr.write(`error: ${r.error}\n`);
    return 1;
  }
  process.stdout.write(r.text.endsWith("\n") ? r.text : r.text + "\n");
  return 0;
}
