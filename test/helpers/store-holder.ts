// A process holding a cluster store lock (store-holder.mjs, over dist/): what "another operator"
// is in the tests. The caller ends it by pid (SIGKILL) in its cleanup.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { ROOT } from "./cli.js";

const HOLDER = path.join(ROOT, "test/helpers/store-holder.mjs");

export interface StoreHolderArgs {
  readonly backend: "embedded" | "etcd";
  readonly root?: string;
  readonly endpoints?: readonly string[];
  readonly prefix?: string;
  readonly object: string;
  /** Lease TTL (s, etcd; default 2). */
  readonly ttl?: number;
}

/** Starts a process that takes the lock and hangs; resolves with it and its holder id once it holds the lock. */
export async function holderProcess(args: StoreHolderArgs | string, children: ChildProcess[]): Promise<{ child: ChildProcess; id: string }> {
  expect(existsSync(path.join(ROOT, "dist/src/cluster/store/index.js")), "run npm run build first").toBe(true);
  const child = spawn(process.execPath, [HOLDER, typeof args === "string" ? args : JSON.stringify(args)], { stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let out = "";
  let err = "";
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const id = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`holder did not lock in 30 s: ${err}`)), 30_000);
    child.stdout!.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) {
        clearTimeout(t);
        resolve((JSON.parse(out.split("\n")[0]) as { id: string }).id);
      }
    });
    child.on("exit", (c) => reject(new Error(`holder exited ${c}: ${err}`)));
  });
  return { child, id };
}

/** Ends the holders still running (SIGKILL, by pid) and waits for them. */
export async function endHolders(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.splice(0).map(async (c) => {
      if (c.exitCode !== null || c.signalCode !== null) return;
      const gone = new Promise((r) => c.once("exit", r));
      c.kill("SIGKILL");
      await gone;
    }),
  );
}
