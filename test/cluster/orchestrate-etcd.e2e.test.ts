// Orchestration with the cluster store on a real 3-member etcd (started once for this file, ended
// by pid) and the real 3-node test cluster: the main scenarios of the embedded-store files
// (failover provision -> status -> plan no-op -> unprovision; kill -9 of the orchestrator ->
// its lease expires -> the next run resumes), then what several operators meet: two orchestrators
// on one object (one runs, one fails naming the holder, one waits), two objects in parallel, and
// the reading commands answering while another process holds the lock.
import type { ChildProcess } from "node:child_process";
import { hostname } from "node:os";
import { afterEach, describe, expect, it } from "vitest";
import { eventsOf, show, summaryOf, useOrchCluster, type CliRun } from "../helpers/orchestrate.js";
import { failoverScenario, killAndResumeScenario, until } from "../helpers/orchestrate-scenarios.js";
import { endHolders, holderProcess } from "../helpers/store-holder.js";

const oc = useOrchCluster("oetcd", { store: "etcd" });
const holders: ChildProcess[] = [];
afterEach(() => endHolders(holders));

const ISO = "\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z";

describe("orchestration with the etcd cluster store", () => {
  it("failover service: provision (leader then followers), status, plan no-op, unprovision", () => failoverScenario(oc), 300_000);

  it("the orchestrator killed (-9): its lock goes when its lease expires (TTL); the next run resumes", () => killAndResumeScenario(oc), 300_000);

  it("two orchestrators on one object: one runs, one fails naming the holder and the lock id, one waits (--lock-timeout) then runs", async () => {
    // A slow start on the leader keeps A's run (and its lock) going while the others try.
    const s = oc.service({ more: ["[app#1]", "type = forking", "start = /bin/true", "start@n1 = /bin/sleep 6", ""] });
    const a = oc.spawnOsvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
    // A holds the lock and has stored the config: the others start now, as real processes.
    await until("A holding the lock", () => oc.lockHolder(s.name)?.pid === a.child.pid && oc.records(s.name)?.config !== undefined);
    const aHolder = oc.lockHolder(s.name)!;
    const waiter = oc.spawnOsvc([s.name, "provision", "--json", "--lock-timeout", "300s"]);
    const failer = await oc.osvc([s.name, "provision", "--json"]);
    const [ra, rw] = await Promise.all([a.done, waiter.done]);

    expect(failer.code, show(failer)).toBe(1);
    expect(failer.stderr).toMatch(
      new RegExp(`object root/svc/${s.name} is locked by \\S+@${hostname()} pid ${a.child.pid} \\(osvc ${s.name} provision\\) orchestration ${aHolder.orchestrationId} since ${ISO}; lock id ${aHolder.id}`),
    );
    expect(failer.stderr).toContain(`osvc cluster force-unlock root/svc/${s.name} --id ${aHolder.id}`);
    expect(eventsOf(failer.stdout).filter((e) => e.type === "node_event")).toEqual([]);

    expect(ra.code, show(ra)).toBe(0);
    expect(rw.code, show(rw)).toBe(0);
    const waited = eventsOf(rw.stdout).filter((e) => e.type === "lock_wait");
    expect(waited.length, show(rw)).toBeGreaterThanOrEqual(1);
    expect(String(waited[0].holder)).toContain(`pid ${a.child.pid} `);
    expect(String(waited[0].holder)).toContain(`lock id ${aHolder.id}`);
    // The waiter ran after A: a new orchestration, nothing left to change.
    expect(summaryOf(rw.stdout).id).not.toBe(summaryOf(ra.stdout).id);
    expect(rw.stdout).not.toMatch(/"type":"change_done"/);
    oc.expectLeaderUp(s, ["n1"]);
  }, 300_000);

  it("two objects orchestrated at once: both succeed, their runs overlapping in time (recorded timestamps)", async () => {
    const [s1, s2] = [oc.service(), oc.service()];
    const runs = [s1, s2].map((s) => oc.spawnOsvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]).done);
    const [r1, r2]: CliRun[] = await Promise.all(runs);
    expect(r1.code, show(r1)).toBe(0);
    expect(r2.code, show(r2)).toBe(0);
    const [o1, o2] = [oc.orchestration(s1.name)!, oc.orchestration(s2.name)!];
    expect([o1.phase, o2.phase]).toEqual(["done", "done"]);
    const t = (iso: string) => Date.parse(iso);
    console.log(`[etcd] two objects: ${o1.startedAt}..${o1.updatedAt} and ${o2.startedAt}..${o2.updatedAt}`);
    // Each started before the other ended: neither waited for the other's lock.
    expect(t(o1.startedAt)).toBeLessThan(t(o2.updatedAt));
    expect(t(o2.startedAt)).toBeLessThan(t(o1.updatedAt));
    for (const s of [s1, s2]) oc.expectLeaderUp(s, ["n1"]);
  }, 300_000);

  it("the lock held by another process: plan, print status and cluster status answer; a run fails naming it; force-unlock needs its id", async () => {
    const s = oc.service();
    const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
    expect(p.code, show(p)).toBe(0);
    const h = await holderProcess({ backend: "etcd", endpoints: oc.etcd!.endpoints, prefix: oc.prefix, object: `root/svc/${s.name}`, ttl: 30 }, holders);

    // Reading commands take no lock.
    const st = await oc.osvc([s.name, "print", "status", "--format", "json"]);
    expect(st.code, show(st)).toBe(0);
    const pl = await oc.osvc(["plan", s.cfg, "--path", s.name, "--detailed-exitcode"]);
    expect(pl.code, show(pl)).toBe(0);
    const cs = await oc.osvc(["cluster", "status", `root/svc/${s.name}`, "--format", "json"]);
    expect(cs.code, show(cs)).toBe(0);
    const doc = JSON.parse(cs.stdout) as { health: { ok: boolean; members: { reachable: boolean; leader: boolean }[] }; objects: { object: string; lock?: { id: string; pid: number; command: string }; orchestration: { phase: string } }[] };
    expect(doc.health.ok).toBe(true);
    expect(doc.health.members.map((m) => m.reachable)).toEqual([true, true, true]);
    expect(doc.health.members.filter((m) => m.leader)).toHaveLength(1);
    expect(doc.objects).toHaveLength(1);
    expect(doc.objects[0]).toMatchObject({ object: `root/svc/${s.name}`, lock: { id: h.id, pid: h.child.pid, command: "store-holder test" }, orchestration: { phase: "done" } });

    // A run cannot take it: it fails at once naming the holder and its id; nothing is done.
    const run = await oc.osvc([s.name, "stop", "--json"]);
    expect(run.code, show(run)).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`locked by \\S+ pid ${h.child.pid} \\(store-holder test\\) since ${ISO}; lock id ${h.id}`));
    oc.expectLeaderUp(s, ["n1"]);

    // force-unlock shows the holder and wants its id; a wrong one is refused.
    const show1 = await oc.osvc(["cluster", "force-unlock", s.name]);
    expect(show1.code, show(show1)).toBe(1);
    expect(show1.stdout).toContain(`pid ${h.child.pid} (store-holder test)`);
    expect(show1.stderr).toContain(`--id ${h.id}`);
    const wrong = await oc.osvc(["cluster", "force-unlock", s.name, "--id", "123abc"]);
    expect(wrong.code, show(wrong)).toBe(1);
    expect(oc.lockHolder(s.name)?.id).toBe(h.id);
    const ok = await oc.osvc(["cluster", "force-unlock", s.name, "--id", h.id]);
    expect(ok.code, show(ok)).toBe(0);
    expect(oc.lockHolder(s.name)).toBeUndefined();
    // The next run gets the lock.
    const again = await oc.osvc([s.name, "provision", "--json"]);
    expect(again.code, show(again)).toBe(0);
  }, 300_000);
});
