// The ssh command line the transport builds (no network needed).
import { afterEach, describe, expect, it } from "vitest";
import { parseInventory } from "../../src/cluster/inventory.js";
import { InventoryTransport, SshTransport, TransportError } from "../../src/cluster/transport.js";
import type { Exec } from "../../src/provider/exec.js";
import { cleanup, makeTempDir } from "../helpers/host.js";

afterEach(() => {
  expect(cleanup.run()).toEqual([]);
});

const calls: { file: string; args: readonly string[]; input?: string }[] = [];
// Records the command instead of running it: these tests look at the argv only.
const recordingExec: Exec = async (file, args, opts) => {
  calls.push({ file, args, ...(opts?.input !== undefined ? { input: opts.input } : {}) });
  return { command: file, exitCode: 0, stdout: "", stderr: "", timedOut: false, durationMs: 0 };
};

describe("ssh command line", () => {
  const inv = parseInventory("[cluster]\nnodes = n1 n2\n[ssh]\nconfig = /etc/osvc/ssh_config\nconnect_timeout = 4\n[node.n2]\nssh = admin@10.1.2.3\nosvc = /opt/osvc --color never\n", "/etc/osvc/cluster.conf", { localName: "x" }).inventory!;

  it("-F, multiplexing under the state root, liveness options, BatchMode, the destination, --, one quoted string", async () => {
    calls.length = 0;
    const root = makeTempDir("osvc-sshargs-");
    const t = new InventoryTransport(recordingExec, inv, { stateRoot: root });
    await t.osvc("n2", ["svc1", "print", "status", "--format", "json"], { input: "[DEFAULT]\nnodes = $(id)\n" });
    expect(calls).toHaveLength(1);
    expect(calls[0].file).toBe("ssh");
    expect(calls[0].args).toEqual([
      "-F", "/etc/osvc/ssh_config",
      "-o", "ControlMaster=auto", "-o", `ControlPath=${root}/ssh/cm-%r@%n`, "-o", "ControlPersist=60",
      "-o", "ServerAliveInterval=1", "-o", "ServerAliveCountMax=3", "-o", "ConnectTimeout=4",
      "-o", "BatchMode=yes", "-o", "LogLevel=ERROR", "-T",
      "admin@10.1.2.3", "--",
      "'/opt/osvc' '--color' 'never' 'svc1' 'print' 'status' '--format' 'json'",
    ]);
    expect(calls[0].input).toBe("[DEFAULT]\nnodes = $(id)\n"); // data on stdin only
  });

  it("a state root too long for a unix socket path: no multiplexing rather than a failing ssh", () => {
    const long = `/tmp/${"d".repeat(80)}`;
    const s = new SshTransport(recordingExec, (n) => n, { controlDir: `${long}/ssh` });
    const args = s.sshArgs("n1");
    expect(args).toContain("ControlMaster=no");
    expect(args).toContain("ControlPath=none");
    expect(args).not.toContain("-F");
    expect(args).toContain(`ConnectTimeout=10`);
  });

  it("a state root too long for cm-%C (40 hex digits): cm-<user>@<host as given> fits", () => {
    const dir = `/tmp/${"d".repeat(50)}/ssh`; // cm-%C (43 chars) would not fit, cm-n1 does
    const s = new SshTransport(recordingExec, (n) => n, { controlDir: dir });
    expect(s.sshArgs("n1")).toContain(`ControlPath=${dir}/cm-%r@%n`);
    expect(s.sshArgs("n1")).toContain("ControlMaster=auto");
  });

  it("a destination that could be read as an option is refused", () => {
    const s = new SshTransport(recordingExec, () => "-oProxyCommand=x", { controlDir: "/tmp/x/ssh" });
    expect(() => s.sshArgs("n1")).toThrow(TransportError);
  });
});
