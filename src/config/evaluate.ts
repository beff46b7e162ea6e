// Evaluation of a template for one node (DESIGN §3):
// scope -> inheritance -> keyword default -> references -> $(expr) -> typed conversion.
import { createHash } from "node:crypto";
import type { Diagnostic, SourceRange } from "../core/diagnostics.js";
import { checkArgvValue } from "../core/argv.js";
import { didYouMean, isStackOverflow } from "../core/diagnostics.js";
import { convertValue } from "../core/convert.js";
import { formatObjectPath, type ObjectPath } from "../core/path.js";
import { Rid } from "../core/rid.js";
import type { KeywordSpec } from "../core/schema.js";
import type { KwValue } from "../core/value.js";
import { parseExpressionText, valueParts, type MarkerPart, type RefAst, type ValueAst, type ValuePart } from "../../grammar/index.js";
import type { KeywordCatalog, ResolvedDriver } from "./catalog.js";
import { applyModifier } from "./modifiers.js";
import { atomOf, countRefAtoms, ExprError, evalExpr, MAX_VALUE_LENGTH, pyStr, pyToJs, type PyVal } from "./expr.js";
import type { Key, Section, Template } from "./template.js";
import { NODE_DEFAULTS, type NodeConfig } from "./nodeconf.js";

export interface EvalContext {
  readonly path: ObjectPath;
  readonly nodename: string;
  readonly clustername?: string;
  /** `--env k=v`: overrides [env] keys (new keys allowed). */
  readonly envOverrides?: Readonly<Record<string, string>>;
  /** Opt-in: uppercase OS environment variables override {env.x} (upstream v2 behaviour). */
  readonly osEnv?: Readonly<Record<string, string | undefined>>;
  /** What {node.<keyword>} and {node.labels.<name>} read (src/config/nodeconf.ts). */
  readonly nodeConfig?: NodeConfig;
  readonly catalog: KeywordCatalog;
}

/** Resource attributes only known after their resource is provisioned or started. */
export const DEFERRED_ATTRS = new Set(["exposed_devs", "sub_devs", "base_devs"]);
const DEFERRED_VOLUME_ATTRS = new Set(["mnt", "exposed_devs"]);

export interface EvaluatedKeyword {
  readonly name: string;
  /** Evaluated text; deferred references are left verbatim. */
  readonly text: string;
  /** Converted value; undefined when deferred, holding markers, or invalid. */
  readonly value?: KwValue;
  /** Typed result when the whole value was one $(expr). */
  readonly typed?: string | number | boolean | null;
  /** Rids whose outputs this value waits for ({disk#0.exposed_devs[0]}). */
  readonly deferred?: readonly string[];
  readonly markers?: readonly MarkerPart[];
  /** Unknown references left verbatim in the text (W2001), e.g. "{env.sise}". */
  readonly unresolved?: readonly string[];
  readonly origin: "section" | "DEFAULT" | "default" | "env-override";
  readonly range?: SourceRange;
  readonly spec?: KeywordSpec;
  /** `network = <name>` resolved to its subnet: the [network#name] of the node config it named (config/network.ts). */
  readonly namedNetwork?: { readonly name: string; readonly type: string };
}

export interface EvaluatedResource {
  readonly rid: Rid;
  readonly section: string;
  readonly driver: ResolvedDriver | undefined;
  readonly type: string | undefined;
  readonly range: SourceRange;
  readonly keywords: ReadonlyMap<string, EvaluatedKeyword>;
  /** Keys written in the section that the driver does not know (kept as text). */
  readonly unknown: ReadonlyMap<string, EvaluatedKeyword>;
}

export interface EvaluatedTemplate {
  readonly path: ObjectPath;
  readonly nodename: string;
  readonly defaults: ReadonlyMap<string, EvaluatedKeyword>;
  readonly env: ReadonlyMap<string, EvaluatedKeyword>;
  readonly resources: readonly EvaluatedResource[];
  /** Other sections written (labels, data, subset#...), evaluated as text. */
  readonly others: ReadonlyMap<string, ReadonlyMap<string, EvaluatedKeyword>>;
  readonly diagnostics: Diagnostic[];
}

// ---------------------------------------------------------------- internals

interface Lookup {
  readonly text: string; // raw text before references
  readonly value?: ValueAst; // absent for keyword defaults and --env overrides
  readonly origin: EvaluatedKeyword["origin"];
  readonly range?: SourceRange;
  readonly key?: Key;
}

interface Evaluated {
  readonly ok: boolean;
  readonly text: string;
  readonly typed?: PyVal;
  readonly deferred?: Set<string>;
  readonly markers?: MarkerPart[];
  /** Unknown references kept verbatim in the text (W2001). */
  readonly unresolved?: Set<string>;
}

const FAILED: Evaluated = { ok: false, text: "" };

