// `osvc keywords [driver]`: the keyword schema as plain, deterministic text (no colors).

import { didYouMean } from "../../core/diagnostics.js";
import { driverId, type DriverSpec, type KeywordSpec } from "../../core/schema.js";

const WIDTH = 100;
const TEXT_INDENT = "      ";

/** The first sentence of a description, for one-line listings. */
function firstSentence(text: string): string {
  const m = /^(.*?[.!?])(\s|$)/.exec(text);
  return m ? m[1] : text;
}

function wrap(text: string, indent: string, width = WIDTH): string[] {
  const words = text.split(/\s+/).filter((w) => w !== "");
  const lines: string[] = [];
  let cur = "";
  for (const w of words) {
    if (cur !== "" && indent.length + cur.length + 1 + w.length > width) {
      lines.push(indent + cur);
      cur = w;
    } else {
      cur = cur === "" ? w : `${cur} ${w}`;
    }
  }
  if (cur !== "") lines.push(indent + cur);
  return lines;
}

function showValue(v: string): string {
  return v === "" || /\s|\|/.test(v) ? JSON.stringify(v) : v;
}

/** `(type, required, scopable, provisioning, default X, candidates a|b, ...)` */
function keywordFlags(k: KeywordSpec, usualInherit: string): string {
  const f: string[] = [k.type];
  if (k.required) f.push("required");
  if (k.scopable) f.push("scopable");
  if (k.provisioning) f.push("provisioning");
  if (k.default !== undefined) f.push(`default ${showValue(k.default)}`);
  if (k.candidates !== undefined) f.push(`candidates ${k.candidates.map(showValue).join("|")}`);
  if (k.aliases !== undefined && k.aliases.length > 0) f.push(`${k.aliases.length > 1 ? "aliases" : "alias"} ${k.aliases.join("|")}`);
  if (k.sensitive) f.push("sensitive");
  if (k.markers) f.push("accepts <markers>");
  if ((k.inherit ?? "leaf2head") !== usualInherit) f.push(`inherit ${k.inherit ?? "leaf2head"}`);
  if (k.deprecated !== undefined) f.push("deprecated");
  return `(${f.join(", ")})`;
}

/** usualInherit: the lookup mode not worth printing (leaf2head for resources, head in DEFAULT). */
function keywordBlock(k: KeywordSpec, usualInherit = "leaf2head"): string[] {
  const lines = [`  ${k.name}  ${keywordFlags(k, usualInherit)}`];
  lines.push(...wrap(k.text, TEXT_INDENT));
  if (k.deprecated !== undefined) lines.push(...wrap(`deprecated: ${k.deprecated}`, TEXT_INDENT));
  if (k.example !== undefined) lines.push(`${TEXT_INDENT}example: ${k.name} = ${k.example}`);
  return lines;
}

function aliasNote(s: DriverSpec): string {
  return s.aliasOf !== undefined ? `(alias of ${s.aliasOf}) ` : "";
}

/** The driver ids a provider runs on this host (an alias runs when what it aliases does); undefined: not shown. */
export type Runnable = ReadonlySet<string> | undefined;

function runsHere(s: DriverSpec, runnable: ReadonlySet<string>): boolean {
  return runnable.has(driverId(s)) || (s.aliasOf !== undefined && runnable.has(s.aliasOf));
}

function driverTable(specs: readonly DriverSpec[], runnable: Runnable): string[] {
  const rows = [...specs].map((s) => [driverId(s), aliasNote(s) + firstSentence(s.text), runnable ? (runsHere(s, runnable) ? "yes" : "no") : ""] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const w = Math.max("DRIVER".length, ...rows.map((r) => r[0].length)) + 2;
  const h = runnable ? "RUNS HERE  " : "";
  return ["DRIVER".padEnd(w) + h + "DESCRIPTION", ...rows.map(([id, text, here]) => id.padEnd(w) + (runnable ? here.padEnd(h.length) : "") + text)];
}

function genericList(generic: readonly KeywordSpec[]): string[] {
  return [
    "Generic keywords (accepted by every resource; see `osvc keywords DEFAULT` for object keywords):",
    ...wrap(generic.map((k) => k.name).join(", "), "  "),
  ];
}

/** The driver list, one driver's keywords, DEFAULT's keywords, or a group's drivers. */
export function formatKeywords(
  specs: readonly DriverSpec[],
  generic: readonly KeywordSpec[],
  defaults: readonly KeywordSpec[],
  driver?: string,
  runnable?: Runnable,
): { text: string } | { error: string } {
  const out: string[] = [];
  const done = (): { text: string } => ({ text: out.join("\n") + "\n" });

  if (driver === undefined || driver === "") {
    out.push(...driverTable(specs, runnable));
    out.push("");
    if (runnable) out.push("RUNS HERE: osvc provisions it on this host (yes), or knows and validates its keywords only (no).");
    out.push("Show the keywords of one driver with `osvc keywords <driver>` (e.g. `osvc keywords fs.ext4`),");
    out.push("of a resource group's drivers with `osvc keywords <group>`, and the object keywords with `osvc keywords DEFAULT`.");
    return done();
  }

  const want = driver.trim();
  const lower = want.toLowerCase();

  if (lower === "default") {
    out.push("DEFAULT  Object-level keywords of the [DEFAULT] section.");
    out.push(...wrap("Any resource keyword may also be set in [DEFAULT], as the default value for every resource that does not set it.", "  "));
    out.push("");
    out.push("Keywords:");
    for (const k of defaults) out.push(...keywordBlock(k, "head"));
    return done();
  }

  const spec = specs.find((s) => driverId(s).toLowerCase() === lower);
  if (spec !== undefined) {
    const id = driverId(spec);
    out.push(`${id}  ${aliasNote(spec)}${spec.text}`);
    if (runnable) out.push(runsHere(spec, runnable) ? "Runs on this host." : "Does not run on this host: its keywords are known and validated, plan says no provider runs here.");
    out.push("");
    if (spec.keywords.length === 0) {
      out.push("No driver-specific keywords.");
    } else {
      out.push("Keywords:");
      for (const k of spec.keywords) out.push(...keywordBlock(k));
    }
    out.push("");
    out.push(...genericList(generic));
    return done();
  }

  const members = specs.filter((s) => s.group.toLowerCase() === lower);
  if (members.length > 0) {
    out.push(`Drivers of the ${members[0].group} group (the type keyword picks one):`);
    out.push(...driverTable(members, runnable));
    out.push("");
    out.push(`Show the keywords of one of them with \`osvc keywords ${driverId(members[0])}\`.`);
    return done();
  }

  const names = new Set<string>(["DEFAULT"]);
  for (const s of specs) {
    names.add(driverId(s));
    names.add(s.group);
  }
  const guess = didYouMean(want, [...names].sort());
  return {
    error:
      `unknown driver ${JSON.stringify(want)}` +
      (guess !== undefined ? ` (did you mean ${JSON.stringify(guess)}?)` : "") +
      "; run `osvc keywords` to list the drivers",
  };
}
