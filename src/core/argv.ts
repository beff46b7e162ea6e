// Template values that become command-line words. A value may add options to a command, never
// operands (devices, files, images): the words are parsed with the tool's own option table, so a
// word that is neither an option nor an option's value is refused at `validate` (E2040) and again
// by the provider right before the command runs.

/** A tool's options, as its parser (getopt, pflag, popt, LVM) sees them. */
export interface OptionTable {
  /** The command shown in messages ("mkfs.ext4", "podman run"). */
  readonly tool: string;
  /** getopt-style short options: a character followed by ":" takes a value ("b:cC:"). */
  readonly short: string;
  /** Long options without "--": true when the option takes a value. */
  readonly long?: Readonly<Record<string, boolean>>;
  /** `--no-<long>` negates any boolean long option (rsync). */
  readonly negations?: boolean;
  /** Refuse any word or option value that names an absolute path (another file or device). */
  readonly noPaths?: boolean;
  /** Options refused outright, with the reason ("-z": "writes an undo file"). */
  readonly refused?: Readonly<Record<string, string>>;
}

/** How a keyword's value reaches a command line. */
export type ArgvRule =
  /** Shell words passed as options of a command: each one an option or an option's value. */
  | { readonly kind: "options"; readonly table: OptionTable }
  /** One word passed as an operand (an image name): never starting with "-". */
  | { readonly kind: "operand"; readonly tool: string };

export type ArgvCheck = { readonly ok: true } | { readonly ok: false; readonly error: string; readonly hint: string };

const OK: ArgvCheck = { ok: true };

function shortSpec(table: OptionTable, c: string): "flag" | "value" | undefined {
  const i = table.short.indexOf(c);
  if (i < 0 || c === ":") return undefined;
  return table.short[i + 1] === ":" ? "value" : "flag";
}

function namesPath(v: string): boolean {
  return v.startsWith("/") || /(^|[=,:])\//.test(v) || v.startsWith("~");
}

/** Checks option words against a tool's option table. */
export function checkOptionWords(words: readonly string[], table: OptionTable): ArgvCheck {
  const tool = table.tool;
  const hint = `Only options of ${tool} belong here, each followed by its value if it takes one; what ${tool} acts on (devices, files, images) comes from the resource's own keywords.`;
  const refusedOf = (opt: string): string | undefined => table.refused?.[opt];
  const pathCheck = (opt: string, value: string): ArgvCheck =>
    table.noPaths && namesPath(value)
      ? { ok: false, error: `${opt} ${JSON.stringify(value)} names a path: ${tool} options may not point it at another file or device`, hint }
      : OK;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === "--") return { ok: false, error: `"--" ends the options of ${tool}: the words after it would be operands`, hint };
    if (w.startsWith("--")) {
      const eq = w.indexOf("=");
      const name = eq < 0 ? w.slice(2) : w.slice(2, eq);
      const long = table.long ?? {};
      let takes: boolean | undefined = Object.prototype.hasOwnProperty.call(long, name) ? long[name] : undefined;
      if (takes === undefined && table.negations && name.startsWith("no-") && long[name.slice(3)] === false) takes = false;
      // An option osvc does not know is accepted with its value attached (--name=value): then no
      // word can be taken for an operand. Alone, it might take the next word as its value, or not.
      if (takes === undefined && eq < 0) return { ok: false, error: `unknown option --${name} of ${tool}: osvc cannot tell whether it takes a value`, hint: `${hint} Write an option that takes a value as --${name}=value.` };
      const why = refusedOf(`--${name}`);
      if (why) return { ok: false, error: `--${name} is not accepted: it ${why}`, hint };
      if (eq >= 0) {
        const c = pathCheck(`--${name}`, w.slice(eq + 1));
        if (!c.ok) return c;
        continue;
      }
      if (takes) {
        if (i + 1 >= words.length) return { ok: false, error: `--${name} needs a value`, hint };
        const c = pathCheck(`--${name}`, words[++i]);
        if (!c.ok) return c;
      }
      continue;
    }
    if (w.startsWith("-") && w.length > 1) {
      for (let j = 1; j < w.length; j++) {
        const c = w[j];
        const kind = shortSpec(table, c);
        if (!kind) return { ok: false, error: `unknown option -${c} of ${tool}${w.length > 2 ? ` (in ${JSON.stringify(w)})` : ""}`, hint };
        const why = refusedOf(`-${c}`);
        if (why) return { ok: false, error: `-${c} is not accepted: it ${why}`, hint };
        if (kind === "flag") continue;
        let value: string;
        if (j + 1 < w.length) value = w.slice(j + 1);
        else if (i + 1 < words.length) value = words[++i];
        else return { ok: false, error: `-${c} needs a value`, hint };
        const p = pathCheck(`-${c}`, value);
        if (!p.ok) return p;
        break;
      }
      continue;
    }
    return { ok: false, error: `${JSON.stringify(w)} is not an option of ${tool}: it would reach ${tool} as an operand (a device, file or name to act on)`, hint };
  }
  return OK;
}

