// The OpenSVC command surface, on the same engine:
//   osvc <path> create|deploy|provision|unprovision|start|stop|print status|print config|
//               set provisioned|set unprovisioned|set/unset/get --kw|update|delete|purge|
//               validate config|edit config
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { compileTexts, readInput, renderConfig, renderRawConfig, resourcesToTemplate, type CompileResult, type RenderFormat } from "../../config/index.js";
import { removeSections, sectionNames, setKeys, unsetKeys, writtenValue } from "../../config/edit.js";
import { editDistance, hasErrors, suggestion } from "../../core/diagnostics.js";
import { DATA_KINDS, formatObjectPath, parseObjectPath, type ObjectPath } from "../../core/path.js";
import { hasChanges } from "../../plan/model.js";
import { execInteractive } from "../../provider/exec.js";
import { checkDataKey, dataEntries, encodeValue, nodeKey, readDataValue, withDataEntries, type DataKind } from "../../state/data.js";
import { builtinCatalog, collect, nodeEval, parseEnvOverrides, printError, promptEnv, reportDiagnostics, requireRoot, UsageError } from "../common.js";
import { computePlan, markProvisioned, recordedFallback, standbyPlan, type EngineContext, type PlanRequest } from "../../engine/index.js";
import { gateCompiled } from "../gate.js";
import { TOP_COMMANDS } from "../top-commands.js";
import { checkVolumePurge } from "./pool.js";
import type { ColorMode } from "../views/color.js";
import { STATUS_LEGEND } from "../views/status-legend.js";
import { engineContext, planRequest, prepareCompiled, printDiagnostics, reportUnrecorded, runApply, showPlan, resinfoCommand, statusCommand, syncUpdateCommand, storeFor, withLock, type EngineOptions } from "./engine.js";

const VERBS = new Set(["create", "deploy", "provision", "unprovision", "start", "stop", "print", "set", "unset", "get", "update", "delete", "purge", "validate", "edit", "sync", "add", "keys", "decode", "remove"]);
const VALUE_OPTIONS = new Set(["--cluster-config", "--leader-node", "--template", "--config", "--resource", "--env", "--rid", "--root", "--node", "--node-config", "--format", "--lock-timeout", "--parallelism", "--color", "--namespace", "--target", "--key", "--value", "--from", "--kw"]);

/** True when argv looks like `<path> <verb> ...` (options may come before the verb, as in the seed). */
export function isObjectCommand(argv: readonly string[]): boolean {
  if (argv.length < 2 || argv[0].startsWith("-")) return false;
  return findVerb(argv.slice(1)) >= 0;
}

/**
 * True when argv names an object without a known verb (`osvc web1`, `osvc web1 frob`,
 * `osvc web1 --help`): objectMain lists the verbs. A word close to a top-level command
 * (`osvc plna`) is left to the command parser, which suggests the command, unless an object of
 * that name is installed.
 */
export function isObjectUsage(argv: readonly string[]): boolean {
  if (argv.length < 1 || argv[0].startsWith("-") || existsSync(argv[0])) return false; // a template file: a command is missing
  const p = parseObjectPath(argv[0]);
  if (!p.ok) return false;
  if (!TOP_COMMANDS.some((c) => editDistance(argv[0].toLowerCase(), c) <= 2)) return true;
  const ri = argv.indexOf("--root");
  const root = ri >= 0 && argv[ri + 1] ? argv[ri + 1] : undefined;
  return existsSync(join(storeFor({ root }).objectDir(formatObjectPath(p.path)), "config.conf"));
}

function findVerb(args: readonly string[]): number {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (a.startsWith("-")) continue;
    return VERBS.has(a) ? i : -1;
  }
  return -1;
}

interface ObjOpts extends EngineOptions {
  clusterConfig?: string;
  leaderNode?: string;
  template?: string;
  /** add/decode/remove of cfg and sec objects. */
  key?: string;
  value?: string;
  from?: string;
  config?: string;
  provision?: boolean;
  force?: boolean;
  rid?: string;
  local?: boolean;
  eval?: boolean;
  /** set/unset/get: [section.]keyword[@scope][=value] (repeatable). */
  kw?: string[];
}

function rids(opts: ObjOpts): string[] {
  return opts.rid ? opts.rid.split(",").map((r) => r.trim()).filter(Boolean) : [];
}

function objectPath(text: string): ObjectPath {
  const p = parseObjectPath(text);
  if (!p.ok) throw new UsageError(p.error);
  return p.path;
}

async function installedConfig(path: ObjectPath, opts: ObjOpts): Promise<string> {
  const text = await storeFor(opts).readConfig(formatObjectPath(path));
  if (text === null) throw new UsageError(`object ${formatObjectPath(path)} does not exist on this node`, `Create it: osvc ${formatObjectPath(path)} create --config <file>`);
  return text;
}

/** The rids of a vol's config: its purge destroys their data (--allow-destroy for each). */
async function volumeRids(path: ObjectPath, opts: ObjOpts): Promise<string[]> {
  return sectionNames(await installedConfig(path, opts)).filter((s) => s !== "DEFAULT" && s.includes("#"));
}

