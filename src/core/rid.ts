// Resource identifiers: "<group>#<index>" (the index is any non-empty string).

export const RESOURCE_GROUPS = ["ip", "volume", "disk", "fs", "share", "container", "app", "sync", "task"] as const;
export type ResourceGroup = (typeof RESOURCE_GROUPS)[number];

export function isResourceGroup(s: string): s is ResourceGroup {
  return (RESOURCE_GROUPS as readonly string[]).includes(s);
}

/** Start natural order of the driver groups. */
export function groupOrder(g: ResourceGroup): number {
  return RESOURCE_GROUPS.indexOf(g);
}

export class Rid {
  private constructor(
    readonly group: ResourceGroup,
    readonly index: string,
  ) {}

  static of(group: ResourceGroup, index: string | number): Rid {
    return new Rid(group, String(index));
  }

  /** Parses "fs#1"; returns undefined when the text is not a resource section name. */
  static parse(text: string): Rid | undefined {
    const i = text.indexOf("#");
    if (i <= 0 || i === text.length - 1) return undefined;
    const g = text.slice(0, i);
    if (!isResourceGroup(g)) return undefined;
    return new Rid(g, text.slice(i + 1));
  }

  toString(): string {
    return `${this.group}#${this.index}`;
  }

  /** "fs#1" -> "fs.1", as used in container names and labels. */
  dotted(): string {
    return `${this.group}.${this.index}`;
  }

  equals(o: Rid): boolean {
    return o.group === this.group && o.index === this.index;
  }

  /** Group order first, then the rid string (lexical, as upstream). */
  static compare(a: Rid, b: Rid): number {
    const g = groupOrder(a.group) - groupOrder(b.group);
    if (g !== 0) return g;
    const sa = a.toString();
    const sb = b.toString();
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  }
}

/** Smallest free integer index >= start for a group, given the rids in use. */
export function nextFreeIndex(group: ResourceGroup, used: Iterable<string>, start = 0): number {
  const taken = new Set<string>();
  for (const u of used) {
    const r = Rid.parse(u);
    if (r && r.group === group) taken.add(r.index);
  }
  let i = start;
  while (taken.has(String(i))) i++;
  return i;
}
