import type { DriverSpec, KeywordSpec } from "../../src/core/schema.js";
import { containerOciKeywords } from "../container-docker/spec.js";

/** podman-only keywords. */
export const containerPodmanKeywords: KeywordSpec[] = [
  {
    name: "containers_conf",
    type: "string",
    scopable: true,
    text: "The containers.conf podman runs with (CONTAINERS_CONF). Default: one osvc writes in the object's var dir (runc, ulimits within the node's hard limits, a private network_config_dir), so /etc/containers is never changed. A file of yours should set [network] network_config_dir too: podman creates /etc/containers/networks otherwise.",
    example: "/etc/osvc/containers.conf",
  },
];

export const containerPodmanSpec: DriverSpec = {
  group: "container",
  type: "podman",
  text: "A podman container. Start runs it from a local image (never pulled), stop stops it, unprovision removes it; netns defaults to none.",
  keywords: [...containerOciKeywords, ...containerPodmanKeywords],
};

/** Upstream v3 "oci" type: the node's OCI engine; here podman. */
export const containerOciSpec: DriverSpec = {
  group: "container",
  type: "oci",
  text: "Alias of container.podman: an OCI container run by the node's container engine.",
  keywords: containerOciKeywords,
  aliasOf: "container.podman",
};
