// The built-in providers: an explicit list (no filesystem scanning).
import type { Provider } from "../src/provider/api.js";
import { diskLoopProvider } from "./disk-loop/provider.js";
import { fsProviders } from "./fs/provider.js";
import { fsDirectoryProvider } from "./fs-directory/provider.js";

export const BUILTIN_PROVIDERS: readonly Provider[] = [diskLoopProvider, ...fsProviders, fsDirectoryProvider];
