import { describe, expect, it } from "vitest";
import { mapLimit } from "../../src/core/limit.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("mapLimit", () => {
  it("keeps the input order and never runs more than `limit` calls at once", async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([30, 5, 20, 1, 10, 2, 15], 3, async (ms, i) => {
      running++;
      peak = Math.max(peak, running);
      await sleep(ms);
      running--;
      return `${i}:${ms}`;
    });
    expect(out).toEqual(["0:30", "1:5", "2:20", "3:1", "4:10", "5:2", "6:15"]);
    expect(peak).toBe(3);
  });

  it("runs everything at once when the limit is larger; an empty list gives an empty result", async () => {
    let peak = 0;
    let running = 0;
    await mapLimit([1, 2, 3], 10, async () => {
      peak = Math.max(peak, ++running);
      await sleep(5);
      running--;
    });
    expect(peak).toBe(3);
    expect(await mapLimit([], 4, async () => 1)).toEqual([]);
  });

  it("a limit below 1 means one at a time", async () => {
    let peak = 0;
    let running = 0;
    await mapLimit([1, 2, 3], 0, async () => {
      peak = Math.max(peak, ++running);
      await sleep(2);
      running--;
    });
    expect(peak).toBe(1);
  });

  it("the first failure rejects once the calls in flight settle; nothing new starts after it", async () => {
    const started: number[] = [];
    let settled = 0;
    await expect(
      mapLimit([0, 1, 2, 3, 4, 5], 2, async (x) => {
        started.push(x);
        await sleep(x === 1 ? 1 : 20);
        settled++;
        if (x === 1) throw new Error("boom 1");
        return x;
      }),
    ).rejects.toThrow("boom 1");
    expect(started).toEqual([0, 1]);
    expect(settled).toBe(2);
  });
});
