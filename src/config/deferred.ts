// Deferred values: texts holding references to resource outputs ({disk#0.exposed_devs[0]}),
// resolved once those outputs are known (at plan time from probes or state, else at apply time).
import { convertValue } from "../core/convert.js";
import type { KeywordType } from "../core/schema.js";
import type { KwValue } from "../core/value.js";
import { parseExpressionText, parseValueText, type RefAst } from "../../grammar/index.js";
import { ExprError, evalExpr, pyStr } from "./expr.js";
import { applyModifier } from "./modifiers.js";

/** Looks up an output of a resource: a list of words, or undefined when not known yet. */
export type OutputLookup = (rid: string, attr: string) => readonly string[] | undefined;

export type DeferredResult = { ok: true; text: string; value: KwValue } | { ok: false; unknown: true; waitingFor: string[] } | { ok: false; unknown: false; error: string };

function splitRid(name: string): { rid: string; attr: string } | undefined {
  const dot = name.lastIndexOf(".");
  if (dot <= 0) return undefined;
  return { rid: name.slice(0, dot), attr: name.slice(dot + 1) };
}


function resolveRef(ref: RefAst, lookup: OutputLookup): { text: string } | { waiting: string } | undefined {
  const s = splitRid(ref.name);
  if (!s) return undefined;
  const list = lookup(s.rid, s.attr);
  if (list === undefined) return { waiting: s.rid };
  let text: string;
  if (ref.index?.kind === "number") {
    const v = list[ref.index.n];
    if (v === undefined) return { text: "" };
    text = ref.count ? String(v.split(/\s+/).filter(Boolean).length) : v;
  } else if (ref.count) text = String(list.length);
  else text = list.join(" ");
  return { text: applyModifier(text, ref.modifier) };
}

/** Resolves the deferred references of a value text, evaluates its expressions, and converts it. */
export function resolveDeferred(text: string, type: KeywordType | undefined, lookup: OutputLookup): DeferredResult {
  const { parts } = parseValueText(text, () => undefined);
  let out = "";
  const waiting = new Set<string>();
  for (const p of parts) {
    if (p.kind === "text" || p.kind === "marker") out += p.kind === "text" ? p.text : p.text;
    else if (p.kind === "ref") {
      const r = resolveRef(p.ref, lookup);
      if (!r) out += p.ref.raw;
      else if ("waiting" in r) waiting.add(r.waiting);
      else out += r.text;
    } else {
      let inner = p.inner;
      for (const rp of [...p.refs].sort((a, b) => b.start - a.start)) {
        const r = resolveRef(rp.ref, lookup);
        if (!r) continue;
        if ("waiting" in r) {
          waiting.add(r.waiting);
          continue;
        }
        const s = rp.start - p.innerStart;
        inner = inner.slice(0, s) + r.text + inner.slice(s + (rp.end - rp.start));
      }
      if (waiting.size) continue;
      const parsed = parseExpressionText(inner);
      if (!parsed.ast) return { ok: false, unknown: false, error: `invalid expression $(${inner}): ${parsed.error ?? "syntax error"}` };
      try {
        out += pyStr(evalExpr(parsed.ast));
      } catch (e) {
        if (e instanceof ExprError) return { ok: false, unknown: false, error: `$(${inner}): ${e.message}` };
        throw e;
      }
    }
  }
  if (waiting.size) return { ok: false, unknown: true, waitingFor: [...waiting].sort() };
  if (!type) return { ok: true, text: out, value: out };
  const c = convertValue(out, type);
  if (!c.ok) return { ok: false, unknown: false, error: c.error };
  return { ok: true, text: out, value: c.value as KwValue };
}
