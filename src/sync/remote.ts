/**
 * The sync's cloud folder as `list` and `status` see it: opened from `sync` settings, listed (and
 * optionally checked), and closed again in `finally`. Read-only.
 */
import type { ResolvedConfig } from "../config/types.js";
import { toWorkspaceSyncError, type ErrorCode } from "../errors.js";
import { silentLogger, type Logger } from "../logger.js";
import { openLocation } from "../providers/index.js";
import { syncNotConfigured } from "./run-config.js";

/** A file in the cloud folder. */
export interface RemoteListingEntry {
  /** Path below the sync folder, `/`-separated. */
  path: string;
  size: number;
  /** Modification time (ISO 8601), when the provider reports one. */
  mtime?: string;
}

/** Parameters of {@link listSyncRemote}. */
export interface ListSyncRemoteParams {
  config: ResolvedConfig;
  stateDir: string;
  logger?: Logger;
  signal?: AbortSignal;
  /** Run the provider's connectivity check before listing. */
  check?: boolean;
  /** Only count the files (`files` comes back empty): memory does not grow with the folder. */
  countOnly?: boolean;
}

/** The result of {@link listSyncRemote}. */
export type ListSyncRemoteResult =
  | {
      ok: true;
      /** Where the files are, e.g. `local:/srv/cloud/share` (no secrets). */
      remote: string;
      /** Every file below the sync folder, sorted by path (code-unit order); empty with `countOnly`. */
      files: RemoteListingEntry[];
      /** How many files there are. */
      count: number;
    }
  | { ok: false; error: string; code: ErrorCode };

/**
 * Lists every file in the sync's cloud folder (`sync.remotePath`). Never throws: sync not
 * configured (`CONFIG_INVALID`), an unreachable provider or a failed listing come back as `ok: false`.
 */
export async function listSyncRemote(params: ListSyncRemoteParams): Promise<ListSyncRemoteResult> {
  const { signal } = params;
  const s = params.config.sync;
  try {
    if (s.provider === "off") {
      throw syncNotConfigured();
    }
    const settings = { provider: s.provider, s3: s.s3, dropbox: s.dropbox, local: s.local };
    const { provider, dir } = await openLocation(settings, s.remotePath, { logger: params.logger ?? silentLogger, stateDir: params.stateDir });
    try {
      if (params.check) await provider.check({ signal });
      const files: RemoteListingEntry[] = [];
      let count = 0;
      for await (const e of provider.list(dir, { recursive: true, signal })) {
        count++;
        if (!params.countOnly) files.push({ path: e.path, size: e.size, ...(e.mtime ? { mtime: e.mtime.toISOString() } : {}) });
      }
      files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      return { ok: true, remote: `${provider.description}/${dir}`, files, count };
    } finally {
      await provider.close?.().catch(() => undefined);
    }
  } catch (err) {
    const e = toWorkspaceSyncError(err);
    return { ok: false, error: e.message, code: e.code };
  }
}
