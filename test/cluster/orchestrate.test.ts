// orchestrate() against scripted nodes (a NodeRunner answering as each node's osvc would) and a
// real embedded store: the order of the node commands, the fixed argv, failure semantics and the
// records. The same flows run for real over ssh in orchestrate*.e2e.test.ts.
import { afterEach, describe, expect, it } from "vitest";
import { orchestrate, type ClusterEvent, type NodeRunner, type OrchestrateRequest } from "../../src/cluster/orchestrate.js";
import { EmbeddedStore } from "../../src/cluster/store/index.js";
import type { NodeResult, TransportRunOptions } from "../../src/cluster/transport.js";
import { cleanup, makeTempDir } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

type Script = (node: string, words: readonly string[]) => Partial<NodeResult> | undefined;

/** The words of a node's action: `create --config - --force --provision X` (install + provision in one osvc) is `provision X`. */
const INSTALL_AND_PROVISION = "create --config - --force --provision";
const actionWords = (words: readonly string[]): readonly string[] => (words.slice(1, 6).join(" ") === INSTALL_AND_PROVISION ? [words[0], "provision", ...words.slice(6)] : words);

function runner(script: Script = () => undefined): NodeRunner & { calls: string[]; runs: string[] } {
  const calls: string[] = [];
  const runs: string[] = [];
  const answer = (node: string, raw: readonly string[], input?: string): NodeResult => {
    calls.push(`${node}: ${raw.join(" ")}${input !== undefined ? " <stdin>" : ""}`);
    const words = actionWords(raw);
    const base = { node, command: "osvc", exitCode: 0, stdout: "", stderr: "", timedOut: false, durationMs: 1 };
    const over = script(node, words);
    if (over) return { ...base, ...over };
    if (words[1] === "print") return { ...base, stdout: JSON.stringify({ avail: "up", provisioned: "true", resources: [{ rid: "disk#0", status: "up", provisioned: true }] }) };
    if (words[1] === "create") return base;
    const prov = words[1] === "unprovision" || words[1] === "purge" ? {} : { "disk#0": true, "fs#1": true };
    return { ...base, stdout: `${JSON.stringify({ type: "change_done", rid: "fs#1", action: words[1], elapsedMs: 1 })}\n${JSON.stringify({ type: "action_result", ok: true, exit_code: 0, provisioned: prov })}\n` };
  };
  return {
    calls,
    runs,
    osvc: async (node: string, words: readonly string[], opts?: TransportRunOptions) => {
      const r = answer(node, words, opts?.input);
      // As the Exec streams them: each line of the output as it comes.
      for (const stream of ["stdout", "stderr"] as const) for (const l of r[stream].split("\n").filter(Boolean)) opts?.onLine?.(stream, l);
      return r;
    },
    run: async (node: string, argv: readonly string[]) => {
      runs.push(`${node}: ${argv.join(" ")}`);
      return { node, command: argv[0], exitCode: 0, stdout: "0.50 0.40 0.30 1/1 1\n", stderr: "", timedOut: false, durationMs: 1, ...script(node, argv) };
    },
  };
}

const req = (o: Partial<OrchestrateRequest> = {}): OrchestrateRequest => ({
  object: "svc1",
  action: "provision",
  config: "[DEFAULT]\nnodes = n1 n2 n3\n",
  nodes: ["n1", "n2", "n3"],
  placement: { placement: "nodes order", topology: "failover" },
  parallelism: 10,
  sharedRids: ["disk#0"],
  command: "osvc svc1 provision",
  ...o,
});

const actions = (calls: readonly string[]) =>
  calls
    .map((c) => c.replace(` ${INSTALL_AND_PROVISION}`, " provision").replace(/ <stdin>$/, ""))
    .filter((c) => !/: root\/svc\/svc1 (create|print)/.test(c))
    .map((c) => c.replace(/ --local --json --lock-timeout 300s/, ""));

