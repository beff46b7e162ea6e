// Embedded local state store (DESIGN §4).
//
// <root>/objects/<namespace>/<kind>/<name>/
//   config.conf        installed config copy
//   state.json         current state (temp file + fsync + rename; fsync of the dir)
//   state.json.backup  the previous state.json
//   journal.ndjson     append-only, fsync'd intents and outcomes of mutating steps
//   lock               see lock.ts
//   var/               private directory for providers

import { randomUUID } from "node:crypto";
import { closeSync, constants, fstatSync, linkSync, openSync, renameSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { access, copyFile, mkdir, open, readFile, readdir, rename, rm, rmdir, stat, statfs, unlink, type FileHandle } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fsyncFd, unlinkQuietly } from "../core/sync-io.js";
import { OBJECT_KINDS, formatObjectPath, parseObjectPath, type ObjectPath } from "../core/path.js";
import { acquireLock, LOCK_FILE, type Lock, type LockOptions } from "./lock.js";
import {
  STATE_FORMAT,
  StateError,
  parseJournalEntry,
  parseStateFile,
  resourceProblem,
  type JournalEntry,
  type PendingRun,
  type ResourceState,
  type StateFile,
} from "./model.js";

export const OBJECT_FILES = {
  config: "config.conf",
  state: "state.json",
  backup: "state.json.backup",
  configBackup: "config.conf.backup",
  journal: "journal.ndjson",
  lock: "lock",
  var: "var",
} as const;

/** An object path, as text ("web", "ns1/svc/web") or parsed. */
export type ObjectRef = string | ObjectPath;

export type StateSource = "state" | "backup" | "none";

export interface StateLoad {
  state: StateFile | null;
  /** Which file the state came from; "backup" always comes with a warning. */
  source: StateSource;
  warnings: string[];
}

/** A journal entry to append; `ts` defaults to now. */
export type JournalInput = Omit<JournalEntry, "ts"> & { ts?: string };

/** `$OSVC_ROOT`, else `/var/lib/osvc` as root, else `~/.local/state/osvc`. */
export function defaultRoot(): string {
  const env = process.env.OSVC_ROOT;
  if (env) return resolve(env);
  if (process.getuid?.() === 0) return "/var/lib/osvc";
  return join(homedir(), ".local", "state", "osvc");
}

const FILE_MODE = 0o600;
const DIR_MODE = 0o700;

