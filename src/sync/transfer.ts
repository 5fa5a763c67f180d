/**
 * Single-file transfers between the workspace and the provider, streaming. Downloads land in a temp
 * name in the target folder, are fsync'd, get the cloud mtime, and are renamed into place (or linked,
 * when an existing file must not be overwritten), all through the symlink-refusing {@link WorkspaceFs}.
 */
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, promises as fsp } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { toWorkspaceSyncError } from "../errors.js";
import type { StorageProvider } from "../providers/types.js";
import { isLocalNameProblem, type WorkspaceFs } from "../util/safe-fs.js";
import { syncTempName } from "../util/temp-names.js";
import { numberedName } from "./ingest.js";
import type { LocalFile, RemoteFile } from "./types.js";

/** Largest file compared by downloading it when the provider has no comparable hash. */
export const COMPARE_BY_DOWNLOAD_LIMIT = 8 * 1024 * 1024;

/** Uploads `localAbs` to `remoteFull`; resolves with the stored file's signature. */
export async function uploadFile(provider: StorageProvider, localAbs: string, remoteFull: string, local: LocalFile, signal?: AbortSignal): Promise<RemoteFile> {
  const source = createReadStream(localAbs, { highWaterMark: 1024 * 1024 });
  let stored;
  try {
    stored = await provider.write(remoteFull, source, { mtime: new Date(local.mtimeMs), sizeHint: local.size, signal });
  } catch (err) {
    source.destroy();
    throw toWorkspaceSyncError(err);
  }
  const out: RemoteFile = { path: remoteFull, size: typeof stored.size === "number" ? stored.size : local.size };
  if (stored.mtime) out.mtimeMs = Math.trunc(stored.mtime.getTime());
  if (stored.hash !== undefined) out.hash = stored.hash;
  if (stored.revision !== undefined) out.revision = stored.revision;
  return out;
}

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Cloud mtime to give the local file. */
  mtimeMs?: number;
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
    if (options.mtimeMs !== undefined) {
      const t = new Date(options.mtimeMs);
      await fsp.utimes(tmp, t, t);
    }
    if (options.noClobber) finalRel = await wfs.linkNoClobber(tmp, targetRel, numberedName);
    else if (options.exclusive) await wfs.placeNew(tmp, targetRel);
    else await wfs.rename(tmp, targetRel);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    if (isLocalNameProblem(err)) throw err;
    throw toWorkspaceSyncError(err);
  }
  await fsp.rm(tmp, { force: true }).catch(() => undefined);
  const st = await fsp.lstat(wfs.abs(finalRel));
  return { finalRel, local: { path: finalRel, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) } };
}

/**
 * Whether the local file and the cloud file hold the same bytes: by the provider's hash when both
 * sides have one, else by streaming both through SHA-256 when the file is at most
 * {@link COMPARE_BY_DOWNLOAD_LIMIT}. `undefined` when it cannot tell cheaply.
 */
export async function compareContent(provider: StorageProvider, localAbs: string, remote: RemoteFile, remoteFull: string, signal?: AbortSignal): Promise<boolean | undefined> {
  if (provider.hashLocalFile && remote.hash !== undefined) {
    return (await provider.hashLocalFile(localAbs, { signal })) === remote.hash;
  }
  if (remote.size > COMPARE_BY_DOWNLOAD_LIMIT) return undefined;
  const [a, b] = await Promise.all([
    sha256Of(createReadStream(localAbs), signal),
    provider.read(remoteFull, { signal }).then((s) => sha256Of(s, signal)),
  ]);
  return a === b;
}

async function sha256Of(source: NodeJS.ReadableStream, signal?: AbortSignal): Promise<string> {
  const h = createHash("sha256");
  await pipeline(
    source,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        cb();
      },
    }),
    { signal },
  );
  return h.digest("hex");
}
