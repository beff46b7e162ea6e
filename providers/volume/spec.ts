import type { DriverSpec } from "../../src/core/schema.js";

export const volumeSpec: DriverSpec = {
  group: "volume",
  type: "",
  text: "A volume object allocated from a storage pool and claimed by this object; it exposes a mount point. Unprovision only releases the claim: the data survives until the volume is purged.",
  keywords: [
    { name: "name", type: "string", scopable: true, default: "{name}-vol-{rindex}", text: "The volume object name, in the same namespace.", example: "{name}-data" },
    { name: "type", type: "string", provisioning: true, inherit: "leaf", text: "The type of the storage pool to allocate the volume from (as upstream, not a driver type: a volume has one driver); with pool unset, the pool is chosen among pools of this type.", example: "shm" },
    { name: "pool", type: "string", provisioning: true, inherit: "leaf", text: "The storage pool the volume is allocated from; defaults to the pool best matching size, access and format.", example: "default" },
    { name: "size", type: "size", provisioning: true, text: "Size of the volume allocated at provision.", example: "10g" },
    { name: "access", type: "string", provisioning: true, default: "rwo", candidates: ["rwo", "roo", "rwx", "rox"], text: "Access mode: read-write or read-only, by one node (o) or many (x)." },
    { name: "format", type: "bool", provisioning: true, default: "true", text: "Create a filesystem on the volume (false = raw block device)." },
    { name: "volatile", type: "bool", provisioning: true, default: "false", text: "The volume content does not survive a stop (tmpfs-like pools)." },
    { name: "configs", type: "shlex", scopable: true, text: "Config object keys installed in the volume, as <cfg>/<key>:<path> words.", example: "app/nginx.conf:/etc/nginx.conf" },
    { name: "secrets", type: "shlex", scopable: true, text: "Secret object keys installed in the volume, as <sec>/<key>:<path> words.", example: "cert/*:/certs/" },
    { name: "directories", type: "list", scopable: true, text: "Directories created in the volume (paths relative to its root).", example: "data logs" },
    { name: "user", type: "string", format: "account", scopable: true, text: "Owner of the installed files and directories (name or uid).", example: "1000" },
    { name: "group", type: "string", format: "account", scopable: true, text: "Group of the installed files and directories (name or gid).", example: "1000" },
    { name: "perm", type: "octal", scopable: true, text: "Mode of the installed files.", example: "0640" },
    { name: "dirperm", type: "octal", scopable: true, text: "Mode of the installed directories.", example: "0750" },
    { name: "signal", type: "string", scopable: true, text: "Signal sent to a container resource when an installed file changes, as <signal>:<rid> words.", example: "hup:container#0" },
  ],
};
