// The object as its state recorded it: what stop and unprovision act on when the installed
// config does not compile (a bad value installed after provision). A bad value must never make
// an object impossible to stop or destroy; the recorded inputs are the facts osvc applied.
import { Template, type CompileResult, type EvaluatedKeyword, type EvaluatedResource, type KeywordCatalog } from "../config/index.js";
import type { SourceRange } from "../core/diagnostics.js";
import type { ObjectPath } from "../core/path.js";
import { Rid } from "../core/rid.js";
import type { KwValue } from "../core/value.js";
import type { StateFile } from "../state/model.js";

/** A position-less range: recorded values have no source line. */
function nowhere(file: string): SourceRange {
  const p = { line: 1, col: 1, offset: 0 };
  return { file, start: p, end: p };
}

/** One evaluated resource per recorded rid whose driver is known, its keywords the recorded inputs. */
export function recordedCompiled(path: ObjectPath, state: StateFile, nodename: string, catalog: KeywordCatalog, stateFile: string): CompileResult {
  const resources: EvaluatedResource[] = [];
  for (const [rid, rec] of Object.entries(state.resources)) {
    const parsed = Rid.parse(rid);
    const driver = catalog.byId(rec.driver);
    if (!parsed || !driver) continue;
    const keywords = new Map<string, EvaluatedKeyword>();
    for (const [name, value] of Object.entries(rec.inputs)) {
      const v = value as KwValue;
      keywords.set(name, { name, text: Array.isArray(v) ? v.join(" ") : String(v ?? ""), value: v, origin: "section", spec: driver.keywords.get(name) });
    }
    resources.push({ rid: parsed, section: rid, driver, type: driver.spec.type, range: nowhere(stateFile), keywords, unknown: new Map() });
  }
  resources.sort((a, b) => Rid.compare(a.rid, b.rid));
  return {
    template: new Template(),
    evaluated: { path, nodename, defaults: new Map(), env: new Map(), resources, others: new Map(), diagnostics: [] },
    diagnostics: [],
    ok: true,
    sources: [],
  };
}
