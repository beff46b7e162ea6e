// Every built-in driver's keyword schema, and the default driver type of each resource group.

import type { DriverSpec } from "../src/core/schema.js";
import { appSpecs } from "./app/spec.js";
import { containerDockerSpec } from "./container-docker/spec.js";
import { containerOciSpec, containerPodmanSpec } from "./container-podman/spec.js";
import { diskAmazonSpec } from "./disk-amazon/spec.js";
import { diskGceSpec } from "./disk-gce/spec.js";
import { diskLoopSpec } from "./disk-loop/spec.js";
import { diskLvSpec } from "./disk-lv/spec.js";
import { diskMdSpec } from "./disk-md/spec.js";
import { diskLvmSpec, diskVgSpec } from "./disk-vg/spec.js";
import { fsSpecs } from "./fs/spec.js";
import { fsDirectorySpec } from "./fs-directory/spec.js";
import { ipAmazonSpec } from "./ip-amazon/spec.js";
import { ipGceSpec } from "./ip-gce/spec.js";
import { ipHostSpec } from "./ip-host/spec.js";
import { ipDockerSpec, ipNetnsSpec } from "./ip-netns/spec.js";
import { syncBtrfsSpec } from "./sync-btrfs/spec.js";
import { syncDockerSpec } from "./sync-docker/spec.js";
import { syncRsyncSpec } from "./sync-rsync/spec.js";
import { taskHostSpec } from "./task-host/spec.js";
import { volumeSpec } from "./volume/spec.js";

/** All built-in driver schemas, in group order then type (aliases after their target). */
export const BUILTIN_DRIVER_SPECS: readonly DriverSpec[] = [
  ipHostSpec,
  ipNetnsSpec,
  ipDockerSpec,
  ipAmazonSpec,
  ipGceSpec,
  volumeSpec,
  diskLoopSpec,
  diskVgSpec,
  diskLvmSpec,
  diskLvSpec,
  diskMdSpec,
  diskAmazonSpec,
  diskGceSpec,
  ...fsSpecs,
  fsDirectorySpec,
  containerPodmanSpec,
  containerDockerSpec,
  containerOciSpec,
  ...appSpecs,
  syncRsyncSpec,
  syncDockerSpec,
  syncBtrfsSpec,
  taskHostSpec,
];

/**
 * The driver type used when a resource section has no `type` keyword, per group.
 * "" = the group itself is the driver (volume). Groups absent here (fs) require `type`.
 */
export const DEFAULT_DRIVER_TYPES: Record<string, string> = {
  app: "forking",
  container: "podman",
  ip: "host",
  sync: "rsync",
  task: "host",
  disk: "vg",
  volume: "",
};
