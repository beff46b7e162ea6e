// The built-in providers: an explicit list (no filesystem scanning).
import type { Provider } from "../src/provider/api.js";
import { appProviders } from "./app/provider.js";
import { containerDockerProvider } from "./container-docker/provider.js";
import { containerPodmanProvider } from "./container-podman/provider.js";
import { diskLoopProvider } from "./disk-loop/provider.js";
import { diskVgProviders } from "./disk-vg/provider.js";
import { fsProviders } from "./fs/provider.js";
import { fsDirectoryProvider } from "./fs-directory/provider.js";
import { ipHostProvider } from "./ip-host/provider.js";
import { ipNetnsProvider } from "./ip-netns/provider.js";
import { syncRsyncProvider } from "./sync-rsync/provider.js";
import { volumeProvider } from "./volume/provider.js";

export const BUILTIN_PROVIDERS: readonly Provider[] = [
  ipHostProvider,
  ipNetnsProvider,
  diskLoopProvider,
  ...diskVgProviders,
  ...fsProviders,
  fsDirectoryProvider,
  containerPodmanProvider,
  containerDockerProvider,
  ...appProviders,
  syncRsyncProvider,
  volumeProvider,
];
