import type { DriverSpec } from "../../src/core/schema.js";

export const diskLvSpec: DriverSpec = {
  group: "disk",
  type: "lv",
  text: "An LVM logical volume in an existing volume group. Provision lvcreates it, unprovision wipes and removes it; it exposes /dev/<vg>/<name>.",
  keywords: [
    { name: "name", type: "string", required: true, scopable: true, text: "The logical volume name.", example: "data" },
    { name: "vg", type: "string", required: true, scopable: true, text: "The volume group holding the logical volume.", example: "{disk#0.name}" },
    {
      name: "size",
      type: "string",
      scopable: true,
      provisioning: true,
      text: "Size of the logical volume created at provision: a size (binary units, 10g) or an LVM extent expression N%FREE, N%VG, N%PVS, N%ORIGIN.",
      example: "100%FREE",
    },
    { name: "create_options", type: "shlex", scopable: true, provisioning: true, text: "Extra lvcreate options.", example: "--type raid1 -m 1" },
  ],
};
