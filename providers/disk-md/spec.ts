import type { DriverSpec } from "../../src/core/schema.js";

export const diskMdSpec: DriverSpec = {
  group: "disk",
  type: "md",
  text: "A Linux md (mdadm) RAID array. Provision creates it and records its uuid in the config; start assembles it, stop stops it.",
  keywords: [
    { name: "uuid", type: "string", scopable: true, text: "The array uuid, written by the provisioner (uuid for a shared array, uuid@<node> otherwise); empty means not provisioned." },
    { name: "devs", type: "list", scopable: true, provisioning: true, text: "Member devices of the array created at provision.", example: "/dev/sdb /dev/sdc" },
    { name: "level", type: "string", provisioning: true, text: "RAID level passed to mdadm --level.", example: "raid1" },
    { name: "chunk", type: "size", provisioning: true, text: "Chunk size (passed to mdadm in KiB, rounded to a multiple of 4).", example: "512k" },
    { name: "spares", type: "int", provisioning: true, default: "0", text: "How many of devs are spares." },
    { name: "layout", type: "string", provisioning: true, text: "mdadm --layout value (raid5/6/10 parity layout).", example: "left-symmetric" },
    { name: "name", type: "string", provisioning: true, text: "The array name; defaults to <name>.<rid> (at most 32 characters)." },
    { name: "bitmap", type: "string", provisioning: true, text: "mdadm --bitmap value (internal, none or a file path).", example: "internal" },
  ],
};
