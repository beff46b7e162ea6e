// Commands written in templates (app start/stop/check/info, triggers). As upstream, a command line
// that holds shell operators as written in the template (|, ||, &&, ;, redirections, $(...) written
// $$( in a template, backquotes) runs through `/bin/sh -c <line>`; any other line is split into words
// (POSIX shell-word rules) and run without a shell.
// What keeps template values out of the shell: validation refuses any value substituted into a
// command (a reference, an [env] key, --env, the environment) that holds shell syntax (E2028,
// src/config/compile.ts), so the shell only ever parses text written in the template itself.

/** Upstream's rule (om3 util/command: "|", "&&" or ";" anywhere), plus redirections and command substitution. */
const SHELL_OPERATOR = /[|;`]|&&|\$\(|(^|\s)(>>?|<|\d?>&\d)(\s|$)/;
const SHELLS = new Set(["sh", "/bin/sh", "/usr/bin/sh", "bash", "/bin/bash", "/usr/bin/bash", "dash", "/bin/dash"]);

/** Characters a substituted value may not bring into a command: they would be shell syntax. */
export const SHELL_SYNTAX = /[;&|<>`$()\\"'\n*?[\]~#]/;

export function usesShellOperators(line: string): boolean {
  return SHELL_OPERATOR.test(line);
}

export function isShell(argv0: string): boolean {
  return SHELLS.has(argv0);
}

/** The argument vector of a command line that needs a shell. */
export function shellArgv(line: string): string[] {
  return ["/bin/sh", "-c", line];
}
