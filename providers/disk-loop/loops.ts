// The host's loop devices, as `losetup -l -J` lists them, for the disk.loop and fs drivers.
//
// Callers asking at the same moment share one listing: a call joins the `losetup -l` in flight
// when no loop device was attached or detached by this process since that listing started (so
// every caller sees at least what this process did before it asked); else it starts its own.
import { ProviderError } from "../../src/provider/api.js";
import { run } from "../../src/provider/exec.js";
import type { Exec } from "../../src/provider/exec.js";

const DELETED_SUFFIX = " (deleted)";

/** One row of `losetup -l -J -O NAME,BACK-FILE,BACK-INO`. */
export interface LoopDevice {
  readonly name: string;
  /** Backing file path as the kernel reports it, without the " (deleted)" suffix. */
  readonly backFile: string;
  /** The backing file was deleted (or replaced) while attached. */
  readonly deleted: boolean;
  readonly backIno?: number;
}

/** Parses `losetup -l -J` output (an empty output or an empty list both mean "no loop device"). */
export function parseLosetupJson(stdout: string): LoopDevice[] {
  if (!stdout.trim()) return [];
  const data = JSON.parse(stdout) as { loopdevices?: Record<string, unknown>[] };
  const out: LoopDevice[] = [];
  for (const d of data.loopdevices ?? []) {
    const name = typeof d.name === "string" ? d.name : "";
    let back = typeof d["back-file"] === "string" ? (d["back-file"] as string) : "";
    if (!name || !back) continue;
    const deleted = back.endsWith(DELETED_SUFFIX);
    if (deleted) back = back.slice(0, -DELETED_SUFFIX.length);
    const ino = d["back-ino"];
    const backIno = typeof ino === "number" ? ino : typeof ino === "string" && /^\d+$/.test(ino) ? Number(ino) : undefined;
    out.push(backIno === undefined ? { name, backFile: back, deleted } : { name, backFile: back, deleted, backIno });
  }
  return out;
}

async function listLoopsNow(exec: Exec): Promise<LoopDevice[]> {
  const r = await run(exec, "losetup", ["-l", "-J", "-O", "NAME,BACK-FILE,BACK-INO"]);
  try {
    return parseLosetupJson(r.stdout);
  } catch (e) {
    throw new ProviderError(`cannot parse losetup -l -J output: ${(e as Error).message}`);
  }
}

/** Bumped after each attach or detach this process makes (see the top of this file). */
let changes = 0;
let inFlight: { readonly changes: number; readonly listing: Promise<LoopDevice[]> } | undefined;

/** Tells the shared listing that this process attached or detached a loop device (call it once the command ended). */
export function noteLoopChange(): void {
  changes++;
}

/** The host's loop devices; one `losetup -l -J` shared by the callers asking at the same moment. */
export function listLoops(exec: Exec): Promise<LoopDevice[]> {
  if (inFlight && inFlight.changes === changes) return inFlight.listing;
  const mine = { changes, listing: listLoopsNow(exec) };
  inFlight = mine;
  const done = () => {
    if (inFlight === mine) inFlight = undefined;
  };
  mine.listing.then(done, done);
  return mine.listing;
}