/** Checks one operand word (an image name): it must not read as an option. */
export function checkOperandWord(word: string, tool: string): ArgvCheck {
  if (word.startsWith("-")) {
    return { ok: false, error: `${JSON.stringify(word)} starts with "-": ${tool} would read it as an option`, hint: "Give a name or path that does not start with -." };
  }
  return OK;
}

/** Checks a keyword value (string or list of words) against its rule. */
export function checkArgvValue(value: unknown, rule: ArgvRule): ArgvCheck {
  const words = Array.isArray(value) ? value.map(String) : typeof value === "string" ? (value.trim() ? [value] : []) : value === undefined || value === null ? [] : [String(value)];
  if (rule.kind === "operand") {
    for (const w of words) {
      const c = checkOperandWord(w, rule.tool);
      if (!c.ok) return c;
    }
    return OK;
  }
  return checkOptionWords(words, rule.table);
}

// ---------------------------------------------------------------------------------------------
// Option tables of the commands template values reach.

/** mke2fs (mkfs.ext2/3/4), from its getopt string. */
export const MKE2FS_OPTIONS: OptionTable = {
  tool: "mke2fs",
  short: "b:cC:d:De:E:Fg:G:i:I:jJ:Kl:L:m:M:nN:o:O:qr:St:T:U:vVz:",
  noPaths: true,
  refused: { "-z": "writes an undo file", "-d": "copies a directory tree into the filesystem", "-l": "reads a bad blocks list from a file", "-J": "may put the journal on another device (use -j)" },
};

/** mkfs.xfs, from its getopt string. */
export const MKFS_XFS_OPTIONS: OptionTable = {
  tool: "mkfs.xfs",
  short: "b:c:d:i:l:L:m:n:KNp:qr:s:CfV",
  noPaths: true,
  refused: { "-p": "reads a protofile" },
};

/** mkfs.btrfs (getopt_long). */
export const MKFS_BTRFS_OPTIONS: OptionTable = {
  tool: "mkfs.btrfs",
  short: "A:b:fl:n:s:m:d:L:R:O:r:U:u:VvMKq",
  long: {
    "alloc-start": true, "byte-count": true, data: true, metadata: true, label: true, leafsize: true, nodesize: true, sectorsize: true,
    features: true, "runtime-features": true, rootdir: true, uuid: true, "device-uuid": true, csum: true, checksum: true, subvol: true,
    compress: true, "inode-flags": true, force: false, mixed: false, nodiscard: false, quiet: false, verbose: false, version: false, shrink: false, help: false,
  },
  noPaths: true,
  refused: { "-r": "copies a directory tree into the filesystem", "--rootdir": "copies a directory tree into the filesystem", "-u": "creates subvolumes from a directory tree", "--subvol": "creates subvolumes from a directory tree" },
};

/** vgcreate (LVM's own parser: options and their values, then VG_new PV...). */
export const VGCREATE_OPTIONS: OptionTable = {
  tool: "vgcreate",
  short: "A:c:l:p:M:s:fZ:dhqvyt",
  long: {
    autobackup: true, clustered: true, maxlogicalvolumes: true, maxphysicalvolumes: true, metadatatype: true, physicalextentsize: true,
    force: false, zero: true, addtag: true, alloc: true, metadataprofile: true, labelsector: true, metadatasize: true, pvmetadatacopies: true,
    vgmetadatacopies: true, metadatacopies: true, reportformat: true, dataalignment: true, dataalignmentoffset: true, shared: false, systemid: true,
    locktype: true, setautoactivation: true, debug: false, help: false, quiet: false, verbose: false, yes: false, test: false,
    commandprofile: true, config: true, driverloaded: true, nolocking: false, lockopt: true, longhelp: false, profile: true, version: false,
  },
  noPaths: true,
};

