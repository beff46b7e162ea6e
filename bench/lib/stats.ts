// Small timing helpers for the benchmarks (no dependencies).
import { performance } from "node:perf_hooks";

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Runs `fn` once to warm up, then `runs` times; returns the median wall time in ms. */
export function timeMedian(fn: () => void, runs: number, warmups = 1): { median: number; samples: number[] } {
  for (let i = 0; i < warmups; i++) fn();
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return { median: median(samples), samples };
}

export function fmtMs(ms: number): string {
  return ms < 10 ? ms.toFixed(2) : ms < 100 ? ms.toFixed(1) : ms.toFixed(0);
}

export function pad(s: string, n: number, right = false): string {
  return right ? s.padEnd(n) : s.padStart(n);
}
