// The mount table, read from /proc/self/mountinfo: the same facts `findmnt` prints, without
// starting a process for every look (a provider looks before and after each mount).
import { readFile } from "node:fs/promises";
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

export async function readMounts(): Promise<MountEntry[]> {
  return parseMountinfo(await readFile("/proc/self/mountinfo", "utf8"));
}