function errCode(e: unknown): string | undefined {
  return typeof e === "object" && e !== null && "code" in e ? String((e as { code: unknown }).code) : undefined;
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

const STORAGE_ERRORS: Record<string, string> = {
  ENOSPC: "no space left on the device",
  EDQUOT: "disk quota exceeded",
  EROFS: "read-only filesystem",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EIO: "I/O error",
};

function approxBytes(n: number): string {
  const units = ["KiB", "MiB", "GiB", "TiB"];
  if (n < 1024) return `${n} bytes`;
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v >= 10 ? Math.round(v) : Math.round(v * 10) / 10} ${units[u]}`;
}

/**
 * A write to the state root that the system refused (disk full, read-only, permissions): a
 * StateError naming the file and the space left, instead of a bare errno with a stack trace.
 * Other errors are returned as they are.
 */
async function storageError(e: unknown, file: string): Promise<unknown> {
  let code = errCode(e);
  // The nearest existing directory: where the space is counted (and what refuses a write).
  let dir = dirname(file);
  let st: Awaited<ReturnType<typeof statfs>> | undefined;
  for (;;) {
    try {
      st = await statfs(dir);
      break;
    } catch {
      if (dirname(dir) === dir) break;
      dir = dirname(dir);
    }
  }
  if (code === "ENOENT" && st) {
    // A recursive mkdir on a read-only filesystem says ENOENT: ask the directory that exists.
    code = await access(dir, constants.W_OK).then(
      () => code,
      (x: unknown) => errCode(x),
    );
  }
  const why = STORAGE_ERRORS[code ?? ""];
  if (!why) return e;
  const free = st ? `; ${approxBytes(Number(st.bavail) * Number(st.bsize))} free on the filesystem of ${dir}` : "";
  return new StateError(`cannot write ${file}: ${why}${free}; make room on the state root (or make it writable), then re-run: the next plan probes the host and accounts for what this run did`);
}

/** Runs a write to `file`; a refused write becomes a StateError naming it (see storageError). */
async function writing<T>(file: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw await storageError(e, file);
  }
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, "utf8");
  } catch (e) {
    if (errCode(e) === "ENOENT") return null;
    throw e;
  }
}

export async function fsyncDir(dir: string): Promise<void> {
  const fd = openSync(dir, "r");
  try {
    await fsyncFd(fd);
  } finally {
    closeSync(fd);
  }
}

function tempName(dir: string, base: string): string {
  return join(dir, `.${base}.tmp-${process.pid}-${randomUUID()}`);
}

/** What identifies one written version of a file: its inode, size and modification time. */
export interface FileStamp {
  readonly dev: bigint;
  readonly ino: bigint;
  readonly size: bigint;
  readonly mtimeNs: bigint;
}

const sameStamp = (a: FileStamp, b: FileStamp): boolean => a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs;

const stampFrom = (st: FileStamp): FileStamp => ({ dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs });

/** The stamp of `file` now, or null when it is missing. */
function stampOf(file: string): FileStamp | null {
  try {
    return stampFrom(statSync(file, { bigint: true }));
  } catch (e) {
    if (errCode(e) === "ENOENT") return null;
    throw e;
  }
}

/**
 * Writes `data` to a temp file in `dir`, fsyncs it and renames it over `dir/base`. Returns the
 * stamp of the written file (taken after its fsync: the rename keeps the inode and the times).
 */
export async function writeFileAtomic(dir: string, base: string, data: string | Buffer, syncDir = true): Promise<FileStamp> {
  const tmp = tempName(dir, base);
  let stamp: FileStamp;
  try {
    const fd = openSync(tmp, "wx", FILE_MODE);
    try {
      writeFileSync(fd, data, "utf8");
      await fsyncFd(fd);
      stamp = stampFrom(fstatSync(fd, { bigint: true }));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, base));
  } catch (e) {
    unlinkQuietly(tmp);
    throw e;
  }
  if (syncDir) await fsyncDir(dir);
  return stamp;
}

/**
 * Makes `dir/to` another name of the file `dir/from` (a hard link through a temp name and a
 * rename, no dir fsync). Only for a file that is never written in place: osvc's state files are
 * replaced by rename, so the old inode lives on unchanged under the new name.
 */
async function linkFileAtomic(dir: string, from: string, to: string): Promise<void> {
  const tmp = tempName(dir, to);
  try {
    linkSync(join(dir, from), tmp);
    renameSync(tmp, join(dir, to));
  } catch (e) {
    unlinkQuietly(tmp);
    throw e;
  }
}

/** Copies `dir/from` to `dir/to` through a fsync'd temp file and a rename (no dir fsync). */
async function copyFileAtomic(dir: string, from: string, to: string): Promise<void> {
  const tmp = tempName(dir, to);
  try {
    await copyFile(join(dir, from), tmp);
    const fh = await open(tmp, "r+");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(dir, to));
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

// ------------------------------------------------------------------ state text

/**
 * Resources that can never change (deeply frozen by freezeResource), and the checked text of
 * each, encoded: a state write renders, checks and encodes only the resources that changed since
 * the last one, then joins the bytes.
 */
const frozen = new WeakSet<object>();
const renderedResource = new WeakMap<object, Buffer>();

function deepFreeze(v: unknown): void {
  if (typeof v !== "object" || v === null || Object.isFrozen(v)) return;
  for (const x of Object.values(v)) deepFreeze(x);
  Object.freeze(v);
}

/**
 * Freezes a resource state, deeply, for good (the apply's state writer records each resource
 * this way): its text is then rendered and checked once, not at every state write.
 */
export function freezeResource(r: ResourceState): ResourceState {
  deepFreeze(r);
  frozen.add(r);
  return r;
}

/** `    "rid": {...}`: one resource as `JSON.stringify(state, null, 2)` renders it, checked by a re-parse. */
function resourceBytes(rid: string, r: ResourceState): Buffer {
  const known = renderedResource.get(r);
  if (known !== undefined) return known;
  const flat = JSON.stringify(r, null, 2);
  const p = resourceProblem(rid, JSON.parse(flat));
  if (p) throw new Error(p);
  const bytes = Buffer.from(`    ${JSON.stringify(rid)}: ${flat.replace(/\n/g, "\n    ")}`, "utf8");
  if (frozen.has(r)) renderedResource.set(r, bytes);
  return bytes;
}

const RESOURCES_EMPTY = '\n  "resources": {}';
const RESOURCES_OPEN = Buffer.from('\n  "resources": {\n');
const RESOURCES_SEP = Buffer.from(",\n");
const RESOURCES_CLOSE = Buffer.from("\n  }");

/**
 * The bytes of a state file: exactly `JSON.stringify(state, null, 2)` and a newline, in UTF-8,
 * checked as parseStateFile would check it (the top level re-parsed, each resource re-parsed the
 * first time it is rendered). Throws a plain Error naming what is invalid.
 */
export function renderState(state: StateFile): Buffer {
  const head = `${JSON.stringify({ ...state, resources: {} }, null, 2)}\n`;
  parseStateFile(head);
  const parts: Buffer[] = [];
  for (const rid in state.resources) {
    const r = state.resources[rid];
    if (r === undefined) continue; // as JSON.stringify skips it
    if (parts.length) parts.push(RESOURCES_SEP);
    parts.push(resourceBytes(rid, r));
  }
  if (parts.length === 0) return Buffer.from(head, "utf8");
  const at = head.indexOf(RESOURCES_EMPTY);
  return Buffer.concat([Buffer.from(head.slice(0, at), "utf8"), RESOURCES_OPEN, ...parts, RESOURCES_CLOSE, Buffer.from(head.slice(at + RESOURCES_EMPTY.length), "utf8")]);
}

/** state.json and the stamp of the very file read (one open file); undefined when missing or corrupt. */
async function readStampedState(file: string): Promise<{ state: StateFile; stamp: FileStamp } | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(file, "r");
  } catch {
    return undefined;
  }
  try {
    const stamp = stampFrom(await fh.stat({ bigint: true }));
    return { state: parseStateFile(await fh.readFile("utf8")), stamp };
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

const showStamp = (st: FileStamp): Record<string, string> => ({ dev: String(st.dev), ino: String(st.ino), size: String(st.size), mtimeNs: String(st.mtimeNs) });
const parseStamp = (o: Record<string, string>): FileStamp => ({ dev: BigInt(o.dev ?? -1), ino: BigInt(o.ino ?? -1), size: BigInt(o.size ?? -1), mtimeNs: BigInt(o.mtimeNs ?? -1) });

type StateRead = { kind: "missing" } | { kind: "ok"; state: StateFile } | { kind: "corrupt"; reason: string };

async function readStateAt(file: string): Promise<StateRead> {
  const text = await readOrNull(file);
  if (text === null) return { kind: "missing" };
  try {
    return { kind: "ok", state: parseStateFile(text) };
  } catch (e) {
    return { kind: "corrupt", reason: text.trim() === "" ? "empty file" : message(e) };
  }
}

export class StateStore {
  readonly root: string;
  /** Per object dir, a promise chain serializing this process's writes. */
  private readonly chains = new Map<string, Promise<void>>();
  /**
   * Per object dir, the state.json this process wrote last: its stamp, serial and lineage. While
   * state.json still has that stamp (same inode, size and mtime: no osvc renamed another file over
   * it, nobody wrote into it), the next write knows what is on disk without reading it back, and
   * keeps it as the backup by a hard link instead of a copy (it was fsynced when written). The one
   * write it cannot see: an edit in place, by hand, of the same size within the same tick of the
   * kernel's file clock (a few ms); osvc itself never writes a state file in place.
   */
  private readonly lastWritten = new Map<string, { stamp: FileStamp; serial: number; lineage: string }>();

  constructor(root: string = defaultRoot()) {
    this.root = resolve(root);
  }

  private parse(path: ObjectRef): ObjectPath {
    if (typeof path !== "string") return path;
    const r = parseObjectPath(path);
    if (!r.ok) throw new StateError(r.error);
    return r.path;
  }

  private name(path: ObjectRef): string {
    return formatObjectPath(this.parse(path));
  }

  objectDir(path: ObjectRef): string {
    const p = this.parse(path);
    return join(this.root, "objects", p.namespace, p.kind, p.name);
  }

  /** Private directory of the object for providers (created by installConfig/writeState). */
  varDir(path: ObjectRef): string {
    return join(this.objectDir(path), OBJECT_FILES.var);
  }

  private async ensureObjectDir(path: ObjectRef): Promise<string> {
    const dir = this.objectDir(path);
    await writing(join(dir, OBJECT_FILES.var), () => mkdir(join(dir, OBJECT_FILES.var), { recursive: true, mode: DIR_MODE }));
    return dir;
  }

  private async exclusive<T>(dir: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(dir) ?? Promise.resolve();
    const run = prev.then(fn);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.chains.set(dir, tail);
    try {
      return await run;
    } finally {
      if (this.chains.get(dir) === tail) this.chains.delete(dir);
    }
  }

  /** Object paths having a config or a state, sorted. */
  async listObjects(): Promise<string[]> {
    const subdirs = async (dir: string): Promise<string[]> => {
      try {
        return (await readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
      } catch (e) {
        if (errCode(e) === "ENOENT") return [];
        throw e;
      }
    };
    const found: string[] = [];
    const objects = join(this.root, "objects");
    for (const namespace of await subdirs(objects)) {
      for (const kind of await subdirs(join(objects, namespace))) {
        if (!(OBJECT_KINDS as readonly string[]).includes(kind)) continue;
        for (const name of await subdirs(join(objects, namespace, kind))) {
          const dir = join(objects, namespace, kind, name);
          const files = new Set(await readdir(dir));
          if (![OBJECT_FILES.config, OBJECT_FILES.state, OBJECT_FILES.backup].some((f) => files.has(f))) continue;
          const r = parseObjectPath(`${namespace}/${kind}/${name}`);
          if (r.ok) found.push(formatObjectPath(r.path));
        }
      }
    }
    return found.sort();
  }

  /**
   * Reads the state, falling back to the backup (with a warning) when
   * state.json is corrupt or missing. Throws a StateError when no readable
   * state remains but a damaged file exists.
   */
  async loadState(path: ObjectRef): Promise<StateLoad> {
    const dir = this.objectDir(path);
    const file = join(dir, OBJECT_FILES.state);
    const backup = join(dir, OBJECT_FILES.backup);
    const main = await readStateAt(file);
    this.checkObject(path, file, main);
    if (main.kind === "ok") return { state: main.state, source: "state", warnings: [] };
    const bk = await readStateAt(backup);
    this.checkObject(path, backup, bk);
    const why = main.kind === "corrupt" ? `${file} is corrupt (${main.reason})` : `${file} is missing`;
    if (bk.kind === "ok") {
      const warning =
        `${why}; using ${backup} (serial ${bk.state.serial}): changes recorded by the last write may be lost, ` +
        `the next plan probes the host to find them`;
      return { state: bk.state, source: "backup", warnings: [warning] };
    }
    if (main.kind === "missing" && bk.kind === "missing") return { state: null, source: "none", warnings: [] };
    const bkWhy = bk.kind === "corrupt" ? `${backup} is corrupt too (${bk.reason})` : `there is no ${backup}`;
    throw new StateError(
      `cannot read the state of ${this.name(path)}: ${why} and ${bkWhy}`,
      `move the damaged files aside to start from an empty state (the next plan adopts what exists on the host)`,
    );
  }

  /** A state recording another object (copied or moved here) is never acted on. */
  private checkObject(path: ObjectRef, file: string, r: StateRead): void {
    if (r.kind !== "ok" || r.state.object === this.name(path)) return;
    throw new StateError(
      `${file} records the object ${JSON.stringify(r.state.object)}, not ${JSON.stringify(this.name(path))}: refusing to use it`,
      `it was copied or moved from another object: move it aside (the next plan probes the host), or back where it belongs`,
    );
  }

  /** The state, or null when the object has none. Warnings (backup fallback) go to `onWarning`. */
  async readState(path: ObjectRef, onWarning?: (warning: string) => void): Promise<StateFile | null> {
    const r = await this.loadState(path);
    if (onWarning) for (const w of r.warnings) onWarning(w);
    return r.state;
  }

  /**
   * A value derived from an object's recorded state (`derive`: a pure function of the state), read
   * from a cache when it was derived from the very state.json on disk now. The cache,
   * <root>/cache/<tag>/<object>.json, holds the value and the stamp (device, inode, size, mtime)
   * of the state.json it came from; osvc replaces state.json by a rename at every write, so any
   * write changes the stamp and the cache no longer matches. Otherwise the state is read (through
   * the same open file as its stamp), the value derived and the cache rewritten, best effort: a root
   * osvc cannot write (another user, read-only, full) only has no cache. A state read from the backup
   * (state.json missing or corrupt) is never cached. `tag` names the value and the version of
   * `derive`. Null when the object has no state.
   */
  async readDerived<T>(path: ObjectRef, tag: string, derive: (state: StateFile) => T): Promise<T | null> {
    const file = join(this.objectDir(path), OBJECT_FILES.state);
    const cacheDir = join(this.root, "cache", tag);
    const cacheFile = `${this.name(path).replace(/\//g, "+")}.json`;
    const now = stampOf(file);
    if (now) {
      try {
        const c = JSON.parse((await readOrNull(join(cacheDir, cacheFile))) ?? "null") as { stamp?: Record<string, string>; value?: T } | null;
        if (c?.stamp && "value" in c && sameStamp(parseStamp(c.stamp), now)) return c.value as T;
      } catch {
        // unreadable or damaged cache: derived again below
      }
      const read = await readStampedState(file);
      if (read?.state.object === this.name(path)) {
        const value = derive(read.state);
        try {
          await mkdir(cacheDir, { recursive: true, mode: DIR_MODE });
          await writeFileAtomic(cacheDir, cacheFile, JSON.stringify({ stamp: showStamp(read.stamp), value }), false);
        } catch {
          // no cache: the next read derives it again
        }
        return value;
      }
    }
    const state = await this.readState(path);
    return state ? derive(state) : null;
  }

  /** A fresh, unwritten state (serial 0) with a new lineage. */
  newState(path: ObjectRef, node: string, osvcVersion: string, templateHash: string | null = null): StateFile {
    return {
      format: STATE_FORMAT,
      lineage: randomUUID(),
      serial: 0,
      object: this.name(path),
      node,
      osvcVersion,
      templateHash,
      updatedAt: new Date().toISOString(),
      resources: {},
    };
  }

  /**
   * Writes `next` atomically as serial expectedSerial + 1 and returns that
   * serial. Refuses (StateError) when the state on disk has another serial
   * (0 when there is none) or another lineage. The previous state.json
   * becomes state.json.backup. Should be called while holding the object lock.
   */
  async writeState(path: ObjectRef, next: StateFile, expectedSerial: number): Promise<number> {
    const name = this.name(path);
    if (next.object !== name) {
      throw new StateError(`refusing to write the state of ${next.object} as the state of ${name}`);
    }
    const dir = this.objectDir(path);
    return this.exclusive(dir, async () => {
      const serial = expectedSerial + 1;
      let text: Buffer;
      try {
        text = renderState({ ...next, serial, updatedAt: new Date().toISOString() });
      } catch (e) {
        throw new StateError(`refusing to write an invalid state for ${name}: ${message(e)}`);
      }
      const file = join(dir, OBJECT_FILES.state);
      const mine = this.lastWritten.get(dir);
      this.lastWritten.delete(dir);
      let onDisk: { serial: number; lineage: string | undefined; source: StateSource | "mine" };
      const now = mine ? stampOf(file) : null;
      if (mine && now && sameStamp(mine.stamp, now)) {
        onDisk = { serial: mine.serial, lineage: mine.lineage, source: "mine" };
      } else {
        await this.ensureObjectDir(path);
        const current = await this.loadState(path);
        onDisk = { serial: current.state?.serial ?? 0, lineage: current.state?.lineage, source: current.source };
      }
      if (onDisk.serial !== expectedSerial) {
        throw new StateError(
          `the state of ${name} changed since it was read (serial ${onDisk.serial} on disk, expected ${expectedSerial}): another osvc wrote it`,
          `re-run the command to work from the current state`,
        );
      }
      if (onDisk.lineage !== undefined && onDisk.lineage !== next.lineage) {
        throw new StateError(
          `the state of ${name} on disk has lineage ${onDisk.lineage}, not ${next.lineage}: it belongs to another incarnation of the object`,
        );
      }
      const stamp = await writing(file, () => this.replaceState(dir, onDisk.source, text));
      this.lastWritten.set(dir, { stamp, serial, lineage: next.lineage });
      return serial;
    });
  }

  /**
   * state.json -> state.json.backup (a damaged state.json is moved aside), then the new
   * state.json. "mine": state.json is the file this process wrote and fsynced last.
   */
  private async replaceState(dir: string, source: StateSource | "mine", text: Buffer): Promise<FileStamp> {
    if (source === "mine") {
      // A state root without hard links (some network or FUSE filesystems) gets a copy.
      await linkFileAtomic(dir, OBJECT_FILES.state, OBJECT_FILES.backup).catch(() => copyFileAtomic(dir, OBJECT_FILES.state, OBJECT_FILES.backup));
    } else if (source === "state") {
      await copyFileAtomic(dir, OBJECT_FILES.state, OBJECT_FILES.backup);
    } else if (source === "backup") {
      // Keep the good backup; move a damaged state.json aside for inspection.
      const stamp = new Date().toISOString().replace(/[:.]/g, "-");
      await rename(join(dir, OBJECT_FILES.state), join(dir, `${OBJECT_FILES.state}.corrupt-${stamp}`)).catch((e: unknown) => {
        if (errCode(e) !== "ENOENT") throw e;
      });
    }
    return await writeFileAtomic(dir, OBJECT_FILES.state, text);
  }

  /** Installs the config copy atomically (creating the object directory); the one it replaces is kept as config.conf.backup. */
  async installConfig(path: ObjectRef, text: string): Promise<void> {
    const dir = await this.ensureObjectDir(path);
    await this.exclusive(dir, () =>
      writing(join(dir, OBJECT_FILES.config), async () => {
        const previous = await readOrNull(join(dir, OBJECT_FILES.config));
        if (previous !== null && previous !== text) await copyFileAtomic(dir, OBJECT_FILES.config, OBJECT_FILES.configBackup);
        await writeFileAtomic(dir, OBJECT_FILES.config, text);
      }),
    );
  }

  /** The installed config, or null. */
  async readConfig(path: ObjectRef): Promise<string | null> {
    return readOrNull(join(this.objectDir(path), OBJECT_FILES.config));
  }

  /** Removes the object directory (config, state, journal, lock, var/) and empty parents. */
  async deleteObject(path: ObjectRef): Promise<void> {
    const dir = this.objectDir(path);
    await this.exclusive(dir, async () => {
      await rm(dir, { recursive: true, force: true });
      const kindDir = resolve(dir, "..");
      for (const d of [kindDir, resolve(kindDir, "..")]) {
        try {
          await rmdir(d);
        } catch {
          break; // not empty (or already gone)
        }
      }
    });
  }

  /** Takes the object lock (see acquireLock); messages name the object path. */
  async lock(path: ObjectRef, opts: Omit<LockOptions, "label">): Promise<Lock> {
    const dir = this.objectDir(path);
    return writing(join(dir, LOCK_FILE), () => acquireLock(dir, { ...opts, label: this.name(path) }));
  }

  private journalFile(path: ObjectRef): string {
    return join(this.objectDir(path), OBJECT_FILES.journal);
  }

  /**
   * Appends one line to the journal with O_APPEND and fsyncs it before
   * returning. A torn last line left by a crash is cut off first.
   */
  async appendJournal(path: ObjectRef, entry: JournalInput): Promise<JournalEntry> {
    const full = journalEntry(entry);
    const line = `${JSON.stringify(full)}\n`;
    const dir = await this.ensureObjectDir(path);
    const file = this.journalFile(path);
    await this.exclusive(dir, () => writing(file, async () => {
      let fh: FileHandle;
      let created: boolean;
      try {
        fh = await open(file, "ax+", FILE_MODE);
        created = true;
      } catch (e) {
        if (errCode(e) !== "EEXIST") throw e;
        fh = await open(file, "a+", FILE_MODE);
        created = false;
      }
      try {
        if (!created) {
          const { size } = await fh.stat();
          if (size > 0) {
            const last = Buffer.alloc(1);
            await fh.read(last, 0, 1, size - 1);
            if (last[0] !== 0x0a) {
              const text = await readFile(file);
              await fh.truncate(text.lastIndexOf(0x0a) + 1);
            }
          }
        }
        await fh.write(line);
        await fh.sync();
      } finally {
        await fh.close();
      }
      if (created) await fsyncDir(dir);
    }));
    return full;
  }

  /**
   * A journal writer for one run: the file is opened once, and lines appended while an fsync is
   * in flight are written and fsynced together (group commit). Each append resolves once its line
   * is on disk, so an intent is durable before its step starts.
   */
  async openJournal(path: ObjectRef): Promise<JournalWriter> {
    // One appendJournal call cuts a torn tail and creates the file (and fsyncs the directory).
    const dir = await this.ensureObjectDir(path);
    const file = this.journalFile(path);
    const fh = await this.exclusive(dir, () => writing(file, async () => {
      const h = await open(file, "a+", FILE_MODE);
      const { size } = await h.stat();
      if (size > 0) {
        const last = Buffer.alloc(1);
        await h.read(last, 0, 1, size - 1);
        if (last[0] !== 0x0a) {
          const text = await readFile(file);
          await h.truncate(text.lastIndexOf(0x0a) + 1);
        }
      } else await fsyncDir(dir);
      return h;
    }));
    return new JournalWriter(fh, file);
  }

  /** Journal entries in order; a torn last line (no newline) is ignored. */
  async readJournal(path: ObjectRef): Promise<JournalEntry[]> {
    const file = this.journalFile(path);
    const text = await readOrNull(file);
    if (text === null) return [];
    const lines = text.split("\n");
    lines.pop(); // "" after the final newline, or a torn line
    return lines.map((line, i) => {
      try {
        return parseJournalEntry(line);
      } catch (e) {
        throw new StateError(
          `${file}:${i + 1}: corrupt journal entry (${message(e)})`,
          `move the journal aside; the next plan probes the host instead`,
        );
      }
    });
  }

  /** Intents without an outcome (same run, rid and action), grouped by run in journal order. */
  async pendingIntents(path: ObjectRef): Promise<PendingRun[]> {
    return pending(await this.readJournal(path));
  }

  /**
   * Drops the entries of runs that have no pending intent (emptied in place when none is kept,
   * else an atomic rewrite; call while holding the object lock). Returns the number of entries dropped.
   */
  async compactJournal(path: ObjectRef): Promise<number> {
    const dir = this.objectDir(path);
    return this.exclusive(dir, async () => {
      const entries = await this.readJournal(path);
      const keep = new Set(pending(entries).map((p) => p.run));
      const kept = entries.filter((e) => keep.has(e.run));
      if (kept.length === entries.length) return 0;
      // Nothing pending (each apply that succeeds ends here): emptied in place, not fsynced. After
      // a crash the journal is empty or holds runs that all have their outcomes: the same to the
      // next run. A journal that keeps pending intents is rewritten durably.
      if (kept.length === 0) truncateSync(this.journalFile(path), 0);
      else await writeFileAtomic(dir, OBJECT_FILES.journal, kept.map((e) => `${JSON.stringify(e)}\n`).join(""));
      return entries.length - kept.length;
    });
  }
}

function pending(entries: readonly JournalEntry[]): PendingRun[] {
  const open = new Map<string, JournalEntry[]>(); // run|rid|action -> intents, oldest first
  const key = (e: JournalEntry): string => JSON.stringify([e.run, e.rid, e.action]);
  for (const e of entries) {
    const k = key(e);
    if (e.op === "intent") {
      const list = open.get(k);
      if (list) list.push(e);
      else open.set(k, [e]);
    } else {
      open.get(k)?.shift();
    }
  }
  const left = new Set([...open.values()].flat());
  const runs = new Map<string, JournalEntry[]>();
  for (const e of entries) {
    if (!left.has(e)) continue;
    const list = runs.get(e.run);
    if (list) list.push(e);
    else runs.set(e.run, [e]);
  }
  return [...runs].map(([run, intents]) => ({ run, intents }));
}

function journalEntry(entry: JournalInput): JournalEntry {
  return {
    ts: entry.ts ?? new Date().toISOString(),
    run: entry.run,
    op: entry.op,
    rid: entry.rid,
    action: entry.action,
    ...(entry.ok === undefined ? {} : { ok: entry.ok }),
    ...(entry.error === undefined ? {} : { error: entry.error }),
  };
}

/** Group-committing journal appender (see StateStore.openJournal). */
export class JournalWriter {
  private queue: { line: string; done: () => void; fail: (e: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly fh: FileHandle,
    private readonly file: string,
  ) {}

  append(entry: JournalInput): Promise<JournalEntry> {
    const full = journalEntry(entry);
    return new Promise<JournalEntry>((resolve, reject) => {
      this.queue.push({ line: `${JSON.stringify(full)}\n`, done: () => resolve(full), fail: reject });
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.queue.length) {
      const batch = this.queue;
      this.queue = [];
      try {
        writeFileSync(this.fh.fd, batch.map((b) => b.line).join("")); // appended (opened "a"); a few hundred bytes
        await this.fh.sync();
        for (const b of batch) b.done();
      } catch (e) {
        const err = await storageError(e, this.file);
        for (const b of batch) b.fail(err);
      }
    }
    this.flushing = undefined;
  }

  async close(): Promise<void> {
    while (this.flushing) await this.flushing;
    await this.fh.close();
  }
}
