// Apply benchmark, on the real host. Table 1: provisioning 20 loop+ext4+mount stacks, four ways.
//
//   npm run build && node dist/bench/apply.js        (or: npm run bench:apply)      — as root
//
// Each stack: a 32 MiB sparse file, a loop device on it, ext4 on the loop device, mounted on a
// directory. The methods, each run from a clean state in a fresh /tmp/osvc-bench-apply-* directory:
//   osvc        `osvc apply <template> --auto-approve` (default parallelism), private --root
//   osvc -p 1   the same with --parallelism 1
//   shell       a generated bash script running the same commands one after another
//               (truncate, losetup -f --show, blkid -p, mkfs.ext4 -F -q, mkdir -p, mount)
//   ansible     a generated playbook (ansible-playbook -i localhost, -c local): command truncate,
//               command losetup -f --show + register, community.general.filesystem,
//               ansible.builtin.file, ansible.posix.mount state=mounted with a private fstab file
//               (/etc/fstab is never touched). Skipped when ansible-playbook is not installed.
// Rounds: 3; the order of the methods rotates each round. After each run: check that the 20
// stacks are really up (findmnt + losetup), then tear down (osvc: `osvc destroy --auto-approve`;
// all: the cleanup routine — umount, losetup -d of the bench files, rm — which also runs on error
// and on SIGINT/SIGTERM) and check that nothing is left.
//
// Targets of this table: apply+destroy (osvc apply, then osvc destroy) no slower than the shell
// script's apply + teardown script (umount, losetup -d, rm, rmdir, one after another): the median
// of the per-round ratios <= 1.0, their min-max shown as the machine's noise; osvc at least 5x
// faster than Ansible (apply only: the playbook has no teardown).
// BENCH_BEFORE=<dir>: also runs "osvc (before)", another build (a copy of its bin/, dist/ and
// package.json, with node_modules), in the same rounds: before/after side by side.
//
// Table 2, "full service" (runs second): 3 copies of ip.host (10.98.0.1x/24 on a bridge) +
// disk.loop (128m) + fs.ext4 + fs.directory (in the mount) + container.podman (a local busybox
// image the bench imports under its own tag, `sleep 100000`, network none) + app.simple
// (`sleep 100000`), 18 resources in one template. Everything runs inside a private network
// namespace the bench creates for every run (a bridge with a veth port, so it has a carrier),
// through `nsenter --net=/run/netns/<ns>`: the host's own namespace is never touched. Methods:
//   osvc          nsenter ... osvc apply <template> --auto-approve --root <dir>/root --path <object>
//   osvc-p1       the same with --parallelism 1
//   shell         a bash script with the same host commands one after another: arping -D, ip addr
//                 add, arping -U; truncate, losetup -f --show; blkid -p / mkfs.ext4 -F -q, mkdir,
//                 mount, mkdir; podman run -d --pull never --network none --init (same
//                 CONTAINERS_CONF); start-stop-daemon --start --background --make-pidfile
//   shell-noarp   the same script without the two arping calls (a reference: what the checks cost)
// After each run: independent checks (ip -j addr, findmnt + losetup, the directories, podman
// inspect, the sleep processes in the namespace); osvc destroy for the osvc methods (checked);
// then the cleanup routine: podman rm -f by name, SIGKILL of what is left in the namespace,
// umount, losetup -d, rm, ip netns del. At the end, podman rmi of the bench image. The same
// routine runs on error and on SIGINT/SIGTERM. Target: osvc no slower than the shell script.
// Phases (where the time goes) come from the arrival time of each output line.
//
// BENCH_ROUNDS=N (default 3); BENCH_TABLES=stacks|full|stacks,full (default both).
// Table 1 at another scale: BENCH_STACKS=500 BENCH_SIZE=8m, and BENCH_METHODS=osvc,osvc-before
// (comma list of osvc, osvc-before, osvc-p1, shell, ansible) to run only some methods.
// Always exits 0 (it is a report; 130 when interrupted); prints PASS/FAIL against the targets.
import { writeFileSync } from "node:fs";
import { cpus, hostname, loadavg } from "node:os";
import { join } from "node:path";
import {
  benchDir,
  CleanupRegistry,
  commandExists,
  Interrupted,
  isClean,
  leftovers,
  osvc,
  stacksIn,
  stacksTemplate,
  stacksUp,
  osvcBin,
  nodeStart,
  tail,
  timed,
  type Timed,
} from "./lib/host.js";
import {
  allUp,
  buildImage,
  cleanupFull,
  containersConfText,
  describeUp,
  fullLeftovers,
  fullScript,
  fullTemplate,
  fullUp,
  imageExists,
  netnsCreate,
  netnsExists,
  osvcPhases,
  PHASES,
  removeImage,
  scriptPhases,
  type FullCleaned,
  type FullEnv,
  type FullUp,
} from "./lib/fullservice.js";
import { fmtMs, median, pad } from "./lib/stats.js";

/** BENCH_STACKS=N (default 20) and BENCH_SIZE (default 32m): the scale of table 1. */
const STACKS = /^[1-9]\d*$/.test(process.env.BENCH_STACKS ?? "") ? Number(process.env.BENCH_STACKS) : 20;
const SIZE = /^[1-9]\d*[mg]$/.test(process.env.BENCH_SIZE ?? "") ? process.env.BENCH_SIZE! : "32m";
/** BENCH_METHODS=osvc,osvc-before,...: run only these methods of table 1 (default: all). */
const ONLY = (process.env.BENCH_METHODS ?? "").split(",").map((m) => m.trim()).filter(Boolean);
/** BENCH_ROUNDS=1 for a quick check; medians need 3 (the default). */
const ROUNDS = /^[1-9]\d*$/.test(process.env.BENCH_ROUNDS ?? "") ? Number(process.env.BENCH_ROUNDS) : 3;
const TARGET_ANSIBLE_RATIO = 5;

