// Template -> evaluated resources + diagnostics, for one node. Validation lives here too:
// sections, drivers, keywords, scopes, required keywords, values.
import { didYouMean, suggestion, type Diagnostic } from "../core/diagnostics.js";
import { isResourceGroup, RESOURCE_GROUPS, Rid } from "../core/rid.js";
import { SHELL_SYNTAX, usesShellOperators } from "../core/command.js";
import { shlexSplit } from "../core/convert.js";
import { formatProblem } from "../core/formats.js";
import type { DriverSpec, KeywordSpec } from "../core/schema.js";
import { Evaluator, type EvalContext, type EvaluatedKeyword, type EvaluatedResource, type EvaluatedTemplate } from "./evaluate.js";
import type { Section, Template } from "./template.js";
import { checkCascadeTargets } from "./cascade.js";
import { resolveNetwork } from "./network.js";

const FREE_SECTIONS = new Set(["env", "labels", "data"]);
const NODE_SCOPE_NAMES = new Set(["nodes", "drpnodes", "encapnodes"]);

export function compileTemplate(template: Template, ctx: EvalContext): EvaluatedTemplate {
  const ev = new Evaluator(template, ctx);
  const diagnostics = ev.diagnostics;
  const catalog = ctx.catalog;

  // [DEFAULT]
  const defaults = new Map<string, EvaluatedKeyword>();
  const dsec = template.sections.get("DEFAULT");
  if (dsec) {
    checkScopes(dsec, (base) => catalog.defaultKeyword(base), diagnostics);
    for (const base of dsec.byBase.keys()) {
      const spec = catalog.defaultKeyword(base);
      if (!spec) {
        const keys = dsec.byBase.get(base)!;
        const m = didYouMean(base, [...catalog.defaults.keys(), ...catalog.generic.keys()]);
        diagnostics.push({
          code: "W2020",
          severity: "warning",
          summary: "unknown keyword",
          detail: `"${base}" is not a [DEFAULT] keyword nor a keyword of any resource driver; it is ignored.`,
          range: keys[0].entry.keyRange,
          hint: m ? `Did you mean "${m}"?` : "Run `osvc keywords DEFAULT` to list the known keywords.",
        });
      }
      // Resource keywords set in DEFAULT are evaluated in each resource's context; evaluate object ones here.
      if (spec && (catalog.defaults.has(base) || !catalog.resourceKeywordAnywhere(base))) {
        const k = ev.keyword("DEFAULT", base, spec);
        if (k) defaults.set(spec.name, k);
      } else if (spec) {
        const k = ev.keyword("DEFAULT", base, undefined);
        if (k) defaults.set(base, { ...k, spec });
      } else {
        const k = ev.keyword("DEFAULT", base, undefined);
        if (k) defaults.set(base, k);
      }
    }
  }
  // Object keywords with defaults that were not written: nodes, env...
  for (const [name, spec] of catalog.defaults) {
    if (name !== spec.name || defaults.has(name) || spec.default === undefined) continue;
    const k = ev.keyword("DEFAULT", name, spec);
    if (k) defaults.set(name, k);
  }

  // [env]: free keys, each must evaluate.
  const env = new Map<string, EvaluatedKeyword>();
  const esec = template.sections.get("env");
  const envKeys = new Set<string>([...(esec ? esec.byBase.keys() : []), ...Object.keys(ctx.envOverrides ?? {})]);
  for (const k of envKeys) {
    const r = ev.keyword("env", k, undefined);
    if (r) env.set(k, r);
  }

  // Resource sections.
  const resources: EvaluatedResource[] = [];
  const others = new Map<string, Map<string, EvaluatedKeyword>>();
  for (const sec of template.sections.values()) {
    if (sec.name === "DEFAULT" || sec.name === "env") continue;
    const rid = Rid.parse(sec.name);
    if (!rid) {
      if (!FREE_SECTIONS.has(sec.name) && !sec.name.startsWith("subset#")) {
        const g = sec.name.split("#")[0];
        const m = didYouMean(g, RESOURCE_GROUPS);
        diagnostics.push({
          code: "W2010",
          severity: "warning",
          summary: "unknown section, ignored",
          detail: sec.name.includes("#")
            ? `"${g}" is not a resource group (${RESOURCE_GROUPS.join(", ")}).`
            : `[${sec.name}] is neither DEFAULT, env, labels, data, subset#... nor a resource section <group>#<index>.`,
          range: sec.range,
          hint: m && sec.name.includes("#") ? `Did you mean [${m}#${sec.name.split("#").slice(1).join("#")}]?` : undefined,
        });
      }
      const kws = new Map<string, EvaluatedKeyword>();
      for (const base of sec.byBase.keys()) {
        const r = ev.keyword(sec.name, base, undefined);
        if (r) kws.set(base, r);
      }
      others.set(sec.name, kws);
      continue;
    }
    resources.push(compileResource(ev, rid, sec, diagnostics));
  }
  resources.sort((a, b) => Rid.compare(a.rid, b.rid));
  checkCascadeTargets(resources, new Set(env.keys()), diagnostics); // <allocate> write-back targets (issue 11)
  return { path: ctx.path, nodename: ctx.nodename, defaults, env, resources, others, diagnostics };
}

