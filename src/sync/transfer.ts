/**
 * Single-file transfers between the workspace and the provider, streaming. Downloads land in a temp
 * name in the target folder, are fsync'd, get the cloud mtime, and are renamed into place (or linked,
 * when an existing file must not be overwritten), all through the symlink-refusing {@link WorkspaceFs}.
 */
import { promises as fsp, type BigIntStats } from "node:fs";
import { toWorkspaceSyncError } from "../errors.js";
import type { LocalSource, StorageProvider } from "../providers/types.js";
import { sourceStream } from "../util/source-stream.js";
import { LocalPathError, isLocalNameProblem, type WorkspaceFs } from "../util/safe-fs.js";
import { syncTempName } from "../util/temp-names.js";
import { numberedName } from "./ingest.js";
import { msFromNs, msOfDate, nsFromMs } from "../util/mtime.js";
import type { LocalFile, RemoteFile } from "./types.js";

/** Why an upload the cloud refused as a name taken (see {@link uploadFile}) is skipped. */
const CLOUD_NAME_TAKEN = "the cloud holds a folder of this name, or a file where one of its folders goes: skipped, the cloud copy is kept";

/**
 * Uploads workspace file `file` (opened only when read, and never through a symlink: see
 * `WorkspaceFs.source`) to `remoteFull`; resolves with the stored file's signature. `series`:
 * see `WriteOptions.series`. A name the cloud cannot hold as a file is refused with a
 * {@link LocalPathError} (a problem of that name only).
 */
export async function uploadFile(provider: StorageProvider, file: LocalSource, remoteFull: string, local: LocalFile, signal?: AbortSignal, series?: number, createOnly = false): Promise<RemoteFile> {
  const mtimeNs = local.mtimeNs ?? (await finerTime(file.path, local));
  const source = sourceStream(file, local.size);
  let stored;
  try {
    stored = await provider.write(remoteFull, source, {
      mtime: new Date(local.mtimeMs),
      ...(mtimeNs !== undefined ? { mtimeNs } : {}),
      sourceFile: file,
      sizeHint: local.size,
      signal,
      ...(series !== undefined ? { series } : {}),
      ...(createOnly ? { overwrite: false } : {}),
    });
  } catch (err) {
    source.destroy();
    const e = toWorkspaceSyncError(err);
    // A write that may replace a file is refused only where the name cannot be a file there (a
    // folder holds it, or a file holds one of its folders' names): a problem of this one name, as
    // the workspace's own are, not of the run. (Dropbox refused such an upload on every run.)
    if (e.code === "ALREADY_EXISTS") throw new LocalPathError(remoteFull, CLOUD_NAME_TAKEN, e);
    throw e;
  }
  const out: RemoteFile = { path: remoteFull, size: typeof stored.size === "number" ? stored.size : local.size };
  const storedMs = msOfDate(stored.mtime);
  if (storedMs !== undefined) out.mtimeMs = storedMs;
  if (stored.mtimeNs !== undefined) {
    out.mtimeNs = stored.mtimeNs;
    if (stored.mtimePrecisionNs !== undefined) out.mtimePrecisionNs = stored.mtimePrecisionNs;
  }
  if (stored.hash !== undefined) out.hash = stored.hash;
  if (stored.revision !== undefined) out.revision = stored.revision;
  return out;
}

/**
 * The file's time in nanoseconds where `local` gives only milliseconds (a record rebuilt from the
 * state): the cloud keeps the finer time, as it does for listed files. `undefined` when the file
 * no longer has the size and millisecond the record says.
 */
async function finerTime(localAbs: string, local: LocalFile): Promise<bigint | undefined> {
  const st = await fsp.lstat(localAbs, { bigint: true }).catch(() => undefined);
  return st !== undefined && Number(st.size) === local.size && msFromNs(st.mtimeNs) === local.mtimeMs ? st.mtimeNs : undefined;
}

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Cloud mtime to give the local file. */
  mtimeMs?: number;
  /** The same in nanoseconds, when the cloud keeps it that precisely (wins over `mtimeMs`). */
  mtimeNs?: bigint;
  /** Never replace an existing file: use `name (1).ext`, `name (2).ext`… instead. */
  noClobber?: boolean;
  /** The file is new to the workspace: if the name is taken meanwhile (or by a case twin), skip instead of replacing. */
  exclusive?: boolean;
  signal?: AbortSignal;
}

/**
 * Downloads `remoteFull` to workspace path `targetRel` through `wfs`: its folder is made, checked
 * for symlinks and held open, and the temp file (named with this install's token) is created,
 * flushed, given the cloud mtime and renamed into place (or linked, when an existing file must not
 * be overwritten) through that folder as checked ({@link import("../util/safe-fs.js").HeldFolder}),
 * which is checked again right before. Resolves with the final relative
 * path (differs from `targetRel` only with `noClobber`) and the local file's new signature. Throws a
 * {@link import("../util/safe-fs.js").LocalPathError} when the path cannot be written safely.
 */
export async function downloadFile(provider: StorageProvider, remoteFull: string, wfs: WorkspaceFs, token: string, targetRel: string, options: DownloadOptions = {}): Promise<{ finalRel: string; local: LocalFile }> {
  const slash = targetRel.lastIndexOf("/");
  const name = targetRel.slice(slash + 1);
  // Every call below reaches the folder as checked here (held open): see HeldFolder.
  const folder = await wfs.holdFolder(slash < 0 ? "" : targetRel.slice(0, slash));
  const tmp = syncTempName(token);
  let finalRel = targetRel;
  let st: BigIntStats;
  try {
    // The temp first, the cloud's stream opened then and read at once (an error or an abort
    // before it is read would have no listener); durable before it becomes visible.
    const mtimeNs = options.mtimeNs ?? (options.mtimeMs !== undefined ? nsFromMs(options.mtimeMs) : undefined);
    st = await folder.writeNewFile(tmp, () => provider.read(remoteFull, { signal: options.signal }), { mtimeNs, signal: options.signal });
    if (options.noClobber) finalRel = await folder.linkNoClobber(tmp, targetRel, numberedName);
    else if (options.exclusive) await folder.placeNew(tmp, name, targetRel);
    else await folder.replace(tmp, name, targetRel);
  } catch (err) {
    if (isLocalNameProblem(err)) throw err;
    throw toWorkspaceSyncError(err);
  } finally {
    // The temp name, whatever happened: a link leaves it, and so does a failure (a rename takes it).
    await folder.removeQuietly(tmp);
    await folder.close();
  }
  return { finalRel, local: { path: finalRel, size: Number(st.size), mtimeMs: msFromNs(st.mtimeNs), mtimeNs: st.mtimeNs } };
}