/** print config --format: text (the INI form, also "ini"), json or yaml. */
function configFormat(f: string | undefined): RenderFormat {
  if (f === undefined || f === "text" || f === "ini") return "ini";
  if (f === "json" || f === "yaml") return f;
  throw new UsageError(`--format ${f}: expected text, ini, json or yaml`);
}

function compileInstalled(path: ObjectPath, text: string, opts: ObjOpts): CompileResult {
  return compileTexts([{ name: `${formatObjectPath(path)}.conf`, text }], {
    path,
    ...nodeEval(opts),
    catalog: builtinCatalog(),
  });
}

type Mode = "converge" | "destroy" | "start" | "stop";
const CLUSTER_ACTION = { converge: "provision", destroy: "unprovision", start: "start", stop: "stop" } as const;

/**
 * The orchestrated form of an action (without --local, several nodes, a cluster config): the
 * exit code, or undefined when the action is this node's alone. `config`: the text to install.
 */
async function orchestrated(path: ObjectPath, opts: ObjOpts, action: "provision" | "unprovision" | "start" | "stop" | "purge", config?: string): Promise<number | undefined> {
  if (opts.local) return undefined;
  const { clusterStoredConfig, clusterTarget, orchestratedAction } = await import("./cluster.js");
  const object = formatObjectPath(path);
  const text = config ?? (await clusterStoredConfig(path, opts)) ?? (await storeFor(opts).readConfig(object));
  if (text === undefined || text === null) return undefined;
  const target = clusterTarget(path, text, opts);
  if (target === undefined || typeof target === "number") return target;
  const code = await orchestratedAction(target, action, action === "provision" ? text : undefined, opts, `osvc ${object} ${action}`);
  if (code === 0 && action === "purge" && (await storeFor(opts).readConfig(object)) !== null) await storeFor(opts).deleteObject(object);
  return code;
}

/** The orchestrated target of an installed (or cluster-stored) object, for the cluster views. */
async function clusterView(path: ObjectPath, opts: ObjOpts) {
  const cluster = await import("./cluster.js");
  const text = (await cluster.clusterStoredConfig(path, opts)) ?? (await storeFor(opts).readConfig(formatObjectPath(path)));
  if (text === undefined || text === null) return undefined;
  const target = cluster.clusterTarget(path, text, opts);
  if (target === undefined) return undefined;
  if (typeof target === "number") throw new UsageError(`the cluster config or the config of ${formatObjectPath(path)} has errors (above)`);
  return { ...cluster, target };
}

/** Provision (converge) the installed config: the OpenSVC provision action. No prompt. */
async function provision(path: ObjectPath, opts: ObjOpts, mode: Mode = "converge"): Promise<number> {
  // Orchestrated: this host only talks to the nodes (their own osvc checks for root there).
  const cluster = await orchestrated(path, opts, CLUSTER_ACTION[mode]);
  if (cluster !== undefined) return cluster;
  const action = mode === "converge" ? "provision" : mode === "destroy" ? "unprovision" : mode;
  requireRoot(`osvc ${formatObjectPath(path)} ${action}`);
  const store = storeFor(opts);
  const ctx = engineContext(opts, store);
  const object = formatObjectPath(path);
  const text = await installedConfig(path, opts);
  let compiled = compileInstalled(path, text, opts);
  if (!compiled.ok && (mode === "destroy" || mode === "stop")) compiled = (await fallBackOnRecorded(ctx, path, compiled, mode, opts)) ?? compiled;
  const p = prepareCompiled(compiled, opts);
  if (typeof p === "number") return p;
  const req: PlanRequest = { ...planRequest(opts), targets: rids(opts), mode };
  return withLock(store, object, opts, `osvc ${object} ${action}`, async () => {
    const plan = await computePlan(ctx, p, req, mode === "destroy");
    printDiagnostics([...p.diagnostics, ...plan.diagnostics], compiled, opts.color);
    if (hasErrors(plan.diagnostics)) return 1;
    if (!hasChanges(plan) && mode === "destroy" && rids(opts).length === 0 && Object.keys((await store.readState(object))?.resources ?? {}).length === 0) {
      return reportUnrecorded(store, path, opts, "unprovision");
    }
    if (!hasChanges(plan)) {
      process.stdout.write(`${object}: nothing to ${action}.\n`);
      return 0;
    }
    if (opts.json) showPlan(plan, { ...opts, json: false });
    const verb = opts.verb ?? { converge: "Provision", destroy: "Unprovision", start: "Start", stop: "Stop" }[mode];
    const code = await runApply(plan, { ...opts, autoApprove: true, verb }, store, mode === "converge" ? text : undefined);
    // Post-provision rollback (reference §9.5): a follower goes back to standby.
    const standby = code === 0 ? await standbyPlan(ctx, p, req, plan, opts.disableRollback ?? false) : undefined;
    return standby ? runApply(standby, { ...opts, autoApprove: true }, store, undefined) : code;
  });
}