/** podman run / docker run (pflag): the options of `podman run --help`, plus docker's own. */
export const OCI_RUN_OPTIONS: OptionTable = {
  tool: "the container run command",
  short: "a:c:de:h:il:m:p:Pqtu:v:w:",
  long: {
    ...Object.fromEntries(
      (
        "add-host annotation arch attach authfile blkio-weight blkio-weight-device cap-add cap-drop cgroup-conf cgroup-parent cgroupns cgroups " +
        "chrootdirs cidfile conmon-pidfile cpu-period cpu-quota cpu-rt-period cpu-rt-runtime cpu-shares cpus cpuset-cpus cpuset-mems detach-keys " +
        "device device-cgroup-rule device-read-bps device-read-iops device-write-bps device-write-iops dns dns-option dns-search entrypoint env " +
        "env-file env-merge expose gidmap group-add health-cmd health-interval health-on-failure health-retries health-start-period health-timeout " +
        "hostname hostuser image-volume init-path ip ip6 ipc label label-file log-driver log-opt mac-address memory memory-reservation memory-swap " +
        "memory-swappiness mount name network net network-alias net-alias oom-score-adj os passwd-entry personality pid pidfile pids-limit platform pod " +
        "pod-id-file preserve-fds publish pull requires restart sdnotify seccomp-policy secret security-opt shm-size stop-signal stop-timeout " +
        "subgidname subuidname sysctl systemd timeout tmpfs tz uidmap ulimit umask unsetenv user userns uts variant volume volumes-from workdir " +
        "link isolation runtime storage-opt kernel-memory volume-driver domainname gpus link-local-ip cpu-count cpu-percent cgroupns-mode"
      )
        .split(" ")
        .map((k) => [k, true]),
    ),
    ...Object.fromEntries(
      (
        "detach disable-content-trust env-host help http-proxy init interactive no-healthcheck no-hosts oom-kill-disable passwd privileged " +
        "publish-all quiet read-only read-only-tmpfs replace rm rmi rootfs sig-proxy tls-verify tty unsetenv-all"
      )
        .split(" ")
        .map((k) => [k, false]),
    ),
  },
};

/** rsync (popt), from `rsync --help`. */
export const RSYNC_OPTIONS: OptionTable = {
  tool: "rsync",
  short: "vqcarRbudlLkKHpEAXogDtUNOJSnWxmIyzCF0s8hPi46Ve:B:T:f:M:@:",
  negations: true,
  long: {
    ...Object.fromEntries(
      (
        "info debug stderr backup-dir suffix confine-root chmod checksum-choice block-size rsh rsync-path max-delete max-size min-size max-alloc " +
        "partial-dir usermap groupmap chown timeout contimeout modify-window temp-dir compare-dest copy-dest link-dest compress-choice compress-level " +
        "compress-threads skip-compress filter exclude exclude-from include include-from files-from copy-as address port sockopts outbuf " +
        "remote-option out-format log-file log-file-format password-file early-input bwlimit stop-after stop-at write-batch only-write-batch " +
        "read-batch protocol iconv checksum-seed"
      )
        .split(" ")
        .map((k) => [k, true]),
    ),
    ...Object.fromEntries(
      (
        "verbose quiet no-motd checksum archive recursive inc-recursive i-r relative implied-dirs backup update inplace append append-verify dirs " +
        "old-dirs old-d mkpath links copy-links copy-unsafe-links safe-links insecure-links munge-links copy-dirlinks keep-dirlinks hard-links perms " +
        "executability acls xattrs owner group devices copy-devices write-devices specials times atimes open-noatime crtimes omit-dir-times " +
        "omit-link-times super fake-super sparse preallocate dry-run whole-file one-file-system existing ignore-non-existing ignore-existing " +
        "remove-source-files del delete delete-before delete-during delete-delay delete-after delete-excluded ignore-missing-args delete-missing-args " +
        "ignore-errors force partial delay-updates prune-empty-dirs numeric-ids ignore-times size-only fuzzy compress cvs-exclude from0 old-args " +
        "secluded-args protect-args trust-sender blocking-io stats 8-bit-output human-readable progress itemize-changes list-only fsync ipv4 ipv6 version help"
      )
        .split(" ")
        .map((k) => [k, false]),
    ),
  },
};
