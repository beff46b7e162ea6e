// Orchestrated provisioning across a real 3-node test cluster (DESIGN §8, the seed's provisioning):
// the orchestrator (the built CLI, in the host namespace) drives each node's `osvc ... --local`
// over ssh (the embedded cluster store; orchestrate-etcd.e2e.test.ts runs the main scenarios on etcd). Verified on each node through its own namespaces: addresses (ip -j addr), mounts
// (findmnt in its mount namespace), processes (/proc/PID), and its own state.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { alive, NODES, show, summaryOf, useOrchCluster } from "../helpers/orchestrate.js";
import { expectStatusAndNoChanges, failoverScenario } from "../helpers/orchestrate-scenarios.js";

const oc = useOrchCluster("orch");

describe("orchestrated provision (3-node failover service)", () => {
  it("the leader provisions and stays up, the others follow the shared resources and end in standby; status, plan, unprovision", () => failoverScenario(oc), 300_000);

  it("topology = flex, flex_target = 2: two instances up (the first creates the shared resources), the third in standby", async () => {
    const s = oc.service({ defaults: ["topology = flex", "flex_target = 2"] });
    const p = await oc.osvc(["apply", s.cfg, "--path", s.name, "--json"]);
    expect(p.code, show(p)).toBe(0);
    const sum = summaryOf(p.stdout);
    expect([sum.leaders, sum.followers]).toEqual([["n1", "n2"], ["n3"]]);
    oc.expectLeaderUp(s, ["n1", "n2"]);
    await expectStatusAndNoChanges(oc, s, ["n1", "n2"]);
    // stop then start follow the topology: start runs the flex_target instances only.
    expect((await oc.osvc([s.name, "stop"])).code).toBe(0);
    for (const n of NODES) expect(oc.appPid(n, s.name) === undefined || !alive(oc.appPid(n, s.name)), n).toBe(true);
    const st = await oc.osvc([s.name, "start"]);
    expect(st.code, show(st)).toBe(0);
    oc.expectLeaderUp(s, ["n1", "n2"]);
    const d = await oc.osvc(["destroy", s.name]);
    expect(d.code, show(d)).toBe(0);
    oc.expectNothingLeft(s);
  }, 300_000);

  it("placement = spread: the leader is the node of the smallest md5(path + nodename)", async () => {
    const s = oc.service({ defaults: ["placement = spread"] });
    const md5 = (t: string) => createHash("md5").update(t).digest("hex");
    const leader = [...NODES].sort((a, b) => (md5(`root/svc/${s.name}${a}`) < md5(`root/svc/${s.name}${b}`) ? -1 : 1))[0];
    const p = await oc.osvc([s.name, "create", "--config", s.cfg, "--provision", "--json"]);
    expect(p.code, show(p)).toBe(0);
    expect(summaryOf(p.stdout).leaders).toEqual([leader]);
    oc.expectLeaderUp(s, [leader]);
    await expectStatusAndNoChanges(oc, s, [leader]);
    // purge: unprovision everywhere, the object gone from every node and from the store.
    const u = await oc.osvc([s.name, "purge"]);
    expect(u.code, show(u)).toBe(0);
    oc.expectNothingLeft(s);
    for (const n of NODES) expect(oc.nodeState(n, s.name), n).toBeUndefined();
    const st = await oc.osvc([s.name, "print", "status"]);
    expect(st.code).not.toBe(0);
  }, 300_000);
});
