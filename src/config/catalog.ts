// The keyword catalog: every driver's keywords plus the generic and [DEFAULT] ones.
import { didYouMean } from "../core/diagnostics.js";
import { RESOURCE_GROUPS } from "../core/rid.js";
import { driverId, type DriverSpec, type KeywordSpec } from "../core/schema.js";
import { DEFAULT_KEYWORDS, GENERIC_RESOURCE_KEYWORDS } from "./keywords/generic.js";

export interface ResolvedDriver {
  readonly id: string; // canonical id after alias resolution ("disk.vg" for "disk.lvm")
  readonly spec: DriverSpec;
  /** Keyword name or alias -> spec (driver keywords win over generic ones). */
  readonly keywords: ReadonlyMap<string, KeywordSpec>;
  /** Keywords that have a value even when nobody writes them (a default), or must be written (required). */
  readonly implicit: readonly KeywordSpec[];
}

export class KeywordCatalog {
  private readonly drivers = new Map<string, DriverSpec>();
  private readonly resolved = new Map<string, ResolvedDriver>();
  readonly generic: ReadonlyMap<string, KeywordSpec>;
  readonly defaults: ReadonlyMap<string, KeywordSpec>;
  /** Any resource keyword of any driver: a [DEFAULT] key may set it for all resources. */
  private readonly anyResource = new Map<string, KeywordSpec>();

  constructor(
    specs: readonly DriverSpec[],
    readonly defaultTypes: Readonly<Record<string, string>>,
  ) {
    for (const s of specs) this.drivers.set(driverId(s), s);
    this.generic = indexKeywords(GENERIC_RESOURCE_KEYWORDS);
    this.defaults = indexKeywords(DEFAULT_KEYWORDS);
    for (const s of specs) for (const [k, v] of indexKeywords(s.keywords)) if (!this.anyResource.has(k)) this.anyResource.set(k, v);
    for (const [k, v] of this.generic) if (!this.anyResource.has(k)) this.anyResource.set(k, v);
  }

  get specs(): DriverSpec[] {
    return [...this.drivers.values()];
  }

  /** The driver of a resource section: group + type (or the group's default type). */
  driverFor(group: string, type: string | undefined): ResolvedDriver | undefined {
    // A typeless group (volume) is its own driver: there, "type" is a keyword of the driver (the pool type).
    const t = this.defaultTypes[group] === "" ? "" : (type ?? this.defaultTypes[group]);
    const id = t ? `${group}.${t}` : group;
    return this.byId(id);
  }

  byId(id: string): ResolvedDriver | undefined {
    const cached = this.resolved.get(id);
    if (cached) return cached;
    let spec = this.drivers.get(id);
    if (!spec) return undefined;
    let canonical = id;
    if (spec.aliasOf) {
      const target = this.drivers.get(spec.aliasOf);
      if (target) {
        spec = target;
        canonical = driverId(target);
      }
    }
    const keywords = new Map(this.generic);
    for (const [k, v] of indexKeywords(spec.keywords)) keywords.set(k, v);
    const implicit = [...new Set(keywords.values())].filter((k) => k.default !== undefined || k.required);
    const r: ResolvedDriver = { id: canonical, spec, keywords, implicit };
    this.resolved.set(id, r);
    return r;
  }

  /** Known types of a group, for "unknown driver" errors. */
  typesOf(group: string): string[] {
    return [...this.drivers.values()].filter((s) => s.group === group).map((s) => s.type).sort();
  }

  /** Known resource groups. */
  get groups(): readonly string[] {
    return RESOURCE_GROUPS;
  }

  /** A [DEFAULT] keyword: object-level, or any resource keyword used as a default. */
  defaultKeyword(name: string): KeywordSpec | undefined {
    return this.defaults.get(name) ?? this.anyResource.get(name);
  }

  resourceKeywordAnywhere(name: string): KeywordSpec | undefined {
    return this.anyResource.get(name);
  }

  suggestKeyword(name: string, within: Iterable<string>): string | undefined {
    return didYouMean(name, within);
  }
}

function indexKeywords(list: readonly KeywordSpec[]): Map<string, KeywordSpec> {
  const m = new Map<string, KeywordSpec>();
  for (const k of list) {
    m.set(k.name, k);
    for (const a of k.aliases ?? []) if (!m.has(a)) m.set(a, k);
  }
  return m;
}
