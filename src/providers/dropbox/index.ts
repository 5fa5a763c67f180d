import { createHash } from "node:crypto";
import type { Readable } from "node:stream";
import type { files } from "dropbox";
import type { DropboxSettings } from "../../config/types.js";
import { WorkspaceSyncError, isWorkspaceSyncError, throwIfAborted, toWorkspaceSyncError } from "../../errors.js";
import type { DeleteFailure, ListOptions, ProviderCapabilities, ProviderContext, ReadOptions, RemoteEntry, StorageProvider, WriteOptions } from "../types.js";
import { ChunkReader } from "./chunk-reader.js";
import { DropboxClient } from "./client.js";
import { CommitBatcher } from "./commit-batcher.js";
import { deleteBatch } from "./delete-batch.js";
import { dropboxContentHash } from "./content-hash.js";
import { CursorStore } from "./cursor-store.js";
import { openDownload } from "./download.js";
import { REAUTH_ADVICE, toDropboxError } from "./errors.js";
import { listWithCursor, longpollChanges } from "./list.js";
import { DROPBOX_IGNORED_NAMES, assertWritableName, dropboxTimestamp, toDropboxPath } from "./paths.js";
import { parseToken } from "./token.js";
import { startClosedSession, uploadSession, uploadSmall } from "./upload.js";

export { dropboxContentHash, DropboxContentHasher } from "./content-hash.js";
export { DROPBOX_IGNORED_NAMES } from "./paths.js";
export { parseToken, type ParsedToken } from "./token.js";

const MiB = 1024 * 1024;

/** Tuning knobs (tests and benchmarks); the defaults suit real use. */
export interface DropboxProviderOptions {
  /** Upload session chunk size in bytes: a multiple of 4 MiB, at most 148 MiB. Default 8 MiB. */
  chunkSize?: number;
  /** Longest total time to keep retrying one call on rate limits / 5xx, in ms. Default 300 000. */
  maxRetryMs?: number;
  /** First back-off step for 5xx / network errors, in ms. Default 500. */
  backoffBaseMs?: number;
  /**
   * Longest a queued small-file commit waits for other small files still being sent, in ms
   * (it goes at once when none are). Default 1 000.
   */
  batchDelayMs?: number;
  /** A request with no answer (or a body that stalls) for this long fails and is retried once, in ms. Default 60 000. */
  idleTimeoutMs?: number;
  /** Longest wait for a batch commit or delete job to complete, in ms. Default 600 000. */
  jobTimeoutMs?: number;
}

/** The Dropbox provider: a {@link StorageProvider} plus change notification. */
export interface DropboxProvider extends StorageProvider {
  /**
   * Waits until something changes under `dir` since its last `list()` (same `recursive`), using
   * `list_folder/longpoll` (no API quota cost). Resolves true on changes, or when `dir` was never
   * listed (list to find out); false after `timeoutSeconds` (Dropbox accepts 30-480, default 30)
   * without changes.
   */
  waitForChanges(dir: string, options?: { recursive?: boolean; timeoutSeconds?: number; signal?: AbortSignal }): Promise<boolean>;
}

/** Dropbox folders, files and sessions as the rest of the library sees them. */
const CAPABILITIES: ProviderCapabilities = {
  listMtime: "source",
  metadata: false,
  caseInsensitive: true,
  folders: true,
  ignoredNames: DROPBOX_IGNORED_NAMES,
};

function entryOf(meta: files.FileMetadata, path: string): RemoteEntry {
  const e: RemoteEntry = { path, size: meta.size };
  if (meta.client_modified) e.mtime = new Date(meta.client_modified);
  if (meta.content_hash) e.hash = meta.content_hash;
  if (meta.rev) e.revision = meta.rev;
  return e;
}

function checkChunkSize(size: number): number {
  if (!Number.isInteger(size) || size <= 0 || size % (4 * MiB) !== 0 || size > 148 * MiB) {
    throw new WorkspaceSyncError("CONFIG_INVALID", `Dropbox chunk size ${size} is invalid: use a multiple of 4 MiB up to 148 MiB`);
  }
  return size;
}

/**
 * Creates the Dropbox {@link StorageProvider} on the official SDK. `settings.token` may be a bare
 * access token, a refresh token (with `appKey`/`appSecret`) or rclone's token JSON; `settings.fetch`
 * replaces the HTTP client for every request. List cursors are kept under `ctx.stateDir`.
 */
