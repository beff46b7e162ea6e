import { VGCREATE_OPTIONS } from "../../src/core/argv.js";
import type { DriverSpec, KeywordSpec } from "../../src/core/schema.js";

const vgKeywords: KeywordSpec[] = [
  { name: "name", type: "string", required: true, scopable: true, aliases: ["vgname"], text: "The LVM volume group name.", example: "{name}" },
  { name: "pvs", type: "list", scopable: true, provisioning: true, text: "Block devices made physical volumes and grouped in the volume group at provision (an image file: attach it with a disk.loop resource and list its {disk#N.exposed_devs[0]}). A device holding any signature is refused.", example: "{disk#0.exposed_devs[0]}" },
  { name: "options", type: "shlex", scopable: true, provisioning: true, argv: { kind: "options", table: VGCREATE_OPTIONS }, text: "Extra vgcreate options (options only: the physical volumes come from pvs).", example: "-s 4m" },
];

export const diskVgSpec: DriverSpec = {
  group: "disk",
  type: "vg",
  text: "An LVM volume group. Provision pvcreates the devices and vgcreates the group, start activates it, stop deactivates it (without device-mapper in the kernel: start only checks the group is visible), unprovision removes it unless it holds logical volumes.",
  keywords: vgKeywords,
};

/** Deprecated alias of disk.vg (upstream "lvm"). */
export const diskLvmSpec: DriverSpec = {
  group: "disk",
  type: "lvm",
  text: "Deprecated alias of disk.vg: an LVM volume group.",
  keywords: vgKeywords,
  aliasOf: "disk.vg",
};
