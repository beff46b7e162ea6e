import type { DriverSpec } from "../../src/core/schema.js";

export const diskGceSpec: DriverSpec = {
  group: "disk",
  type: "gce",
  text: "Google Compute Engine disks attached to this instance, created at provision when absent.",
  keywords: [
    { name: "names", type: "list", required: true, scopable: true, text: "The gce disk names.", example: "{name}-data" },
    { name: "gce_zone", type: "string", scopable: true, text: "The gce zone of the disks.", example: "europe-west1-b" },
    { name: "description", type: "string", provisioning: true, text: "Description of the disks created at provision." },
    { name: "image", type: "string", provisioning: true, text: "Source image of the disks created at provision." },
    { name: "image_project", type: "string", provisioning: true, text: "Project of the source image." },
    { name: "size", type: "size", provisioning: true, text: "Size of the disks created at provision.", example: "20g" },
    { name: "source_snapshot", type: "string", provisioning: true, text: "Source snapshot of the disks created at provision." },
    { name: "disk_type", type: "string", provisioning: true, text: "The gce disk type of the disks created at provision.", example: "pd-ssd" },
  ],
};
