// configs_environment / secrets_environment: KEY=<object>/<key> words whose values come from the
// cfg / sec objects of the resource's namespace (read through the context's DataReader).
import { ProviderError, type DataReader, type ResourceSpec } from "./api.js";

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `VAR=<object>/<key>`, or undefined when the word is not of that shape. */
export function parseDataWord(w: string): { readonly name: string; readonly object: string; readonly key: string } | undefined {
  const m = /^([^=]+)=([^/\s]+)\/(\S+)$/.exec(w);
  return m && ENV_NAME.test(m[1]) ? { name: m[1], object: m[2], key: m[3] } : undefined;
}

function words(v: unknown): string[] {
  return Array.isArray(v) ? v.map(String) : typeof v === "string" && v.trim() ? v.trim().split(/\s+/) : [];
}

/** The variables configs_environment and secrets_environment ask for, read now; {} when neither is set. */
export async function dataEnvironment(ctx: { readonly readData?: DataReader }, r: ResourceSpec): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [kw, kind] of [["configs_environment", "cfg"], ["secrets_environment", "sec"]] as const) {
    for (const w of words(r.kw[kw])) {
      const m = parseDataWord(w);
      if (!m) {
        throw new ProviderError(`${r.rid}: ${kw}: ${JSON.stringify(kind === "sec" ? w.replace(/=.*/, "=...") : w)} is not VAR=<${kind}>/<key>`, `e.g. ${kind === "sec" ? "PASSWORD=db/password" : "CONF=app/app.conf"}`);
      }
      if (!ctx.readData) throw new ProviderError(`${r.rid}: ${kw} needs ${kind} objects, which this context cannot read`);
      out[m.name] = (await ctx.readData(kind, m.object, m.key)).toString("utf8");
    }
  }
  return out;
}