/**
 * Stop and unprovision of an object whose installed config has errors (a bad value installed after
 * provision): the errors are shown, and the action works from what the state recorded (the inputs
 * osvc applied). Undefined when nothing is recorded.
 */
async function fallBackOnRecorded(ctx: EngineContext, path: ObjectPath, compiled: CompileResult, mode: "destroy" | "stop", opts: ObjOpts): Promise<CompileResult | undefined> {
  const r = await recordedFallback(ctx, path, compiled.evaluated.nodename);
  if (!r) return undefined;
  const object = formatObjectPath(path);
  printDiagnostics(compiled.diagnostics, compiled, opts.color);
  process.stderr.write(
    `warning: the installed config of ${object} has errors (above): ${mode === "destroy" ? "unprovisioning" : "stopping"} from what the state recorded at provision (${r.stateFile}).\n` +
      `  hint: fix the config with: osvc ${object} edit config\n`,
  );
  return r.compiled;
}

async function composeConfig(path: ObjectPath, opts: ObjOpts): Promise<string> {
  let text = "";
  const src = opts.config ?? opts.template;
  if (src) text = (await readInput(src)).text;
  if (opts.resource?.length) {
    const extra = resourcesToTemplate(opts.resource, { existing: text ? sectionNames(text) : [] });
    text = text ? `${text.replace(/\n*$/, "\n")}\n${extra}` : extra;
  }
  if (!text && DATA_KINDS.includes(path.kind)) text = "[DEFAULT]\n"; // a cfg/sec object starts empty: add keys to it
  if (!text) throw new UsageError("nothing to create from", "Pass --config <file|url>, --template <file|url> or --resource '<json>'.");
  let env = parseEnvOverrides(opts.env);
  if (opts.interactive) env = await promptEnv([{ name: src ?? "<resources>", text }], env);
  if (Object.keys(env).length) text = setKeys(text, "env", env);
  // A new object gets its own id (DEFAULT.id), as upstream create does.
  const names = sectionNames(text);
  const compiledProbe = compileInstalled(path, text, opts);
  if (!compiledProbe.evaluated.defaults.get("id") || compiledProbe.evaluated.defaults.get("id")?.origin !== "section") {
    text = names.includes("DEFAULT") ? setKeys(text, "DEFAULT", { id: randomUUID() }) : `[DEFAULT]\nid = ${randomUUID()}\n\n${text}`;
  }
  return text;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** `add --key`: sets a key of a cfg/sec object (a sec value is encrypted with the node key). */
async function dataAdd(path: ObjectPath, key: string, value: Buffer, opts: ObjOpts): Promise<number> {
  checkDataKey(key);
  const store = storeFor(opts);
  const object = formatObjectPath(path);
  return withLock(store, object, opts, `osvc ${object} add`, async () => {
    const text = await installedConfig(path, opts);
    const entries = dataEntries(text);
    const existed = entries.has(key);
    const kind = path.kind as DataKind;
    entries.set(key, encodeValue(kind, value, kind === "sec" ? await nodeKey(store.root, true) : undefined));
    await store.installConfig(object, withDataEntries(text, entries));
    process.stdout.write(`INFO    ${object.padEnd(28)} key ${key} ${existed ? "changed" : "added"} (${value.length} bytes${kind === "sec" ? ", encrypted" : ""})\n`);
    return 0;
  });
}

async function dataRemove(path: ObjectPath, key: string, opts: ObjOpts): Promise<number> {
  const store = storeFor(opts);
  const object = formatObjectPath(path);
  return withLock(store, object, opts, `osvc ${object} remove`, async () => {
    const text = await installedConfig(path, opts);
    const entries = dataEntries(text);
    if (!entries.delete(key)) throw new UsageError(`${object} has no key ${key}`, `Keys: ${[...dataEntries(text).keys()].join(", ") || "none"}`);
    await store.installConfig(object, withDataEntries(text, entries));
    process.stdout.write(`INFO    ${object.padEnd(28)} key ${key} removed\n`);
    return 0;
  });
}

async function create(path: ObjectPath, opts: ObjOpts): Promise<number> {
  const store = storeFor(opts);
  const object = formatObjectPath(path);
  const text = await composeConfig(path, opts);
  if (opts.provision) {
    // Orchestrated deploy: the config goes to the cluster store and every node.
    const cluster = await orchestrated(path, opts, "provision", text);
    if (cluster !== undefined) return cluster;
    requireRoot(`osvc ${object} create --provision`);
  }
  const compiled = compileInstalled(path, text, opts);
  if (reportDiagnostics(compiled, opts.color)) return 1;
  const code = await withLock(store, object, opts, `osvc ${object} create`, async () => {
    if ((await store.readConfig(object)) !== null && !opts.force) {
      throw new UsageError(`object ${object} already exists`, `Use \`osvc ${object} update --resource ...\` or \`edit config\`, or pass --force to replace its config.`);
    }
    await store.installConfig(object, text);
    // --json (an orchestrator installing the config with the node's action): an NDJSON event, not a text line.
    if (opts.json) process.stdout.write(JSON.stringify({ "@timestamp": new Date().toISOString(), type: "config_installed", object, resources: compiled.evaluated.resources.length }) + "\n");
    else process.stdout.write(`INFO    ${object.padEnd(28)} created (${compiled.evaluated.resources.length} resources)\n`);
    return 0;
  });
  if (code !== 0 || !opts.provision) return code;
  // create's --force replaces the config; it is not provision's --force (backup state, foreign node).
  const { force: _replaceConfig, ...provisionOpts } = opts;
  return provision(path, provisionOpts);
}

async function setProvisioned(path: ObjectPath, value: boolean, opts: ObjOpts): Promise<number> {
  const store = storeFor(opts);
  const object = formatObjectPath(path);
  const text = await installedConfig(path, opts);
  const compiled = compileInstalled(path, text, opts);
  if (reportDiagnostics(compiled, opts.color)) return 1;
  const wanted = rids(opts);
  const known = compiled.evaluated.resources.map((r) => r.rid.toString());
  for (const r of wanted) if (!known.includes(r)) throw new UsageError(`${r}: no such resource in ${object}`, `Resources: ${known.join(", ")}`);
  return withLock(store, object, opts, `osvc ${object} set ${value ? "provisioned" : "unprovisioned"}`, async () => {
    await markProvisioned(engineContext(opts, store), {
      object,
      evaluated: compiled.evaluated,
      rids: wanted,
      provisioned: value,
      onMarked: (rid) => process.stdout.write(`INFO    ${`${object}.${rid}`.padEnd(28)} ${value ? "marked provisioned" : "marked unprovisioned"} (state only)\n`),
    });
    return 0;
  });
}

async function update(path: ObjectPath, opts: ObjOpts): Promise<number> {
  const store = storeFor(opts);
  const object = formatObjectPath(path);
  if (opts.provision) requireRoot(`osvc ${object} update --provision`);
  let text = await installedConfig(path, opts);
  const touched: string[] = [];
  for (const [i, json] of (opts.resource ?? []).entries()) {
    let o: Record<string, unknown>;
    try {
      o = JSON.parse(json) as Record<string, unknown>;
    } catch (e) {
      throw new UsageError(`--resource #${i + 1} is not valid JSON: ${(e as Error).message}`);
    }
    if (typeof o.rid === "string") {
      const { rid, ...rest } = o;
      text = setKeys(text, rid as string, Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, Array.isArray(v) ? v.join(" ") : String(v)])));
      touched.push(rid as string);
    } else {
      const before = new Set(sectionNames(text));
      const extra = resourcesToTemplate([json], { existing: before });
      text = `${text.replace(/\n*$/, "\n")}\n${extra}`;
      touched.push(...sectionNames(extra).filter((s) => !before.has(s) && s !== "DEFAULT" && s !== "env"));
    }
  }
  const compiled = compileInstalled(path, text, opts);
  if (reportDiagnostics(compiled, opts.color)) {
    process.stderr.write("The config was not changed.\n");
    return 1;
  }
  await withLock(store, object, opts, `osvc ${object} update`, () => store.installConfig(object, text));
  process.stdout.write(`INFO    ${object.padEnd(28)} updated ${touched.join(", ")}\n`);
  if (!opts.provision) return 0;
  return provision(path, { ...opts, rid: touched.join(",") });
}