export function createDropboxProvider(settings: DropboxSettings, ctx: ProviderContext, options: DropboxProviderOptions = {}): DropboxProvider {
  const token = parseToken(settings.token, Boolean(settings.appKey));
  if (!token) {
    throw new WorkspaceSyncError("CONFIG_INVALID", `dropbox.token is missing or unreadable: ${REAUTH_ADVICE}`, { path: "dropbox.token" });
  }
  const fetchImpl = settings.fetch ?? globalThis.fetch;
  const client = new DropboxClient({
    token,
    appKey: settings.appKey,
    appSecret: settings.appSecret,
    fetch: fetchImpl,
    logger: ctx.logger,
    maxRetryMs: options.maxRetryMs ?? 300_000,
    backoffBaseMs: options.backoffBaseMs ?? 500,
    ...(options.idleTimeoutMs !== undefined
      ? { idleTimeoutMs: options.idleTimeoutMs }
      : settings.idleTimeoutSeconds !== undefined
        ? { idleTimeoutMs: settings.idleTimeoutSeconds * 1000 }
        : {}),
    ...(options.jobTimeoutMs !== undefined ? { jobTimeoutMs: options.jobTimeoutMs } : {}),
  });
  const chunkSize = checkChunkSize(options.chunkSize ?? 8 * MiB);
  const batcher = new CommitBatcher(client, options.batchDelayMs ?? 1000);
  const cursors = new CursorStore(ctx.stateDir);
  // Saved listings belong to one account and root; the refresh token (when there is one) names the account.
  const identity = createHash("sha256")
    .update(`${settings.appKey ?? ""}|${token.refreshToken ?? ""}|${settings.appFolder ? "app" : "full"}`)
    .digest("hex")
    .slice(0, 16);
  let smallInFlight = 0;

  const listKey = (dbxDir: string, recursive: boolean): string => `${identity}|${dbxDir.toLowerCase()}|${recursive ? "r" : "1"}`;

  const provider: DropboxProvider = {
    description: settings.appFolder ? "dropbox:app-folder" : "dropbox:/",
    capabilities: CAPABILITIES,

    list(dir: string, listOptions: ListOptions = {}): AsyncIterable<RemoteEntry> {
      const recursive = listOptions.recursive ?? true;
      const signal = listOptions.signal;
      return {
        async *[Symbol.asyncIterator]() {
          const dbxDir = toDropboxPath(dir);
          yield* await listWithCursor(client, cursors, listKey(dbxDir, recursive), dbxDir, dir, recursive, signal);
        },
      };
    },

    async stat(path, statOptions = {}) {
      const dbxPath = toDropboxPath(path);
      if (dbxPath === "") return undefined;
      try {
        const res = await client.call("files/get_metadata", path, (sdk) => sdk.filesGetMetadata({ path: dbxPath }), statOptions.signal);
        const meta = res.result;
        return meta[".tag"] === "file" ? entryOf(meta, path) : undefined;
      } catch (err) {
        if (isWorkspaceSyncError(err, "NOT_FOUND")) return undefined;
        throw err;
      }
    },

    async read(path: string, readOptions: ReadOptions = {}): Promise<Readable> {
      const dbxPath = toDropboxPath(path);
      if (dbxPath === "") throw new WorkspaceSyncError("INVALID_PATH", "Cannot read the Dropbox root as a file: name a file", { path });
      return openDownload(client, dbxPath, path, { start: readOptions.start, end: readOptions.end }, readOptions.signal);
    },

    async write(path: string, source: Readable, writeOptions: WriteOptions = {}): Promise<RemoteEntry> {
      const { signal } = writeOptions;
      const dbxPath = toDropboxPath(path);
      const reader = new ChunkReader(source, chunkSize);
      try {
        if (dbxPath === "") throw new WorkspaceSyncError("INVALID_PATH", "Cannot write to the Dropbox root: name a file", { path });
        assertWritableName(path);
        throwIfAborted(signal);
        const overwrite = writeOptions.overwrite ?? true;
        const commit: files.CommitInfo = {
          path: dbxPath,
          mode: overwrite ? { ".tag": "overwrite" } : { ".tag": "add" },
          autorename: false,
          mute: true,
          strict_conflict: !overwrite,
        };
        if (writeOptions.mtime) commit.client_modified = dropboxTimestamp(writeOptions.mtime);
        const target = { path, commit, signal, onProgress: writeOptions.onProgress };
        const first = await reader.next();
        throwIfAborted(signal);
        let meta: files.FileMetadata;
        if (first.length < chunkSize) {
          // Small file, fully in memory: one call when alone, a batched commit when many arrive together.
          smallInFlight++;
          try {
            if (smallInFlight === 1 && !batcher.busy) meta = await uploadSmall(client, first, target);
            else {
              const release = batcher.reserve();
              let committed: Promise<files.FileMetadata>;
              try {
                const cursor = await startClosedSession(client, first, target);
                committed = batcher.commit({ cursor, commit }, path, signal);
              } finally {
                // Released after queueing, so the batch does not leave without this file.
                release();
              }
              meta = await committed;
            }
          } finally {
            smallInFlight--;
          }
        } else {
          meta = await uploadSession(client, first, reader, chunkSize, target);
        }
        return entryOf(meta, path);
      } catch (err) {
        await reader.cancel();
        if (!source.destroyed) source.destroy();
        throw toDropboxError(toWorkspaceSyncError(err), path);
      }
    },

    async delete(path, deleteOptions = {}) {
      const dbxPath = toDropboxPath(path);
      if (dbxPath === "") throw new WorkspaceSyncError("INVALID_PATH", "Refusing to delete the Dropbox root: name a file", { path });
      try {
        await client.call("files/delete_v2", path, (sdk) => sdk.filesDeleteV2({ path: dbxPath }), deleteOptions.signal);
      } catch (err) {
        if (isWorkspaceSyncError(err, "NOT_FOUND")) return;
        throw err;
      }
    },

    async deleteMany(paths, deleteOptions = {}): Promise<DeleteFailure[]> {
      const failures: DeleteFailure[] = [];
      const valid: { path: string; dbx: string }[] = [];
      for (const p of paths) {
        try {
          const dbx = toDropboxPath(p);
          if (dbx === "") throw new WorkspaceSyncError("INVALID_PATH", "Refusing to delete the Dropbox root: name a file", { path: p });
          valid.push({ path: p, dbx });
        } catch (err) {
          failures.push({ path: p, error: toWorkspaceSyncError(err) });
        }
      }
      for (let i = 0; i < valid.length; i += 1000) {
        const group = valid.slice(i, i + 1000);
        try {
          failures.push(...(await deleteBatch(client, group, deleteOptions.signal)));
        } catch (err) {
          const e = toWorkspaceSyncError(err);
          for (const g of group) failures.push({ path: g.path, error: e });
        }
      }
      return failures;
    },

    async ensureDir(dir, dirOptions = {}) {
      const dbxDir = toDropboxPath(dir);
      if (dbxDir === "") return;
      try {
        await client.call("files/create_folder_v2", dir, (sdk) => sdk.filesCreateFolderV2({ path: dbxDir, autorename: false }), dirOptions.signal);
      } catch (err) {
        if (!isWorkspaceSyncError(err, "ALREADY_EXISTS")) throw err;
        const summary = (err.cause as { error?: { error_summary?: string } } | undefined)?.error?.error_summary ?? "";
        if (/conflict\/file/.test(summary)) {
          throw new WorkspaceSyncError("ALREADY_EXISTS", `A file is in the way of folder ${dir} in Dropbox: rename or remove it`, { path: dir, cause: err });
        }
      }
    },

    async check(checkOptions = {}) {
      await client.call("users/get_current_account", undefined, (sdk) => sdk.usersGetCurrentAccount(), checkOptions.signal);
    },

    async cleanupIncomplete() {
      // Upload sessions expire on their own after 7 days and are never visible as files; they carry
      // no path, so `options.match` has nothing to decide on and is ignored.
      return 0;
    },

    hashLocalFile(absolutePath, hashOptions = {}) {
      return dropboxContentHash(absolutePath, hashOptions);
    },

    async waitForChanges(dir, waitOptions = {}) {
      const dbxDir = toDropboxPath(dir);
      const key = listKey(dbxDir, waitOptions.recursive ?? true);
      return longpollChanges(client, cursors, key, dir, waitOptions.timeoutSeconds ?? 30, waitOptions.signal);
    },

    async close() {
      batcher.close();
    },
  };

  return provider;
}