const verdict = (ok: boolean) => (ok ? "PASS" : "FAIL");

type Key = "osvc" | "osvc-before" | "osvc-p1" | "shell" | "ansible";
/** Another build to compare with (BENCH_BEFORE), run in the same rounds. */
const BEFORE = process.env.BENCH_BEFORE || undefined;

interface Method {
  readonly key: Key;
  readonly label: string;
  /** Writes the inputs into `dir` and returns the timed run. */
  run(dir: string): Promise<Timed>;
  /** Method-specific teardown before the cleanup routine (osvc destroy, the shell's teardown script). */
  teardown?(dir: string): Promise<Timed>;
  /** What the run's own output tells (osvc: the engine's apply time and the host commands it logged). */
  inspect?(r: Timed): { engineMs?: number; commands?: number };
}

interface Sample {
  readonly ms: number;
  readonly ok: boolean;
  readonly note?: string;
  readonly teardownMs?: number;
  readonly engineMs?: number;
  readonly commands?: number;
  /** Host commands osvc destroy logged. */
  readonly teardownCommands?: number;
  /** Loop devices + mounts of the bench files left after `osvc destroy` (osvc methods only). */
  readonly leftAfterDestroy?: number;
  /** What the cleanup routine had to undo, and what was still there after it. */
  readonly cleaned: { unmounted: number; detached: number; left: number };
}

// ------------------------------------------------------------------ generated inputs

function shellScript(dir: string): string {
  const out = [
    "#!/bin/bash",
    `# generated by bench/apply.ts: ${STACKS} loop+ext4 stacks under ${dir}, one command after another`,
    "set -euo pipefail",
    "",
  ];
  for (const s of stacksIn(dir, STACKS)) {
    out.push(
      `truncate -s ${SIZE.toUpperCase()} ${s.file}`,
      `dev=$(losetup -f --show ${s.file})`,
      `if ! blkid -p "$dev" >/dev/null; then mkfs.ext4 -F -q "$dev"; fi`,
      `mkdir -p ${s.mnt}`,
      `mount -t ext4 "$dev" ${s.mnt}`,
      "",
    );
  }
  return out.join("\n");
}

/** The shell's teardown: what osvc destroy does, one command after another. */
function shellTeardown(dir: string): string {
  const out = ["#!/bin/bash", `# generated by bench/apply.ts: tear down ${STACKS} loop+ext4 stacks under ${dir}`, "set -euo pipefail", ""];
  for (const s of stacksIn(dir, STACKS)) {
    out.push(`umount ${s.mnt}`, `losetup -d "$(losetup -j ${s.file} -n -O NAME)"`, `rm -f ${s.file}`, `rmdir ${s.mnt}`, "");
  }
  return out.join("\n");
}

function playbook(dir: string): string {
  return `# generated by bench/apply.ts: ${STACKS} loop+ext4 stacks under ${dir}
- hosts: localhost
  gather_facts: false
  vars:
    bench_dir: ${dir}
    stacks: "{{ range(${STACKS}) | list }}"
  tasks:
    - name: backing files (sparse)
      ansible.builtin.command:
        cmd: "truncate -s ${SIZE.toUpperCase()} {{ bench_dir }}/d{{ item }}.img"
        creates: "{{ bench_dir }}/d{{ item }}.img"
      loop: "{{ stacks }}"

    - name: loop devices
      ansible.builtin.command: "losetup -f --show {{ bench_dir }}/d{{ item }}.img"
      loop: "{{ stacks }}"
      register: loops

    - name: ext4 filesystems
      community.general.filesystem:
        fstype: ext4
        dev: "{{ item.stdout }}"
      loop: "{{ loops.results }}"
      loop_control:
        label: "{{ item.stdout }}"

    - name: mount points
      ansible.builtin.file:
        path: "{{ bench_dir }}/m{{ item }}"
        state: directory
      loop: "{{ stacks }}"

    - name: mounts (private fstab file, /etc/fstab untouched)
      ansible.posix.mount:
        path: "{{ bench_dir }}/m{{ item.item }}"
        src: "{{ item.stdout }}"
        fstype: ext4
        state: mounted
        fstab: "{{ bench_dir }}/fstab"
      loop: "{{ loops.results }}"
      loop_control:
        label: "{{ item.stdout }}"
`;
}

/** Ansible confined to the bench directory: no ~/.ansible, no retry files, no interpreter discovery. */
function ansibleEnv(dir: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ANSIBLE_HOME: join(dir, "ansible-home"),
    ANSIBLE_LOCAL_TEMP: join(dir, "ansible-local-tmp"),
    ANSIBLE_REMOTE_TEMP: join(dir, "ansible-remote-tmp"),
    ANSIBLE_PYTHON_INTERPRETER: "/usr/bin/python3",
    ANSIBLE_RETRY_FILES_ENABLED: "false",
    ANSIBLE_NOCOLOR: "1",
    ANSIBLE_LOCALHOST_WARNING: "false",
  };
}

// ------------------------------------------------------------------ methods

const OBJECT = "benchapply";