interface KwRef {
  readonly section: string;
  readonly key: string;
  readonly value?: string;
}

/** `--kw [section.]keyword[@scope][=value]`: a keyword without a section is in [DEFAULT], as upstream. */
function parseKw(word: string, withValue: boolean): KwRef {
  const eq = word.indexOf("=");
  const name = withValue ? (eq > 0 ? word.slice(0, eq) : "") : word;
  const usage = withValue ? "[section.]keyword[@scope]=value" : "[section.]keyword[@scope]";
  const dot = name.indexOf(".");
  const section = dot >= 0 ? name.slice(0, dot) : "DEFAULT";
  const key = dot >= 0 ? name.slice(dot + 1) : name;
  if (!section || !key || /[\s=[\]]/.test(key) || /[\s[\]]/.test(section) || key.startsWith("@") || key.endsWith("@")) {
    throw new UsageError(`--kw ${word}: expected ${usage}`, withValue ? "Examples: --kw fs#1.mnt_opt=noatime, --kw nodes=n1 n2, --kw fs#1.mnt_opt@n3=ro" : "Examples: --kw fs#1.mnt_opt, --kw nodes");
  }
  return withValue ? { section, key, value: word.slice(eq + 1) } : { section, key };
}

function kwWords(opts: ObjOpts, verb: string): string[] {
  const words = opts.kw ?? [];
  if (!words.length) throw new UsageError(`${verb}: pass at least one --kw`, `osvc <path> ${verb} --kw ${verb === "set" ? "fs#1.mnt_opt=noatime" : "fs#1.mnt_opt"}`);
  return words;
}

