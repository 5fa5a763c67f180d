/**
 * Builds the {@link StorageProvider} named by a config. This is the only place that looks at the
 * provider's name; backup and sync code only see the interface.
 */
import { WorkspaceSyncError } from "../errors.js";
import type { ProviderSettings } from "../config/types.js";
import type { ProviderContext, StorageProvider } from "./types.js";
import { createLocalProvider } from "./local/index.js";

export type * from "./types.js";
export { createLocalProvider } from "./local/index.js";
export { normalizeRemotePath, joinRemotePath } from "./paths.js";

/**
 * Creates the provider for `settings`. Adapters with heavy SDKs are loaded on first use, so an
 * embedder that only uses `local` never loads the AWS or Dropbox SDKs.
 */
export async function createProvider(settings: ProviderSettings, ctx: ProviderContext): Promise<StorageProvider> {
  switch (settings.provider) {
    case "local":
      if (!settings.local?.root) {
        throw new WorkspaceSyncError("CONFIG_INVALID", 'provider "local" needs local.root: set "local": { "root": "<folder>" }', { path: "local.root" });
      }
      return createLocalProvider(settings.local, ctx);
    default:
      throw new WorkspaceSyncError("CONFIG_UNSUPPORTED", `provider "${String(settings.provider)}" is not available yet`, { path: "provider" });
  }
}
