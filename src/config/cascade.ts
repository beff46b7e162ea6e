// cascade_allocation targets (`<rid>.<keyword>[@scope]`, `env.<key>`): each must name a section of
// the template and a keyword its driver knows, else an error at the cascade_allocation line.
import { didYouMean, type Diagnostic } from "../core/diagnostics.js";
import { parseCascadeTarget } from "../core/patch.js";
import type { EvaluatedResource } from "./evaluate.js";

export function checkCascadeTargets(resources: readonly EvaluatedResource[], envKeys: ReadonlySet<string>, diagnostics: Diagnostic[]): void {
  const byRid = new Map(resources.map((r) => [r.rid.toString(), r]));
  for (const r of resources) {
    const k = r.keywords.get("cascade_allocation");
    const words = Array.isArray(k?.value) ? (k.value as readonly string[]) : [];
    for (const w of words) {
      const t = parseCascadeTarget(w);
      if (!t) continue; // the driver's check says it is malformed
      const key = t.key.split("@")[0];
      const problem = (summary: string, hint: string) =>
        diagnostics.push({ code: "E2034", severity: "error", summary: `${r.rid.toString()}: cascade_allocation ${w}: ${summary}`, ...(k?.range ? { range: k.range } : {}), hint });
      if (t.section === "env" || t.section === "DEFAULT") {
        if (t.section === "env" && !envKeys.has(key)) problem(`[env] has no key ${key}`, `declare it empty in [env] (${key} =) so references to {env.${key}} resolve before the allocation`);
        continue;
      }
      const target = byRid.get(t.section);
      if (!target) {
        const m = didYouMean(t.section, byRid.keys());
        problem(`no section [${t.section}] in this template`, m ? `Did you mean ${m}.${t.key}?` : `name a resource of this template: ${[...byRid.keys()].join(", ")}`);
        continue;
      }
      if (target.driver && !target.driver.keywords.has(key)) {
        const m = didYouMean(key, target.driver.keywords.keys());
        problem(`${target.driver.id} has no keyword ${key}`, m ? `Did you mean ${t.section}.${m}?` : `osvc keywords ${target.driver.id} lists them`);
      }
    }
  }
}
