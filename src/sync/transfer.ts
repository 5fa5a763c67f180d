/**
 * Single-file transfers between the workspace and the provider, streaming. Downloads land in a temp
 * name in the target folder, are fsync'd, get the cloud mtime, and are renamed into place (or linked,
 * when an existing file must not be overwritten).
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, createWriteStream, promises as fsp } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { toWorkspaceSyncError } from "../errors.js";
import type { StorageProvider } from "../providers/types.js";
import { numberedName } from "./ingest.js";
import { SYNC_TEMP_PREFIX } from "./listing.js";
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
  signal?: AbortSignal;
}

/**
 * Downloads `remoteFull` to `targetAbs` (temp name, fsync, rename). Resolves with the final absolute
 * path (differs from `targetAbs` only with `noClobber`) and the local file's new signature.
 */
export async function downloadFile(provider: StorageProvider, remoteFull: string, targetAbs: string, options: DownloadOptions = {}): Promise<{ finalPath: string; local: LocalFile }> {
  const dir = path.dirname(targetAbs);
  await fsp.mkdir(dir, { recursive: true }).catch((err) => {
    throw toWorkspaceSyncError(err);
  });
  const tmp = path.join(dir, `${SYNC_TEMP_PREFIX}${randomBytes(6).toString("hex")}.tmp`);
  let finalPath = targetAbs;
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
    if (options.noClobber) finalPath = await linkNoClobber(tmp, targetAbs);
    else await fsp.rename(tmp, targetAbs);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw toWorkspaceSyncError(err);
  }
  await fsp.rm(tmp, { force: true }).catch(() => undefined);
  const st = await fsp.stat(finalPath);
  return { finalPath, local: { path: finalPath, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) } };
}

/** Links `tmp` to `target`, or to the first free `target (n).ext`; `link()` fails atomically when a name exists. */
async function linkNoClobber(tmp: string, target: string): Promise<string> {
  for (let n = 0; n < 10_000; n++) {
    const candidate = n === 0 ? target : numberedName(target, n);
    try {
      await fsp.link(tmp, candidate);
      return candidate;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "EEXIST") continue;
      if (code === "EPERM" || code === "ENOTSUP" || code === "EOPNOTSUPP" || code === "EXDEV") {
        // No hard links here: check-then-rename (racy only against other writers of the same name).
        try {
          await fsp.lstat(candidate);
          continue;
        } catch {
          await fsp.rename(tmp, candidate);
          return candidate;
        }
      }
      throw err;
    }
  }
  throw new Error(`No free name for ${target}`);
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
