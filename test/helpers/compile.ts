import { parseNodeConfig } from "../../src/config/nodeconf.js";
import { BUILTIN_DRIVER_SPECS, DEFAULT_DRIVER_TYPES } from "../../providers/catalog.js";
import { compileTexts, Evaluator, KeywordCatalog, type CompileResult } from "../../src/config/index.js";
import { parseObjectPath } from "../../src/core/path.js";

export const catalog = new KeywordCatalog(BUILTIN_DRIVER_SPECS, DEFAULT_DRIVER_TYPES);

export interface CompileOpts {
  node?: string;
  path?: string;
  env?: Record<string, string>;
  osEnv?: Record<string, string>;
  file?: string;
  /** node.conf text ({node.*} references). */
  nodeConf?: string;
}

export function compile(text: string, o: CompileOpts = {}): CompileResult {
  const p = parseObjectPath(o.path ?? "svc1");
  if (!p.ok) throw new Error(p.error);
  return compileTexts([{ name: o.file ?? "t.conf", text }], {
    path: p.path,
    nodename: o.node ?? "n1",
    envOverrides: o.env,
    osEnv: o.osEnv,
    ...(o.nodeConf !== undefined ? { nodeConfig: parseNodeConfig(o.nodeConf, "/etc/test/node.conf") } : {}),
    catalog,
  });
}

/** Evaluates one keyword's text (references and expressions resolved, not converted). */
export function evalKey(text: string, section: string, key: string, o: CompileOpts = {}) {
  const r = compile(text, o);
  const ev = new Evaluator(r.template, {
    path: r.evaluated.path,
    nodename: o.node ?? "n1",
    envOverrides: o.env,
    osEnv: o.osEnv,
    ...(o.nodeConf !== undefined ? { nodeConfig: parseNodeConfig(o.nodeConf, "/etc/test/node.conf") } : {}),
    catalog,
  });
  const spec = ev.specFor(section, key);
  const k = ev.keyword(section, key, spec);
  const diagnostics = [...r.diagnostics, ...ev.diagnostics];
  return { kw: k, text: k?.text, value: k?.value, typed: k?.typed, deferred: k?.deferred, diagnostics, codes: [...new Set(diagnostics.map((d) => d.code))].sort() };
}
