/**
 * Whether a cloud file is still the version a listing gave, looked at right before a step that
 * would lose what changed since (a delete): a newer version put there meanwhile is kept.
 */
import type { RemoteEntry, StorageProvider } from "../providers/types.js";
import { sameRemoteVersion } from "./deltas.js";
import type { RemoteFile } from "./types.js";

/** What a cloud file is now, against the version listed. */
export type VersionNow = "same" | "changed" | "gone";

/**
 * `now` (the cloud file's entry at this moment, from `statListed`) against the version `listed`:
 * changed when the sizes differ, or the revisions (else the content hashes) both give
 * ({@link sameRemoteVersion}: another revision with the same content hash is the same). Where
 * neither gives one, it counts as the same: times are not compared (a record's may come from
 * elsewhere than the listing: the state, or the source time an S3 object keeps in its metadata),
 * and a check that cannot tell must never keep a file from the delete its run decided, run after run.
 */
export function compareVersion(listed: RemoteFile, now: RemoteEntry | undefined): VersionNow {
  if (now === undefined) return "gone";
  return sameRemoteVersion(listed, now) === false ? "changed" : "same";
}

/**
 * The cloud file at `full` (the provider's path) against `listed`, by one look from the listing's
 * own source (`statListed` where the provider has one, else `stat`: S3's HEAD may spell an ETag
 * otherwise). What is left is the moment
 * between this look and the step it allows: the providers' deletes are not conditional.
 */
export async function versionNow(provider: StorageProvider, full: string, listed: RemoteFile, signal?: AbortSignal): Promise<VersionNow> {
  return compareVersion(listed, await (provider.statListed ?? provider.stat).call(provider, full, { signal }));
}