/**
 * `set --kw` / `unset --kw`: edits the installed config (comments and layout kept), validates the
 * result and installs it (atomic, the previous config kept as a backup); an invalid result is
 * refused with its diagnostics and the installed config stays as it was.
 */
async function editKeywords(path: ObjectPath, opts: ObjOpts, verb: "set" | "unset"): Promise<number> {
  const store = storeFor(opts);
  const object = formatObjectPath(path);
  const refs = kwWords(opts, verb).map((w) => parseKw(w, verb === "set"));
  return withLock(store, object, opts, `osvc ${object} ${verb}`, async () => {
    let text = await installedConfig(path, opts);
    const done: string[] = [];
    for (const r of refs) {
      const name = r.section === "DEFAULT" ? r.key : `${r.section}.${r.key}`;
      if (verb === "set") {
        text = setKeys(text, r.section, { [r.key]: r.value! });
        done.push(`${name} = ${r.value}`);
      } else {
        const u = unsetKeys(text, r.section, [r.key]);
        if (!u.removed.length) process.stderr.write(`warning: ${name} is not set in the config of ${object}\n`);
        else done.push(name);
        text = u.text;
      }
    }
    const compiled = compileInstalled(path, text, opts);
    if (reportDiagnostics(compiled, opts.color)) {
      process.stderr.write("The config was not changed.\n");
      return 1;
    }
    if (done.length) await store.installConfig(object, text);
    process.stdout.write(`INFO    ${object.padEnd(28)} ${done.length ? `${verb} ${done.join(", ")}` : "config unchanged"}\n`);
    return 0;
  });
}

function kwText(v: unknown): string {
  return Array.isArray(v) ? v.map(String).join(" ") : String(v);
}

/** `get --kw`: the value as written in the installed config, or with --eval the value in effect on this node. */
async function getKeywords(path: ObjectPath, opts: ObjOpts): Promise<number> {
  const object = formatObjectPath(path);
  const refs = kwWords(opts, "get").map((w) => parseKw(w, false));
  const text = await installedConfig(path, opts);
  const compiled = opts.eval ? compileInstalled(path, text, opts) : undefined;
  if (compiled && reportDiagnostics(compiled, opts.color)) return 1;
  let code = 0;
  for (const r of refs) {
    const name = r.section === "DEFAULT" ? r.key : `${r.section}.${r.key}`;
    let value: string | undefined;
    if (compiled) {
      const ev = compiled.evaluated;
      const k =
        r.section === "DEFAULT" ? ev.defaults.get(r.key) : r.section === "env" ? ev.env.get(r.key) : (() => {
          const res = ev.resources.find((x) => x.section === r.section);
          return res?.keywords.get(r.key) ?? res?.unknown.get(r.key);
        })();
      if (k) value = k.value === undefined ? k.text : kwText(k.value);
    } else value = writtenValue(text, r.section, r.key);
    if (value === undefined) {
      process.stderr.write(`error: ${name} is not set in the config of ${object}${opts.eval ? "" : " (--eval shows the value in effect, defaults included)"}\n`);
      code = 1;
      continue;
    }
    process.stdout.write(`${refs.length > 1 ? `${name} = ` : ""}${value}\n`);
  }
  return code;
}

async function del(path: ObjectPath, opts: ObjOpts): Promise<number> {
  const store = storeFor(opts);
  const object = formatObjectPath(path);
  return withLock(store, object, opts, `osvc ${object} delete`, async () => {
    const text = await installedConfig(path, opts);
    const state = await store.readState(object);
    const wanted = rids(opts);
    if (wanted.length) {
      await store.installConfig(object, removeSections(text, wanted));
      if (state) {
        const next = structuredClone(state);
        for (const r of wanted) delete next.resources[r];
        await store.writeState(object, next, state.serial);
      }
      process.stdout.write(`INFO    ${object.padEnd(28)} deleted ${wanted.join(", ")} from the config (nothing stopped or unprovisioned)\n`);
      return 0;
    }
    const live = Object.values(state?.resources ?? {}).filter((r) => r.provisioned === true && !r.follow).map((r) => r.rid);
    if (live.length && !opts.force) {
      throw new UsageError(`${object} still has provisioned resources: ${live.join(", ")}`, `Unprovision them first (osvc ${object} unprovision), or purge (unprovision + delete).`);
    }
    await store.deleteObject(object);
    process.stdout.write(`INFO    ${object.padEnd(28)} deleted\n`);
    return 0;
  });
}

