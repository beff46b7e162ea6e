// Apply views: log lines in the seed's shape ("INFO    <name>.<rid>   <message>"), a live
// progress line on a terminal, or NDJSON events (--json).
import type { createLogUpdate } from "log-update";
import type { ApplyEvent, ApplyResult } from "../../apply/applier.js";
import type { Plan } from "../../plan/model.js";
import { planJson } from "../../plan/render.js";
import type { Colors } from "./color.js";

const PAST: Record<string, string> = {
  provision: "provisioned",
  update: "updated",
  replace: "replaced",
  unprovision: "unprovisioned",
  start: "started",
  stop: "stopped",
  adopt: "adopted",
  follow: "recorded as provisioned (shared, follower)",
};

export interface ApplyView {
  plan(plan: Plan): void;
  event(e: ApplyEvent): void;
  done(r: ApplyResult): void;
  close(): void;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)}s`;
}

/** Human log lines; on a TTY a progress line stays under them. */
export function textView(opts: {
  name: string;
  out: NodeJS.WriteStream;
  c: Colors;
  /** log-update's factory when a live progress line is wanted (a terminal): loaded only then. */
  progress?: typeof createLogUpdate;
  total: number;
  /** The summary's first word: "Apply" (default), "Destroy", "Stop", "Purge"... */
  verb?: string;
}): ApplyView {
  const { out, c, name } = opts;
  const verb = opts.verb ?? "Apply";
  const doneByAction = new Map<string, number>();
  const width = Math.max(28, name.length + 14);
  const running = new Map<string, { action: string; since: number }>();
  let finished = 0;
  // A terminal that reports no size (a pty under script(1)) would wrap the line to nothing.
  const sized = { write: (t: string) => out.write(t), get columns() { return out.columns || 100; }, get rows() { return out.rows || 24; } };
  const live = opts.progress?.(sized as unknown as NodeJS.WriteStream, { showCursor: true });
  let timer: NodeJS.Timeout | undefined;
  const renderProgress = () => {
    if (!live) return;
    const now = performance.now();
    const items = [...running].map(([rid, r]) => `${rid} ${r.action} ${secs(now - r.since)}`);
    live(c.dim(`[${finished}/${opts.total}] ${items.length ? `running: ${items.join(", ")}` : "waiting"}`));
  };
  if (live) timer = setInterval(renderProgress, 200);
  const line = (level: "INFO" | "WARNING" | "ERROR", rid: string | undefined, msg: string) => {
    const lvl = level === "INFO" ? level : level === "WARNING" ? c.yellow(level) : c.red(level);
    const who = rid ? `${name}.${rid}` : name;
    const text = `${lvl}${" ".repeat(8 - level.length)}${who.padEnd(width)} ${msg}`;
    if (live) {
      live.clear();
      out.write(text + "\n");
      renderProgress();
    } else out.write(text + "\n");
  };
  return {
    plan() {},
    event(e) {
      switch (e.type) {
        case "change_start":
          running.set(e.rid, { action: e.action, since: performance.now() });
          renderProgress();
          break;
        case "log":
          line(e.level === "info" ? "INFO" : e.level === "warning" ? "WARNING" : "ERROR", e.rid, e.message);
          break;
        case "change_done":
          running.delete(e.rid);
          finished++;
          doneByAction.set(e.action, (doneByAction.get(e.action) ?? 0) + 1);
          line("INFO", e.rid, `${c.green(PAST[e.action] ?? e.action)} ${c.dim(`(${secs(e.elapsedMs)})`)}`);
          break;
        case "change_failed":
          running.delete(e.rid);
          finished++;
          line("ERROR", e.rid, `${e.action} failed after ${secs(e.elapsedMs)}: ${e.error}${e.hint ? `\n${" ".repeat(8 + width + 1)}hint: ${e.hint}` : ""}`);
          break;
        case "change_skipped":
          finished++;
          line("WARNING", e.rid, `${e.action} skipped: ${e.reason}`);
          break;
        case "rollback_start":
          line("WARNING", undefined, `rolling back what this run activated (${e.steps} step${e.steps === 1 ? "" : "s"})`);
          break;
        case "rollback_step":
          line(e.ok ? "INFO" : "ERROR", e.rid, e.ok ? `rollback: ${e.op === "stop" ? "stopped" : "unprovisioned"}` : `rollback ${e.op} failed: ${e.error}`);
          break;
        case "interrupted":
          line("WARNING", undefined, "interrupted: starting nothing new, waiting for running steps, saving state (Ctrl-C again aborts now: it ends the running commands)");
          break;
        case "writeback":
          line("INFO", e.rid, `written back into the installed config: ${e.edits.join("; ")}`);
          break;
      }
    },
    done(r) {
      this.close();
      // Apply says how many steps were done; the other verbs say what they did ("3 unprovisioned").
      const did = [...doneByAction].map(([a, n]) => `${n} ${a === "follow" ? "forgotten (shared, follower)" : PAST[a] ?? a}`);
      const parts = verb === "Apply" || did.length === 0 ? [`${r.done.length} done`] : did;
      if (r.failed.length) parts.push(c.red(`${r.failed.length} failed (${r.failed.join(", ")})`));
      if (r.skipped.length) parts.push(c.yellow(`${r.skipped.length} skipped`));
      if (r.rolledBack.length) parts.push(c.yellow(`${r.rolledBack.length} rolled back (${r.rolledBack.join(", ")})`));
      const head = r.ok ? c.green(c.bold(`${verb} complete:`)) : r.interrupted ? c.yellow(c.bold(`${verb} interrupted:`)) : c.red(c.bold(`${verb} failed:`));
      out.write(`\n${head} ${parts.join(", ")} in ${secs(r.elapsedMs)}.\n`);
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
      if (live) live.clear();
    },
  };
}

/** NDJSON: one JSON object per line, the first one is the version handshake. */
export function jsonView(out: NodeJS.WriteStream, name: string): ApplyView {
  const write = (o: Record<string, unknown>) => out.write(JSON.stringify({ "@timestamp": new Date().toISOString(), ...o }) + "\n");
  return {
    plan(plan) {
      write({ type: "planned_changes", object: name, plan: planJson(plan) });
    },
    event(e) {
      const level = e.type === "change_failed" || (e.type === "log" && e.level === "error") ? "error" : e.type === "change_skipped" || e.type === "interrupted" || (e.type === "log" && e.level === "warning") ? "warn" : "info";
      write({ "@level": level, ...e });
    },
    done(r) {
      write({ type: "apply_summary", ok: r.ok, interrupted: r.interrupted, done: r.done, failed: r.failed, skipped: r.skipped, rolled_back: r.rolledBack, elapsed_ms: r.elapsedMs, serial: r.state.serial });
    },
    close() {},
  };
}

export function versionLine(out: NodeJS.WriteStream, version: string): void {
  out.write(JSON.stringify({ type: "version", osvc: version, ui: "1.0" }) + "\n");
}
