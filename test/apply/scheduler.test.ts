// The apply's scheduler: ready set, parallelism, failures, interrupts.
import { describe, expect, it } from "vitest";
import { buildTasks, schedule, type Schedulable, type Task } from "../../src/apply/scheduler.js";

function ch(rid: string, dependsOn: string[] = [], action: Schedulable["action"] = "provision", slot = 0): Schedulable {
  return { rid, action, slot, dependsOn };
}

const tick = () => new Promise<void>((r) => setTimeout(r, 5));

/** Runs the tasks; each takes a few ms; `fail` rids fail. Returns the start/end log and what was skipped. */
async function run(changes: Schedulable[], opts: { parallelism?: number; fail?: string[]; continueOnFailure?: boolean; signal?: AbortSignal; onStart?: (rid: string) => void } = {}) {
  const log: string[] = [];
  const skipped: string[] = [];
  let active = 0;
  let maxActive = 0;
  const r = await schedule(buildTasks(changes), {
    parallelism: opts.parallelism ?? 10,
    signal: opts.signal ?? new AbortController().signal,
    continueOnFailure: opts.continueOnFailure ?? false,
    run: async (t: Task<Schedulable>, settle) => {
      active++;
      maxActive = Math.max(maxActive, active);
      log.push(`start ${t.id}`);
      opts.onStart?.(t.ch.rid);
      await tick();
      active--;
      log.push(`end ${t.id}`);
      settle(!(opts.fail ?? []).includes(t.ch.rid));
    },
    skip: (t, reason) => skipped.push(`${t.id}: ${reason}`),
  });
  return { log, skipped, maxActive, interrupted: r.interrupted };
}

describe("scheduler", () => {
  it("starts a task only after its dependencies are done (up) and its dependents are down (down)", async () => {
    const { log } = await run([ch("disk#0"), ch("fs#0", ["disk#0"]), ch("app#0", ["fs#0"])]);
    expect(log).toEqual(["start disk#0:up", "end disk#0:up", "start fs#0:up", "end fs#0:up", "start app#0:up", "end app#0:up"]);
    const down = await run([ch("disk#0", [], "unprovision"), ch("fs#0", ["disk#0"], "unprovision")]);
    expect(down.log).toEqual(["start fs#0:down", "end fs#0:down", "start disk#0:down", "end disk#0:down"]);
  });

  it("the down phase ends before the up phase starts; a replace is both", async () => {
    const { log } = await run([ch("app#1"), ch("app#0", [], "stop"), ch("fs#0", [], "replace")]);
    const firstUp = log.findIndex((l) => l.startsWith("start") && l.endsWith(":up"));
    const lastDown = log.map((l, i) => (l.startsWith("end") && l.endsWith(":down") ? i : -1)).reduce((a, b) => Math.max(a, b));
    expect(lastDown).toBeLessThan(firstUp);
    expect(log.filter((l) => l.startsWith("start")).sort()).toEqual(["start app#0:down", "start app#1:up", "start fs#0:down", "start fs#0:up"]);
  });

  it("runs independent tasks in parallel, never more than the parallelism bound", async () => {
    const many = Array.from({ length: 12 }, (_, i) => ch(`app#${i}`));
    expect((await run(many, { parallelism: 3 })).maxActive).toBe(3);
    expect((await run(many, { parallelism: 1 })).maxActive).toBe(1);
    expect((await run(many, { parallelism: 20 })).maxActive).toBe(12);
  });

  it("frees a task's slot and starts its dependents once it settles, while its bookkeeping goes on", async () => {
    const log: string[] = [];
    await schedule(buildTasks([ch("disk#0"), ch("fs#0", ["disk#0"]), ch("app#0")]), {
      parallelism: 1,
      signal: new AbortController().signal,
      continueOnFailure: false,
      run: async (t, settle) => {
        log.push(`start ${t.ch.rid}`);
        await tick();
        settle(true);
        await tick(); // the journal entry, the log line
        await tick();
        log.push(`end ${t.ch.rid}`);
      },
      skip: () => undefined,
    });
    // parallelism 1 bounds the work on the host: the next task starts before the previous one's bookkeeping ends
    expect(log.indexOf("start fs#0")).toBeLessThan(log.indexOf("end disk#0"));
    expect(log.filter((l) => l.startsWith("start"))).toEqual(["start disk#0", "start fs#0", "start app#0"]);
  });

  it("a failure skips its dependents with the reason and starts nothing new, unless told to go on", async () => {
    const changes = [ch("disk#0"), ch("fs#0", ["disk#0"]), ch("app#0", [], "provision", 1), ch("app#1", [], "provision", 1)];
    const stop = await run(changes, { fail: ["disk#0"], parallelism: 1 });
    expect(stop.log).toEqual(["start disk#0:up", "end disk#0:up"]);
    expect(stop.skipped).toEqual([
      "fs#0:up: its dependency disk#0 did not complete",
      "app#0:up: disk#0 (an earlier driver group) did not complete",
      "app#1:up: disk#0 (an earlier driver group) did not complete",
    ]);
    const indep = [ch("disk#0"), ch("fs#0", ["disk#0"]), ch("app#0"), ch("app#1")];
    const goOn = await run(indep, { fail: ["disk#0"], parallelism: 1, continueOnFailure: true });
    expect(goOn.log.filter((l) => l.startsWith("start"))).toEqual(["start disk#0:up", "start app#0:up", "start app#1:up"]);
    expect(goOn.skipped).toEqual(["fs#0:up: its dependency disk#0 did not complete"]);
    const noGoOn = await run(indep, { fail: ["disk#0"], parallelism: 1 });
    expect(noGoOn.skipped).toEqual(["fs#0:up: its dependency disk#0 did not complete", "app#0:up: stopped after a failure", "app#1:up: stopped after a failure"]);
  });

  it("after an abort, the running tasks finish and nothing new starts", async () => {
    const ac = new AbortController();
    const r = await run([ch("app#0"), ch("app#1"), ch("app#2"), ch("app#3")], { parallelism: 2, signal: ac.signal, onStart: (rid) => rid === "app#1" && ac.abort() });
    expect(r.interrupted).toBe(true);
    expect(r.log).toEqual(["start app#0:up", "start app#1:up", "end app#0:up", "end app#1:up"]);
    expect(r.skipped).toEqual(["app#2:up: interrupted", "app#3:up: interrupted"]);
  });
});