function osvcMethod(key: Key, label: string, extra: string[], build?: string): Method {
  return {
    key,
    label,
    run(dir) {
      const conf = join(dir, `${OBJECT}.conf`);
      writeFileSync(conf, stacksTemplate(dir, STACKS, SIZE));
      return osvc(["apply", conf, "--auto-approve", "--root", join(dir, "root"), ...extra], build);
    },
    teardown(dir) {
      return osvc(["destroy", OBJECT, "--auto-approve", "--root", join(dir, "root")], build);
    },
    inspect: inspectOsvcLog,
  };
}

const HOST_COMMANDS = new Set(["mkdir", "truncate", "losetup", "blkid", "mkfs.ext4", "findmnt", "mount", "umount", "rm", "rmdir", "stat", "chown", "chmod", "wipefs"]);

/** From osvc's text log: "Apply complete: N done in X.XXs." and the host commands it echoed (INFO lines starting with a command). */
function inspectOsvcLog(r: Timed): { engineMs?: number; commands?: number } {
  const done = /Apply complete: .* in ([\d.]+)s/.exec(r.stdout);
  let commands = 0;
  for (const line of r.stdout.split("\n")) {
    const m = /^INFO\s+\S+\s+(\S+)/.exec(line);
    if (m && HOST_COMMANDS.has(m[1])) commands++;
  }
  return { engineMs: done ? Number(done[1]) * 1000 : undefined, commands };
}

const shellMethod: Method = {
  key: "shell",
  label: "shell script (bash, sequential)",
  run(dir) {
    const script = join(dir, "stacks.sh");
    writeFileSync(script, shellScript(dir));
    return timed("bash", [script], { cwd: dir });
  },
  teardown(dir) {
    const script = join(dir, "teardown.sh");
    writeFileSync(script, shellTeardown(dir));
    return timed("bash", [script], { cwd: dir });
  },
};

const ansibleMethod: Method = {
  key: "ansible",
  label: "ansible-playbook",
  run(dir) {
    const play = join(dir, "stacks.yml");
    writeFileSync(play, playbook(dir));
    return timed("ansible-playbook", ["-i", "localhost,", "-c", "local", play], { cwd: dir, env: ansibleEnv(dir) });
  },
};

// ------------------------------------------------------------------ main

async function runOnce(m: Method, cleanup: CleanupRegistry): Promise<Sample> {
  const dir = cleanup.add(benchDir(`apply-${m.key}`));
  let r: Timed | undefined;
  let ok = false;
  let note: string | undefined;
  let teardownMs: number | undefined;
  let leftAfterDestroy: number | undefined;
  let teardownCommands: number | undefined;
  let cleaned: Sample["cleaned"];
  let info: ReturnType<NonNullable<Method["inspect"]>> = {};
  try {
    r = await m.run(dir);
    const up = stacksUp(dir, STACKS);
    ok = r.status === 0 && up === STACKS;
    if (!ok) note = `exit ${r.status}, ${up}/${STACKS} stacks up: ${tail(r)}`;
    info = m.inspect?.(r) ?? {};
    if (m.teardown) {
      const t = await m.teardown(dir);
      teardownMs = t.ms;
      if (m.inspect) teardownCommands = m.inspect(t).commands;
      if (t.status !== 0) {
        ok = false;
        note = `teardown exited ${t.status}: ${tail(t)}`;
        console.log(`    ${m.label}: teardown exited ${t.status}: ${tail(t)}`);
      }
      const left = leftovers(dir);
      leftAfterDestroy = left.loops.length + left.mounts.length;
    }
  } finally {
    // The cleanup routine: umount, losetup -d of the bench files, rm. Runs on success and on error.
    const c = cleanup.clean(dir);
    for (const e of c.errors) console.log(`    cleanup: ${e}`);
    const left = leftovers(dir);
    cleaned = { unmounted: c.unmounted, detached: c.detached, left: left.loops.length + left.mounts.length };
    if (r === undefined) console.log(`    ${m.label}: aborted; cleanup unmounted ${c.unmounted}, detached ${c.detached}, ${cleaned.left} left`);
  }
  return { ms: r!.ms, ok, note, teardownMs, teardownCommands, leftAfterDestroy, cleaned, ...info }; // not reached when the run threw
}

function describeTeardown(s: Sample): string {
  const parts: string[] = [];
  if (s.teardownMs !== undefined)
    parts.push(`teardown ${fmtMs(s.teardownMs)} ms${s.teardownCommands !== undefined ? ` (${s.teardownCommands} host commands logged)` : ""}, ${s.leftAfterDestroy === 0 ? "nothing left" : `${s.leftAfterDestroy} loop/mount(s) left`}`);
  if (s.cleaned.unmounted || s.cleaned.detached) parts.push(`cleanup routine: ${s.cleaned.unmounted} umount, ${s.cleaned.detached} losetup -d`);
  parts.push(s.cleaned.left === 0 ? "clean" : `${s.cleaned.left} loop/mount(s) STILL LEFT`);
  return parts.join("; ");
}

async function main(cleanup: CleanupRegistry): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.log("bench/apply needs root (loop devices, mkfs, mount, network namespaces, podman): run it as root. Nothing was done.");
    return;
  }
  console.log(`osvc apply benchmark — node ${process.version}, ${process.platform}/${process.arch}, host ${hostname()}, ${cpus().length} CPU(s)`);
  const tables = (process.env.BENCH_TABLES ?? "stacks,full").split(",").map((t) => t.trim());
  if (tables.includes("stacks")) await stacksBench(cleanup);
  if (tables.includes("full")) await fullBench(cleanup);
}