function compileResource(ev: Evaluator, rid: Rid, sec: Section, diagnostics: Diagnostic[]): EvaluatedResource {
  const catalog = ev.ctx.catalog;
  const typeKey = sec.byBase.get("type");
  const typeRes = typeKey ? ev.keyword(sec.name, "type", undefined) : undefined;
  const driver = ev.driverOf(sec.name);
  // In a typeless group (volume), "type" is a driver keyword (the pool type), not the driver's type.
  const type = driver?.spec.type === "" ? undefined : typeRes?.text.trim() || undefined;
  const keywords = new Map<string, EvaluatedKeyword>();
  const unknown = new Map<string, EvaluatedKeyword>();
  if (!driver) {
    const known = catalog.typesOf(rid.group);
    if (type === undefined && !catalog.defaultTypes[rid.group]) {
      diagnostics.push({
        code: "E2012",
        severity: "error",
        summary: "missing required keyword type",
        detail: `[${sec.name}] needs a type: the ${rid.group} group has no default driver.`,
        range: sec.range,
        hint: `Add "type = <one of ${known.slice(0, 8).join(", ")}${known.length > 8 ? ", ..." : ""}>".`,
      });
    } else {
      const hint = type ? suggestion(type, known) : undefined;
      diagnostics.push({
        code: "E2011",
        severity: "error",
        summary: "unknown driver type",
        detail: `[${sec.name}] has type "${type}", but the ${rid.group} group has no such driver. Known ${rid.group} types: ${known.join(", ")}.`,
        range: typeRes?.range ?? sec.range,
        hint,
      });
    }
    for (const base of sec.byBase.keys()) {
      const r = ev.keyword(sec.name, base, undefined);
      if (r) unknown.set(base, r);
    }
    return { rid, section: sec.name, driver, type, range: sec.range, keywords, unknown };
  }

  checkScopes(sec, (base) => driver.keywords.get(base), diagnostics);

  // Keys written in the section.
  for (const base of sec.byBase.keys()) {
    const spec = driver.keywords.get(base);
    if (!spec) {
      const m = didYouMean(base, driver.keywords.keys());
      diagnostics.push({
        code: "W2020",
        severity: "warning",
        summary: "unknown keyword",
        detail: `${driver.id} has no keyword "${base}"; it is ignored.`,
        range: sec.byBase.get(base)![0].entry.keyRange,
        hint: m ? `Did you mean "${m}"?` : `Run \`osvc keywords ${driver.id}\` to list its keywords.`,
      });
      const r = ev.keyword(sec.name, base, undefined);
      if (r) unknown.set(base, r);
    }
  }
  // Every keyword of the driver that has a value: set here, inherited from DEFAULT, or defaulted.
  const candidates = new Set<KeywordSpec>(driver.implicit);
  for (const base of sec.byBase.keys()) {
    const s = driver.keywords.get(base);
    if (s) candidates.add(s);
  }
  const dsec = ev.template.sections.get("DEFAULT");
  if (dsec) {
    for (const base of dsec.byBase.keys()) {
      const s = driver.keywords.get(base);
      if (s && s.inherit !== "leaf") candidates.add(s);
    }
  }
  for (const spec of candidates) {
    const k = ev.keyword(sec.name, spec.name, spec);
    if (k) keywords.set(spec.name, k);
    else if (spec.required) {
      diagnostics.push({
        code: "E2022",
        severity: "error",
        summary: `missing required keyword ${spec.name}`,
        detail: `${driver.id} needs "${spec.name}": ${spec.text}`,
        range: sec.range,
        hint: spec.example ? `Add "${spec.name} = ${spec.example}" to [${sec.name}].` : `Add "${spec.name} = ..." to [${sec.name}].`,
      });
    }
  }
  checkCommands(ev, sec.name, rid.group, keywords, diagnostics);
  checkFormats(keywords, diagnostics);
  resolveNetwork(rid.group, keywords, ev.ctx.nodeConfig, ev.ctx.nodename, diagnostics); // network = <[network#name] of the node config>
  checkDriver(driver.spec, sec, keywords, diagnostics);
  checkUnresolved(rid.group, keywords, diagnostics);
  linkNetns(driver.id, keywords);
  return { rid, section: sec.name, driver, type: type ?? driver.spec.type, range: sec.range, keywords, unknown };
}

