// Allocation records of one node (addresses a provisioner chose): <root>/alloc/<key>, one file per
// key, created with O_EXCL so that two objects (two osvc runs) never hold the same key. The cluster
// store has the same operations (allocate/freeAlloc/getAlloc) for a cluster.
import { mkdir, open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { AllocationRecord, Allocations } from "../core/alloc.js";
import { fsyncDir } from "./store.js";

/** A key as a file name: "/" and other separators become "_" ("ip/10.0.0.0/24/10.0.0.2" -> "ip_10.0.0.0_24_10.0.0.2"). */
export function allocFileName(key: string): string {
  return key.replace(/[^A-Za-z0-9.:@-]/g, "_");
}

export class FileAllocations implements Allocations {
  constructor(readonly dir: string) {}

  private file(key: string): string {
    return join(this.dir, allocFileName(key));
  }

  async allocate(key: string, record: AllocationRecord): Promise<{ created: boolean; record: AllocationRecord }> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    let fh;
    try {
      fh = await open(this.file(key), "wx", 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const held = await this.getAlloc(key);
      // A record being written by another run at this very moment reads as empty: it is taken.
      return { created: false, record: held ?? { owner: "(being written)", at: new Date().toISOString() } };
    }
    try {
      await fh.writeFile(`${JSON.stringify({ key, ...record })}\n`, "utf8");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsyncDir(this.dir);
    return { created: true, record };
  }

  async freeAlloc(key: string, owner: string): Promise<boolean> {
    const held = await this.getAlloc(key);
    if (!held || held.owner !== owner) return false;
    await unlink(this.file(key));
    await fsyncDir(this.dir);
    return true;
  }

  async getAlloc(key: string): Promise<AllocationRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.file(key), "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
    try {
      const { owner, data, at } = JSON.parse(text) as AllocationRecord;
      return { owner, ...(data ? { data } : {}), at };
    } catch {
      return undefined;
    }
  }
}

/** The allocation records of the node whose state root is `root`. */
export function nodeAllocations(root: string): FileAllocations {
  return new FileAllocations(join(root, "alloc"));
}
