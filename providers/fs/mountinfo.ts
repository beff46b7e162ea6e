// The mount table, read from /proc/self/mountinfo: the same facts `findmnt` prints, without
// starting a process for every look (a provider looks before and after each mount).
//
// Every look reads the file again (never a table read for someone else: the mounts change under
// osvc); only the parsing of a text identical to the last one read is skipped. The read is
// synchronous: the kernel writes the table from memory (no disk I/O, microseconds), whereas an
// asynchronous read waits in Node's thread pool behind the fsyncs of an apply's state writes.
import { readFileSync } from "node:fs";
import type { MountEntry } from "./provider.js";

/** Decodes the octal escapes of mountinfo fields (\040 is a space). */
function unescape(s: string): string {
  if (!s.includes("\\")) return s;
  return s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
}

/** Parses mountinfo lines into findmnt-shaped entries (SOURCE "/dev/x[/root]" when the root is not "/"). */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const f = line.split(" ");
    const sep = f.indexOf("-", 6);
    if (sep < 0 || f.length < sep + 4) continue;
    const root = unescape(f[3]);
    const target = unescape(f[4]);
    const vfs = f[5].split(",");
    const fstype = f[sep + 1];
    const dev = unescape(f[sep + 2]);
    const sup = f[sep + 3].split(",").filter((o) => o !== "rw" && o !== "ro");
    const fsroot = root === "/" ? "" : root;
    out.push({ target, source: fsroot ? `${dev}[${fsroot}]` : dev, dev, fsroot, fstype, options: [...vfs, ...sup].join(",") });
  }
  return out;
}

let last: { readonly text: string; readonly entries: readonly MountEntry[] } | undefined;

/** The mount table now (each entry frozen: callers share the parse of an unchanged table). */
export async function readMounts(): Promise<MountEntry[]> {
  const text = readFileSync("/proc/self/mountinfo", "utf8");
  if (last?.text !== text) last = { text, entries: parseMountinfo(text).map((e) => Object.freeze(e)) };
  return [...last.entries];
}