describe("orchestrate", () => {
  it("provision: one osvc per node installs the config (stdin) and provisions, the leader first with --leader --disable-rollback, then the others; records", async () => {
    const store = new EmbeddedStore(makeTempDir("osvc-orch-unit-"));
    const r = runner();
    const events: ClusterEvent[] = [];
    const res = await orchestrate(req(), { runner: r, store, emit: (e) => events.push(e) });
    expect(res).toMatchObject({ ok: true, leaders: ["n1"], followers: ["n2", "n3"], resumed: false });
    // Every node answers first (a fixed `true`); then exactly one osvc per node, the config on its stdin.
    expect(r.runs).toEqual(["n1: true", "n2: true", "n3: true"]);
    expect(r.calls).toEqual([
      "n1: root/svc/svc1 create --config - --force --provision --leader --disable-rollback --local --json --lock-timeout 300s <stdin>",
      "n2: root/svc/svc1 create --config - --force --provision --local --json --lock-timeout 300s <stdin>",
      "n3: root/svc/svc1 create --config - --force --provision --local --json --lock-timeout 300s <stdin>",
    ]);
    expect(actions(r.calls)).toEqual(["n1: root/svc/svc1 provision --leader --disable-rollback", "n2: root/svc/svc1 provision", "n3: root/svc/svc1 provision"]);
    const rec = await store.readObject("svc1");
    expect(rec.config?.text).toBe("[DEFAULT]\nnodes = n1 n2 n3\n");
    expect(rec.shared["disk#0"]).toMatchObject({ node: "n1" });
    expect(Object.keys(rec.instances).sort()).toEqual(["n1", "n2", "n3"]);
    expect(rec.instances.n2.provisioned).toEqual({ "disk#0": true, "fs#1": true });
    expect(rec.orchestration).toMatchObject({ phase: "done", nodes: { n1: "ok", n2: "ok", n3: "ok" } });
    expect(events.filter((e) => e.type === "node_event").map((e) => (e as { node: string }).node)).toEqual(["n1", "n1", "n2", "n2", "n3", "n3"]);
    await store.close();
  });

  it("the leader fails: nothing runs on the others; a follower fails: the others finish", async () => {
    const store = new EmbeddedStore(makeTempDir("osvc-orch-unit-"));
    const failOn = (node: string): Script => (n, w) => (n === node && w[1] === "provision" ? { exitCode: 1, stdout: `${JSON.stringify({ type: "change_failed", rid: "app#0", action: "start", error: "no such file" })}\n` } : undefined);
    const r1 = runner(failOn("n1"));
    const a = await orchestrate(req(), { runner: r1, store, emit: () => undefined });
    expect(a.ok).toBe(false);
    expect(a.nodes.map((n) => [n.node, n.state])).toEqual([["n1", "failed"], ["n2", "skipped"], ["n3", "skipped"]]);
    expect(a.nodes[0].error).toBe("app#0: no such file");
    expect(actions(r1.calls)).toEqual(["n1: root/svc/svc1 provision --leader --disable-rollback"]);
    const r2 = runner(failOn("n2"));
    const b = await orchestrate(req(), { runner: r2, store, emit: () => undefined });
    expect(b.nodes.map((n) => [n.node, n.state])).toEqual([["n1", "ok"], ["n2", "failed"], ["n3", "ok"]]);
    await store.close();
  });

  it("resume: an unfinished orchestration with its leader provisioned goes straight to the followers", async () => {
    const store = new EmbeddedStore(makeTempDir("osvc-orch-unit-"));
    const lock = await store.lock("svc1", { command: "a killed run" });
    await lock.putOrchestration({ id: "o-1", action: "provision", leaders: ["n1"], phase: "followers", nodes: { n1: "ok", n2: "running", n3: "pending" }, startedAt: "2026-01-01T00:00:00Z", updatedAt: "2026-01-01T00:00:00Z" });
    await lock.release();
    const r = runner();
    const res = await orchestrate(req(), { runner: r, store, emit: () => undefined });
    expect(res).toMatchObject({ ok: true, resumed: true, id: "o-1", leaders: ["n1"] });
    expect(actions(r.calls)).toEqual(["n2: root/svc/svc1 provision", "n3: root/svc/svc1 provision"]);
    expect(r.calls).toContain("n1: root/svc/svc1 print status --format json --local");
    await store.close();
  });

  it("provision --rid: the config installed by its own create first (create takes no --rid), then the action with the rids", async () => {
    const store = new EmbeddedStore(makeTempDir("osvc-orch-unit-"));
    const r = runner();
    const res = await orchestrate(req({ rids: ["fs#1"] }), { runner: r, store, emit: () => undefined });
    expect(res.ok).toBe(true);
    expect(r.calls.slice(0, 2)).toEqual(["n1: root/svc/svc1 create --config - --force --local --lock-timeout 300s <stdin>", "n1: root/svc/svc1 provision --leader --disable-rollback --local --json --lock-timeout 300s --rid fs#1"]);
    for (const n of ["n2", "n3"]) {
      expect(r.calls.filter((c) => c.startsWith(`${n}: `))).toEqual([`${n}: root/svc/svc1 create --config - --force --local --lock-timeout 300s <stdin>`, `${n}: root/svc/svc1 provision --local --json --lock-timeout 300s --rid fs#1`]);
    }
    await store.close();
  });

  it("the recorded leader (the shared resources' node) unreachable: the run stops, no other leader is guessed", async () => {
    const store = new EmbeddedStore(makeTempDir("osvc-orch-unit-"));
    const lock = await store.lock("svc1", { command: "an earlier run" });
    await lock.putShared({ rid: "disk#0", node: "n2", outputs: {}, updatedAt: "2026-01-01T00:00:00Z" });
    await lock.release();
    const r = runner((n) => (n === "n2" ? { exitCode: 255, unreachable: "ssh: connect to host n2 port 22: No route to host" } : undefined));
    const res = await orchestrate(req(), { runner: r, store, emit: () => undefined });
    expect(res.ok).toBe(false);
    expect(res.leaders).toEqual(["n2"]);
    expect(res.error).toBe("the leader n2 is unreachable: nothing was done (pass --leader-node N to choose another leader)");
    expect(res.nodes.map((n) => [n.node, n.state])).toEqual([["n1", "skipped"], ["n2", "unreachable"], ["n3", "skipped"]]);
    expect(actions(r.calls)).toEqual([]);
    await store.close();
  });

  it("unprovision: the followers first, the leader last with --leader; start: the leader only; stop: every node", async () => {
    const store = new EmbeddedStore(makeTempDir("osvc-orch-unit-"));
    for (const action of ["unprovision", "start", "stop"] as const) {
      const r = runner();
      const res = await orchestrate(req({ action, config: undefined }), { runner: r, store, emit: () => undefined });
      expect(res.ok, action).toBe(true);
      const got = actions(r.calls);
      if (action === "unprovision") expect(got).toEqual(["n2: root/svc/svc1 unprovision", "n3: root/svc/svc1 unprovision", "n1: root/svc/svc1 unprovision --leader"]);
      if (action === "start") expect(got).toEqual(["n1: root/svc/svc1 start --leader"]);
      if (action === "stop") expect(got).toEqual(["n1: root/svc/svc1 stop --leader", "n2: root/svc/svc1 stop", "n3: root/svc/svc1 stop"]);
    }
    await store.close();
  });

  it("paths, node names and rids are validated before they reach a node's argv", async () => {
    const store = new EmbeddedStore(makeTempDir("osvc-orch-unit-"));
    const r = runner();
    await expect(orchestrate(req({ object: "svc1;id" }), { runner: r, store, emit: () => undefined })).rejects.toThrow(/invalid object path/);
    await expect(orchestrate(req({ nodes: ["n1", "n 2"] }), { runner: r, store, emit: () => undefined })).rejects.toThrow(/invalid node/);
    await expect(orchestrate(req({ rids: ["fs#1 --force"] }), { runner: r, store, emit: () => undefined })).rejects.toThrow(/invalid rid/);
    expect(r.calls).toEqual([]);
    await store.close();
  });
  it("placement = score: each node is asked its own score (a fixed argv); the best leads, ties by nodes order, a node without a score ranks last", async () => {
    const store = new EmbeddedStore(makeTempDir("osvc-orch-unit-"));
    const score: Record<string, number> = { n1: 40, n2: 70, n3: 70, n4: 90 };
    const r = runner((n, w) => (w.join(" ") === "node score --format json" ? (n === "n4" ? { exitCode: 1, stderr: "error: unknown command 'score'\n" } : { stdout: JSON.stringify({ score: score[n], load_15m: 1, mem_avail: 50, mem_total: 1024, swap_avail: 0, swap_total: 0 }) + "\n" }) : undefined));
    const events: ClusterEvent[] = [];
    const res = await orchestrate(req({ nodes: ["n1", "n2", "n3", "n4"], placement: { placement: "score", topology: "failover" } }), { runner: r, store, emit: (e) => events.push(e) });
    expect(res).toMatchObject({ ok: true, leaders: ["n2"], followers: ["n3", "n1", "n4"] });
    expect(r.calls.filter((c) => c.includes("node score")).sort()).toEqual(["n1", "n2", "n3", "n4"].map((n) => `${n}: node score --format json`));
    expect(events.find((e) => e.type === "orchestration")).toMatchObject({ scores: { n2: 70, n3: 70, n1: 40 } });
    await store.close();
  });
});