async function edit(path: ObjectPath, opts: ObjOpts): Promise<number> {
  const store = storeFor(opts);
  const object = formatObjectPath(path);
  const text = await installedConfig(path, opts);
  const configured = process.env.VISUAL || process.env.EDITOR;
  if (!configured && (!process.stdin.isTTY || !process.stdout.isTTY)) {
    throw new UsageError(
      "edit config needs a terminal: the default editor (vi) would have nothing to run on",
      `Use \`osvc ${object} set --kw section.keyword=value\` (or unset --kw), or set EDITOR to a program that edits the file it is given.`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "osvc-edit-"));
  const file = join(dir, `${path.name}.conf`);
  try {
    await writeFile(file, text);
    const editor = configured || "vi";
    const [cmd, ...args] = editor.split(/\s+/);
    const rc = await execInteractive(cmd, [...args, file]);
    if (rc !== 0) throw new UsageError(`the editor (${editor}) exited with code ${rc}; the config is unchanged`);
    const edited = await readFile(file, "utf8");
    if (edited === text) {
      process.stdout.write("No changes.\n");
      return 0;
    }
    const compiled = compileTexts([{ name: file, text: edited }], { path, ...nodeEval(opts), catalog: builtinCatalog() });
    if (reportDiagnostics(compiled, opts.color)) {
      const kept = join(store.objectDir(object), `config.conf.invalid-${Date.now()}`);
      await writeFile(kept, edited, { mode: 0o600 });
      process.stderr.write(`The edited config is invalid: it was NOT installed. Your edit is kept in ${kept}.\n`);
      return 1;
    }
    await withLock(store, object, opts, `osvc ${object} edit config`, () => store.installConfig(object, edited));
    process.stdout.write(`INFO    ${object.padEnd(28)} config updated\n`);
    return 0;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function objectMain(argv: string[], color: ColorMode | undefined): Promise<number> {
  const path = objectPath(argv[0]);
  const rest = argv.slice(1);
  const v = findVerb(rest);
  const args = [...rest.slice(v, v + 1), ...rest.slice(0, v), ...rest.slice(v + 1)];
  let exitCode = 0;
  const program = new Command(`osvc ${argv[0]}`)
    .usage("<verb> [options]")
    .description(`the OpenSVC commands of the object ${formatObjectPath(path)}; \`osvc ${argv[0]} <verb> --help\` for a verb's options`)
    .exitOverride()
    .showSuggestionAfterError(true);
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const common = (c: Command) =>
    c
      .option("--root <dir>", "state directory")
      .option("--node <name>", "act as this node")
      .option("--node-config <file>", "the node config ({node.*} references; default: <root>/node.conf when it exists)")
      .option("--lock-timeout <duration>", "wait for the object's lock")
      .option("--local", "act on this node only (no orchestration across the object's nodes)")
      .option("--cluster-config <file>", "the cluster config (default: <root>/cluster.conf): orchestrate across the object's nodes")
      .option("--leader-node <name>", "orchestrated: this node leads (overrides the placement)")
      .option("--json", "NDJSON events")
      .option("--parallelism <n>", "resources acted on at once", "10")
      .option("--color <mode>", "colors: auto, always or never");
  const run =
    (fn: (opts: ObjOpts, ...a: string[]) => Promise<number>) =>
    async (...a: unknown[]) => {
      const cmd = a[a.length - 1] as Command;
      const opts = { ...(cmd.opts() as ObjOpts), color };
      // A node's action driven by an orchestrator: if the link to it drops, the run finishes here
      // under its local lock (stdout gone is no reason to stop half-way).
      if (opts.local) process.stdout.on("error", () => undefined);
      try {
        exitCode = await fn(opts, ...(a.slice(0, -2) as string[]));
      } catch (e) {
        exitCode = printError(e, color);
      }
      // --local --json: the final machine-readable result (what an orchestrator parses).
      if (opts.local && opts.json) {
        // With what the node's state records now (provisioned per rid): the orchestrator's instance record.
        const state = await storeFor(opts)
          .readState(formatObjectPath(path))
          .catch(() => null);
        const provisioned = state ? Object.fromEntries(Object.values(state.resources).map((r) => [r.rid, r.provisioned])) : {};
        process.stdout.write(JSON.stringify({ "@timestamp": new Date().toISOString(), type: "action_result", object: formatObjectPath(path), action: cmd.name(), ok: exitCode === 0, exit_code: exitCode, provisioned }) + "\n");
      }
    };
  const createOpts = (c: Command) =>
    common(c)
      .option("--template <uri>", "a template file or http(s) URL")
      .option("--config <uri>", "a config file or http(s) URL")
      .option("--resource <json>", "a resource definition with an rtype key (repeatable)", collect, [])
      .option("--env <key=value>", "set an [env] key in the created config (repeatable)", collect, [])
      .option("--interactive", "prompt for each [env] key")
      .option("--provision", "provision after creating")
      .option("--leader", "create shared resources (this node is the leader)")
      .option("--disable-rollback", "leave what succeeded in place on failure")
      .option("--force", "replace the config of an existing object");
  // The orchestrator's reservations for a node's <allocate> resources (provision, create --provision).
  const allocatedOpt = (c: Command) => c.option("--allocated <rid=addrs>", "orchestrated: the addresses reserved for this node in the cluster store, the only ones an <allocate> resource may pick (rid=a.b.c.d,...; repeatable)", collect, []);
  allocatedOpt(createOpts(program.command("create").description("create the object from a template, a config or resources"))).action(run((o) => create(path, o)));
  createOpts(program.command("deploy").description("create and provision")).action(run((o) => create(path, { ...o, provision: true })));
  const actionOpts = (c: Command) =>
    common(c)
      .option("--rid <rids>", "comma-separated resource ids")
      .option("--leader", "this node handles shared resources")
      .option("--disable-rollback", "leave what succeeded in place on failure")
      .option("--force", "also stop standby resources; act on state.json.backup when state.json is lost")
      .option("--allow-format <rid>", "allow formatting the device of this resource although it holds data without a signature (repeatable)", collect, [])
      .option("--allow-destroy <rid>", "allow unprovisioning this resource although it deletes data osvc did not create (repeatable)", collect, []);
  allocatedOpt(actionOpts(program.command("provision").description("provision the installed config (create what is missing, start it)")))
    .action(run((o) => provision(path, o)));
  actionOpts(program.command("unprovision").description("stop and unprovision, dependents first (deletes what osvc created)")).action(
    // A claimed vol: refused (vol branch: commands/pool.ts).
    run(async (o) => (await checkVolumePurge(path, storeFor(o), "unprovision"), provision(path, o, "destroy"))),
  );
  actionOpts(program.command("start").description("start the provisioned resources")).action(run((o) => provision(path, o, "start")));
  actionOpts(program.command("stop").description("stop the resources, dependents first (data kept)")).action(run((o) => provision(path, o, "stop")));
  actionOpts(program.command("purge").description("unprovision, then delete the object")).action(
    run(async (o) => {
      // A vol: refused while claimed; else its data goes too (vol branch: commands/pool.ts).
      await checkVolumePurge(path, storeFor(o));
      const cluster = await orchestrated(path, o, "purge");
      if (cluster !== undefined) return cluster;
      const code = await provision(path, { ...o, verb: "Purge", local: true, ...(path.kind === "vol" ? { allowDestroy: await volumeRids(path, o) } : {}) }, "destroy");
      return code === 0 ? del(path, o) : code;
    }),
  );
  common(program.command("print").argument("<what>", "status, config or resinfo").description("print status (resources and flags), config or resinfo"))
    .option("--format <fmt>", "text, json, ini or yaml")
    .option("--verbose", "print status: explain the flags and statuses")
    .addHelpText("after", `\nprint status:\n${STATUS_LEGEND}`)
    .option("--eval", "print config: the evaluated config")
    .action(
      run(async (o, what) => {
        if (what === "status" && !o.local) {
          const cluster = await clusterView(path, o);
          if (cluster) return cluster.clusterStatusCommand(cluster.target, o);
        }
        if (what === "status") return statusCommand(formatObjectPath(path), { ...o, format: o.format === "json" ? "json" : "text" });
        if (what === "resinfo") return resinfoCommand(formatObjectPath(path), { ...o, format: o.format === "json" ? "json" : "text" });
        if (what !== "config") throw new UsageError(`print ${what}: expected status, config or resinfo`);
        const format = configFormat(o.format);
        const text = await installedConfig(path, o);
        // As upstream: the config as written unless --eval, whatever the format.
        if (!o.eval && format === "ini") {
          process.stdout.write(text);
          return 0;
        }
        const compiled = compileInstalled(path, text, o);
        if (!o.eval && format !== "ini") {
          process.stdout.write(renderRawConfig(compiled.template, path, format));
          return 0;
        }
        if (reportDiagnostics(compiled, o.color)) return 1;
        process.stdout.write(renderConfig(compiled.evaluated, format));
        return 0;
      }),
    );
  common(program.command("set").argument("[what]", "provisioned or unprovisioned (state only); none with --kw").description("set keywords of the config (--kw section.keyword=value), or set provisioned|unprovisioned"))
    .option("--kw <[section.]keyword[@scope]=value>", "set a keyword in the installed config; no section: [DEFAULT] (repeatable)", collect, [])
    .option("--rid <rids>", "set provisioned|unprovisioned: comma-separated resource ids (default: all)")
    .action(
      run(async (o, what) => {
        if (what === undefined && o.kw?.length) return editKeywords(path, o, "set");
        if (what !== undefined && o.kw?.length) throw new UsageError(`set ${what} takes no --kw`, `osvc ${formatObjectPath(path)} set --kw section.keyword=value`);
        if (what !== "provisioned" && what !== "unprovisioned") {
          throw new UsageError(what === undefined ? "set: nothing to set" : `set ${what}: expected provisioned or unprovisioned`, `osvc ${formatObjectPath(path)} set --kw fs#1.mnt_opt=noatime, or set provisioned|unprovisioned [--rid ...]`);
        }
        return setProvisioned(path, what === "provisioned", o);
      }),
    );
  common(program.command("unset").description("remove keywords from the config (--kw section.keyword)"))
    .option("--kw <[section.]keyword[@scope]>", "remove this keyword from the installed config (repeatable)", collect, [])
    .action(run((o) => editKeywords(path, o, "unset")));
  common(program.command("get").description("print keywords of the config (--kw section.keyword), as written or --eval"))
    .option("--kw <[section.]keyword[@scope]>", "the keyword (repeatable)", collect, [])
    .option("--eval", "the value in effect on this node (references, defaults and [DEFAULT] inheritance)")
    .action(run((o) => getKeywords(path, o)));
  common(program.command("update").description("add (rtype) or change (rid) resources from JSON"))
    .option("--resource <json>", "a resource to add (rtype) or change (rid) (repeatable)", collect, [])
    .option("--provision", "provision the resources touched")
    .option("--leader", "this node handles shared resources")
    .action(run((o) => update(path, o)));
  actionOpts(program.command("delete").description("delete the object, or --rid sections from its config (nothing unprovisioned)")).action(run((o) => del(path, o)));
  common(program.command("validate").argument("<what>", "config").description("validate the installed config"))
    .option("--strict", "warnings are errors")
    .action(
    run(async (o) => {
      const compiled = gateCompiled(compileInstalled(path, await installedConfig(path, o), o), (o as { strict?: boolean }).strict);
      const failed = reportDiagnostics(compiled, o.color);
      if (!failed) process.stdout.write(`${formatObjectPath(path)}: config valid\n`);
      return failed ? 1 : 0;
    }),
  );
  common(program.command("edit").argument("<what>", "config").description("edit the installed config in $VISUAL/$EDITOR (validated before it is installed)")).action(run((o) => edit(path, o)));
  // cfg and sec objects: named keys (upstream's data objects), read by configs_/secrets_environment.
  const dataOnly = () => {
    if (!DATA_KINDS.includes(path.kind)) throw new UsageError(`${formatObjectPath(path)} is a ${path.kind} object: keys belong to cfg and sec objects`, "Use a path like <namespace>/cfg/<name> or <namespace>/sec/<name>.");
  };
  common(program.command("add").description("cfg/sec objects: set a key from --value or --from"))
    .requiredOption("--key <key>", "the key")
    .option("--value <value>", "the value")
    .option("--from <file>", "read the value from a file (- for stdin)")
    .action(
      run(async (o) => {
        dataOnly();
        if ((o.value === undefined) === (o.from === undefined)) throw new UsageError("pass exactly one of --value and --from");
        const value = o.value !== undefined ? Buffer.from(o.value, "utf8") : o.from === "-" ? await readStdin() : await readFile(o.from!);
        return dataAdd(path, o.key!, value, o);
      }),
    );
  common(program.command("keys").description("cfg/sec objects: list the keys")).action(
    run(async (o) => {
      dataOnly();
      for (const k of dataEntries(await installedConfig(path, o)).keys()) process.stdout.write(`${k}\n`);
      return 0;
    }),
  );
  common(program.command("decode").description("cfg/sec objects: print a key's value"))
    .requiredOption("--key <key>", "the key")
    .action(
      run(async (o) => {
        dataOnly();
        const store = storeFor(o);
        process.stdout.write(await readDataValue(store, path.namespace, path.kind as DataKind, path.name, o.key!));
        return 0;
      }),
    );
  common(program.command("remove").description("cfg/sec objects: remove a key"))
    .requiredOption("--key <key>", "the key")
    .action(
      run(async (o) => {
        dataOnly();
        return dataRemove(path, o.key!, o);
      }),
    );
  common(program.command("sync").argument("<what>", "update").description("sync update: run the sync resources to their targets"))
    .option("--rid <rids>", "comma-separated sync resource ids (default: all)")
    .option("--target <target>", "only this target: nodes, drpnodes or local")
    .action(
      run(async (o, what) => {
        if (what !== "update") throw new UsageError(`sync ${what}: expected update`, "osvc <path> sync update [--rid sync#0] [--target nodes]");
        const to = o.target as unknown as string | undefined; // this command's --target is one word
        return syncUpdateCommand(formatObjectPath(path), { ...o, target: undefined, ...(to ? { syncTarget: to } : {}) });
      }),
    );
  if (v < 0) return objectUsage(program, path, rest, color);
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1;
    return printError(e, color);
  }
  return exitCode;
}

/** `osvc <object>` (no verb), `osvc <object> --help` and `osvc <object> <unknown verb>`: the verbs. */
function objectUsage(program: Command, path: ObjectPath, rest: readonly string[], color: ColorMode | undefined): number {
  const help = program.helpInformation();
  if (rest.includes("--help") || rest.includes("-h")) {
    process.stdout.write(help);
    return 0;
  }
  const word = rest.find((a, i) => !a.startsWith("-") && !VALUE_OPTIONS.has(rest[i - 1] ?? ""));
  const object = formatObjectPath(path);
  const e = word === undefined
    ? new UsageError(`no verb given for ${object}`, `osvc ${object} <verb>; the verbs are listed below.`)
    : new UsageError(`unknown verb '${word}' for ${object}`, suggestion(word, VERBS) ?? "The verbs are listed below.");
  printError(e, color);
  process.stderr.write(`\n${help}`);
  return 1;
}
