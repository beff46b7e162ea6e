// The command tree (commander). Each action imports its command module lazily.
import { Command, CommanderError, Option } from "commander";
import { collect, printError, type TemplateOptions } from "./common.js";
import type { ColorMode } from "./views/color.js";
import { STATUS_LEGEND } from "./views/status-legend.js";
import { osvcVersion } from "./version.js";

function templateOptions(cmd: Command): Command {
  return cmd
    .option("--path <path>", "object path [<namespace>/<kind>/]<name> (default: the template file name without extension)")
    .option("--node <name>", "evaluate for this node name (default: this host's name)")
    .option("--node-config <file>", "the node config read by {node.*} references (default: <root>/node.conf when it exists)")
    .option("--env <key=value>", "override an [env] key (repeatable)", collect, [])
    .option("--resource <json>", "add a resource from a JSON object with an rtype key (repeatable)", collect, [])
    .option("--interactive", "prompt for each [env] key on the terminal")
    .option("--os-env", "let uppercase environment variables override {env.x} references (opt-in)");
}

/** The OpenSVC object commands (src/cli/commands/object.ts), shown under the top-level help. */
const OBJECT_HELP = `
Object commands (OpenSVC): osvc <path> <verb> [options]; \`osvc <path>\` lists the verbs
  create --config F [--provision]    install the object's config (deploy: create and provision)
  provision | unprovision            create / remove what the config describes
  start | stop                       start / stop the provisioned resources
  print status | config | resinfo    resources and flags; the installed config; resource facts
  set --kw k=v | unset --kw k | get --kw k [--eval]
                                     edit or read the installed config ([section.]keyword[@scope])
  set provisioned | unprovisioned    mark resources in the state only
  update --resource JSON             add or change resources
  validate config | edit config      check / edit the installed config
  delete | purge                     delete the object (purge: unprovision first)
  sync update                        run the sync resources
  add | keys | decode | remove       keys of cfg and sec objects
`;

const colorOption = () => new Option("--color <mode>", "colors: auto, always or never").choices(["auto", "always", "never"]).default("auto");

