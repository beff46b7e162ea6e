// Config and secret objects (kinds cfg and sec, OpenSVC's data objects): named keys in the
// [data] section of the object's installed config. cfg values are stored as `base64:...`, sec
// values as `crypt:...`: AES-256-GCM under this node's key (<root>/keys/node.key, 32 random bytes,
// mode 0600, made on first use). Upstream encrypts with the cluster secret; osvc has one node, so
// a secret is readable on the node (root) that holds the key, and nowhere else.
// `literal:...` values (written by hand) are read as they are.
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import { mkdir, open, readFile } from "node:fs/promises";
import { dirname, join } from "node:path";

export type DataKind = "cfg" | "sec";

export class DataError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "DataError";
  }
}

const KEY_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

export function checkDataKey(key: string): void {
  if (!KEY_RE.test(key) || key.length > 200) {
    throw new DataError(`invalid key ${JSON.stringify(key)}`, "Keys are letters, digits, _ . - (not starting with . or -), e.g. app.conf or password.");
  }
}

/** The node key that encrypts sec values: created (O_EXCL, 0600) when missing. */
export async function nodeKey(root: string, create: boolean): Promise<Buffer> {
  const file = join(root, "keys", "node.key");
  try {
    const k = await readFile(file);
    if (k.length !== 32) throw new DataError(`${file} is not a 32-byte key (${k.length} bytes)`, "Restore it from a backup: the secrets it encrypted cannot be read without it.");
    return k;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    if (!create) throw new DataError(`no node key (${file}): no secret was stored on this node`);
  }
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  try {
    const fh = await open(file, "wx", 0o600);
    await fh.writeFile(key);
    await fh.sync();
    await fh.close();
    return key;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return nodeKey(root, false); // made meanwhile
    throw e;
  }
}

export function encodeValue(kind: DataKind, value: Buffer, key?: Buffer): string {
  if (kind === "cfg") return `base64:${value.toString("base64")}`;
  if (!key) throw new Error("encodeValue: a sec value needs the node key");
  const iv = randomBytes(12);
  const c = createCipheriv("aes-256-gcm", key, iv);
  const ct = Buffer.concat([c.update(value), c.final()]);
  return `crypt:${Buffer.concat([iv, c.getAuthTag(), ct]).toString("base64")}`;
}

export function decodeValue(text: string, key?: () => Buffer): Buffer {
  if (text.startsWith("literal:")) return Buffer.from(text.slice(8), "utf8");
  if (text.startsWith("base64:")) return Buffer.from(text.slice(7), "base64");
  if (text.startsWith("crypt:")) {
    const raw = Buffer.from(text.slice(6), "base64");
    if (raw.length < 28) throw new DataError("a crypt: value is truncated");
    const d = createDecipheriv("aes-256-gcm", key ? key() : Buffer.alloc(0), raw.subarray(0, 12));
    d.setAuthTag(raw.subarray(12, 28));
    try {
      return Buffer.concat([d.update(raw.subarray(28)), d.final()]);
    } catch {
      throw new DataError("cannot decrypt a secret value: it was encrypted with another node key", "Add the key again on this node.");
    }
  }
  return Buffer.from(text, "utf8");
}

/** The [data] entries of an installed cfg/sec config (key -> stored text), in file order. */
export function dataEntries(config: string): Map<string, string> {
  const out = new Map<string, string>();
  let inData = false;
  for (const line of config.split("\n")) {
    const h = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (h) {
      inData = h[1].trim() === "data";
      continue;
    }
    if (!inData || /^\s*([#;]|$)/.test(line)) continue;
    const m = /^\s*([^=\s]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out.set(m[1], m[2]);
  }
  return out;
}

/** The config text with [data] set to `entries` (other sections kept as written). */
export function withDataEntries(config: string, entries: ReadonlyMap<string, string>): string {
  const kept: string[] = [];
  let inData = false;
  for (const line of config.split("\n")) {
    const h = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (h) inData = h[1].trim() === "data";
    if (!inData) kept.push(line);
  }
  const head = kept.join("\n").replace(/\n+$/, "");
  const data = [...entries].map(([k, v]) => `${k} = ${v}`);
  return `${head ? `${head}\n\n` : ""}[data]\n${data.join("\n")}${data.length ? "\n" : ""}`;
}

/** A key of a cfg/sec object of `namespace`, decoded: what configs_/secrets_environment read. */
export async function readDataValue(
  store: { readonly root: string; readConfig(path: string): Promise<string | null> },
  namespace: string,
  kind: DataKind,
  name: string,
  key: string,
): Promise<Buffer> {
  const path = `${namespace}/${kind}/${name}`;
  const config = await store.readConfig(path);
  if (config === null) throw new DataError(`${path} does not exist on this node`, `Create it: osvc ${path} create, then osvc ${path} add --key ${key} --value ...`);
  const text = dataEntries(config).get(key);
  if (text === undefined) throw new DataError(`${path} has no key ${key}`, `Add it: osvc ${path} add --key ${key} --value ...`);
  const k = text.startsWith("crypt:") ? await nodeKey(store.root, false) : undefined;
  return decodeValue(text, () => k ?? Buffer.alloc(32));
}
