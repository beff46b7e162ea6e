import type { DriverSpec } from "../../src/core/schema.js";

export const fsDirectorySpec: DriverSpec = {
  group: "fs",
  type: "directory",
  text: "A directory with owner and mode. Start creates it; unprovision removes it when osvc created it.",
  keywords: [
    { name: "path", type: "string", required: true, scopable: true, text: "Directory path.", example: "/srv/{name}/www" },
    { name: "user", type: "string", format: "account", scopable: true, text: "Owner (name or uid)." },
    { name: "group", type: "string", format: "account", scopable: true, text: "Group (name or gid)." },
    { name: "perm", type: "octal", scopable: true, text: "Mode (octal).", example: "1777" },
  ],
};