export function buildProgram(): { run(argv: string[]): Promise<number> } {
  let exitCode = 0;
  let color: ColorMode | undefined;
  const program = new Command("osvc")
    .description("Declarative provisioning of OpenSVC service templates on Linux hosts")
    .version(`osvc ${osvcVersion()}`, "-V, --version")
    .addOption(colorOption())
    .showSuggestionAfterError(true)
    .exitOverride();
  program.configureOutput({ writeErr: (s) => process.stderr.write(s) });

  const wrap =
    <A extends unknown[]>(fn: (...a: A) => Promise<number> | number) =>
    async (...a: A) => {
      color = (program.opts().color as ColorMode) ?? color;
      try {
        exitCode = await fn(...a);
      } catch (e) {
        exitCode = printError(e, color);
      }
    };

  templateOptions(program.command("validate").argument("[template]", "template file, - for stdin, or an http(s) URL").description("check a template: syntax, keywords, values, references"))
    .option("--format <fmt>", "text or json", "text")
    .option("--strict", "warnings (unknown keywords, unresolved references...) are errors: for CI")
    .action(wrap(async (template: string | undefined, opts: TemplateOptions & { format?: string; strict?: boolean }) => {
      const { validateCommand } = await import("./commands/template.js");
      return validateCommand(template, { ...opts, color });
    }));

  templateOptions(program.command("render").argument("[template]", "template file, - for stdin, or an http(s) URL").description("print the fully evaluated config for a node"))
    .option("--format <fmt>", "ini, json or yaml", "ini")
    .action(wrap(async (template: string | undefined, opts: TemplateOptions & { format?: string }) => {
      const { renderCommand } = await import("./commands/template.js");
      return renderCommand(template, { ...opts, color });
    }));

  program
    .command("keywords")
    .argument("[driver]", "a driver id (fs.ext4, disk.loop), a group (fs) or DEFAULT")
    .description("list drivers, or the keywords of one driver")
    .action(wrap(async (driver: string | undefined) => {
      const { keywordsCommand } = await import("./commands/template.js");
      return keywordsCommand(driver);
    }));

  const engine = () => import("./commands/engine.js");
  const clusterOptions = (cmd: Command) =>
    cmd
      .option("--local", "this node only (no orchestration across the object's nodes)")
      .option("--cluster-config <file>", "the cluster config (default: <root>/cluster.conf): a template with several nodes is orchestrated")
      .option("--leader-node <name>", "orchestrated: this node leads (overrides the placement)");
  /** The orchestrated form of plan/apply/destroy, when it applies (commands/cluster.ts). */
  const clusterFirst = async (kind: "plan" | "apply" | "destroy", arg: string | undefined, opts: Record<string, unknown>) => {
    const { clusterTemplateCommand } = await import("./commands/cluster.js");
    return clusterTemplateCommand(kind, arg, { ...opts, color });
  };
  const stateOptions = (cmd: Command) =>
    cmd
      .option("--root <dir>", "state directory (default: $OSVC_ROOT, else /var/lib/osvc as root)")
      .option("--lock-timeout <duration>", "wait this long for the object's lock (e.g. 30s); default: fail at once");
  const planSelection = (cmd: Command) =>
    cmd
      .option("--refresh <bool>", "probe the host (true) or trust the recorded state (false)", "true")
      .option("--target <rid>", "only this resource and what it depends on (repeatable)", collect, [])
      .option("--exclude <rid>", "leave out this resource and what depends on it (repeatable)", collect, [])
      .option("--allow-replace <rid>", "allow replacing this data-bearing resource (destroys its data; repeatable)", collect, [])
      .option("--allow-format <rid>", "allow formatting the device of this resource although it holds data without a signature (repeatable)", collect, [])
      .option("--allow-destroy <rid>", "allow unprovisioning this resource although it deletes data osvc did not create (repeatable)", collect, [])
      .option("--leader", "this node creates shared resources (shared = true)");

  clusterOptions(stateOptions(planSelection(templateOptions(program.command("plan").argument("[template]", "template file, - for stdin, or an http(s) URL").description("show what apply would change on this host")))))
    .option("--out <file>", "save the plan; `osvc apply <file>` applies exactly it")
    .option("--json", "print the plan as JSON")
    .option("--detailed-exitcode", "exit 0 when there are no changes, 2 when there are, 1 on error")
    .action(wrap(async (template: string | undefined, opts: Record<string, unknown>) => (await clusterFirst("plan", template, opts)) ?? (await engine()).planCommand(template, { ...opts, color })));

  clusterOptions(stateOptions(planSelection(templateOptions(program.command("apply").argument("[template|planfile]", "template (plans first) or a saved plan file").description("provision the template on this host")))))
    .option("--auto-approve", "do not ask for confirmation")
    .option("--disable-rollback", "on failure, leave what succeeded in place")
    .option("--parallelism <n>", "resources acted on at once", "10")
    .option("--json", "NDJSON events instead of log lines")
    .option("--force", "act on state.json.backup when state.json is missing or corrupt; provision on a node the template's nodes do not name")
    .action(wrap(async (target: string | undefined, opts: Record<string, unknown>) => (await clusterFirst("apply", target, opts)) ?? (await engine()).applyCommand(target, { ...opts, color })));

  clusterOptions(stateOptions(program.command("destroy").argument("<object>", "object path, or the template file it was applied from").description("unprovision everything recorded for an object, in reverse order")))
    .option("--path <path>", "object path")
    .option("--node <name>", "node name")
    .option("--leader", "this node destroys shared resources")
    .option("--allow-destroy <rid>", "allow unprovisioning this resource although it deletes data osvc did not create (repeatable)", collect, [])
    .option("--auto-approve", "do not ask for confirmation")
    .option("--parallelism <n>", "resources acted on at once", "10")
    .option("--json", "NDJSON events instead of log lines")
    .option("--force", "act on state.json.backup when state.json is missing or corrupt")
    .action(wrap(async (arg: string, opts: Record<string, unknown>) => (await clusterFirst("destroy", arg, opts)) ?? (await engine()).destroyCommand(arg, { ...opts, color })));

  stateOptions(program.command("force-unlock").argument("<object>", "object path").description("show who holds an object's lock, and remove it"))
    .option("--auto-approve", "do not ask for confirmation")
    .option("--force", "remove it even if its holder is alive on this host")
    .action(wrap(async (arg: string, opts: Record<string, unknown>) => (await engine()).forceUnlockCommand(arg, { ...opts, color })));

  stateOptions(program.command("status").argument("[object]", "object path (default: every recorded object)").description("resource status and flags, probed live"))
    .option("--node <name>", "node name")
    .option("--format <fmt>", "text or json", "text")
    .option("--verbose", "explain the flags and statuses under the status")
    .addHelpText("after", `\n${STATUS_LEGEND}`)
    .action(wrap(async (arg: string | undefined, opts: Record<string, unknown>) => (await engine()).statusCommand(arg, { ...opts, color })));

  templateOptions(program.command("graph").argument("[template]", "template file").description("the resource dependency graph"))
    .option("--format <fmt>", "dot or svg", "dot")
    .option("--out <file>", "write the svg to a file")
    .action(wrap(async (template: string | undefined, opts: Record<string, unknown>) => (await engine()).graphCommand(template, { ...opts, color })));

  const nodeLs = (cmd: Command) =>
    cmd
      .option("--root <dir>", "state directory (default: $OSVC_ROOT, else /var/lib/osvc as root)")
      .option("--cluster-config <file>", "the cluster config (default: <root>/cluster.conf)")
      .option("--format <fmt>", "text or json", "text")
      .option("--parallelism <n>", "nodes asked at once", "10")
      .action(wrap(async (opts: Record<string, unknown>) => {
        const { nodeLsCommand } = await import("./commands/cluster.js");
        return nodeLsCommand({ ...opts, color });
      }));
  const nodeDesc = "each node of the cluster config: how it is reached, whether it answers, its osvc version (exit 1 when one does not)";
  const node = program.command("node").description("the cluster's nodes");
  nodeLs(node.command("ls").description(nodeDesc));
  node
    .command("score")
    .description("this node's score for placement = score (from its load, free memory and swap, as upstream computes it)")
    .option("--format <fmt>", "text or json", "text")
    .action(wrap(async (opts: Record<string, unknown>) => {
      const { nodeScoreCommand } = await import("./commands/cluster.js");
      return nodeScoreCommand(opts);
    }));
  const cluster = program.command("cluster").description("the cluster: its nodes and its store");
  nodeLs(cluster.command("nodes").description(nodeDesc));
  const storeCommand = (cmd: Command, name: "storeStatusCommand" | "storeMigrateCommand" | "storeForceUnlockCommand") =>
    cmd
      .option("--root <dir>", "state directory (default: $OSVC_ROOT, else /var/lib/osvc as root)")
      .option("--cluster-config <file>", "the cluster config (default: <root>/cluster.conf); its [store] names the store")
      .action(wrap(async (...args: unknown[]) => {
        const mod = await import("./commands/cluster.js");
        const opts = args[args.length - 2] as Record<string, unknown>;
        const first = args[0];
        return name === "storeForceUnlockCommand" ? mod.storeForceUnlockCommand(first as string, { ...opts, color }) : mod[name](first as string[], { ...opts, color });
      }));
  storeCommand(cluster.command("status").argument("[object...]", "only these objects").description("the cluster store: backend, health (etcd: each member), and the objects it holds (takes no lock)"), "storeStatusCommand")
    .option("--format <fmt>", "text or json", "text");
  storeCommand(cluster.command("migrate").argument("[object...]", "object paths").description("move objects' cluster records between the embedded store and the etcd store of [store], verified"), "storeMigrateCommand")
    .option("--all", "every object of the source store")
    .option("--to <store>", "etcd or embedded")
    .option("--keep-source", "leave the source's records in place (a copy)")
    .option("--force", "overwrite target records newer than the source's")
    .option("--lock-timeout <duration>", "wait this long for the objects' locks (e.g. 30s); default: fail at once");
  storeCommand(cluster.command("force-unlock").argument("<object>", "object path").description("show who holds an object's cluster lock; remove it given its id"), "storeForceUnlockCommand")
    .option("--id <id>", "the lock id (as printed by this command or by the run that failed to get the lock)");
  // osvc pool ls (vol branch: src/cli/commands/pool.ts).
  program
    .command("pool")
    .description("the storage pools volumes are allocated from")
    .command("ls")
    .description("the pools of the node config (<root>/node.conf), the cluster config and the default one: type, path, volumes, size and free space")
    .option("--root <dir>", "state directory (default: $OSVC_ROOT, else /var/lib/osvc as root)")
    .option("--node-config <file>", "the node config (default: <root>/node.conf)")
    .option("--format <fmt>", "text or json", "text")
    .action(wrap(async (opts: Record<string, unknown>) => {
      const { poolLsCommand } = await import("./commands/pool.js");
      return poolLsCommand({ ...opts, color });
    }));
  program.addHelpText("after", OBJECT_HELP);

  return {
    async run(argv: string[]): Promise<number> {
      try {
        await program.parseAsync(argv, { from: "user" });
      } catch (e) {
        if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1;
        return printError(e, color);
      }
      return exitCode;
    },
  };
}
