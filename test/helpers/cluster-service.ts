// The 3-node failover service the cluster tests and bench/cluster provision: a shared loop disk
// and ext4 filesystem (the leader's), a per-node directory, an address per node and an app.
// No vitest here: bench/cluster.ts builds the same service.

export const NODES = ["n1", "n2", "n3"];

export interface ServiceTemplate {
  readonly name: string;
  /** The shared disk's backing file (in the cluster's "SAN"). */
  readonly img: string;
  /** The shared filesystem's mount point. */
  readonly mnt: string;
  /** Where each node's directory lives (`<data>/<name>/local-<node>`). */
  readonly data: string;
  /** Each node's address. */
  readonly addr: Readonly<Record<string, string>>;
  /** More [DEFAULT] keywords. */
  readonly defaults?: readonly string[];
  /** The app's keywords (default: a long sleep). */
  readonly app?: readonly string[];
  /** More sections, appended. */
  readonly more?: readonly string[];
}

export function serviceTemplate(t: ServiceTemplate): string {
  return [
    "[DEFAULT]",
    "nodes = n1 n2 n3",
    ...(t.defaults ?? []),
    "",
    "[disk#0]",
    "type = loop",
    `file = ${t.img}`,
    "size = 24m",
    "shared = true",
    "",
    "[fs#0]",
    "type = ext4",
    "dev = {disk#0.exposed_devs[0]}",
    `mnt = ${t.mnt}`,
    "shared = true",
    "",
    "[fs#1]",
    "type = directory",
    `path = ${t.data}/${t.name}/local-{nodename}`,
    "",
    "[ip#0]",
    "type = host",
    "ipdev = eth0",
    "netmask = 24",
    "standby = true",
    ...NODES.map((n) => `ipname@${n} = ${t.addr[n]}`),
    "",
    "[app#0]",
    "type = simple",
    ...(t.app ?? ["start = /bin/sleep 3600"]),
    "",
    ...(t.more ?? []),
  ].join("\n");
}