/**
 * Commands (app start/stop/check/info, triggers) run through /bin/sh -c when they hold shell operators
 * as written, else as words. Either way only the template's own text may hold shell syntax: a value
 * substituted into a command (a reference, an [env] key, --env, the environment) that holds some is
 * an error at that reference (E2028).
 */
function checkCommands(ev: Evaluator, section: string, group: string, keywords: Map<string, EvaluatedKeyword>, diagnostics: Diagnostic[]): void {
  for (const [name, k] of keywords) {
    const isCommand = /^(blocking_)?(pre|post)_/.test(name) || (group === "app" && ["start", "stop", "check", "info"].includes(name));
    if (!isCommand || k.origin === "default") continue;
    const shell = usesShellOperators(k.text);
    for (const sub of ev.substitutions(section, name)) {
      const m = SHELL_SYNTAX.exec(sub.text);
      if (!m) continue;
      diagnostics.push({
        code: "E2028",
        severity: "error",
        summary: "a substituted value would add shell syntax to a command",
        detail: `${name}: ${sub.raw} is ${JSON.stringify(sub.text)}, which holds ${JSON.stringify(m[0])}. Only the command as written in the template may hold shell syntax${shell ? " (this one runs through /bin/sh)" : ""}; a substituted value never does.`,
        range: sub.range ?? k.range,
        hint: shell
          ? `Pass the value through the environment and quote it in the command: environment = "VALUE=${sub.raw}", then use "$VALUE" in ${name}.`
          : `Write the text in the template itself, or pass it through the environment (environment = "VALUE=${sub.raw}") and read it in the program.`,
      });
    }
  }
}

/**
 * Values with a format (user and group names, KEY=VALUE words): a bad one would pass here and fail
 * at apply, and again at stop; it is an error at the keyword instead.
 */
function checkFormats(keywords: Map<string, EvaluatedKeyword>, diagnostics: Diagnostic[]): void {
  for (const [name, k] of keywords) {
    const format = k.spec?.format;
    if (!format || k.value === undefined) continue;
    const bad = formatProblem(format, k.value);
    if (!bad) continue;
    diagnostics.push({
      code: "E2029",
      severity: "error",
      summary: `invalid value for ${name}`,
      detail: `${bad.problem}.`,
      range: k.range,
      hint: bad.hint,
    });
  }
}

/** Keywords whose text is free (commands, comments, environments): an unknown reference there stays a warning. */
function isFreeText(group: string, name: string): boolean {
  return /^(blocking_)?(pre|post)_/.test(name) || ["comment", "tags", "environment", "configs_environment", "secrets_environment", "command", "entrypoint", "run_args"].includes(name) || (group === "app" && ["start", "stop", "check", "info"].includes(name));
}

