// Composition root: argv -> command -> one engine call -> a view.
// `--version` answers before anything heavy is loaded (start-up budget: 1.5x `node -e 0`).
import { osvcVersion } from "./version.js";

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V" || argv[0] === "version")) {
    process.stdout.write(`osvc ${osvcVersion()}\n`);
    return 0;
  }
  const TOP = new Set(["validate", "render", "keywords", "plan", "apply", "destroy", "status", "graph", "force-unlock", "node", "cluster", "help"]);
  if (argv.length >= 1 && !argv[0].startsWith("-") && !TOP.has(argv[0])) {
    const { isObjectCommand, isObjectUsage, objectMain } = await import("./commands/object.js");
    if (isObjectCommand(argv) || isObjectUsage(argv)) {
      const ci = argv.indexOf("--color");
      const color = ci >= 0 ? (argv[ci + 1] as "auto" | "always" | "never") : undefined;
      return objectMain(argv, color);
    }
  }
  const { buildProgram } = await import("./program.js");
  return buildProgram().run(argv);
}