async function stacksBench(cleanup: CleanupRegistry): Promise<void> {
  const hasAnsible = commandExists("ansible-playbook");
  const methods: Method[] = [
    osvcMethod("osvc", "osvc apply (default parallelism)", []),
    ...(BEFORE ? [osvcMethod("osvc-before", "osvc (before) apply", [], BEFORE)] : []),
    osvcMethod("osvc-p1", "osvc apply --parallelism 1", ["--parallelism", "1"]),
    shellMethod,
    ...(hasAnsible ? [ansibleMethod] : []),
  ].filter((m) => ONLY.length === 0 || ONLY.includes(m.key));
  if (!methods.some((m) => m.key === "osvc")) {
    console.log(`BENCH_METHODS=${ONLY.join(",")}: "osvc" must be one of them (the tables compare with it). Nothing was done.`);
    return;
  }
  console.log(`\n=== table 1: ${STACKS} loop+ext4+mount stacks ===`);
  console.log(`${STACKS} stacks of disk.loop (${SIZE}) + fs.ext4 + mount; ${ROUNDS} rounds, method order rotated each round; clean state before every run`);
  console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  let ansibleVersion = "";
  if (hasAnsible) {
    const vdir = cleanup.add(benchDir("apply-ansible-version")); // even --version creates ~/.ansible otherwise
    const v = await timed("ansible-playbook", ["--version"], { cwd: vdir, env: ansibleEnv(vdir) });
    cleanup.clean(vdir);
    ansibleVersion = v.stdout.split("\n")[0]?.trim() ?? "";
    console.log(`ansible: ${ansibleVersion}`);
  } else {
    console.log("ansible: ansible-playbook is not installed; install it with: apt-get install -y --no-install-recommends ansible");
  }
  await osvc(["--version"]); // warm the file cache
  if (BEFORE) {
    await osvc(["--version"], BEFORE);
    console.log(`osvc (before): the build in ${BEFORE}`);
  }

  const samples = new Map<Key, Sample[]>(methods.map((m) => [m.key, []]));
  /** `node -e 0` once per round: what any Node program pays before its first line, twice per apply + destroy. */
  const nodeStarts: number[] = [];
  /** The same without NODE_EXTRA_CA_CERTS, when the environment sets it (what osvc's launcher pays). */
  const bareStarts: number[] = [];
  /** `osvc --version` once per round: osvc's own start (node from the start-up snapshot, the CLI ready), twice per apply + destroy. */
  const osvcStarts: number[] = [];
  /** What one command costs the script's bash (fork + exec + wait of /bin/true, 100 in a loop), per round: the machine's process-creation cost, which the script pays ~100 times per apply + destroy. */
  const bashCommands: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const order = methods.map((_, i) => methods[(i + round) % methods.length]);
    console.log(`\nround ${round + 1}: ${order.map((m) => m.key).join(", ")}`);
    const ns = await nodeStart();
    nodeStarts.push(ns.asIs);
    if (ns.withoutExtraCa !== undefined) bareStarts.push(ns.withoutExtraCa);
    osvcStarts.push((await osvc(["--version"])).ms);
    bashCommands.push((await timed("bash", ["-c", "for i in {1..100}; do /bin/true; done"])).ms / 100);
    for (const m of order) {
      cleanup.check();
      const s = await runOnce(m, cleanup);
      samples.get(m.key)!.push(s);
      console.log(
        `  ${pad(m.key, 8, true)} ${pad(fmtMs(s.ms), 7)} ms  ${s.ok ? `${STACKS}/${STACKS} up` : `FAILED (${s.note})`}` +
          (s.engineMs !== undefined ? ` (engine "Apply complete" ${fmtMs(s.engineMs)} ms, ${s.commands} host commands logged)` : "") +
          `; ${describeTeardown(s)}`,
      );
    }
  }

  console.log(`\nload average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);
  // ------------------------------------------------ table
  const med = (k: Key) => {
    const ss = samples.get(k);
    return ss && ss.length ? median(ss.map((s) => s.ms)) : NaN;
  };
  const allOk = (k: Key) => (samples.get(k) ?? []).every((s) => s.ok);
  const osvcMs = med("osvc");
  console.log(`\napply of ${STACKS} loop+ext4+mount stacks: wall time, median of ${ROUNDS} rounds\n`);
  const head = `${pad("method", 34, true)} ${pad("median ms", 10)} ${pad("rounds ms", 22)} ${pad("÷ osvc", 8)}  result`;
  console.log(head);
  console.log("-".repeat(head.length + 6));
  const rowsOrder: { key: Key; label: string }[] = [
    { key: "osvc", label: "osvc apply (default parallelism)" },
    { key: "osvc-before", label: "osvc (before) apply" },
    { key: "osvc-p1", label: "osvc apply --parallelism 1" },
    { key: "shell", label: "shell script (bash, sequential)" },
    { key: "ansible", label: "ansible-playbook" },
  ];
  for (const r of rowsOrder) {
    const ss = samples.get(r.key);
    if (!ss && (r.key !== "ansible" || ONLY.length)) continue; // not asked for (BENCH_BEFORE, BENCH_METHODS)
    if (!ss) {
      console.log(`${pad(r.label, 34, true)} ${pad("-", 10)} ${pad("-", 22)} ${pad("-", 8)}  not installed (apt-get install -y ansible)`);
      continue;
    }
    const m = med(r.key);
    console.log(
      `${pad(r.label, 34, true)} ${pad(fmtMs(m), 10)} ${pad(ss.map((s) => fmtMs(s.ms)).join(" / "), 22)} ${pad(`${(m / osvcMs).toFixed(2)}x`, 8)}  ${allOk(r.key) ? "ok" : "FAILED"}`,
    );
  }
  if (ansibleVersion && samples.has("ansible")) console.log(`(${ansibleVersion}; 5 looped tasks, ${5 * STACKS} module runs)`);
  for (const k of ["osvc", "osvc-p1"] as const) {
    const ss = (samples.get(k) ?? []).filter((s) => s.engineMs !== undefined);
    if (!ss.length) continue;
    const eng = median(ss.map((s) => s.engineMs!));
    console.log(
      `${k}: the engine's apply phase ("Apply complete") took ${fmtMs(eng)} ms (median); the other ${fmtMs(med(k) - eng)} ms are node start-up, module loading, compile, the plan's probes, lock and state; ${ss[0].commands} host commands logged during apply (shell script: ${6 * STACKS})`,
    );
  }

  // ------------------------------------------------ apply + destroy (the target), per round
  const both = (k: Key) => (samples.get(k) ?? []).map((s) => s.ms + (s.teardownMs ?? NaN));
  // The reference of the per-round ratios: the shell script, or osvc when the script did not run (BENCH_METHODS).
  const ref: Key = samples.has("shell") ? "shell" : "osvc";
  const refName = ref === "shell" ? "script" : "osvc";
  const shellBoth = both(ref);
  const ratios = (k: Key) => both(k).map((ms, i) => ms / shellBoth[i]);
  console.log(`\napply + destroy of ${STACKS} stacks (osvc apply then osvc destroy; the script then its teardown script): wall time, median of ${ROUNDS} rounds\n`);
  const head2 = `${pad("method", 34, true)} ${pad("median ms", 10)} ${pad("apply / destroy", 16)} ${pad("destroy cmds", 12)} ${pad(`÷ ${refName}`, 9)} ${pad(`per-round ÷ ${refName}`, 20)}`;
  console.log(head2);
  console.log("-".repeat(head2.length));
  for (const k of ["osvc", "osvc-before", "osvc-p1", "shell"] as const) {
    const ss = samples.get(k);
    if (!ss) continue;
    const r = ratios(k);
    const label = rowsOrder.find((x) => x.key === k)!.label.replace(" apply", "").replace(" (bash, sequential)", " + teardown script");
    console.log(
      `${pad(label, 34, true)} ${pad(fmtMs(median(both(k))), 10)} ${pad(`${fmtMs(median(ss.map((s) => s.ms)))} / ${fmtMs(median(ss.map((s) => s.teardownMs ?? NaN)))}`, 16)} ${pad(ss[0].teardownCommands !== undefined ? String(ss[0].teardownCommands) : `${5 * STACKS}`, 12)} ${pad(`${median(r).toFixed(2)}x`, 9)} ${pad(`${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)}x`, 20)}`,
    );
  }
  const osvcRatio = median(ratios("osvc"));

  const osvcLeft = [...(samples.get("osvc") ?? []), ...(samples.get("osvc-before") ?? []), ...(samples.get("osvc-p1") ?? [])].reduce((a, s) => a + (s.leftAfterDestroy ?? 0), 0);
  const stillLeft = [...samples.values()].flat().reduce((a, s) => a + s.cleaned.left, 0);

  // ------------------------------------------------ verdicts
  console.log("\ntargets");
  const shellMs = med("shell");
  const r = ratios("osvc");
  if (ref !== "shell") console.log("  SKIP  apply+destroy no slower than the script + teardown script: the script did not run (BENCH_METHODS)");
  else console.log(
    `  ${verdict(allOk("osvc") && allOk("shell") && osvcRatio <= 1)}  apply+destroy no slower than the script + teardown script: median of per-round ratios ${osvcRatio.toFixed(2)}x (noise: ${Math.min(...r).toFixed(2)}-${Math.max(...r).toFixed(2)}x; medians ${fmtMs(median(both("osvc")))} vs ${fmtMs(median(shellBoth))} ms)`,
  );
  if (ref === "shell") {
    console.log(`  info  apply alone: ${fmtMs(osvcMs)} ms vs ${fmtMs(shellMs)} ms (${(osvcMs / shellMs).toFixed(2)}x the script's time)`);
    // The floor of any tool run as two Node processes: two bare start-ups before it does anything.
    const scriptBoth = median(shellBoth);
    const range = (xs: number[]) => `${fmtMs(median(xs))} ms (${fmtMs(Math.min(...xs))}-${fmtMs(Math.max(...xs))})`;
    if (bareStarts.length) console.log(`  info  node start-up as this environment is (node -e 0, NODE_EXTRA_CA_CERTS=${process.env.NODE_EXTRA_CA_CERTS}), once per round, median: ${range(nodeStarts)}; osvc's launcher starts node without that variable`);
    const paid = bareStarts.length ? bareStarts : nodeStarts;
    const node = median(paid);
    console.log(`  info  bare node start-up (node -e 0${bareStarts.length ? " without NODE_EXTRA_CA_CERTS" : ""}, once per round, median): ${range(paid)}`);
    const own = median(osvcStarts);
    console.log(
      `  info  osvc's start (osvc --version: node from the start-up snapshot, the CLI ready; once per round, median): ${range(osvcStarts)}; two of them are ${((2 * own) / scriptBoth).toFixed(2)}x the script's apply + destroy; osvc's apply + destroy without them: ${fmtMs(median(both("osvc")) - 2 * own)} ms (${((median(both("osvc")) - 2 * own) / scriptBoth).toFixed(2)}x the script); node alone would be ${fmtMs(2 * node)} ms of it`,
    );
    // The script's time is mostly process creation (~100 commands run by bash, one after another); osvc starts its ~80 through its spawn helper, two at a time, beside its own work: the ratio depends on the machine.
    console.log(`  info  a command started by the scripts' bash (fork + exec + wait of /bin/true, 100 in a loop, once per round, median): ${fmtMs(median(bashCommands))} ms (${fmtMs(Math.min(...bashCommands))}-${fmtMs(Math.max(...bashCommands))}); the scripts run ${6 * STACKS} + ${5 * STACKS} commands`);
  }
  if (!samples.has("ansible")) {
    console.log(`  SKIP  osvc >= ${TARGET_ANSIBLE_RATIO}x faster than Ansible: ${hasAnsible ? "not run (BENCH_METHODS)" : "ansible-playbook not installed (apt-get install -y --no-install-recommends ansible)"}`);
  } else {
    const ratio = med("ansible") / osvcMs;
    console.log(`  ${verdict(allOk("osvc") && allOk("ansible") && ratio >= TARGET_ANSIBLE_RATIO)}  osvc >= ${TARGET_ANSIBLE_RATIO}x faster than Ansible: ${ratio.toFixed(1)}x (${fmtMs(med("ansible"))} ms vs ${fmtMs(osvcMs)} ms)`);
  }
  console.log(`  ${verdict(osvcLeft === 0)}  osvc destroy left nothing (loop devices of the bench files, mounts): ${osvcLeft} left`);
  const final = leftovers("/tmp/osvc-bench-apply-", true);
  console.log(
    `  ${verdict(stillLeft === 0 && isClean(final))}  cleanup routine after every run (shell/ansible are torn down by it alone): ${final.loops.length} loop device(s) and ${final.mounts.length} mount(s) of bench files remain`,
  );
}

