// Formats of keyword values that would otherwise only fail at run time (a user name with a ";",
// an environment word without "="): checked by `validate` (config/compile.ts, at the keyword)
// and by the providers before use, with the same rules.
import type { KwValue } from "./value.js";

/**
 * account: a user or group, by name or numeric id. account-pair: account[:account] (a container's
 * user[:group]). env-words: KEY=VALUE words. abs-path: an absolute path. retcodes: <exit code>:<status>
 * words.
 */
export type ValueFormat = "account" | "account-pair" | "env-words" | "abs-path" | "retcodes";

/** The usual name rules (useradd, systemd): a letter or "_", then letters, digits, "_", "." or "-", an optional final "$"; at most 32 characters. */
const ACCOUNT_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;
const NUMERIC_ID = /^\d+$/;
const MAX_ACCOUNT = 32;
/** uid/gid 4294967295 is (uid_t)-1, "no change". */
const MAX_ID = 4294967294;
export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const ACCOUNT_HINT = "Use a name (a letter or _, then letters, digits, _ . or -, at most 32 characters, e.g. www-data) or a numeric id (e.g. 1000).";
export const ENV_WORDS_HINT = 'Write KEY=VALUE words, KEY made of letters, digits and _ (not starting with a digit), e.g. environment = FOO=bar "MSG=hello world".';

/** Why `v` is not a user or group name/id, or undefined when it is one. */
export function accountProblem(v: string): string | undefined {
  if (NUMERIC_ID.test(v)) return Number(v) <= MAX_ID ? undefined : `${JSON.stringify(v)} is beyond the largest id (${MAX_ID})`;
  if (v.length > MAX_ACCOUNT) return `${JSON.stringify(v.slice(0, 40))}${v.length > 40 ? "..." : ""} is longer than ${MAX_ACCOUNT} characters`;
  if (!ACCOUNT_NAME.test(v)) return `${JSON.stringify(v)} is not a valid user or group name`;
  return undefined;
}

/** Why an environment word is not KEY=VALUE, or undefined. */
export function envWordProblem(w: string): string | undefined {
  const i = w.indexOf("=");
  if (i > 0 && ENV_NAME.test(w.slice(0, i))) return undefined;
  const shown = w.length > 60 ? `${JSON.stringify(w.slice(0, 60))}...` : JSON.stringify(w);
  return `${shown} is not a KEY=VALUE word: ${i < 0 ? 'no "="' : `${JSON.stringify(w.slice(0, Math.min(i, 60)))} is not a variable name`}`;
}

export const RETCODE_STATUSES = ["up", "down", "warn", "n/a", "undef"] as const;
export const RETCODES_HINT = `Use <exit code>:<status> words with statuses ${RETCODE_STATUSES.join(", ")}, e.g. "0:up 1:down".`;

/** Why a retcodes word is not <exit code>:<status>, or undefined. */
export function retcodesWordProblem(word: string): string | undefined {
  const x = /^(-?\d+):(.+)$/.exec(word);
  if (x && (RETCODE_STATUSES as readonly string[]).includes(x[2].toLowerCase())) return undefined;
  return `invalid retcodes word ${JSON.stringify(word.length > 60 ? `${word.slice(0, 60)}...` : word)}`;
}

/** The first problem of a converted value against its format, with a hint; undefined when it conforms. */
export function formatProblem(format: ValueFormat, value: KwValue): { problem: string; hint: string } | undefined {
  if (value === null || value === undefined || value === "") return undefined;
  switch (format) {
    case "account":
    case "account-pair": {
      const s = String(value).trim();
      if (s === "") return undefined;
      const parts = format === "account-pair" ? s.split(":") : [s];
      if (parts.length > 2) return { problem: `${JSON.stringify(s)} has more than one ":"`, hint: "Write user or user:group." };
      for (const p of parts) {
        const problem = accountProblem(p);
        if (problem) return { problem, hint: format === "account-pair" ? `Write user or user:group. ${ACCOUNT_HINT}` : ACCOUNT_HINT };
      }
      return undefined;
    }
    case "abs-path": {
      const s = String(value).trim();
      if (s === "" || s.startsWith("/")) return undefined;
      return { problem: `${JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s)} is not an absolute path`, hint: "Write a path starting with /, e.g. /srv/app." };
    }
    case "retcodes": {
      for (const w of String(value).trim().split(/\s+/).filter(Boolean)) {
        const problem = retcodesWordProblem(w);
        if (problem) return { problem, hint: RETCODES_HINT };
      }
      return undefined;
    }
    case "env-words": {
      const words = Array.isArray(value) ? value.map(String) : String(value).split(/\s+/).filter(Boolean);
      for (const w of words) {
        const problem = envWordProblem(w);
        if (problem) return { problem, hint: ENV_WORDS_HINT };
      }
      return undefined;
    }
  }
}
