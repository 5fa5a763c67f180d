/**
 * Builds the {@link StorageProvider} named by a config. This is the only place that looks at the
 * provider's name; backup and sync code only see the interface.
 */
import { WorkspaceSyncError } from "../errors.js";
import type { ProviderSettings } from "../config/types.js";
import type { ProviderContext, StorageProvider } from "./types.js";
import { createLocalProvider } from "./local/index.js";
import { normalizeRemotePath } from "./paths.js";

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
    case "s3": {
      const bucket = settings.s3?.bucket;
      if (!bucket) {
        throw new WorkspaceSyncError("CONFIG_INVALID", "No S3 bucket configured: set s3.bucket (or backup.bucket, or put the bucket first in remotePath)", { path: "s3.bucket" });
      }
      const { createS3Provider } = await import("./s3/index.js");
      return createS3Provider({ ...settings.s3, bucket }, ctx);
    }
    case "dropbox": {
      const { createDropboxProvider } = await import("./dropbox/index.js");
      return createDropboxProvider(settings.dropbox ?? {}, ctx);
    }
    default:
      throw new WorkspaceSyncError("CONFIG_UNSUPPORTED", `provider "${String(settings.provider)}" is not supported: use local, s3 or dropbox`, { path: "provider" });
  }
}

/** A provider plus the folder on it that backup or sync works in. */
export interface ProviderLocation {
  provider: StorageProvider;
  /** Folder on the provider (`""` = its root). */
  dir: string;
}

/**
 * Opens `remotePath` (rclone-style, as the plugin wrote it: `bucket/prefix` for S3, a folder path
 * elsewhere). For S3 the bucket is `s3.bucket` when set (a leading `<bucket>/` in the path is then
 * dropped), otherwise the path's first segment, as in rclone.
 */
export async function openLocation(settings: ProviderSettings, remotePath: string, ctx: ProviderContext): Promise<ProviderLocation> {
  let dir = normalizeRemotePath(remotePath);
  let effective = settings;
  if (settings.provider === "s3") {
    const configured = settings.s3?.bucket ? normalizeRemotePath(settings.s3.bucket) : "";
    let bucket = configured;
    if (configured && (dir === configured || dir.startsWith(`${configured}/`))) dir = dir.slice(configured.length + 1);
    else if (!configured) {
      const [first = "", ...rest] = dir.split("/");
      bucket = first;
      dir = rest.join("/");
    }
    if (!bucket) {
      throw new WorkspaceSyncError("CONFIG_INVALID", "No S3 bucket configured: set s3.bucket (or backup.bucket, or put the bucket first in remotePath)", { path: "s3.bucket" });
    }
    effective = { ...settings, s3: { ...settings.s3, bucket } };
  }
  return { provider: await createProvider(effective, ctx), dir };
}