// ================================================================== table 2: a full service

const FULL: Omit<FullEnv, "containersConf"> = {
  ns: `osvc-bench-full-${process.pid}`,
  bridge: "br-bench",
  veth: ["vbench0", "vbench1"],
  image: `localhost/osvc-bench-busybox:b${process.pid}`,
  object: `benchfull-${process.pid}`,
  n: 3,
  size: "128m",
};
const FULL_RESOURCES = 6; // per copy: ip, disk, fs.ext4, fs.directory, container, app

type FullKey = "osvc" | "osvc-p1" | "shell" | "shell-noarp";

interface FullMethod {
  readonly key: FullKey;
  readonly label: string;
  run(env: FullEnv, dir: string): Promise<Timed>;
  teardown?(env: FullEnv, dir: string): Promise<Timed>;
  phases(t: Timed): Map<string, number>;
}

interface FullSample {
  readonly ms: number;
  readonly ok: boolean;
  readonly up: FullUp;
  readonly note?: string;
  readonly engineMs?: number;
  readonly phases: Map<string, number>;
  readonly teardownMs?: number;
  /** What `osvc destroy` left: resources still up, containers, mounts, loop devices. */
  readonly leftAfterDestroy?: string[];
  readonly cleaned: FullCleaned;
  /** After the cleanup routine. */
  readonly left: string[];
}

