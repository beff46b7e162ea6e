// Keywords every resource accepts (semantics §11.1), and the object-level keywords of [DEFAULT].
// Pure data: validation and evaluation live elsewhere in config/.

import type { KeywordSpec } from "../../core/schema.js";

const TRIGGER_ACTIONS = ["start", "stop", "provision", "unprovision", "startstandby", "run", "sync"] as const;
const REQUIRES_ACTIONS = ["start", "stop", "provision", "unprovision", "sync", "run"] as const;

function triggerKeywords(): KeywordSpec[] {
  const out: KeywordSpec[] = [];
  for (const blocking of [false, true]) {
    for (const when of ["pre", "post"] as const) {
      for (const action of TRIGGER_ACTIONS) {
        const name = `${blocking ? "blocking_" : ""}${when}_${action}`;
        out.push({
          name,
          type: "string",
          scopable: true,
          text: blocking
            ? `Command run ${when === "pre" ? "before" : "after"} the resource ${action}; a non-zero exit aborts the action.`
            : `Command run ${when === "pre" ? "before" : "after"} the resource ${action}; a non-zero exit is only logged as a warning.`,
          example: `/srv/{name}/bin/${when}_${action}.sh`,
        });
      }
    }
  }
  return out;
}

function requiresKeywords(): KeywordSpec[] {
  return REQUIRES_ACTIONS.map(
    (action): KeywordSpec => ({
      name: `${action}_requires`,
      type: "string",
      scopable: true,
      text: `Resources (rid or rid(state,...)) that must be in the given state before this resource's ${action}; they gate the action, they never reorder it.`,
      example: "container#0(up,stdby up) fs#1",
    }),
  );
}

/** Keywords accepted by every resource section, whatever its driver. */
export const GENERIC_RESOURCE_KEYWORDS: KeywordSpec[] = [
  { name: "type", type: "string", inherit: "leaf", text: "The driver type within the resource group (fs: the filesystem type). Picks the driver; a group default applies when absent.", example: "ext4" },
  { name: "tags", type: "set", text: "Tags for selection with --tags. Special tags: noaction (never change state, implies optional), nostatus (status n/a), encap.", example: "db noaction" },
  { name: "subset", type: "string", inherit: "leaf", text: "The resource subset of the group this resource belongs to; subsets act in order, members of a parallel subset at the same time.", example: "g1" },
  { name: "disable", type: "bool", inherit: "leaf", default: "false", text: "Ignore this resource in every action; its status is n/a and its D flag is set." },
  { name: "optional", type: "tristate", text: "Errors of this resource are logged but do not abort the action, and its status is excluded from the availability status. Defaults to true for sync, task and noaction-tagged resources." },
  { name: "standby", type: "bool", default: "false", text: "Keep this resource up on every node, including passive ones (started by startstandby, left up by stop unless --force)." },
  { name: "monitor", type: "bool", default: "false", text: "When the resource stays down after its restarts, apply DEFAULT.monitor_action." },
  { name: "restart", type: "int", default: "0", text: "How many times the daemon tries to restart this resource when it goes down while the instance is expected up." },
  { name: "restart_delay", type: "duration", default: "500ms", text: "Delay between two restart attempts.", example: "5s" },
  { name: "provision", type: "bool", default: "true", text: "Set to false to skip this resource's provisioner (the resource is then expected to exist)." },
  { name: "unprovision", type: "bool", default: "true", text: "Set to false to skip this resource's unprovisioner (its data is then kept)." },
  { name: "shared", type: "bool", default: "false", text: "The resource is visible from several nodes (SAN disk, failover ip): only the leader provisions it, the other nodes just record it as provisioned." },
  { name: "encap", type: "bool", default: "false", text: "The resource is handled by the agent inside the encapsulating container (see DEFAULT.encapnodes), not by the host." },
  { name: "comment", type: "string", text: "Free text, for humans." },
  ...requiresKeywords(),
  ...triggerKeywords(),
  { name: "scsireserv", type: "bool", default: "false", text: "Place SCSI persistent reservations on the devices of this resource before start." },
  { name: "prkey", type: "string", scopable: true, text: "The SCSI persistent reservation key; defaults to the node's key.", example: "0x12345678" },
  { name: "no_preempt_abort", type: "bool", default: "false", text: "Preempt existing SCSI reservations without aborting the pending commands." },
  { name: "promote_rw", type: "bool", default: "false", text: "Promote the resource's devices read-write before start." },
];

/**
 * Object-level keywords of [DEFAULT] (lookup mode head: only DEFAULT is consulted). Aliases and the
 * lowercased lists (list_lower) are upstream's (om3 core/object/core_keywords.go).
 */
