// The top-level commands (src/cli/program.ts): argv starting with one of them is never an object
// path, and a word close to one is a typo (`osvc plna`), not an object. One list for both uses.
export const TOP_COMMANDS: readonly string[] = ["validate", "render", "keywords", "plan", "apply", "destroy", "status", "graph", "force-unlock", "node", "cluster", "pool", "help"];