/** `nsenter --net=/run/netns/<ns> bin/osvc.js ARGS`: osvc (run as a command) inside the bench's namespace, never the host's. */
function osvcInNs(env: FullEnv, args: readonly string[]): Promise<Timed> {
  return timed("nsenter", [`--net=/run/netns/${env.ns}`, osvcBin(), ...args], { env: { ...process.env, NO_COLOR: "1" } });
}

function fullOsvc(key: FullKey, label: string, extra: string[]): FullMethod {
  return {
    key,
    label,
    run(env, dir) {
      const conf = join(dir, `${env.object}.conf`);
      writeFileSync(conf, fullTemplate(env, dir));
      return osvcInNs(env, ["apply", conf, "--auto-approve", "--root", join(dir, "root"), "--path", env.object, ...extra]);
    },
    teardown(env, dir) {
      return osvcInNs(env, ["destroy", env.object, "--auto-approve", "--root", join(dir, "root")]);
    },
    phases: osvcPhases,
  };
}

function fullShell(key: FullKey, label: string, arping: boolean): FullMethod {
  return {
    key,
    label,
    run(env, dir) {
      const script = join(dir, "service.sh");
      writeFileSync(script, fullScript(env, dir, { arping }));
      return timed("nsenter", [`--net=/run/netns/${env.ns}`, "bash", script], { cwd: dir });
    },
    phases: scriptPhases,
  };
}

const FULL_PREREQS: [string, string][] = [
  ["podman", "podman runc"],
  ["runc", "runc"],
  ["arping", "iputils-arping"],
  ["nsenter", "util-linux"],
  ["start-stop-daemon", "dpkg"],
  ["busybox", "busybox-static"],
  ["mkfs.ext4", "e2fsprogs"],
];

