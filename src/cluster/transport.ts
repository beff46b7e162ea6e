// How the orchestrator reaches a node: OpenSSH (ControlMaster multiplexing, the user's ssh_config
// honoured) or, for a node that is this host, a direct call. Both go through the one Exec.
//
// The remote side receives ONE shell string (that is how ssh works). It is built only from a
// fixed argv — the node's osvc command words, fixed subcommand words, validated object paths and
// rids — each word single-quoted (POSIX). Templates, configs and data travel on stdin, never in
// the command string. ssh's own failures (exit 255: no route, refused, host key, auth, a lost
// link noticed by ServerAlive in ~3 s) are "unreachable", apart from the remote command's failures
// (osvc never exits 255).
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Exec, ExecOptions, ExecResult } from "../provider/exec.js";
import type { Inventory, InventoryNode } from "./inventory.js";
import { inventoryNode } from "./inventory.js";

export interface TransportRunOptions {
  /** Sent on the remote command's stdin (templates, configs, data). */
  readonly input?: string;
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
  /** Each line of the node's output as it arrives (the Exec's onLine). */
  readonly onLine?: ExecOptions["onLine"];
}

export interface NodeResult extends ExecResult {
  readonly node: string;
  /** Set when the node could not be reached (or the link was lost): why, in ssh's words. */
  readonly unreachable?: string;
}

export interface Transport {
  run(node: string, argv: readonly string[], opts?: TransportRunOptions): Promise<NodeResult>;
}

export class TransportError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "TransportError";
  }
}

/** ssh's exit code for its own errors. */
export const SSH_ERROR_EXIT = 255;
export const DEFAULT_CONNECT_TIMEOUT_S = 10;
/** A remote command's default time limit (the Exec's own default). */
export const DEFAULT_RUN_TIMEOUT_MS = 120_000;
/** sun_path is 108 bytes; leave room for ssh's temporary suffix on the control socket. */
const MAX_CONTROL_PATH = 90;

/** POSIX single-quoting of one word: the shell sees exactly these bytes, nothing is expanded. */
export function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * The one remote string for an argv. Control characters (newlines, NUL, escape) are refused:
 * no fixed word needs them, and data belongs on stdin.
 */
export function remoteCommand(argv: readonly string[]): string {
  if (argv.length === 0) throw new TransportError("internal: an empty remote command");
  for (const w of argv) {
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x1f\x7f]/.test(w)) {
      throw new TransportError(`a remote command word holds a control character: ${JSON.stringify(w)}`, "Data travels on stdin, never in the remote command.");
    }
  }
  return argv.map(shellQuote).join(" ");
}

/** The osvc argv for a node: its osvc command words, then `words`. */
export function osvcArgv(node: InventoryNode, words: readonly string[]): string[] {
  return [...node.osvc, ...words];
}

export interface SshOptions {
  /** The ssh_config file (-F); absent: ssh's default (~/.ssh/config). */
  readonly config?: string;
  /** Directory of the control sockets (created 0700): <state root>/ssh. */
  readonly controlDir: string;
  readonly connectTimeoutS?: number;
  /** The ssh program (default: ssh on PATH). */
  readonly ssh?: string;
}

/** OpenSSH, one ControlMaster per destination kept 60 s after its last use. */
export class SshTransport implements Transport {
  constructor(
    private readonly exec: Exec,
    private readonly destinationOf: (node: string) => string,
    private readonly opts: SshOptions,
  ) {}

  /**
   * The control socket of a destination: <controlDir>/cm-<user>@<host as given>, short enough for a
   * unix socket under a deep state root (%C, a 40-digit hash, is not). Its length is known here
   * (the destination is ours; a user from ssh_config counts as up to 16 characters); a path still
   * too long goes without multiplexing rather than a failing ssh.
   */
  private controlPath(dest: string): string | undefined {
    const at = dest.lastIndexOf("@");
    const userLen = at >= 0 ? at : 16;
    const hostLen = dest.length - (at + 1);
    return this.opts.controlDir.length + "/cm-".length + userLen + 1 + hostLen <= MAX_CONTROL_PATH ? join(this.opts.controlDir, "cm-%r@%n") : undefined;
  }

  /** ssh's arguments up to and including the destination. */
  sshArgs(node: string): string[] {
    const dest = this.destinationOf(node);
    if (!dest || dest.startsWith("-") || /\s/.test(dest)) throw new TransportError(`invalid ssh destination ${JSON.stringify(dest)} for node ${node}`);
    const o = (kv: string) => ["-o", kv];
    const cp = this.controlPath(dest);
    return [
      ...(this.opts.config ? ["-F", this.opts.config] : []),
      ...(cp ? [...o("ControlMaster=auto"), ...o(`ControlPath=${cp}`), ...o("ControlPersist=60")] : [...o("ControlMaster=no"), ...o("ControlPath=none")]),
      ...o("ServerAliveInterval=1"),
      ...o("ServerAliveCountMax=3"),
      ...o(`ConnectTimeout=${this.opts.connectTimeoutS ?? DEFAULT_CONNECT_TIMEOUT_S}`),
      ...o("BatchMode=yes"),
      ...o("LogLevel=ERROR"),
      "-T",
      dest,
    ];
  }

