import type { DriverSpec } from "../../src/core/schema.js";

export const diskLoopSpec: DriverSpec = {
  group: "disk",
  type: "loop",
  text: "A loop device over a sparse backing file. Provision creates the file, start attaches it, stop detaches it, unprovision deletes the file osvc created.",
  keywords: [
    { name: "file", type: "string", required: true, scopable: true, text: "Path of the backing file.", example: "/srv/{name}/disk.img" },
    { name: "size", type: "size", scopable: true, provisioning: true, default: "100m", text: "Size of the backing file created at provision (binary units: 100m = 100 MiB).", example: "512m" },
  ],
};