async function runFullOnce(m: FullMethod, env: FullEnv, cleanup: CleanupRegistry): Promise<FullSample> {
  const dir = benchDir(`full-${m.key}`);
  // On error or a signal, the registry's cleanAll() runs this: containers, processes, mounts, loops, netns.
  cleanup.hook("full-run", () => cleanupFull(env, dir).errors);
  let r: Timed | undefined;
  let up: FullUp = { ips: 0, fs: 0, dirs: 0, containers: 0, apps: 0 };
  let ok = false;
  let note: string | undefined;
  let teardownMs: number | undefined;
  let leftAfterDestroy: string[] | undefined;
  let cleaned: FullCleaned;
  let left: string[];
  try {
    const ns = netnsCreate(env);
    if (!ns.ok) throw new Error(`cannot set up the network namespace ${env.ns}: ${ns.error}`);
    r = await m.run(env, dir);
    up = fullUp(env, dir);
    ok = r.status === 0 && allUp(env, up);
    if (!ok) note = `exit ${r.status}, ${describeUp(env, up)}: ${tail(r)}`;
    if (m.teardown) {
      const t = await m.teardown(env, dir);
      teardownMs = t.ms;
      if (t.status !== 0) console.log(`    ${m.label}: teardown exited ${t.status}: ${tail(t)}`);
      const after = fullUp(env, dir);
      leftAfterDestroy = [
        ...(after.ips ? [`${after.ips} address(es)`] : []),
        ...(after.apps ? [`${after.apps} app process(es)`] : []),
        ...fullLeftovers(env, dir).filter((x) => !x.startsWith("netns ")),
      ];
    }
  } finally {
    cleanup.unhook("full-run");
    cleaned = cleanupFull(env, dir);
    for (const e of cleaned.errors) console.log(`    cleanup: ${e}`);
    left = fullLeftovers(env, dir);
    if (r === undefined) console.log(`    ${m.label}: aborted; cleanup removed ${cleaned.containers} container(s), killed ${cleaned.killed} process(es), ${cleaned.unmounted} umount, ${cleaned.detached} losetup -d; left: ${left.join(", ") || "nothing"}`);
  }
  const run = r!; // defined: a throw in the try above propagates past this point
  const engine = /Apply complete: .* in ([\d.]+)s/.exec(run.stdout);
  return { ms: run.ms, ok, up, note, engineMs: engine ? Number(engine[1]) * 1000 : undefined, phases: m.phases(run), teardownMs, leftAfterDestroy, cleaned, left };
}

function describeFullTeardown(s: FullSample): string {
  const parts: string[] = [];
  if (s.teardownMs !== undefined) parts.push(`osvc destroy ${fmtMs(s.teardownMs)} ms, ${s.leftAfterDestroy?.length ? `LEFT ${s.leftAfterDestroy.join(", ")}` : "nothing left"}`);
  const c = s.cleaned;
  if (c.containers || c.killed || c.unmounted || c.detached) {
    const what = new Map<string, number>();
    for (const w of c.killedWhat) {
      const name = (w.split(" ")[0] ?? "?").split("/").pop()!;
      what.set(name, (what.get(name) ?? 0) + 1);
    }
    const killed = c.killed ? ` (${[...what].map(([n, k]) => `${k} ${n}`).join(", ")})` : "";
    parts.push(`cleanup routine: ${c.containers} podman rm, ${c.killed} kill${killed}, ${c.unmounted} umount, ${c.detached} losetup -d`);
  }
  parts.push(s.left.length ? `STILL LEFT: ${s.left.join(", ")}` : "clean");
  return parts.join("; ");
}

const fmtPhases = (p: Map<string, number>) =>
  PHASES.filter((k) => p.has(k))
    .map((k) => `${k} ${fmtMs(p.get(k)!)}`)
    .join(", ");

