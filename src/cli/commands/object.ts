// The OpenSVC command surface, on the same engine:
//   osvc <path> create|deploy|provision|unprovision|start|stop|print status|print config|
//               set provisioned|set unprovisioned|update|delete|purge|validate config|edit config
import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import { compileTexts, readInput, renderConfig, resourcesToTemplate, type CompileResult, type RenderFormat } from "../../config/index.js";
import { removeSections, sectionNames, setKeys } from "../../config/edit.js";
import { hasErrors } from "../../core/diagnostics.js";
import { DATA_KINDS, formatObjectPath, parseObjectPath, type ObjectPath } from "../../core/path.js";
import { hasChanges } from "../../plan/model.js";
import { desiredInputs } from "../../plan/planner.js";
import { execInteractive } from "../../provider/exec.js";
import { checkDataKey, dataEntries, encodeValue, nodeKey, readDataValue, withDataEntries, type DataKind } from "../../state/data.js";
import type { ResourceState } from "../../state/model.js";
import { builtinCatalog, collect, nodeEval, parseEnvOverrides, printError, promptEnv, reportDiagnostics, requireRoot, UsageError } from "../common.js";
import type { ColorMode } from "../views/color.js";
import { computePlan, prepareCompiled, printDiagnostics, runApply, showPlan, resinfoCommand, statusCommand, syncUpdateCommand, storeFor, withLock, type EngineOptions } from "./engine.js";

const VERBS = new Set(["create", "deploy", "provision", "unprovision", "start", "stop", "print", "set", "update", "delete", "purge", "validate", "edit", "sync", "add", "keys", "decode", "remove"]);
const VALUE_OPTIONS = new Set(["--template", "--config", "--resource", "--env", "--rid", "--root", "--node", "--node-config", "--format", "--lock-timeout", "--parallelism", "--color", "--namespace", "--target", "--key", "--value", "--from"]);

