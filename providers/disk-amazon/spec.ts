import type { DriverSpec } from "../../src/core/schema.js";

export const diskAmazonSpec: DriverSpec = {
  group: "disk",
  type: "amazon",
  text: "Amazon EBS volumes attached to this instance. A <key=value,...> member is created at provision and replaced by the new volume id in the config.",
  keywords: [
    {
      name: "volumes",
      type: "list",
      required: true,
      scopable: true,
      markers: true,
      text: "EBS volume ids. A member <key=value,...> (keys size, iops, availability-zone, snapshot, type, encrypted) is allocated at provision and rewritten to the allocated volume id.",
      example: "<size=15> vol-464a8f87",
    },
  ],
};
