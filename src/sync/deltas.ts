/**
 * Change detection: has one side changed since the last agreed state, and do two copies hold the
 * same content? Pure functions over listings and signatures.
 */
import type { LocalFile, LocalSignature, RemoteFile, RemoteSignature, StateEntry } from "./types.js";

/** How one side of a path compares with the state. */
export type Delta = "absent" | "new" | "unchanged" | "changed" | "deleted";

/** Local change test: size or mtime differ from the signature recorded at the last agreement. */
export function localChanged(file: LocalFile, sig: LocalSignature): boolean {
  return file.size !== sig.size || file.mtimeMs !== sig.mtimeMs;
}

/** What two versions of one cloud file give to compare them by (a listing's, a signature, a `stat`'s). */
interface VersionTokens {
  size: number;
  revision?: string | undefined;
  hash?: string | undefined;
}

/**
 * Whether two versions of a cloud file are the same, by the strongest token both carry: size
 * first, then the revision (Dropbox `rev`, S3 ETag), else the content hash; `undefined` when
 * neither is on both. Another revision with the same content hash is the same bytes (a HEAD
 * through a gateway or a proxy may spell an ETag otherwise than the listing): the same.
 */
export function sameRemoteVersion(a: VersionTokens, b: VersionTokens): boolean | undefined {
  if (a.size !== b.size) return false;
  const sameHash = a.hash !== undefined && b.hash !== undefined ? a.hash === b.hash : undefined;
  if (a.revision !== undefined && b.revision !== undefined) return a.revision === b.revision || sameHash === true;
  return sameHash;
}

/**
 * Cloud change test: {@link sameRemoteVersion}, else the listing mtime (for `listMtime: "upload"`
 * backends that is the upload time, which also moves on every new upload). With nothing
 * comparable, same size = unchanged.
 */
export function remoteChanged(file: RemoteFile, sig: RemoteSignature): boolean {
  const same = sameRemoteVersion(file, sig);
  if (same !== undefined) return !same;
  if (file.mtimeMs !== undefined && sig.mtimeMs !== undefined) return file.mtimeMs !== sig.mtimeMs;
  return false;
}

/** Delta of the local side of one path. */
export function localDelta(file: LocalFile | undefined, entry: StateEntry | undefined): Delta {
  if (!file) return entry ? "deleted" : "absent";
  if (!entry) return "new";
  return localChanged(file, entry.local) ? "changed" : "unchanged";
}

/** Delta of the cloud side of one path. */
export function remoteDelta(file: RemoteFile | undefined, entry: StateEntry | undefined): Delta {
  if (!file) return entry ? "deleted" : "absent";
  if (!entry) return "new";
  return remoteChanged(file, entry.remote) ? "changed" : "unchanged";
}

/**
 * True when the two copies are known to hold the same bytes: same size and either the same hash
 * (local hash computed with the provider's `hashLocalFile`) or listed in `equalContent` (compared by
 * the runner). Unknown counts as different.
 */
export function sameContent(local: LocalFile, remote: RemoteFile, equalContent: ReadonlySet<string> | undefined, key: string): boolean {
  if (local.size !== remote.size) return false;
  if (equalContent?.has(key)) return true;
  return local.hash !== undefined && remote.hash !== undefined && local.hash === remote.hash;
}

/** The signature of a local file to store in the state. */
export function localSignature(file: LocalFile): LocalSignature {
  return { size: file.size, mtimeMs: file.mtimeMs };
}

/** The signature of a cloud file to store in the state. */
export function remoteSignature(file: RemoteFile): RemoteSignature {
  return remoteSignatureOf(file.size, file.mtimeMs, file.hash, file.revision);
}

/**
 * A cloud signature from its fields, as one object literal for each set of fields: fields added to
 * an object after its literal go to an array of their own, 40 bytes more for each file of a state
 * kept in memory (4 MiB at 100 000 files).
 */
export function remoteSignatureOf(size: number, mtimeMs: number | undefined, hash: string | undefined, revision: string | undefined): RemoteSignature {
  if (hash === undefined) {
    if (revision === undefined) return mtimeMs === undefined ? { size } : { size, mtimeMs };
    return mtimeMs === undefined ? { size, revision } : { size, mtimeMs, revision };
  }
  if (revision === undefined) return mtimeMs === undefined ? { size, hash } : { size, mtimeMs, hash };
  return mtimeMs === undefined ? { size, hash, revision } : { size, mtimeMs, hash, revision };
}

/** True when `entry` already records exactly these two copies (a state entry that can be kept as it is). */
export function entryMatches(entry: StateEntry, local: LocalFile, remote: RemoteFile): boolean {
  return localMatches(entry.local, local) && remoteMatches(entry.remote, remote);
}

/** True when `sig` records exactly what the state keeps of `local`. */
export function localMatches(sig: LocalSignature, local: LocalFile): boolean {
  return sig.size === local.size && sig.mtimeMs === local.mtimeMs;
}

/** True when `sig` records exactly what the state keeps of `remote`. */
export function remoteMatches(sig: RemoteSignature, remote: RemoteFile): boolean {
  return sig.size === remote.size && sig.mtimeMs === remote.mtimeMs && sig.hash === remote.hash && sig.revision === remote.revision;
}

/** The workspace file a state entry records (at the state's precision: no nanoseconds), under its key. */
export function localFromState(key: string, entry: StateEntry): LocalFile {
  return { path: key, size: entry.local.size, mtimeMs: entry.local.mtimeMs };
}

/** The cloud file a state entry records (what the state keeps of it), under its key. */
export function remoteFromState(key: string, entry: StateEntry): RemoteFile {
  const sig = entry.remote;
  const f: RemoteFile = { path: key, size: sig.size };
  if (sig.mtimeMs !== undefined) f.mtimeMs = sig.mtimeMs;
  if (sig.hash !== undefined) f.hash = sig.hash;
  if (sig.revision !== undefined) f.revision = sig.revision;
  return f;
}