/** True when argv looks like `<path> <verb> ...` (options may come before the verb, as in the seed). */
export function isObjectCommand(argv: readonly string[]): boolean {
  if (argv.length < 2 || argv[0].startsWith("-")) return false;
  return findVerb(argv.slice(1)) >= 0;
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

function compileInstalled(path: ObjectPath, text: string, opts: ObjOpts): CompileResult {
  return compileTexts([{ name: `${formatObjectPath(path)}.conf`, text }], {
    path,
    ...nodeEval(opts),
    catalog: builtinCatalog(),
  });
}

/** Provision (converge) the installed config: the OpenSVC provision action. No prompt. */
async function provision(path: ObjectPath, opts: ObjOpts, mode: "converge" | "destroy" | "start" | "stop" = "converge"): Promise<number> {
  requireRoot(`osvc ${formatObjectPath(path)} ${mode === "converge" ? "provision" : mode === "destroy" ? "unprovision" : mode}`);
  const store = storeFor(opts);
  const object = formatObjectPath(path);
  const text = await installedConfig(path, opts);
  const compiled = compileInstalled(path, text, opts);
  const p = prepareCompiled(compiled, opts);
  if (typeof p === "number") return p;
  return withLock(store, object, opts, `osvc ${object} ${mode === "converge" ? "provision" : mode === "destroy" ? "unprovision" : mode}`, async () => {
    const plan = await computePlan(p, { ...opts, target: rids(opts), mode, force: opts.force }, store, mode === "destroy");
    printDiagnostics([...p.diagnostics, ...plan.diagnostics], compiled, opts.color);
    if (hasErrors(plan.diagnostics)) return 1;
    if (!hasChanges(plan)) {
      process.stdout.write(`${object}: nothing to ${mode === "converge" ? "provision" : mode === "destroy" ? "unprovision" : mode}.\n`);
      return 0;
    }
    if (opts.json) showPlan(plan, { ...opts, json: false });
    const code = await runApply(plan, { ...opts, autoApprove: true }, store, mode === "converge" ? text : undefined);
    // Post-provision rollback (reference §9.5): on a non-leader of a multi-node object, the
    // instance is stopped back to standby unless --leader or --disable-rollback.
    if (code === 0 && mode === "converge" && plan.role === "follower" && !opts.disableRollback) {
      const stopPlan = await computePlan(p, { ...opts, target: rids(opts), mode: "stop" }, store);
      if (hasChanges(stopPlan)) return runApply(stopPlan, { ...opts, autoApprove: true }, store, undefined);
    }
    return code;
  });
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
  if (opts.provision) requireRoot(`osvc ${object} create --provision`);
  const text = await composeConfig(path, opts);
  const compiled = compileInstalled(path, text, opts);
  if (reportDiagnostics(compiled, opts.color)) return 1;
  const code = await withLock(store, object, opts, `osvc ${object} create`, async () => {
    if ((await store.readConfig(object)) !== null && !opts.force) {
      throw new UsageError(`object ${object} already exists`, `Use \`osvc ${object} update --resource ...\` or \`edit config\`, or pass --force to replace its config.`);
    }
    await store.installConfig(object, text);
    process.stdout.write(`INFO    ${object.padEnd(28)} created (${compiled.evaluated.resources.length} resources)\n`);
    return 0;
  });
  if (code !== 0 || !opts.provision) return code;
  return provision(path, opts);
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
    const state = (await store.readState(object)) ?? store.newState(object, compiled.evaluated.nodename, "", null);
    const next = structuredClone(state);
    const now = new Date().toISOString();
    for (const r of compiled.evaluated.resources) {
      const rid = r.rid.toString();
      if (wanted.length && !wanted.includes(rid)) continue;
      const prev = next.resources[rid];
      const { inputs } = desiredInputs(r, () => undefined);
      const entry: ResourceState = {
        ...(prev ?? {}),
        rid,
        driver: r.driver?.id ?? `${r.rid.group}.${r.type ?? "?"}`,
        provisioned: value,
        inputs: prev?.inputs ?? (inputs as Record<string, unknown>),
        outputs: prev?.outputs ?? {},
        createdByOsvc: prev?.createdByOsvc ?? false,
        updatedAt: now,
      };
      next.resources[rid] = entry;
      process.stdout.write(`INFO    ${`${object}.${rid}`.padEnd(28)} ${value ? "marked provisioned" : "marked unprovisioned"} (state only)\n`);
    }
    next.updatedAt = now;
    await store.writeState(object, next, state.serial);
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
  const dir = await mkdtemp(join(tmpdir(), "osvc-edit-"));
  const file = join(dir, `${path.name}.conf`);
  try {
    await writeFile(file, text);
    const editor = process.env.VISUAL || process.env.EDITOR || "vi";
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
  const program = new Command(`osvc ${argv[0]}`).exitOverride().showSuggestionAfterError(true);
  const common = (c: Command) =>
    c
      .option("--root <dir>", "state directory")
      .option("--node <name>", "act as this node")
      .option("--node-config <file>", "the node config ({node.*} references; default: <root>/node.conf when it exists)")
      .option("--lock-timeout <duration>", "wait for the object's lock")
      .option("--local", "act on this node only (always the case here)")
      .option("--json", "NDJSON events")
      .option("--parallelism <n>", "resources acted on at once", "10")
      .option("--color <mode>", "colors: auto, always or never");
  const run =
    (fn: (opts: ObjOpts, ...a: string[]) => Promise<number>) =>
    async (...a: unknown[]) => {
      const cmd = a[a.length - 1] as Command;
      const opts = { ...(cmd.opts() as ObjOpts), color };
      try {
        exitCode = await fn(opts, ...(a.slice(0, -2) as string[]));
      } catch (e) {
        exitCode = printError(e, color);
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
  createOpts(program.command("create").description("create the object from a template, a config or resources")).action(run((o) => create(path, o)));
  createOpts(program.command("deploy").description("create and provision")).action(run((o) => create(path, { ...o, provision: true })));
  const actionOpts = (c: Command) => common(c).option("--rid <rids>", "comma-separated resource ids").option("--leader", "this node handles shared resources").option("--disable-rollback", "leave what succeeded in place on failure").option("--force", "also stop standby resources");
  actionOpts(program.command("provision")).action(run((o) => provision(path, o)));
  actionOpts(program.command("unprovision")).action(run((o) => provision(path, o, "destroy")));
  actionOpts(program.command("start")).action(run((o) => provision(path, o, "start")));
  actionOpts(program.command("stop")).action(run((o) => provision(path, o, "stop")));
  actionOpts(program.command("purge")).action(
    run(async (o) => {
      const code = await provision(path, o, "destroy");
      return code === 0 ? del(path, o) : code;
    }),
  );
  common(program.command("print").argument("<what>", "status, config or resinfo"))
    .option("--format <fmt>", "text, json, ini or yaml")
    .option("--eval", "print config: the evaluated config")
    .action(
      run(async (o, what) => {
        if (what === "status") return statusCommand(formatObjectPath(path), { ...o, format: o.format === "json" ? "json" : "text" });
        if (what === "resinfo") return resinfoCommand(formatObjectPath(path), { ...o, format: o.format === "json" ? "json" : "text" });
        if (what !== "config") throw new UsageError(`print ${what}: expected status, config or resinfo`);
        const text = await installedConfig(path, o);
        if (!o.eval && (o.format === undefined || o.format === "ini")) {
          process.stdout.write(text);
          return 0;
        }
        const compiled = compileInstalled(path, text, o);
        if (reportDiagnostics(compiled, o.color)) return 1;
        process.stdout.write(renderConfig(compiled.evaluated, (o.format ?? "ini") as RenderFormat));
        return 0;
      }),
    );
  common(program.command("set").argument("<what>", "provisioned or unprovisioned"))
    .option("--rid <rids>", "comma-separated resource ids (default: all)")
    .action(
      run(async (o, what) => {
        if (what !== "provisioned" && what !== "unprovisioned") throw new UsageError(`set ${what}: expected provisioned or unprovisioned`);
        return setProvisioned(path, what === "provisioned", o);
      }),
    );
  common(program.command("update"))
    .option("--resource <json>", "a resource to add (rtype) or change (rid) (repeatable)", collect, [])
    .option("--provision", "provision the resources touched")
    .option("--leader", "this node handles shared resources")
    .action(run((o) => update(path, o)));
  actionOpts(program.command("delete")).action(run((o) => del(path, o)));
  common(program.command("validate").argument("<what>", "config")).action(
    run(async (o) => {
      const compiled = compileInstalled(path, await installedConfig(path, o), o);
      const failed = reportDiagnostics(compiled, o.color);
      if (!failed) process.stdout.write(`${formatObjectPath(path)}: config valid\n`);
      return failed ? 1 : 0;
    }),
  );
  common(program.command("edit").argument("<what>", "config")).action(run((o) => edit(path, o)));
  // cfg and sec objects: named keys (upstream's data objects), read by configs_/secrets_environment.
  const dataOnly = () => {
    if (!DATA_KINDS.includes(path.kind)) throw new UsageError(`${formatObjectPath(path)} is a ${path.kind} object: keys belong to cfg and sec objects`, "Use a path like <namespace>/cfg/<name> or <namespace>/sec/<name>.");
  };
  common(program.command("add"))
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
  common(program.command("keys")).action(
    run(async (o) => {
      dataOnly();
      for (const k of dataEntries(await installedConfig(path, o)).keys()) process.stdout.write(`${k}\n`);
      return 0;
    }),
  );
  common(program.command("decode"))
    .requiredOption("--key <key>", "the key")
    .action(
      run(async (o) => {
        dataOnly();
        const store = storeFor(o);
        process.stdout.write(await readDataValue(store, path.namespace, path.kind as DataKind, path.name, o.key!));
        return 0;
      }),
    );
  common(program.command("remove"))
    .requiredOption("--key <key>", "the key")
    .action(
      run(async (o) => {
        dataOnly();
        return dataRemove(path, o.key!, o);
      }),
    );
  common(program.command("sync").argument("<what>", "update"))
    .option("--rid <rids>", "comma-separated sync resource ids (default: all)")
    .option("--target <target>", "only this target: nodes, drpnodes or local")
    .action(
      run(async (o, what) => {
        if (what !== "update") throw new UsageError(`sync ${what}: expected update`, "osvc <path> sync update [--rid sync#0] [--target nodes]");
        const to = o.target as unknown as string | undefined; // this command's --target is one word
        return syncUpdateCommand(formatObjectPath(path), { ...o, target: undefined, ...(to ? { syncTarget: to } : {}) });
      }),
    );
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1;
    return printError(e, color);
  }
  return exitCode;
}
