/**
 * Single-file transfers between the workspace and the provider, streaming. Downloads land in a temp
 * name in the target folder, are fsync'd, get the cloud mtime, and are renamed into place (or linked,
 * when an existing file must not be overwritten), all through the symlink-refusing {@link WorkspaceFs}.
 */
import { createWriteStream, promises as fsp } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { toWorkspaceSyncError } from "../errors.js";
import type { LocalSource, StorageProvider } from "../providers/types.js";
import { sourceStream } from "../util/source-stream.js";
import { isLocalNameProblem, type WorkspaceFs } from "../util/safe-fs.js";
import { syncTempName } from "../util/temp-names.js";
import { numberedName } from "./ingest.js";
import { msFromNs, msOfDate, nsFromMs, setFileTimes } from "../util/mtime.js";
import type { LocalFile, RemoteFile } from "./types.js";

/**
 * Uploads workspace file `file` (opened only when read, and never through a symlink: see
 * `WorkspaceFs.source`) to `remoteFull`; resolves with the stored file's signature.
 */
export async function uploadFile(provider: StorageProvider, file: LocalSource, remoteFull: string, local: LocalFile, signal?: AbortSignal): Promise<RemoteFile> {
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
    });
  } catch (err) {
    source.destroy();
    throw toWorkspaceSyncError(err);
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
 * Downloads `remoteFull` to workspace path `targetRel` through `wfs` (folders created and the
 * parent chain checked for symlinks before the temp file is created and again right before the
 * rename; temp name carrying this install's token; fsync; rename). Resolves with the final relative
 * path (differs from `targetRel` only with `noClobber`) and the local file's new signature. Throws a
 * {@link import("../util/safe-fs.js").LocalPathError} when the path cannot be written safely.
 */
export async function downloadFile(provider: StorageProvider, remoteFull: string, wfs: WorkspaceFs, token: string, targetRel: string, options: DownloadOptions = {}): Promise<{ finalRel: string; local: LocalFile }> {
  const slash = targetRel.lastIndexOf("/");
  const dir = await wfs.ensureDir(slash < 0 ? "" : targetRel.slice(0, slash));
  const tmp = path.join(dir, syncTempName(token));
  let finalRel = targetRel;
  try {
    const source = await provider.read(remoteFull, { signal: options.signal });
    await pipeline(source, createWriteStream(tmp, { flags: "wx" }), { signal: options.signal });
    const fh = await fsp.open(tmp, "r+");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
    const mtimeNs = options.mtimeNs ?? (options.mtimeMs !== undefined ? nsFromMs(options.mtimeMs) : undefined);
    if (mtimeNs !== undefined) await setFileTimes(tmp, mtimeNs);
    if (options.noClobber) finalRel = await wfs.linkNoClobber(tmp, targetRel, numberedName);
    else if (options.exclusive) await wfs.placeNew(tmp, targetRel);
    else await wfs.rename(tmp, targetRel);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    if (isLocalNameProblem(err)) throw err;
    throw toWorkspaceSyncError(err);
  }
  await fsp.rm(tmp, { force: true }).catch(() => undefined);
  const st = await fsp.lstat(wfs.abs(finalRel), { bigint: true });
  return { finalRel, local: { path: finalRel, size: Number(st.size), mtimeMs: msFromNs(st.mtimeNs), mtimeNs: st.mtimeNs } };
}
