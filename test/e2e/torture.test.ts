// Signal torture: random SIGINT-to-the-process-group (a terminal's Ctrl-C, once or twice) and
// SIGKILL points across apply and destroy of an object with a loop disk, an ext4 filesystem on
// it, a directory and a long-running app. After each interrupted run the host matches the state
// (a mismatch is allowed only for a step the journal shows in flight or failed), the next apply
// converges (and a re-plan is empty), and a final destroy leaves nothing: no loop device on the
// image, no mount under the temp dir, no app process, no file or directory osvc made.
// Bounded: iterations stop after ~45 s. OSVC_TORTURE_SEED=<n> replays a sequence.
import { chmodSync, existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { loopsBackedBy, mountsUnder, sandbox, show, startCli, type Sandbox } from "../helpers/e2e.js";
import { prng } from "../helpers/proc.js";

type Sig = "SIGINT" | "SIGINT+SIGINT" | "SIGKILL";
type Phase = "apply" | "destroy";

/** Live processes whose command line mentions `needle`. */
function processesWith(needle: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, "utf8");
      if (/\) [ZX] /.test(stat)) continue;
      if (readFileSync(`/proc/${e}/cmdline`, "utf8").includes(needle)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

interface HostFacts {
  "disk#0": boolean;
  "fs#0": boolean;
  "fs#1": boolean;
  "app#0": boolean;
}

describe("signal torture: random Ctrl-C and kill -9 across apply and destroy", () => {
  it("after each interruption the host matches the state, the next apply converges; the final destroy leaves nothing", async (ctx) => {
    const sb: Sandbox = sandbox(ctx, "osvc-e2e-torture-");
    const seed = Number(process.env.OSVC_TORTURE_SEED ?? Date.now() % 1_000_000);
    const rand = prng(seed);
    // Nested paths: osvc creates their parent directories, and must remove them again, even
    // when it was killed before the state recorded them.
    const img = sb.at("disks/a/d0.img");
    const mnt = sb.at("mnt/m0");
    const dir = sb.at("data/d1");
    const app = sb.write("app.sh", "#!/bin/sh\nwhile :; do sleep 1; done\n");
    chmodSync(app, 0o755);
    const tpl = sb.write(
      "t.conf",
      [
        `[disk#0]\ntype = loop\nfile = ${img}\nsize = 32m\n`,
        `[fs#0]\ntype = ext4\ndev = {disk#0.exposed_devs[0]}\nmnt = ${mnt}\n`,
        `[fs#1]\ntype = directory\npath = ${dir}\n`,
        `[app#0]\ntype = simple\nstart = ${app}\nstop_timeout = 10s\n`,
      ].join("\n"),
    );
    const name = "torture";
    const apply = ["apply", tpl, "--path", name, "--auto-approve", "--parallelism", "1", "--root", sb.root];
    const destroy = ["destroy", name, "--auto-approve", "--root", sb.root];

    const host = (): HostFacts => ({
      "disk#0": existsSync(img),
      "fs#0": mountsUnder(mnt).includes(mnt),
      "fs#1": existsSync(dir),
      "app#0": processesWith(app).length > 0,
    });
    const recorded = (): HostFacts => {
      const r = sb.state(name)?.resources ?? {};
      return { "disk#0": r["disk#0"]?.provisioned === true, "fs#0": r["fs#0"]?.provisioned === true, "fs#1": r["fs#1"]?.provisioned === true, "app#0": r["app#0"] !== undefined && !r["app#0"].lastError };
    };
    const always = (what: string) => {
      expect(loopsBackedBy(img).length, `${what}: loop devices on the image`).toBeLessThanOrEqual(1);
      expect(mountsUnder(sb.dir).filter((m) => m !== mnt), `${what}: mounts`).toEqual([]);
      expect(processesWith(app).length, `${what}: app processes`).toBeLessThanOrEqual(1);
    };
    const converge = async (what: string) => {
      const a = await sb.osvc(apply);
      expect(a.code, `${what}: the next apply\n${show(a)}`).toBe(0);
      const p = await sb.osvc(["plan", tpl, "--path", name, "--detailed-exitcode"]);
      expect(p.code, `${what}: re-plan after converging\n${show(p)}`).toBe(0);
      expect(host(), `${what}: everything up after converging`).toEqual({ "disk#0": true, "fs#0": true, "fs#1": true, "app#0": true });
      expect(loopsBackedBy(img)).toHaveLength(1);
      expect(processesWith(app)).toHaveLength(1);
    };

    const outcomes = new Map<string, number>();
    const count = (k: string) => outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
    const t0 = Date.now();
    let n = 0;
    let up = false;
    while (Date.now() - t0 < 45_000 && n < 40) {
      n++;
      const phase: Phase = rand() < 0.5 ? "apply" : "destroy";
      const r = rand();
      const sig: Sig = r < 0.45 ? "SIGINT" : r < 0.65 ? "SIGINT+SIGINT" : "SIGKILL";
      const at = 1 + Math.floor(rand() * 14); // the log line at which the signal comes
      const what = `#${n} (seed ${seed}) ${sig} at log line ${at} of ${phase}`;
      if (phase === "apply" && up) {
        const d = await sb.osvc(destroy);
        expect(d.code, `${what}: destroy before\n${show(d)}`).toBe(0);
        expect(host(), `${what}: destroy before`).toEqual({ "disk#0": false, "fs#0": false, "fs#1": false, "app#0": false });
      } else if (phase === "destroy" && !up) await converge(`${what}: before`);
      const run = startCli(phase === "apply" ? apply : destroy, { timeoutMs: 90_000 });
      let fired = false;
      // Fire at the at-th log line (or never, when the run ends first).
      const lines = () => run.stdout().split("\n").filter((l) => /^(INFO|WARNING|ERROR) /.test(l)).length;
      const poll = setInterval(() => {
        if (fired || lines() < at) return;
        fired = true;
        if (sig === "SIGKILL") run.self("SIGKILL");
        else {
          run.group("SIGINT");
          if (sig === "SIGINT+SIGINT") setTimeout(() => run.group("SIGINT"), 50 + Math.floor(rand() * 400));
        }
      }, 5);
      const res = await run.done;
      clearInterval(poll);
      expect(res.leftovers, `${what}: commands left running`).toEqual([]);
      const out = `${what}\n${res.stdout}\n${res.stderr}`;
      expect(res.stdout + res.stderr, out).not.toMatch(/\n\s+at .*:\d+:\d+\)?\n/);
      expect(res.stdout + res.stderr, out).not.toMatch(/exit code -1/);
      const kind = !fired ? "finished before the signal" : res.signal === "SIGKILL" ? "killed" : res.code === 130 ? "interrupted (130)" : res.code === 0 ? "finished (0)" : `exit ${res.code ?? res.signal}`;
      count(`${phase} ${sig}: ${kind}`);
      if (sig === "SIGKILL" || sig === "SIGINT") expect(kind, out).not.toMatch(/^exit /);
      // One Ctrl-C never reaches osvc's commands: no step fails because of it.
      if (sig === "SIGINT") expect(res.stdout, out).not.toMatch(/ failed after |killed by/);

      // The host matches the state, except for steps the journal shows in flight or failed.
      always(what);
      sb.journal(name); // every line parses
      const st = sb.state(name); // parses
      expect(st === null || typeof st.lineage === "string", out).toBe(true);
      const journal = sb.journal(name);
      const excused = new Set<string>();
      const open = new Map<string, number>();
      for (const j of journal) {
        const k = `${j.run}|${j.rid}|${j.action}`;
        if (j.op === "intent") open.set(k, (open.get(k) ?? 0) + 1);
        else {
          if (open.get(k)) open.set(k, open.get(k)! - 1);
          if (j.ok === false) excused.add(j.rid);
        }
      }
      for (const [k, c] of open) if (c > 0) excused.add(k.split("|")[1]);
      const h = host();
      const rec = recorded();
      for (const rid of Object.keys(h) as (keyof HostFacts)[]) {
        if (h[rid] !== rec[rid]) expect(excused, `${out}\n${rid}: host ${h[rid]}, recorded ${rec[rid]}; state ${JSON.stringify(st?.resources[rid])}; journal ${JSON.stringify(journal.slice(-8))}`).toContain(rid);
      }
      await converge(what);
      up = true;
    }
    const d = await sb.osvc(destroy);
    expect(d.code, show(d)).toBe(0);
    expect(loopsBackedBy(img)).toEqual([]);
    expect(mountsUnder(sb.dir)).toEqual([]);
    expect(processesWith(app)).toEqual([]);
    // Nothing osvc made stays behind, empty directories included.
    expect(readdirSync(sb.dir).sort()).toEqual(["app.sh", "state", "t.conf"]);
    const summary = [...outcomes].sort().map(([k, v]) => `  ${k}: ${v}`).join("\n");
    console.log(`signal torture: N=${n} runs (seed ${seed}) in ${Math.round((Date.now() - t0) / 1000)} s\n${summary}`);
    expect(n).toBeGreaterThanOrEqual(4);
  }, 240_000);
});
