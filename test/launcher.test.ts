// The launcher line of bin/osvc.js: run as a command, /bin/sh starts node without
// NODE_EXTRA_CA_CERTS (Node 20 parses its whole root store plus that file before any JavaScript
// runs) and bin/osvc.js puts the value back at once, so the commands osvc starts see the user's
// environment, and etcd over https still trusts the roots it names (etcdRoots()).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as tls from "node:tls";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { etcdRoots } from "../src/cluster/store/etcd.js";
import { BIN, ROOT } from "./helpers/cli.js";
import { startEtcd, type TestEtcd } from "./helpers/etcd.js";

const dir = realpathSync(mkdtempSync(path.join(tmpdir(), "osvc-launcher-")));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An environment without the variables under test (the machine running the tests may set them). */
function baseEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: "1", ...extra };
  delete env.FORCE_COLOR;
  if (!("NODE_EXTRA_CA_CERTS" in extra)) delete env.NODE_EXTRA_CA_CERTS;
  delete env.OSVC_SAVED_NODE_EXTRA_CA_CERTS;
  return env;
}

/** Runs `file args` as a command (not through `node`): the kernel reads the #! line. */
function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv) {
  const r = spawnSync(file, [...args], { cwd: ROOT, env, encoding: "utf8", timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Environment variables a command started by `osvc apply` saw (an app that writes `env` to a file). */
function envSeenByCommands(launch: (args: string[]) => ReturnType<typeof run>, name: string): Record<string, string> {
  const out = path.join(dir, `${name}.env`);
  const tpl = path.join(dir, `${name}.conf`);
  writeFileSync(tpl, ["[app#0]", "type = forking", `start = env > ${out}`, `check = test -f ${out}`, `stop = rm -f ${out}`, ""].join("\n"));
  const root = path.join(dir, `${name}.root`);
  const a = launch(["apply", tpl, "--path", name, "--auto-approve", "--root", root]);
  expect(a.code, a.stdout + a.stderr).toBe(0);
  const seen = Object.fromEntries(
    readFileSync(out, "utf8")
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  const d = launch(["destroy", name, "--auto-approve", "--root", root]);
  expect(d.code, d.stdout + d.stderr).toBe(0);
  return seen;
}

describe("bin/osvc.js run as a command", () => {
  it("node starts without NODE_EXTRA_CA_CERTS (no warning for a file that does not exist); `node bin/osvc.js` still reads it", () => {
    const env = baseEnv({ NODE_EXTRA_CA_CERTS: path.join(dir, "no-such-bundle.pem") });
    const direct = run(BIN, ["validate", path.join(ROOT, "examples/quickstart.conf")], env);
    expect(direct.stderr).toBe("");
    expect(direct.code).toBe(0);
    // Without the launcher line, node loads the file at start, and says so when it cannot:
    // the check above would fail if the variable reached node.
    const viaNode = spawnSync(process.execPath, [BIN, "validate", path.join(ROOT, "examples/quickstart.conf")], { env, encoding: "utf8" });
    expect(viaNode.stderr).toMatch(/Ignoring extra certs from .*no-such-bundle\.pem/);
    expect(viaNode.status).toBe(0);
  });

  it("the commands osvc starts see NODE_EXTRA_CA_CERTS as the user set it, and nothing of the hand-over", () => {
    const bundle = path.join(dir, "bundle with space.pem");
    writeFileSync(bundle, tls.rootCertificates[0]);
    const set = envSeenByCommands((args) => run(BIN, args, baseEnv({ NODE_EXTRA_CA_CERTS: bundle })), `launch${process.pid}a`);
    expect(set.NODE_EXTRA_CA_CERTS).toBe(bundle);
    expect(set).not.toHaveProperty("OSVC_SAVED_NODE_EXTRA_CA_CERTS");
    const empty = envSeenByCommands((args) => run(BIN, args, baseEnv({ NODE_EXTRA_CA_CERTS: "" })), `launch${process.pid}b`);
    expect(empty.NODE_EXTRA_CA_CERTS).toBe("");
    const unset = envSeenByCommands((args) => run(BIN, args, baseEnv()), `launch${process.pid}c`);
    expect(unset).not.toHaveProperty("NODE_EXTRA_CA_CERTS");
    expect(unset).not.toHaveProperty("OSVC_SAVED_NODE_EXTRA_CA_CERTS");
  });

  it("arguments reach osvc unchanged (spaces, quotes, $, globs), also through a symlink as npm installs it", () => {
    const odd = path.join(dir, `a b 'c' "d" $HOME * ; e.conf`);
    writeFileSync(odd, readFileSync(path.join(ROOT, "examples/quickstart.conf")));
    const link = path.join(dir, "osvc");
    symlinkSync(BIN, link);
    for (const file of [BIN, link]) {
      const r = run(file, ["validate", odd, "--path", "odd"], baseEnv());
      expect(r.stderr).toBe("");
      expect(r.stdout).toContain(`${odd}: valid (3 resources)`);
      expect(r.code).toBe(0);
    }
    expect(run(link, ["--version"], baseEnv()).stdout).toMatch(/^osvc \d+\.\d+\.\d+\n$/);
  });
});

describe("etcd over https without a `ca` in the cluster config: the roots NODE_EXTRA_CA_CERTS names", () => {
  let etcd: TestEtcd | undefined;
  const pki = path.join(dir, "pki");

  beforeAll(async () => {
    // A private CA and a server certificate for 127.0.0.1 signed by it (openssl, 1 day).
    const ossl = (args: string[]) => {
      const r = spawnSync("openssl", args, { cwd: pki, encoding: "utf8" });
      if (r.status !== 0) throw new Error(`openssl ${args.join(" ")}: ${r.stderr}`);
    };
    spawnSync("mkdir", ["-p", pki]);
    writeFileSync(path.join(pki, "san.ext"), "subjectAltName=IP:127.0.0.1\n");
    ossl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "1", "-subj", "/CN=osvc test CA"]);
    ossl(["req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1"]);
    ossl(["x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "srv.pem", "-days", "1", "-extfile", "san.ext"]);
    etcd = await startEtcd({ members: 1, tls: { ca: path.join(pki, "ca.pem"), cert: path.join(pki, "srv.pem"), key: path.join(pki, "srv.key") } });
  }, 120_000);

  afterAll(async () => {
    const problems = etcd ? await etcd.stop() : [];
    expect(problems).toEqual([]);
  }, 60_000);

  function status(launch: "command" | "node", extra: Record<string, string>, ca?: string) {
    const conf = path.join(dir, `cluster-${launch}-${Object.keys(extra).length}-${ca ? "ca" : "noca"}.conf`);
    writeFileSync(conf, ["[cluster]", "nodes = n1", "", "[store]", "backend = etcd", `endpoints = ${etcd!.endpoints.join(" ")}`, "prefix = /launcher", ...(ca ? [`ca = ${ca}`] : []), ""].join("\n"));
    const args = ["cluster", "status", "--format", "json", "--root", path.join(dir, "status-root"), "--cluster-config", conf];
    const env = baseEnv(extra);
    return launch === "command" ? run(BIN, args, env) : run(process.execPath, [BIN, ...args], env);
  }

  it("trusted through NODE_EXTRA_CA_CERTS (osvc run as a command, and through node), or an explicit `ca`; refused with neither", () => {
    const ca = path.join(pki, "ca.pem");
    for (const launch of ["command", "node"] as const) {
      const r = status(launch, { NODE_EXTRA_CA_CERTS: ca });
      expect(r.code, `${launch}: ${r.stdout}${r.stderr}`).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ health: { backend: "etcd", ok: true } });
    }
    const explicit = status("command", {}, ca);
    expect(explicit.code, explicit.stdout + explicit.stderr).toBe(0);
    const untrusted = status("command", {});
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stdout).toMatch(/unable to verify the first certificate/);
  }, 120_000);
});

describe("etcdRoots", () => {
  it("node's roots plus the file NODE_EXTRA_CA_CERTS names; node's roots alone when it is unset, empty or unreadable", () => {
    const extra = path.join(dir, "extra.pem");
    writeFileSync(extra, "-----BEGIN CERTIFICATE-----\nosvc-test\n-----END CERTIFICATE-----\n");
    const nodeRoots = tls.rootCertificates.join("\n");
    expect(etcdRoots({ NODE_EXTRA_CA_CERTS: extra }).toString()).toBe(`${nodeRoots}\n-----BEGIN CERTIFICATE-----\nosvc-test\n-----END CERTIFICATE-----\n`);
    for (const env of [{}, { NODE_EXTRA_CA_CERTS: "" }, { NODE_EXTRA_CA_CERTS: path.join(dir, "missing.pem") }]) expect(etcdRoots(env).toString()).toBe(nodeRoots);
  });
});
