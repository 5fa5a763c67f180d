/**
 * Whether a cloud file is still the version a listing gave, looked at right before a step that
 * would lose what changed since (a delete): a newer version put there meanwhile is kept.
 */
import type { RemoteEntry, StorageProvider } from "../providers/types.js";
import { msOfDate } from "../util/mtime.js";
import type { RemoteFile } from "./types.js";

/**
 * Whether `now` (the cloud file's entry at this moment) is the version `listed`: the same size,
 * and the same revision (or content hash, or time, where the provider gives no revision).
 */
export function sameVersion(listed: RemoteFile, now: RemoteEntry | undefined): boolean {
  if (now === undefined || now.size !== listed.size) return false;
  if (listed.revision !== undefined && now.revision !== undefined) return now.revision === listed.revision;
  if (listed.hash !== undefined && now.hash !== undefined) return now.hash === listed.hash;
  const ms = msOfDate(now.mtime);
  return ms !== undefined && ms === listed.mtimeMs;
}

/**
 * Whether the cloud file at `full` (the provider's path) is still `listed`, by one `stat`. What is
 * left is the moment between this look and the step it allows: the providers' deletes are not
 * conditional.
 */
export async function stillAsListed(provider: StorageProvider, full: string, listed: RemoteFile, signal?: AbortSignal): Promise<boolean> {
  return sameVersion(listed, await provider.stat(full, { signal }));
}
