import type { DriverSpec } from "../../src/core/schema.js";

export const taskHostSpec: DriverSpec = {
  group: "task",
  type: "host",
  text: "A command run on demand (run action) or on a schedule on the host. Nothing to provision; optional by default.",
  keywords: [
    { name: "command", type: "shlex", required: true, scopable: true, text: "The command run by the task.", example: "/srv/{name}/bin/backup --full" },
    { name: "user", type: "string", format: "account", scopable: true, text: "User the command runs as (name or uid).", example: "backup" },
    { name: "group", type: "string", format: "account", scopable: true, text: "Group the command runs as (name or gid)." },
    { name: "cwd", type: "string", format: "abs-path", scopable: true, text: "Working directory of the command." },
    { name: "umask", type: "octal", scopable: true, text: "The umask of the command.", example: "022" },
    { name: "schedule", type: "string", scopable: true, text: "When the task runs automatically; unset = only on demand.", example: "00:00-02:00@120" },
    { name: "confirmation", type: "bool", default: "false", text: "Ask for confirmation before running on demand (--confirm to skip)." },
    { name: "timeout", type: "duration", scopable: true, text: "Time allowed for a run.", example: "1h" },
    { name: "snooze", type: "duration", scopable: true, text: "After a failed run, delay the object's monitor action by this long.", example: "10m" },
    { name: "on_error", type: "string", scopable: true, text: "Command run when the task fails.", example: "/srv/{name}/bin/alert" },
    { name: "check", type: "string", candidates: ["last_run_retcode"], text: "last_run_retcode: the task status is the exit code of its last run (0 up, else down)." },
    { name: "log", type: "bool", default: "true", text: "Keep the command's output in the object log." },
    { name: "max_parallel", type: "int", default: "1", text: "How many runs of the task may overlap." },
    { name: "retcodes", type: "string", format: "retcodes", scopable: true, default: "0:up 1:down", text: "How exit codes map to statuses, as <code>:<status> words." },
    { name: "environment", type: "shlex", format: "env-words", scopable: true, text: "Environment variables as KEY=VALUE words.", example: "FOO=bar" },
    { name: "configs_environment", type: "shlex", scopable: true, text: "Environment variables whose values come from config objects, as KEY=<cfg>/<key> words." },
    { name: "secrets_environment", type: "shlex", scopable: true, sensitive: true, text: "Environment variables whose values come from secret objects, as KEY=<sec>/<key> words (values masked)." },
  ],
};