/** How many references deep one value may lead (a -> b -> c ...): bounds the evaluator's recursion. */
export const MAX_REF_DEPTH = 100;

/** Converted constant keyword defaults, shared by every evaluation (pure data). */
const constantDefaults = new WeakMap<KeywordSpec, EvaluatedKeyword>();

const NODE_SCOPES = ["nodes", "drpnodes", "encapnodes"] as const;

/** Keyword types whose empty value means unset (upstream's size and duration converters return nil). */
const EMPTY_MEANS_UNSET: ReadonlySet<string> = new Set(["size", "duration"]);

function deterministicId(path: ObjectPath): string {
  const h = createHash("sha256").update(`osvc:${formatObjectPath(path)}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}


function words(text: string): string[] {
  return text.split(/\s+/).filter((w) => w.length > 0);
}

export class Evaluator {
  readonly diagnostics: Diagnostic[] = [];
  private readonly seen = new Set<string>();
  private readonly cache = new Map<string, Evaluated>();
  private readonly stack: string[] = [];
  private nodesCache?: { nodes: string[]; drpnodes: string[]; encapnodes: string[] };
  private readonly env: Readonly<Record<string, string>>;

  constructor(
    readonly template: Template,
    readonly ctx: EvalContext,
  ) {
    this.env = ctx.envOverrides ?? {};
  }

  private diag(d: Diagnostic): void {
    const k = `${d.code}|${d.range?.file}|${d.range?.start.offset}|${d.summary}`;
    if (this.seen.has(k)) return;
    this.seen.add(k);
    this.diagnostics.push(d);
  }

  // ------------------------------------------------------------ identity

  private get name(): string {
    return this.ctx.path.name;
  }

  private builtin(name: string, section: string): string | undefined {
    const p = this.ctx.path;
    switch (name) {
      case "nodename":
        return this.ctx.nodename;
      case "short_nodename":
        return this.ctx.nodename.split(".")[0];
      case "name":
      case "svcname":
        return p.name;
      case "short_name":
      case "short_svcname":
        return p.name.split(".")[0];
      case "scaler_name":
        return p.name.replace(/^\d+\./, "");
      case "scaler_short_name":
        return p.name.replace(/^\d+\./, "").split(".")[0];
      case "namespace":
        return p.namespace;
      case "kind":
        return p.kind;
      case "path":
      case "svcpath":
        return formatObjectPath(p);
      case "fqdn":
        return `${p.name}.${p.namespace}.${p.kind}.${this.clustername}`;
      case "domain":
        return `${p.namespace}.${p.kind}.${this.clustername}`;
      case "clustername":
        return this.clustername;
      case "clusternodes":
        return this.nodeSets().nodes.join(" ");
      case "rid":
        return section;
      case "rindex": {
        const i = section.indexOf("#");
        return i >= 0 ? section.slice(i + 1) : section;
      }
      case "rgroup": {
        const i = section.indexOf("#");
        return i >= 0 ? section.slice(0, i) : section;
      }
      case "var":
        return "/var/lib/osvc";
      case "etc":
        return "/etc/osvc";
      case "private_var":
        return p.namespace === "root" ? `/var/lib/osvc/${p.kind}/${p.name}` : `/var/lib/osvc/namespaces/${p.namespace}/${p.kind}/${p.name}`;
      case "initd":
        return `/etc/osvc/${p.name}.d`;
      case "svcmgr":
      case "nodemgr":
        return "osvc";
      case "dns_janitor_major":
        return "3";
    }
    return undefined;
  }

  private get clustername(): string {
    return this.ctx.clustername ?? this.ctx.nodeConfig?.clustername ?? "default";
  }

  // ------------------------------------------------------------ scoping

  /** nodes, drpnodes, encapnodes, evaluated without their own @nodes candidates. */
  nodeSets(): { nodes: string[]; drpnodes: string[]; encapnodes: string[] } {
    if (this.nodesCache) return this.nodesCache;
    // Provisional value while computing (a reference from nodes to itself is a cycle anyway).
    this.nodesCache = { nodes: [this.ctx.nodename], drpnodes: [], encapnodes: [] };
    const get = (kw: string): string[] => {
      const r = this.evalKeyword("DEFAULT", kw);
      if (!r.ok) return [];
      const ws = words(r.text).map((w) => w.toLowerCase());
      return ws.flatMap((w) => (w === "*" ? [this.ctx.nodename] : [w]));
    };
    const nodes = get("nodes");
    const drpnodes = get("drpnodes");
    const encapnodes = get("encapnodes");
    this.nodesCache = { nodes: nodes.length ? nodes : [this.ctx.nodename], drpnodes, encapnodes };
    return this.nodesCache;
  }

  /** Picks the key by scope precedence: kw@node, kw@nodes, kw@drpnodes, kw@encapnodes, kw. */
  private descope(section: Section, base: string, scopable = true): Key | undefined {
    const keys = section.byBase.get(base);
    if (!keys || keys.length === 0) return undefined;
    // A scoped form of a non-scopable keyword is a validation error and is ignored here.
    if (!scopable) return keys.find((k) => k.scope === undefined);
    const node = this.ctx.nodename;
    const exact = keys.find((k) => k.scope !== undefined && k.scope.toLowerCase() === node.toLowerCase());
    if (exact) return exact;
    const isSetKw = (NODE_SCOPES as readonly string[]).includes(base) && section.name === "DEFAULT";
    if (keys.some((k) => k.scope && (NODE_SCOPES as readonly string[]).includes(k.scope))) {
      for (const scope of NODE_SCOPES) {
        if (isSetKw && scope === base) continue;
        const k = keys.find((x) => x.scope === scope);
        if (!k) continue;
        if (isSetKw) {
          // Evaluating a node set through another set's membership: avoid recursion, use bare values.
          const set = this.bareSet(scope);
          if (set.includes(node.toLowerCase())) return k;
        } else if (this.nodeSets()[scope].includes(node.toLowerCase())) return k;
      }
    }
    return keys.find((k) => k.scope === undefined);
  }

  private bareSet(scope: (typeof NODE_SCOPES)[number]): string[] {
    const d = this.template.sections.get("DEFAULT");
    const k = d?.byBase.get(scope)?.find((x) => x.scope === undefined);
    return k ? words(k.entry.value.text).map((w) => w.toLowerCase()) : scope === "nodes" ? [this.ctx.nodename.toLowerCase()] : [];
  }

  /** Spec of a keyword as seen from a section. */
  specFor(section: string, base: string): KeywordSpec | undefined {
    if (section === "DEFAULT") return this.ctx.catalog.defaultKeyword(base);
    const drv = this.driverOf(section);
    return drv?.keywords.get(base);
  }

  private driverCache = new Map<string, ResolvedDriver | undefined>();

  driverOf(section: string): ResolvedDriver | undefined {
    if (this.driverCache.has(section)) return this.driverCache.get(section);
    const rid = Rid.parse(section);
    let drv: ResolvedDriver | undefined;
    if (rid) {
      const sec = this.template.sections.get(section);
      const typeKey = sec ? this.descope(sec, "type", false) : undefined;
      let type: string | undefined;
      if (typeKey) {
        // "type" is a leaf keyword; it may hold references ({env.fstype}).
        this.driverCache.set(section, undefined);
        const r = this.evalText(section, "type", { text: typeKey.entry.value.text, value: typeKey.entry.value, origin: "section", range: typeKey.entry.value.range, key: typeKey });
        type = r.ok ? r.text.trim() : undefined;
      }
      drv = type === "" ? this.ctx.catalog.driverFor(rid.group, undefined) : this.ctx.catalog.driverFor(rid.group, type);
    }
    this.driverCache.set(section, drv);
    return drv;
  }

  /** Finds the raw text of a keyword for a section: scope, inheritance, default. */
  lookup(section: string, base: string): Lookup | undefined {
    if (section === "env") {
      if (Object.prototype.hasOwnProperty.call(this.env, base)) return { text: this.env[base], origin: "env-override" };
      const sec = this.template.sections.get("env");
      const k = sec ? this.descope(sec, base) : undefined;
      return k ? { text: k.entry.value.text, value: k.entry.value, origin: "section", range: k.entry.value.range, key: k } : undefined;
    }
    const spec = this.specFor(section, base);
    const names = spec ? [spec.name, ...(spec.aliases ?? [])] : [base];
    const inherit = spec?.inherit ?? (section === "DEFAULT" ? "head" : "leaf2head");
    const fromSection = (secName: string): Lookup | undefined => {
      const sec = this.template.sections.get(secName);
      if (!sec) return undefined;
      for (const n of names) {
        const k = this.descope(sec, n, spec ? spec.scopable === true : true);
        if (k) return { text: k.entry.value.text, value: k.entry.value, origin: secName === section ? "section" : "DEFAULT", range: k.entry.value.range, key: k };
      }
      return undefined;
    };
    let found: Lookup | undefined;
    if (section === "DEFAULT") found = fromSection("DEFAULT");
    else if (inherit === "leaf") found = fromSection(section);
    else if (inherit === "head") found = fromSection("DEFAULT") ?? fromSection(section);
    else if (inherit === "head2leaf") found = fromSection("DEFAULT") ?? fromSection(section);
    else found = fromSection(section) ?? fromSection("DEFAULT");
    // As upstream, an empty size or duration ("size =", "lock_timeout =") means unset: the default applies.
    if (found && !(spec && EMPTY_MEANS_UNSET.has(spec.type) && found.text.trim() === "")) return found;
    if (spec?.default !== undefined) return { text: spec.default, origin: "default" };
    return undefined;
  }

  // ------------------------------------------------------------ evaluation

  /** Evaluates a keyword of a section to text (not converted). */
  evalKeyword(section: string, base: string): Evaluated {
    const cacheKey = `${section}\u0000${base}`;
    const cached = this.cache.get(cacheKey);
    if (cached) return cached;
    const lk = this.lookup(section, base);
    if (!lk) return FAILED;
    return this.evalText(section, base, lk);
  }

  private evalText(section: string, base: string, lk: Lookup): Evaluated {
    const cacheKey = `${section}\u0000${base}`;
    const frame = `${section}.${base}`;
    const i = this.stack.indexOf(frame);
    if (i >= 0) {
      const chain = [...this.stack.slice(i), frame].join(" -> ");
      this.diag({
        code: "E2002",
        severity: "error",
        summary: "reference cycle",
        detail: `Evaluating ${frame} needs its own value: ${chain}.`,
        range: lk.range,
        hint: "Break the cycle: one of these keywords must not reference the others.",
      });
      return FAILED;
    }
    if (this.stack.length >= MAX_REF_DEPTH) {
      this.diag(this.chainTooDeep(frame, lk));
      return FAILED;
    }
    this.stack.push(frame);
    try {
      const r = this.evalValue(section, lk);
      this.cache.set(cacheKey, r);
      return r;
    } catch (e) {
      if (!isStackOverflow(e)) throw e;
      this.diag(this.chainTooDeep(frame, lk));
      return FAILED;
    } finally {
      this.stack.pop();
    }
  }

  private partsOf(lk: Lookup): ValuePart[] {
    if (lk.value) {
      const { parts, diagnostics } = valueParts(lk.value);
      for (const d of diagnostics) this.diag(d);
      return parts;
    }
    // Keyword defaults and --env values: parsed without source positions.
    return parseLooseValue(lk.text);
  }

  private rangeOf(lk: Lookup, start: number, end: number): SourceRange | undefined {
    if (!lk.value) return lk.range;
    const v = lk.value;
    return v.source.range(v.map.toSource(start), v.map.toSource(Math.max(start, end - 1)) + 1);
  }

  private evalValue(section: string, lk: Lookup): Evaluated {
    const parts = this.partsOf(lk);
    let ok = true;
    let text = "";
    let deferred: Set<string> | undefined;
    let unresolved: Set<string> | undefined;
    let markers: MarkerPart[] | undefined;
    let typed: PyVal | undefined;
    let sawExpr = false;
    /** References left as written (unknown or deferred): the second pass leaves them alone too. */
    const kept = new Set<string>();
    for (const p of parts) {
      if (text.length > MAX_VALUE_LENGTH) return this.tooLong(lk, text.length);
      switch (p.kind) {
        case "text":
          text += p.text;
          break;
        case "marker":
          (markers ??= []).push(p);
          text += p.text;
          break;
        case "ref": {
          const r = this.resolveRef(section, p.ref, lk, p.start, p.end);
          if (!r.ok) {
            ok = false;
            text += p.ref.raw;
          } else {
            text += r.text;
            if (r.text === p.ref.raw) kept.add(p.ref.raw);
            if (r.deferred) for (const d of r.deferred) (deferred ??= new Set()).add(d);
            if (r.unresolved) for (const u of r.unresolved) (unresolved ??= new Set()).add(u);
          }
          break;
        }
        case "expr": {
          sawExpr = true;
          let inner = p.inner;
          let exprDeferred = false;
          let atoms: Map<string, PyVal> | undefined = p.ast && p.refs.length > 0 && countRefAtoms(p.ast) === p.refs.length ? new Map() : undefined;
          if (p.refs.length > 0) {
            // Substitute references as text, right to left, then parse the expression again
            // (unless every reference is a plain number or word: then the parsed tree is reused).
            let rebuilt = p.inner;
            for (const rp of [...p.refs].sort((a, b) => b.start - a.start)) {
              const r = this.resolveRef(section, rp.ref, lk, rp.start, rp.end);
              if (!r.ok) {
                ok = false;
                continue;
              }
              if (r.unresolved) for (const u of r.unresolved) (unresolved ??= new Set()).add(u);
              if (r.deferred) {
                exprDeferred = true;
                for (const d of r.deferred) (deferred ??= new Set()).add(d);
                continue;
              }
              if (atoms) {
                const a = atomOf(r.text);
                if (a) atoms.set(rp.ref.raw, a);
                else atoms = undefined;
              }
              if (rebuilt.length + r.text.length > MAX_VALUE_LENGTH) return this.tooLong(lk, rebuilt.length + r.text.length);
              const s = rp.start - p.innerStart;
              rebuilt = rebuilt.slice(0, s) + r.text + rebuilt.slice(s + (rp.end - rp.start));
            }
            inner = rebuilt;
          }
          if (!ok) break;
          if (exprDeferred) {
            text += `$(${inner})`;
            break;
          }
          const ast = p.refs.length === 0 || atoms ? p.ast : parseExpressionText(inner).ast;
          if (!ast) {
            const parsed = p.refs.length === 0 ? undefined : parseExpressionText(inner);
            if (p.refs.length > 0) {
              this.diag({
                code: "E2010",
                severity: "error",
                summary: "invalid expression after substituting references",
                detail: `$(${p.inner}) became $(${inner}): ${parsed?.error ?? "syntax error"}.`,
                range: this.rangeOf(lk, p.start, p.end),
                hint: shellSubstitutionHint(p.inner) ?? "Quote referenced text that is not a number, e.g. $('{nodename}' == 'n1').",
              });
            }
            ok = false;
            break;
          }
          try {
            const v = evalExpr(ast, atoms);
            text += pyStr(v);
            if (parts.length === 1) typed = v;
          } catch (e) {
            if (!(e instanceof ExprError)) throw e;
            this.diag({
              code: "E2013",
              severity: "error",
              summary: `expression error: ${e.message}`,
              detail: `While evaluating $(${inner}).`,
              range: this.rangeOf(lk, p.start, p.end),
              hint: shellSubstitutionHint(p.inner),
            });
            ok = false;
          }
          break;
        }
      }
    }
    if (ok && sawExpr && text.includes("{")) {
      // As upstream: references again after $(...), so an expression may compute a reference
      // ({nodes[$(0//(3//{#nodes}))]} is {nodes[0]} after the expression).
      const again = this.referencePass(section, lk, text, kept);
      if (again.text !== text) typed = undefined;
      ok = again.ok;
      text = again.text;
      if (again.deferred) for (const d of again.deferred) (deferred ??= new Set()).add(d);
      if (again.unresolved) for (const u of again.unresolved) (unresolved ??= new Set()).add(u);
    }
    if (text.length > MAX_VALUE_LENGTH) return this.tooLong(lk, text.length);
    return { ok, text, typed, deferred, markers, ...(unresolved ? { unresolved } : {}) };
  }

  /** One more pass over evaluated text: references only (expressions and markers stay text). */
  private referencePass(section: string, lk: Lookup, text: string, kept: ReadonlySet<string>): Evaluated {
    const at: Lookup = { text, origin: lk.origin, range: lk.range };
    let ok = true;
    let out = "";
    let deferred: Set<string> | undefined;
    let unresolved: Set<string> | undefined;
    for (const p of parseLooseValue(text)) {
      if (p.kind === "ref" && !kept.has(p.ref.raw)) {
        const r = this.resolveRef(section, p.ref, at, p.start, p.end);
        if (!r.ok) ok = false;
        out += r.ok ? r.text : p.ref.raw;
        if (r.deferred) for (const d of r.deferred) (deferred ??= new Set()).add(d);
        if (r.unresolved) for (const u of r.unresolved) (unresolved ??= new Set()).add(u);
      } else out += text.slice(p.start, p.end);
    }
    return { ok, text: out, deferred, ...(unresolved ? { unresolved } : {}) };
  }

  /**
   * The references of a keyword's value as written (also those inside $(...)), each with the text it
   * stands for and its position: what a check on substituted text needs (commands: src/config/compile.ts).
   * References kept as written (unknown, deferred) are not substitutions and are left out.
   */
  substitutions(section: string, base: string): { raw: string; text: string; range?: SourceRange }[] {
    const lk = this.lookup(section, base);
    if (!lk?.value) return [];
    const out: { raw: string; text: string; range?: SourceRange }[] = [];
    const add = (ref: RefAst, start: number, end: number) => {
      const r = this.resolveRef(section, ref, lk, start, end);
      if (r.ok && !r.deferred && r.text !== ref.raw) out.push({ raw: ref.raw, text: r.text, range: this.rangeOf(lk, start, end) });
    };
    for (const p of this.partsOf(lk)) {
      if (p.kind === "ref") add(p.ref, p.start, p.end);
      else if (p.kind === "expr") for (const rp of p.refs) add(rp.ref, rp.start, rp.end);
    }
    return out;
  }

  private chainTooDeep(frame: string, lk: Lookup): Diagnostic {
    return {
      code: "E2005",
      severity: "error",
      summary: "reference chain too deep",
      detail: `Evaluating ${this.stack[0] ?? frame} leads through ${this.stack.length} references (${this.stack.slice(0, 3).join(" -> ")} -> ... -> ${frame}); the limit is ${MAX_REF_DEPTH}, less with deeply nested expressions.`,
      range: lk.range,
      hint: "Reference the final value directly instead of through a long chain of keywords.",
    };
  }

  /** A value longer than MAX_VALUE_LENGTH is an error, never kept (memory, output). */
  private tooLong(lk: Lookup, length: number): Evaluated {
    this.diag({
      code: "E2014",
      severity: "error",
      summary: "value too long",
      detail: `The value is at least ${length} characters long; the limit is ${MAX_VALUE_LENGTH} (1 MiB).`,
      range: lk.range,
      hint: "Keep large data in a file and reference its path.",
    });
    return FAILED;
  }

  /** Resolves one reference in the context of `section`. */
  private resolveRef(section: string, ref: RefAst, lk: Lookup, start: number, end: number): Evaluated {
    const range = this.rangeOf(lk, start, end);
    const r = this.refValue(section, ref, range);
    if (r === "unknown") {
      const hint = this.refHint(ref);
      this.diag({
        code: "W2001",
        severity: "warning",
        summary: "unknown reference, kept as written",
        detail: ref.name.startsWith("node.")
          ? `${ref.raw}: the node config has no ${ref.name.startsWith("node.labels.") ? `label ${ref.name.slice(12)}` : `[node] ${ref.name.slice(5)}`}; it is left verbatim.`
          : `${ref.raw} does not name a keyword, a section option or a built-in; it is left verbatim.`,
        range,
        hint,
      });
      return { ok: true, text: ref.raw, unresolved: new Set([ref.raw]) };
    }
    if (!r.ok || r.deferred) return r;
    let text = r.text;
    let values: string[] | undefined;
    if (ref.index !== undefined || ref.count) values = this.listOf(section, ref, r.text);
    if (ref.index !== undefined) {
      let n: number | undefined;
      if (ref.index.kind === "number") n = ref.index.n;
      else {
        const ir = this.refValue(section, ref.index.ref, range);
        if (ir === "unknown" || !ir.ok || !/^\d+$/.test(ir.text.trim())) {
          this.diag({ code: "E2004", severity: "error", summary: "reference index is not a number", detail: `The index of ${ref.raw} must evaluate to a non-negative integer.`, range });
          return FAILED;
        }
        n = Number(ir.text.trim());
      }
      const list = values ?? [];
      if (n >= list.length) {
        this.diag({
          code: "E2003",
          severity: "error",
          summary: "reference index out of range",
          detail: `${ref.raw}: index ${n}, but the value has ${list.length} element${list.length === 1 ? "" : "s"} (${JSON.stringify(r.text)}).`,
          range,
          hint: list.length ? `Use an index between 0 and ${list.length - 1}.` : undefined,
        });
        return FAILED;
      }
      text = list[n];
      if (ref.count) text = String(words(text).length);
    } else if (ref.count) {
      text = String((values ?? []).length);
    }
    return { ok: true, text: applyModifier(text, ref.modifier), ...(r.unresolved ? { unresolved: r.unresolved } : {}) };
  }

  /** The list elements of a referenced value: the converted list for list-typed keywords, else words. */
  private listOf(section: string, ref: RefAst, text: string): string[] {
    const { sec, opt } = this.splitRefName(section, ref.name);
    const spec = sec && opt ? this.specFor(sec, opt) : undefined;
    if (spec && (spec.type === "shlex")) {
      const c = convertValue(text, "shlex");
      if (c.ok && Array.isArray(c.value)) return c.value as string[];
    }
    return words(text);
  }

  private splitRefName(section: string, name: string): { sec?: string; opt?: string } {
    if (!name.includes(".")) return { sec: section, opt: name };
    if (name.startsWith(".")) return { sec: "DEFAULT", opt: name.slice(1) };
    const first = name.indexOf(".");
    const head = name.slice(0, first);
    if (head === "env" || head === "data" || head === "labels" || this.template.sections.has(head) || head === "DEFAULT" || Rid.parse(head)) {
      return { sec: head, opt: name.slice(first + 1) };
    }
    const last = name.lastIndexOf(".");
    return { sec: name.slice(0, last), opt: name.slice(last + 1) };
  }

  private refValue(section: string, ref: RefAst, range: SourceRange | undefined): Evaluated | "unknown" {
    const name = ref.name;
    // Built-in names first: [env] name = x does not shadow {name}.
    if (!name.includes(".")) {
      const b = this.builtin(name, section);
      if (b !== undefined) return { ok: true, text: b };
      if (name === "id") return { ok: true, text: this.objectId() };
    }
    if (name.startsWith("node.")) return this.nodeRef(name.slice(5));
    const { sec, opt } = this.splitRefName(section, name);
    if (!sec || !opt) return "unknown";
    // Deferred resource outputs: {disk#0.exposed_devs[0]}, {volume#0.mnt}.
    const rid = Rid.parse(sec);
    if (rid && (DEFERRED_ATTRS.has(opt) || (rid.group === "volume" && DEFERRED_VOLUME_ATTRS.has(opt)))) {
      if (!this.template.sections.has(sec)) return "unknown";
      return { ok: true, text: ref.raw, deferred: new Set([sec]) };
    }
    if (!name.includes(".") && sec === section && section !== "DEFAULT") {
      // {opt} inside a section: the section (with inheritance), else DEFAULT.
      const lk = this.lookup(section, opt);
      if (lk) return section === "env" ? this.envRef(opt) : this.evalKeyword(section, opt);
      if (this.lookup("DEFAULT", opt)) return this.evalKeyword("DEFAULT", opt);
      // A known keyword that is unset and has no default is empty.
      if (this.specFor(section, opt) || this.ctx.catalog.defaults.has(opt)) return { ok: true, text: "" };
      return "unknown";
    }
    if (sec === "env") {
      if (!this.lookup("env", opt) && this.ctx.osEnv?.[opt.toUpperCase()] === undefined) return "unknown";
      return this.envRef(opt);
    }
    if (sec !== "DEFAULT" && !this.template.sections.has(sec) && !(sec === section)) return "unknown";
    if (!this.lookup(sec, opt)) {
      if (sec === "DEFAULT" && opt === "id") return { ok: true, text: this.objectId() };
      if (this.specFor(sec, opt)) return { ok: true, text: "" };
      return "unknown";
    }
    void range;
    return this.evalKeyword(sec, opt);
  }

  /** {node.<keyword>} from [node], {node.labels.<name>} from [labels] of the node config. */
  private nodeRef(rest: string): Evaluated | "unknown" {
    const nc = this.ctx.nodeConfig;
    const key = rest.toLowerCase();
    const v = key.startsWith("labels.") ? nc?.labels[key.slice(7)] : (nc?.node[key] ?? NODE_DEFAULTS[key]);
    return v === undefined ? "unknown" : { ok: true, text: v };
  }

  private envRef(opt: string): Evaluated {
    const os = this.ctx.osEnv?.[opt.toUpperCase()];
    if (os !== undefined) return { ok: true, text: os };
    return this.evalKeyword("env", opt);
  }

  private refHint(ref: RefAst): string | undefined {
    if (ref.name.startsWith("node.")) {
      const file = this.ctx.nodeConfig?.file;
      const where = ref.name.startsWith("node.labels.") ? `[labels] ${ref.name.slice(12)}` : `[node] ${ref.name.slice(5)}`;
      return file ? `Define ${where} in the node config ${file}.` : `No node config was found: define ${where} in <state root>/node.conf, or pass --node-config FILE.`;
    }
    const { sec, opt } = this.splitRefName("DEFAULT", ref.name);
    const candidates = new Set<string>(["nodename", "short_nodename", "name", "svcname", "short_name", "namespace", "kind", "path", "id", "fqdn", "clustername", "rid", "rindex", "rgroup", "nodes", "drpnodes"]);
    if (sec && sec !== "DEFAULT" && this.template.sections.has(sec)) {
      const s = this.template.sections.get(sec)!;
      for (const k of s.byBase.keys()) candidates.add(`${sec}.${k}`);
      if (Rid.parse(sec)) for (const a of DEFERRED_ATTRS) candidates.add(`${sec}.${a}`);
      const m = didYouMean(`${sec}.${opt}`, candidates);
      return m ? `Did you mean {${m}}?` : undefined;
    }
    if (sec === "env") {
      const s = this.template.sections.get("env");
      const keys = s ? [...s.byBase.keys()].map((k) => `env.${k}`) : [];
      const m = didYouMean(ref.name, keys);
      return m ? `Did you mean {${m}}?` : "Add the key to the [env] section, or pass --env key=value.";
    }
    for (const s of this.template.sections.keys()) candidates.add(s);
    const d = this.template.sections.get("DEFAULT");
    if (d) for (const k of d.byBase.keys()) candidates.add(k);
    const m = didYouMean(ref.name, candidates);
    return m ? `Did you mean {${m}}?` : undefined;
  }

  objectId(): string {
    const d = this.template.sections.get("DEFAULT");
    const k = d?.byBase.get("id")?.find((x) => x.scope === undefined);
    return k ? k.entry.value.text : deterministicId(this.ctx.path);
  }

  // ------------------------------------------------------------ conversion

  /** Evaluates and converts a keyword; reports conversion errors at the value. */
  keyword(section: string, base: string, spec: KeywordSpec | undefined): EvaluatedKeyword | undefined {
    const lk = this.lookup(section, base);
    if (!lk) return undefined;
    if (lk.origin === "default" && spec && !/[{$<]/.test(lk.text)) {
      // A constant default converts the same way for every resource.
      const hit = constantDefaults.get(spec);
      if (hit) return hit;
      const k = this.keywordUncached(section, base, spec, lk);
      if (k) constantDefaults.set(spec, k);
      return k;
    }
    return this.keywordUncached(section, base, spec, lk);
  }

  private keywordUncached(section: string, base: string, spec: KeywordSpec | undefined, lk: Lookup): EvaluatedKeyword | undefined {
    const r = this.evalKeyword(section, base);
    const deferred = r.deferred ? [...r.deferred].sort() : undefined;
    const typed = r.typed ? pyToJs(r.typed) : undefined;
    let value: KwValue | undefined;
    if (r.ok && !deferred && !(r.markers && r.markers.length)) {
      if (spec) {
        const c = convertValue(r.text, spec.type);
        if (c.ok) {
          value = c.value as KwValue;
          if (spec.candidates && spec.candidates.length && typeof value === "string" && value !== "" && !spec.candidates.includes(value)) {
            const m = didYouMean(value, spec.candidates);
            this.diag({
              code: "E2025",
              severity: "error",
              summary: `invalid value for ${spec.name}`,
              detail: `${JSON.stringify(value)} is not one of: ${spec.candidates.join(", ")}.`,
              range: lk.range,
              hint: m ? `Did you mean ${m}?` : `Use one of: ${spec.candidates.join(", ")}.`,
            });
            value = undefined;
          }
        } else {
          this.diag({
            code: "E2023",
            severity: "error",
            summary: `invalid value for ${spec.name}`,
            detail: `${c.error}${lk.origin === "default" ? " (in the keyword default)" : ""}${lk.origin === "DEFAULT" && section !== "DEFAULT" ? ` (inherited by [${section}] from [DEFAULT])` : ""}.`,
            range: lk.range,
            hint: c.hint,
          });
        }
      } else value = r.text;
    }
    // (a value still holding "$(" is an expression that failed to parse: reported already)
    if (value !== undefined && spec?.argv && !r.text.includes("$(")) {
      const c = checkArgvValue(value, spec.argv);
      if (!c.ok) {
        this.diag({ code: "E2040", severity: "error", summary: `invalid value for ${spec.name}`, detail: `${c.error}.`, range: lk.range, hint: c.hint });
        value = undefined;
      }
    }
    if (r.markers && r.markers.length && spec && !spec.markers) {
      this.diag({
        code: "E2024",
        severity: "error",
        summary: "provision-time marker not accepted here",
        detail: `${spec.name} does not take markers such as ${r.markers[0].text}; only keywords filled by a provisioner do (ipname of ip.host, ip.netns and ip.amazon; disk.amazon volumes).`,
        range: lk.range,
      });
    }
    if (spec?.markers && r.ok) {
      // "<size-5>" looks like a marker but is not one (a typo in the upstream docs).
      const markerTexts = new Set((r.markers ?? []).map((m) => m.text));
      for (const m of r.text.matchAll(/<[^<>\s]+>/g)) {
        if (markerTexts.has(m[0])) continue;
        const fixed = m[0].replace(/^<(\w+)[-:](.*)>$/, "<$1=$2>");
        this.diag({
          code: "W2027",
          severity: "warning",
          summary: "not a provision-time marker",
          detail: `${m[0]} is not a marker (<allocate> or <key=value,...>); it is kept as plain text.`,
          range: lk.range,
          hint: fixed !== m[0] ? `Did you mean ${fixed}?` : undefined,
        });
      }
    }
    return {
      name: spec?.name ?? base,
      text: r.text,
      value,
      typed,
      deferred,
      markers: r.markers,
      ...(r.unresolved ? { unresolved: [...r.unresolved] } : {}),
      origin: lk.origin,
      range: lk.range,
      spec,
    };
  }
}

/**
 * "$(hostname -f)" is a shell command substitution, not arithmetic: a command word then arguments
 * (an option, a path, another word) or a pipe. The hint names the literal form.
 */
export function shellSubstitutionHint(inner: string): string | undefined {
  if (!/^\s*[A-Za-z_./][\w./-]*\s+(-|\/|[A-Za-z_{])|\|/.test(inner)) return undefined;
  return `$(...) is arithmetic in a template; for a shell command substitution write $$(${inner.trim()}) (a command holding it runs through /bin/sh).`;
}

/** Parses a value that has no source (a keyword default, a --env value). */
function parseLooseValue(text: string): ValuePart[] {
  return looseCache.get(text) ?? looseParse(text);
}

const looseCache = new Map<string, ValuePart[]>();

function looseParse(text: string): ValuePart[] {
  // Imported lazily to keep the grammar out of this module's top level cost: parseValueText is cheap.
  const { parts } = parseValueTextNoRange(text);
  looseCache.set(text, parts);
  return parts;
}

import { parseValueText } from "../../grammar/index.js";

function parseValueTextNoRange(text: string): { parts: ValuePart[] } {
  return parseValueText(text, () => undefined);
}

export { words };
