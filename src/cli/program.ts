// The command tree (commander). Each action imports its command module lazily.
import { Command, CommanderError, Option } from "commander";
import { collect, printError, type TemplateOptions } from "./common.js";
import type { ColorMode } from "./views/color.js";
import { osvcVersion } from "./version.js";

function templateOptions(cmd: Command): Command {
  return cmd
    .option("--path <path>", "object path [<namespace>/<kind>/]<name> (default: the template file name without extension)")
    .option("--node <name>", "evaluate for this node name (default: this host's name)")
    .option("--env <key=value>", "override an [env] key (repeatable)", collect, [])
    .option("--resource <json>", "add a resource from a JSON object with an rtype key (repeatable)", collect, [])
    .option("--interactive", "prompt for each [env] key on the terminal")
    .option("--os-env", "let uppercase environment variables override {env.x} references (opt-in)");
}

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
    .action(wrap(async (template: string | undefined, opts: TemplateOptions & { format?: string }) => {
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
