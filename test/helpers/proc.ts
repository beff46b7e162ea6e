// Small process and randomness helpers shared by the tests.
import { readFileSync } from "node:fs";

/** A live process: a zombie (waiting for its parent to reap it) or a vanished pid is not. */
export function alive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    const st = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = st.slice(st.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** A small deterministic PRNG (mulberry32): a seed replays a random sequence exactly. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
