// The views of `osvc cluster status` (the store's health and the objects it holds), `osvc cluster
// migrate` and `osvc cluster force-unlock`.
import type { StoreObjectStatus, StoreStatus } from "../../cluster/store-status.js";
import type { LockHolderRecord, MigrateResult, StoreMember } from "../../cluster/store/index.js";
import type { Colors } from "./color.js";

export function storeStatusJson(st: StoreStatus): string {
  return JSON.stringify(st, null, 2) + "\n";
}

/** 1536 -> "1.5 KiB". */
export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) ((v /= 1024), u++);
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

/** A table: the columns padded to their widest cell, the last one not. */
function table(head: readonly string[], rows: readonly string[][], c: Colors, paint: (row: number, col: number, s: string) => string = (_r, _c, s) => s): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: readonly string[], p: (i: number, s: string) => string) =>
    r
      .map((s, i) => p(i, i === r.length - 1 ? s : s.padEnd(widths[i])))
      .join("  ")
      .trimEnd();
  return [line(head, (_, s) => c.bold(s)), ...rows.map((r, k) => line(r, (i, s) => paint(k, i, s)))];
}

/** "who@host pid N (command), orchestration X, since T; lock id I" */
export function holderText(h: LockHolderRecord): string {
  return `${h.user}@${h.host} pid ${h.pid} (${h.command})${h.orchestrationId ? `, orchestration ${h.orchestrationId}` : ""}, since ${h.since}; lock id ${h.id}`;
}

function membersTable(members: readonly StoreMember[], c: Colors): string[] {
  const rows = members.map((m) => [
    m.name,
    m.id ?? "-",
    m.endpoints.join(",") || "-",
    m.reachable === false ? "-" : m.leader ? "yes" : "no",
    m.raftTerm !== undefined ? String(m.raftTerm) : "-",
    m.dbSize !== undefined ? humanBytes(m.dbSize) : "-",
    m.reachable === false ? `unreachable: ${m.error ?? "no answer"}` : "ok",
  ]);
  return table(["MEMBER", "ID", "ENDPOINT", "LEADER", "TERM", "DB SIZE", "STATUS"], rows, c, (k, i, s) =>
    i === 6 ? (members[k].reachable === false ? c.red(s) : c.green(s)) : i === 3 && members[k].leader ? c.bold(s) : s,
  );
}

function objectLines(o: StoreObjectStatus, c: Colors): string[] {
  const out = [c.bold(o.object)];
  const row = (k: string, v: string) => out.push(`  ${k.padEnd(14)}${v}`);
  row("config", o.config ? `sha256 ${o.config.sha256.slice(0, 12)}, updated ${o.config.updatedAt}` : c.dim("none"));
  if (o.instances.length === 0) row("instances", c.dim("none"));
  for (const [k, i] of o.instances.entries()) {
    const last = i.lastAction ? `, last ${i.lastAction.action} ${i.lastAction.result === "ok" ? i.lastAction.result : c.red(i.lastAction.result)} at ${i.lastAction.at}` : "";
    row(k === 0 ? "instances" : "", `${i.node.padEnd(8)} ${i.provisioned}/${i.resources} provisioned${last}`);
  }
  const shared = Object.entries(o.shared);
  row("shared", shared.length ? shared.map(([rid, n]) => `${rid} (${n})`).join(", ") : c.dim("none"));
  row("lock", o.lock ? c.yellow(`held by ${holderText(o.lock)}`) : c.dim("free"));
  const orch = o.orchestration;
  row("orchestration", orch ? `${orch.id} ${orch.action} ${orch.phase === "failed" ? c.red(orch.phase) : orch.phase}${orch.leaders.length ? `, leader ${orch.leaders.join(", ")}` : ""}, updated ${orch.updatedAt}` : c.dim("none"));
  return out;
}

export function storeStatusText(st: StoreStatus, c: Colors): string {
  const h = st.health;
  const out = [`${c.bold("store")}  ${h.backend}  ${h.ok ? c.green("ok") : c.red("unavailable")}`];
  if (h.backend === "embedded") out.push(`  directory ${h.endpoints.join(" ")} (local to this host)`);
  else out.push(`  endpoints ${h.endpoints.join(" ")}`);
  if (h.error) out.push(`  ${c.red("error:")} ${h.error}`);
  if (h.members?.length) out.push("", ...membersTable(h.members, c));
  out.push("");
  if (st.error) out.push(`${c.red("error:")} cannot list the objects: ${st.error}`);
  else if (st.objects.length === 0) out.push(c.dim("no object in the store"));
  else out.push(`${st.objects.length} object${st.objects.length === 1 ? "" : "s"}`, ...st.objects.flatMap((o) => ["", ...objectLines(o, c)]));
  return out.join("\n") + "\n";
}

export function migrateText(r: MigrateResult, from: string, to: string): string {
  const c = r.copied;
  const what = [`config ${c.config ? "yes" : "no"}`, `${c.instances} instance record${c.instances === 1 ? "" : "s"}`, `${c.shared} shared record${c.shared === 1 ? "" : "s"}`, `orchestration ${c.orchestration ? "yes" : "no"}`];
  return `${r.object}: moved ${from} -> ${to}: ${what.join(", ")}; verified (read back equal)\n`;
}
