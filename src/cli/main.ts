// Composition root: argv -> command -> one engine call -> a view.
// `--version` answers before anything heavy is loaded (start-up budget: 1.5x `node -e 0`).
import { TOP_COMMANDS } from "./top-commands.js";
import { HANDED_OVER_CA_CERTS } from "../core/launcher.js";
import { osvcVersion } from "./version.js";

/**
 * A closed stdout/stderr (`osvc apply ... | head`, a dropped ssh session) stops the output, never
 * the work: a write error (EPIPE) mutes the stream instead of crashing osvc mid-step.
 */
export function guardOutput(stream: NodeJS.WriteStream): void {
  stream.on("error", () => {
    stream.write = (() => true) as typeof stream.write;
  });
}

/**
 * osvc as a process (bin/osvc.js, and the start-up snapshot, scripts/snapshot-entry.cjs): the
 * environment the user had put back first, then the command; its exit code, or an internal error.
 */
export function runProcess(argv: string[]): void {
  const env = process.env;
  if (env[HANDED_OVER_CA_CERTS] !== undefined) {
    env.NODE_EXTRA_CA_CERTS = env[HANDED_OVER_CA_CERTS];
    delete env[HANDED_OVER_CA_CERTS];
  }
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`osvc: internal error: ${e instanceof Error && e.stack ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

/** Ends the spawn helper a command started (scripts/snapshot-entry.cjs: its warm-up instance). */
export { endHelper } from "../provider/spawn-helper.js";

export async function main(argv: string[]): Promise<number> {
  guardOutput(process.stdout);
  guardOutput(process.stderr);
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V" || argv[0] === "version")) {
    process.stdout.write(`osvc ${osvcVersion()}\n`);
    return 0;
  }
  if (argv.length >= 1 && !argv[0].startsWith("-") && !TOP_COMMANDS.includes(argv[0])) {
    const { isObjectCommand, isObjectUsage, objectMain } = await import("./commands/object.js");
    if (isObjectCommand(argv) || isObjectUsage(argv)) {
      const ci = argv.indexOf("--color");
      const color = ci >= 0 ? (argv[ci + 1] as "auto" | "always" | "never") : undefined;
      return objectMain(argv, color);
    }
  }
  // The commands that run many host commands start the spawn helper first: python's start
  // (~30 ms) then overlaps osvc's own (the CLI, the template, the plan) instead of delaying the
  // first probe. The commands start it again (a no-op) where they need it.
  if (argv[0] === "apply" || argv[0] === "destroy") (await import("../provider/spawn-helper.js")).prestartHelper();
  const { buildProgram } = await import("./program.js");
  return buildProgram().run(argv);
}
