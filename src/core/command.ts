// Commands written in templates (app start/stop/check, triggers) run as argument vectors, without
// a shell: no template value ever reaches a shell. A command that uses shell operators is refused
// unless it invokes a shell explicitly (sh -c '...'), which is then the user's own program to run.

const SHELL_OPERATOR = /(^|\s)(\|\|?|&&|;|>>?|<|2>&1)(\s|$)|[^\s;];(\s|$)|;\s*$/;
const SHELLS = new Set(["sh", "/bin/sh", "/usr/bin/sh", "bash", "/bin/bash", "/usr/bin/bash", "dash", "/bin/dash"]);

export function usesShellOperators(line: string): boolean {
  return SHELL_OPERATOR.test(line);
}

export function isShell(argv0: string): boolean {
  return SHELLS.has(argv0);
}

/** The explicit form to suggest: sh -c '<line>'. */
export function explicitShellHint(line: string): string {
  return `write it as: sh -c '${line.replace(/'/g, "'\\''")}' (or put it in a script)`;
}
