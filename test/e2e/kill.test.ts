// How it works: `osvc apply --parallelism 1` of three disk.loop+fs.ext4 pairs is spawned and SIGKILLed (the osvc process only) when a chosen log line appears; then state.json must parse, plan must show the remaining work, the next apply (reclaiming the dead holder's lock by itself) converges, a re-plan is empty and destroy leaves no loop, mount or image.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { actionMap, loopsBackedBy, mountsUnder, must, runAndKill, sandbox, show } from "../helpers/e2e.js";

interface KillPoint {
  label: string;
  /** The stdout line at which osvc apply gets SIGKILL. */
  when: RegExp;
}

// Each point is inside a step (the journal holds its intent, not its outcome). The clean boundary
// "after a resource is provisioned" is covered too: every point comes after disk#0 is done.
const points: KillPoint[] = [
  { label: "right after a losetup -f of the second disk", when: /^INFO +\S+\.disk#1 +losetup -f --show / },
  { label: "during mkfs of the second filesystem", when: /^INFO +\S+\.fs#1 +mkfs\.ext4 / },
  { label: "while mounting the third filesystem", when: /^INFO +\S+\.fs#2 +mount -t ext4 / },
];

/**
 * A PATH where losetup, mkfs.ext4 and mount wait a second before they run: the kill lands while the
 * step runs, even when a loaded machine reads osvc's log line late (osvc could finish first).
 */
function slowPath(dir: string): Record<string, string> {
  const bin = path.join(dir, "slow-bin");
  mkdirSync(bin);
  for (const cmd of ["losetup", "mkfs.ext4", "mount"]) {
    const real = must("sh", ["-c", `command -v ${cmd}`]).trim();
    writeFileSync(path.join(bin, cmd), `#!/bin/sh\nsleep 1\nexec ${real} "$@"\n`, { mode: 0o755 });
  }
  return { PATH: `${bin}:${process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin"}` };
}

describe.concurrent("kill -9 of osvc apply while it provisions", () => {
  points.forEach((k, i) => {
    it(`${k.label}: the state stays readable, plan shows the rest, the next apply converges, destroy leaves nothing`, async (ctx) => {
      const sb = sandbox(ctx, `osvc-e2e-kill${i}-`);
      const name = `e2e-kill-${i}`;
      const files = [0, 1, 2].map((n) => sb.at(`d${n}.img`));
      const mnts = [0, 1, 2].map((n) => sb.at(`m${n}`));
      const rids = ["disk#0", "disk#1", "disk#2", "fs#0", "fs#1", "fs#2"];
      const tpl = sb.write(
        "t.conf",
        [0, 1, 2]
          .map((n) => `[disk#${n}]\ntype = loop\nfile = ${files[n]}\nsize = 32m\n\n[fs#${n}]\ntype = ext4\ndev = {disk#${n}.exposed_devs[0]}\nmnt = ${mnts[n]}\n`)
          .join("\n"),
      );

      const run = await runAndKill(["apply", tpl, "--path", name, "--auto-approve", "--parallelism", "1", "--root", sb.root], k.when, { env: slowPath(sb.dir) });
      expect(run.killed, `osvc apply was not killed at ${k.when} (exit ${run.code}):\n${run.stdout}\n${run.stderr}`).toBe(true);
      expect(run.stdout).not.toContain("Apply complete");

      // The state is readable JSON (JSON.parse inside sb.state), and so is every journal line.
      const st = sb.state(name);
      expect(st).not.toBeNull();
      expect(st!.lineage).toMatch(/^[0-9a-f-]{36}$/);
      sb.journal(name);
      // the killed process left its lock behind
      expect(existsSync(path.join(sb.objectDir(name), "lock"))).toBe(true);

      // plan shows the remaining work: everything not recorded as provisioned is to be done,
      // everything recorded (and left up) is unchanged
      // (--detailed-exitcode: 2 = changes; without it plan exits 0, as the golden plan tests check)
      const p = await sb.planJson(tpl, ["--path", name, "--detailed-exitcode"]);
      expect(p.code, p.stderr).toBe(2);
      const actions = actionMap(p.plan);
      expect(Object.keys(actions).sort()).toEqual(rids);
      const done = rids.filter((r) => st!.resources[r]?.provisioned === true);
      for (const r of rids) {
        if (done.includes(r)) expect(actions[r], `${r} is recorded as provisioned`).toBe("noop");
        else expect(actions[r], `${r} is not recorded as provisioned`).not.toBe("noop");
      }
      expect(done.length).toBeLessThan(rids.length);

      // the next apply converges; the dead holder's lock is reclaimed without any manual step
      const a = await sb.osvc(["apply", tpl, "--path", name, "--auto-approve"]);
      expect(a.code, show(a)).toBe(0);
      expect(a.stdout).toContain("Apply complete:");
      for (const n of [0, 1, 2]) {
        expect(loopsBackedBy(files[n]), files[n]).toHaveLength(1);
      }
      expect(mountsUnder(sb.dir).sort()).toEqual([...mnts].sort());
      const st2 = sb.state(name)!;
      expect(rids.filter((r) => st2.resources[r]?.provisioned !== true)).toEqual([]);

      const again = await sb.osvc(["plan", tpl, "--path", name, "--detailed-exitcode"]);
      expect(again.code, show(again)).toBe(0);
      expect(again.stdout).toContain("No changes.");

      const x = await sb.osvc(["destroy", name, "--auto-approve"]);
      expect(x.code, show(x)).toBe(0);
      expect(mountsUnder(sb.dir)).toEqual([]);
      for (const f of files) {
        expect(loopsBackedBy(f), f).toEqual([]);
        // every image was created by osvc (in the killed run or the next one): nothing is leaked
        expect(existsSync(f), `${f} leaked after destroy`).toBe(false);
      }
      for (const m of mnts) expect(existsSync(m), `${m} leaked after destroy`).toBe(false);
      expect(sb.state(name)!.resources).toEqual({});
      expect(existsSync(path.join(sb.objectDir(name), "lock"))).toBe(false);
    });
  });
});
