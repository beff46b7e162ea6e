// The template model: sections and keys as written, with duplicates resolved (last wins).
import type { Diagnostic, SourceRange } from "../core/diagnostics.js";
import type { EntryAst, SectionAst, TemplateAst } from "../../grammar/index.js";
import { SourceFile } from "../../grammar/index.js";
import { Rid } from "../core/rid.js";

export interface Key {
  readonly name: string; // as written: "ipname@n1"
  readonly base: string; // "ipname"
  readonly scope?: string; // "n1", "nodes", "drpnodes", "encapnodes"
  readonly entry: EntryAst;
}

export interface Section {
  readonly name: string;
  readonly range: SourceRange;
  readonly implicit: boolean;
  /** Keys by full name, in order of first appearance; the last occurrence wins. */
  readonly keys: Map<string, Key>;
  /** Base keyword -> keys with that base (bare and scoped). */
  readonly byBase: Map<string, Key[]>;
}

export class Template {
  readonly sections = new Map<string, Section>();
  readonly sources: SourceFile[] = [];

  static fromAst(ast: TemplateAst, diagnostics: Diagnostic[]): Template {
    const t = new Template();
    t.addAst(ast, diagnostics);
    return t;
  }

  addAst(ast: TemplateAst, diagnostics: Diagnostic[]): void {
    this.sources.push(ast.source);
    for (const s of ast.sections) this.addSection(s, diagnostics);
  }

  private addSection(s: SectionAst, diagnostics: Diagnostic[]): void {
    let sec = this.sections.get(s.name);
    if (!sec) {
      sec = { name: s.name, range: s.range, implicit: s.implicit, keys: new Map(), byBase: new Map() };
      this.sections.set(s.name, sec);
    }
    for (const e of s.entries) {
      const prev = sec.keys.get(e.key);
      if (prev) {
        diagnostics.push({
          code: "W2026",
          severity: "warning",
          summary: "duplicate key: the last one wins",
          detail: `"${e.key}" is also set at line ${prev.entry.keyRange.start.line} of [${s.name}].`,
          range: e.keyRange,
          hint: "Remove one of the two lines.",
        });
      }
      const at = e.key.indexOf("@");
      const base = at > 0 ? e.key.slice(0, at) : e.key;
      const scope = at > 0 ? e.key.slice(at + 1) : undefined;
      const key: Key = { name: e.key, base, scope, entry: e };
      sec.keys.set(e.key, key);
      const list = sec.byBase.get(base) ?? [];
      const i = list.findIndex((k) => k.name === e.key);
      if (i >= 0) list[i] = key;
      else list.push(key);
      sec.byBase.set(base, list);
    }
  }

  get resourceSections(): { rid: Rid; section: Section }[] {
    const out: { rid: Rid; section: Section }[] = [];
    for (const s of this.sections.values()) {
      const rid = Rid.parse(s.name);
      if (rid) out.push({ rid, section: s });
    }
    return out.sort((a, b) => Rid.compare(a.rid, b.rid));
  }
}