async function fullBench(cleanup: CleanupRegistry): Promise<void> {
  const total = FULL.n * FULL_RESOURCES;
  console.log(`\n=== table 2: a full service ===`);
  console.log(
    `${FULL.n} copies of ip.host (10.98.0.1x/24 on ${FULL.bridge}) + disk.loop (${FULL.size}) + fs.ext4 + fs.directory + container.podman (busybox, sleep 100000, network none) + app.simple (sleep 100000) = ${total} resources`,
  );
  console.log(`inside the private network namespace ${FULL.ns} (nsenter --net; re-created for every run); ${ROUNDS} rounds, method order rotated each round`);
  const missing = FULL_PREREQS.filter(([c]) => !commandExists(c));
  if (missing.length) {
    console.log(`SKIP: ${missing.map(([c]) => c).join(", ")} not installed (apt-get install -y ${[...new Set(missing.map(([, p]) => p))].join(" ")})`);
    return;
  }
  // The session directory holds the containers.conf (both methods use it) and the image build's scratch files.
  const session = cleanup.add(benchDir("full-session"));
  const env: FullEnv = { ...FULL, containersConf: join(session, "containers.conf") };
  writeFileSync(env.containersConf, containersConfText(session));
  cleanup.hook("full-image", () => removeImage(env));
  const img = buildImage(env, session);
  if (!img.ok) throw new Error(`cannot import the bench image ${env.image}: ${img.error}`);
  // Warm-up (not timed): podman's storage and the page cache, once for everybody.
  const warm = await timed("podman", ["run", "--rm", "--pull", "never", "--network", "none", env.image, "echo", "warm"], { env: { ...process.env, CONTAINERS_CONF: env.containersConf } });
  console.log(`image ${env.image} imported; warm-up podman run --rm: exit ${warm.status} in ${fmtMs(warm.ms)} ms`);
  console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);

  const methods: FullMethod[] = [
    fullOsvc("osvc", "osvc apply (default parallelism)", []),
    fullOsvc("osvc-p1", "osvc apply --parallelism 1", ["--parallelism", "1"]),
    fullShell("shell", "shell script (bash, sequential)", true),
    fullShell("shell-noarp", "shell script without arping", false),
  ];
  const samples = new Map<FullKey, FullSample[]>(methods.map((m) => [m.key, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = methods.map((_, i) => methods[(i + round) % methods.length]);
    console.log(`\nround ${round + 1}: ${order.map((m) => m.key).join(", ")}`);
    for (const m of order) {
      cleanup.check();
      const s = await runFullOnce(m, env, cleanup);
      samples.get(m.key)!.push(s);
      console.log(
        `  ${pad(m.key, 11, true)} ${pad(fmtMs(s.ms), 7)} ms  ${s.ok ? "all up" : `FAILED (${s.note})`}` +
          (s.engineMs !== undefined ? ` (engine "Apply complete" ${fmtMs(s.engineMs)} ms)` : "") +
          `\n      phases ms: ${fmtPhases(s.phases)}\n      ${describeFullTeardown(s)}`,
      );
    }
  }
  console.log(`\nload average ${loadavg().map((x) => x.toFixed(2)).join(" ")}`);

  // ------------------------------------------------ table
  const med = (k: FullKey) => median((samples.get(k) ?? []).map((s) => s.ms));
  const allOk = (k: FullKey) => (samples.get(k) ?? []).every((s) => s.ok);
  const osvcMs = med("osvc");
  console.log(`\nfull service (${FULL.n} × ip + disk + fs + dir + container + app = ${total} resources): wall time, median of ${ROUNDS} rounds\n`);
  const head = `${pad("method", 34, true)} ${pad("median ms", 10)} ${pad("rounds ms", 22)} ${pad("÷ osvc", 8)}  result`;
  console.log(head);
  console.log("-".repeat(head.length + 6));
  for (const m of methods) {
    const ss = samples.get(m.key)!;
    const md = med(m.key);
    console.log(
      `${pad(m.label, 34, true)} ${pad(fmtMs(md), 10)} ${pad(ss.map((s) => fmtMs(s.ms)).join(" / "), 22)} ${pad(`${(md / osvcMs).toFixed(2)}x`, 8)}  ${allOk(m.key) ? "ok" : "FAILED"}`,
    );
  }
  console.log(`\nwhere the time goes: median ms per phase (osvc: from the arrival of its log lines, a group lasts until the next group's first line; script: its @phase marks)\n`);
  const ph = `${pad("method", 34, true)}${PHASES.map((p) => pad(p, 10)).join("")}`;
  console.log(ph);
  console.log("-".repeat(ph.length));
  for (const m of methods) {
    const ss = samples.get(m.key)!;
    const cells = PHASES.map((p) => {
      const xs = ss.map((s) => s.phases.get(p)).filter((x): x is number => x !== undefined);
      return pad(xs.length ? fmtMs(median(xs)) : "-", 10);
    });
    console.log(`${pad(m.label, 34, true)}${cells.join("")}`);
  }
  for (const k of ["osvc", "osvc-p1"] as const) {
    const ss = (samples.get(k) ?? []).filter((s) => s.engineMs !== undefined);
    if (ss.length) console.log(`${k}: the engine's apply phase ("Apply complete") took ${fmtMs(median(ss.map((s) => s.engineMs!)))} ms (median)`);
  }

  // ------------------------------------------------ teardown of the session: the image
  cleanup.runHook("full-image");
  const imageGone = !imageExists(env);
  const osvcLeft = [...samples.get("osvc")!, ...samples.get("osvc-p1")!].reduce((a, s) => a + (s.leftAfterDestroy?.length ?? 0), 0);
  const stillLeft = [...samples.values()].flat().reduce((a, s) => a + s.left.length, 0);
  const final = leftovers("/tmp/osvc-bench-full-", true);

  // ------------------------------------------------ verdicts
  console.log("\ntargets");
  const shellMs = med("shell");
  console.log(
    `  ${verdict(allOk("osvc") && allOk("shell") && osvcMs <= shellMs)}  osvc no slower than the shell script: ${fmtMs(osvcMs)} ms vs ${fmtMs(shellMs)} ms (osvc takes ${(osvcMs / shellMs).toFixed(2)}x the script's time)`,
  );
  const noarp = med("shell-noarp");
  console.log(
    `  info  against the script without the arping checks: ${fmtMs(osvcMs)} ms vs ${fmtMs(noarp)} ms (${(osvcMs / noarp).toFixed(2)}x); the checks cost the script ${fmtMs(shellMs - noarp)} ms (${FULL.n} × arping -D -c 2 -w 2 + arping -U -c 1)`,
  );
  console.log(`  ${verdict(osvcLeft === 0)}  osvc destroy left nothing (addresses, app processes, containers, mounts, loop devices): ${osvcLeft} left`);
  console.log(
    `  ${verdict(stillLeft === 0 && isClean(final) && imageGone && !netnsExists(env))}  cleanup after every run and at the end: ${stillLeft} thing(s) left after runs, ${final.loops.length} loop device(s) and ${final.mounts.length} mount(s) of bench files, namespace ${netnsExists(env) ? "STILL THERE" : "deleted"}, image ${imageGone ? "removed" : "STILL THERE"}`,
  );
}

const cleanup = new CleanupRegistry();
try {
  await main(cleanup);
} catch (e) {
  console.log(e instanceof Interrupted ? `benchmark ${e.message}` : `benchmark aborted: ${(e as Error)?.stack ?? String(e)}`);
} finally {
  for (const e of cleanup.cleanAll()) console.log(`cleanup: ${e}`);
  cleanup.dispose();
}
process.exitCode = cleanup.interrupted ? 130 : 0;
