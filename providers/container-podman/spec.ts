import type { DriverSpec } from "../../src/core/schema.js";
import { containerOciKeywords } from "../container-docker/spec.js";

export const containerPodmanSpec: DriverSpec = {
  group: "container",
  type: "podman",
  text: "A podman container. Start runs it (pulling the image when needed), stop stops it; nothing to provision.",
  keywords: containerOciKeywords,
};

/** Upstream v3 "oci" type: the node's OCI engine; here podman. */
export const containerOciSpec: DriverSpec = {
  group: "container",
  type: "oci",
  text: "Alias of container.podman: an OCI container run by the node's container engine.",
  keywords: containerOciKeywords,
  aliasOf: "container.podman",
};