/**
 * A keyword the provider acts on (a device, a file, a mount point, a size...) that still holds an
 * unknown reference would reach the host verbatim ("{disk#0.exposed_dev}" is neither a device nor
 * a file): E2006 at that keyword, at validate, not a confusing failure in the middle of an apply.
 */
function checkUnresolved(group: string, keywords: Map<string, EvaluatedKeyword>, diagnostics: Diagnostic[]): void {
  for (const [name, k] of keywords) {
    if (!k.unresolved?.length || isFreeText(group, name)) continue;
    diagnostics.push({
      code: "E2006",
      severity: "error",
      summary: `${name} holds an unknown reference`,
      detail: `${name} = ${k.text}: ${k.unresolved.join(", ")} ${k.unresolved.length > 1 ? "are" : "is"} not known, so the provider would get ${k.unresolved.length > 1 ? "them" : "it"} verbatim.`,
      ...(k.range ? { range: k.range } : {}),
      hint: "Fix the reference (see the W2001 warning for a suggestion); `osvc render` shows the evaluated values.",
    });
  }
}

/** The driver's own checks across keywords (an app action that needs a script...): E2029/W2029 at the keyword. */
function checkDriver(spec: DriverSpec, sec: Section, keywords: Map<string, EvaluatedKeyword>, diagnostics: Diagnostic[]): void {
  if (!spec.check) return;
  // A keyword holding a provision-time marker (<allocate>) is seen as its text.
  const get = (name: string) => {
    const k = keywords.get(name);
    return k?.value ?? (k?.markers?.length ? k.text : undefined);
  };
  for (const p of spec.check(get)) {
    const k = p.keyword ? keywords.get(p.keyword) : undefined;
    // One error per keyword: one found already (a network name the node config cannot resolve) stands.
    if (k?.range && diagnostics.some((d) => d.severity === "error" && d.range === k.range)) continue;
    diagnostics.push({
      code: p.severity === "error" ? "E2029" : "W2029",
      severity: p.severity,
      summary: p.message,
      range: k?.range ?? sec.range,
      ...(p.hint ? { hint: p.hint } : {}),
    });
  }
}

/**
 * An address in a container's network namespace (ip.netns with netns = container#N) needs the
 * path of that namespace, known once the container runs: netns_path waits for the container's output.
 */
function linkNetns(driverId: string, keywords: Map<string, EvaluatedKeyword>): void {
  if (driverId !== "ip.netns" || keywords.has("netns_path")) return;
  const netns = keywords.get("netns")?.text.trim();
  if (!netns || !/^container#/.test(netns)) return;
  keywords.set("netns_path", { name: "netns_path", text: `{${netns}.netns_path}`, deferred: [netns], origin: "default" });
}

function checkScopes(sec: Section, specOf: (base: string) => KeywordSpec | undefined, diagnostics: Diagnostic[]): void {
  for (const [base, keys] of sec.byBase) {
    const spec = specOf(base);
    if (!spec) continue;
    for (const k of keys) {
      if (k.scope === undefined) continue;
      if (k.scope === "") {
        diagnostics.push({
          code: "E2021",
          severity: "error",
          summary: "empty scope",
          detail: `"${k.name}" has nothing after '@'.`,
          range: k.entry.keyRange,
          hint: `Write ${base}@<nodename>, ${base}@nodes, ${base}@drpnodes or ${base}@encapnodes.`,
        });
        continue;
      }
      if (!spec.scopable) {
        diagnostics.push({
          code: "E2021",
          severity: "error",
          summary: "keyword is not scopable",
          detail: `"${base}" cannot take a scope; "${k.name}" is ignored at run time.`,
          range: k.entry.keyRange,
          hint: `Set "${base}" without @${k.scope}, or use a scopable keyword.`,
        });
      } else if (!NODE_SCOPE_NAMES.has(k.scope) && /[\s]/.test(k.scope)) {
        diagnostics.push({ code: "E2021", severity: "error", summary: "invalid scope", range: k.entry.keyRange });
      }
    }
  }
}

export { isResourceGroup };