  async run(node: string, argv: readonly string[], opts: TransportRunOptions = {}): Promise<NodeResult> {
    const remote = remoteCommand(argv);
    const args = [...this.sshArgs(node), "--", remote];
    if (this.controlPath(this.destinationOf(node))) mkdirSync(this.opts.controlDir, { recursive: true, mode: 0o700 });
    // A multiplexed session's stdio is handed to the master: killing our ssh alone leaves the
    // master holding our pipes until the remote command ends. On a timeout or an abort, the
    // node's master is closed too (its other sessions end as unreachable; the remote command
    // itself runs on, as it would after a lost link).
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    const ac = new AbortController();
    let ended: "timeout" | "abort" | undefined;
    const end = (why: "timeout" | "abort") => {
      if (ended) return;
      ended = why;
      ac.abort();
      void this.closeMaster(node);
    };
    const onAbort = () => end("abort");
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => end("timeout"), timeoutMs);
    let r: ExecResult;
    try {
      r = await this.exec(this.opts.ssh ?? "ssh", args, {
        ...(opts.input !== undefined ? { input: opts.input } : {}),
        timeoutMs: timeoutMs + 1000, // ours fires first
        signal: ac.signal,
        ...(opts.onLine ? { onLine: opts.onLine } : {}),
      });
    } finally {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
    }
    if (ended === "timeout") return { ...r, node, timedOut: true };
    if (ended === "abort") return { ...r, node };
    return { ...r, node, ...unreachableOf(r, this.opts.ssh ?? "ssh") };
  }

  /** Ends this destination's master connection (`ssh -O exit`); quiet when there is none. */
  async closeMaster(node: string): Promise<void> {
    if (!this.controlPath(this.destinationOf(node))) return;
    await this.exec(this.opts.ssh ?? "ssh", [...this.sshArgs(node).slice(0, -2), "-O", "exit", this.destinationOf(node)], { timeoutMs: 10_000, quiet: true });
  }
}

function unreachableOf(r: ExecResult, ssh: string): { unreachable?: string } {
  if (r.exitCode === 127 && r.stderr === `${ssh}: command not found`) return { unreachable: r.stderr };
  if (r.exitCode !== SSH_ERROR_EXIT) return {};
  const lines = r.stderr.trim().split("\n").map((l) => l.trim()).filter(Boolean);
  return { unreachable: lines[lines.length - 1] ?? `ssh exited ${SSH_ERROR_EXIT}` };
}

/** This host: the argv runs directly, no shell at all. */
export class LocalTransport implements Transport {
  constructor(private readonly exec: Exec) {}

  async run(node: string, argv: readonly string[], opts: TransportRunOptions = {}): Promise<NodeResult> {
    if (argv.length === 0) throw new TransportError("internal: an empty command");
    const r = await this.exec(argv[0], argv.slice(1), {
      ...(opts.input !== undefined ? { input: opts.input } : {}),
      ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onLine ? { onLine: opts.onLine } : {}),
    });
    return { ...r, node };
  }
}

/** The transport of an inventory: each node by its kind (ssh, or local for this host). */
export class InventoryTransport implements Transport {
  readonly ssh: SshTransport;
  readonly local: LocalTransport;

  constructor(
    exec: Exec,
    private readonly inventory: Inventory,
    opts: { stateRoot: string; ssh?: string },
  ) {
    this.ssh = new SshTransport(exec, (n) => this.node(n).ssh, {
      ...(inventory.sshConfig ? { config: inventory.sshConfig } : {}),
      controlDir: join(opts.stateRoot, "ssh"),
      ...(inventory.connectTimeoutS ? { connectTimeoutS: inventory.connectTimeoutS } : {}),
      ...(opts.ssh ? { ssh: opts.ssh } : {}),
    });
    this.local = new LocalTransport(exec);
  }

  node(name: string): InventoryNode {
    const n = inventoryNode(this.inventory, name);
    if (!n) throw new TransportError(`node ${name} is not in the cluster config ${this.inventory.file}`);
    return n;
  }

  async run(node: string, argv: readonly string[], opts?: TransportRunOptions): Promise<NodeResult> {
    return this.node(node).transport === "local" ? this.local.run(node, argv, opts) : this.ssh.run(node, argv, opts);
  }

  /** Runs osvc on a node: its osvc command words, then `words`. */
  async osvc(node: string, words: readonly string[], opts?: TransportRunOptions): Promise<NodeResult> {
    return this.run(node, osvcArgv(this.node(node), words), opts);
  }
}