export const DEFAULT_KEYWORDS: KeywordSpec[] = [
  { name: "nodes", type: "list", inherit: "head", scopable: true, default: "{nodename}", text: "The nodes the object runs on, in order of preference (* means every cluster node).", example: "n1 n2" },
  { name: "drpnodes", type: "list", inherit: "head", scopable: true, text: "Disaster-recovery nodes: they receive syncs and can take over when every node is lost.", example: "n3" },
  { name: "encapnodes", type: "list", inherit: "head", text: "The hostnames of the containers encapsulating an agent (encap resources run there)." },
  { name: "id", type: "string", inherit: "head", text: "The object's unique id, generated by create (a new one unless --restore)." },
  { name: "env", type: "string", inherit: "head", aliases: ["service_type"], default: "TST", text: "The object's environment label (PRD, PPRD, REC, INT, DEV, TST, TMP, DRP, FOR, PRA, PRJ, STG); PRD objects get stricter safety checks.", example: "PRD" },
  { name: "app", type: "string", inherit: "head", default: "default", text: "The application code the object belongs to (used for reporting and access control).", example: "NSX" },
  { name: "comment", type: "string", inherit: "head", text: "Free text describing the object." },
  { name: "orchestrate", type: "string", inherit: "head", default: "no", candidates: ["no", "ha", "start"], text: "Daemon orchestration: no (none), start (start on the placement leader once), ha (start and fail over)." },
  { name: "topology", type: "string", inherit: "head", aliases: ["cluster_type"], default: "failover", candidates: ["failover", "flex"], text: "failover: one instance up at a time; flex: several instances up at once (see flex_min/flex_max)." },
  { name: "flex_min", type: "int", inherit: "head", aliases: ["flex_min_nodes"], default: "1", text: "Flex topology: fewer instances up than this makes the object degraded." },
  { name: "flex_max", type: "int", inherit: "head", aliases: ["flex_max_nodes"], default: "{#nodes}", text: "Flex topology: the maximum number of instances up at once." },
  { name: "flex_target", type: "int", inherit: "head", default: "{flex_min}", text: "Flex topology: the number of instances the daemon keeps up." },
  { name: "placement", type: "string", inherit: "head", default: "nodes order", candidates: ["none", "nodes order", "load avg", "shift", "spread", "score"], text: "How the placement leader is chosen among the nodes." },
  { name: "priority", type: "int", inherit: "head", default: "100", text: "Orchestration priority (lower first) when the daemon has several objects to start." },
  { name: "rollback", type: "bool", inherit: "head", default: "true", text: "Undo what a failed start/provision activated, in reverse order (--disable-rollback turns it off for one run)." },
  { name: "lock_timeout", type: "duration", inherit: "head", default: "60s", text: "How long an action waits for the object's action lock." },
  { name: "disable", type: "bool", inherit: "head", default: "false", text: "Disable the whole object: start, stop and provision return success without doing anything." },
  { name: "docker_data_dir", type: "string", inherit: "head", scopable: true, text: "Data directory of the private docker daemon this object's containers run in.", example: "/srv/{name}/docker" },
  { name: "docker_daemon_args", type: "shlex", inherit: "head", scopable: true, text: "Extra arguments of the object's private docker daemon (ip.amazon docker_daemon_ip appends --ip <addr>).", example: "--storage-driver=btrfs" },
  { name: "docker_daemon_private", type: "bool", inherit: "head", scopable: true, default: "true", text: "Run a docker daemon private to this object (when docker_data_dir is set) instead of the host's." },
  { name: "sync_schedule", type: "string", inherit: "head", text: "Default schedule of the sync resources (their schedule keyword).", example: "@60" },
  { name: "sync_max_delay", type: "duration", inherit: "head", default: "1d", text: "Default max_delay of the sync resources: older syncs make the sync status warn." },
  { name: "status_schedule", type: "string", inherit: "head", default: "@10", text: "Schedule of the periodic status evaluation." },
  { name: "monitor_action", type: "string", inherit: "head", scopable: true, candidates: ["crash", "reboot", "switch", "freezestop", "none"], text: "What to do when a monitored resource stays down after its restarts." },
  { name: "pre_monitor_action", type: "string", inherit: "head", scopable: true, text: "Command run before monitor_action." },
  { name: "cluster", type: "string", inherit: "head", text: "The cluster this object belongs to (informational)." },
  { name: "parents", type: "list_lower", inherit: "head", text: "Objects that must be up before this one starts.", example: "db web" },
  { name: "pool", type: "string", inherit: "head", text: "vol objects: the storage pool the volume was allocated from (written by the volume resource that created it)." },
  { name: "size", type: "size", inherit: "head", text: "vol objects: the size asked of the pool (written by the volume resource that created it).", example: "1g" },
  { name: "access", type: "string", inherit: "head", candidates: ["rwo", "roo", "rwx", "rox"], text: "vol objects: the access mode asked of the pool (written by the volume resource that created it)." },
  { name: "children", type: "list_lower", inherit: "head", text: "Objects that must be down before this one stops (volume objects list their consumers here)." },
  { name: "hard_affinity", type: "list_lower", inherit: "head", aliases: ["affinity"], text: "Objects this one must run on the same node as." },
  { name: "hard_anti_affinity", type: "list_lower", inherit: "head", aliases: ["anti_affinity"], text: "Objects this one must never run on the same node as." },
  { name: "soft_affinity", type: "list_lower", inherit: "head", text: "Objects this one prefers to run on the same node as." },
  { name: "soft_anti_affinity", type: "list_lower", inherit: "head", text: "Objects this one prefers not to run on the same node as." },
  { name: "stonith", type: "bool", inherit: "head", default: "false", text: "Fence the previous node before taking over the object." },
  { name: "create_pg", type: "bool", inherit: "head", default: "true", text: "Put the object's processes in a cgroup." },
  { name: "aws", type: "string", inherit: "head", scopable: true, text: "Path of the aws command used by the amazon drivers.", example: "/usr/local/bin/aws" },
  { name: "aws_profile", type: "string", inherit: "head", scopable: true, default: "default", text: "The aws profile used by the amazon drivers." },
];
