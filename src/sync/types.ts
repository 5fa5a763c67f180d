/**
 * Shared shapes of the sync engine: listings, the saved state, the plan's actions and the result.
 * Plain data only; the planner, executor and runner exchange these.
 */
import type { FolderDigests } from "./folder-digest.js";
import type { SyncMode } from "../config/types.js";

/** A file in the workspace as the local listing sees it. */
export interface LocalFile {
  /** Path relative to the workspace, `/`-separated. */
  path: string;
  size: number;
  /** Modification time in ms (truncated to whole ms). */
  mtimeMs: number;
  /** The same time in nanoseconds, at the file system's full precision (from the listing; absent in older callers' data). */
  mtimeNs?: bigint;
  /** Content hash in the provider's scheme, when computed for a comparison. */
  hash?: string;
}

/** A file in the cloud folder as the provider lists it (path relative to the cloud folder). */
export interface RemoteFile {
  path: string;
  size: number;
  mtimeMs?: number;
  /** The source mtime in nanoseconds where the backend stores one at more than ms precision (see `RemoteEntry.mtimeNs`). */
  mtimeNs?: bigint;
  /** Precision of {@link mtimeNs} in nanoseconds. */
  mtimePrecisionNs?: number;
  hash?: string;
  revision?: string;
}

/** What the state remembers of the local copy at the last agreement. */
export interface LocalSignature {
  size: number;
  mtimeMs: number;
}

/** What the state remembers of the cloud copy at the last agreement. */
export interface RemoteSignature {
  size: number;
  mtimeMs?: number;
  hash?: string;
  revision?: string;
}

/** One agreed file: both sides held the same content with these signatures. */
export interface StateEntry {
  local: LocalSignature;
  remote: RemoteSignature;
}

/** The state saved after a successful run (one file per provider, cloud folder and workspace). */
export interface SyncState {
  version: 1;
  mode: SyncMode;
  /** Provider description, cloud folder and workspace this state belongs to (for humans and checks). */
  description: string;
  remotePath: string;
  workspace: string;
  /** Hash of the filter settings in force when the state was written; a change makes the next run a safe merge. */
  filtersHash: string;
  /** When the state was written (ISO). */
  savedAt: string;
  /** Agreed files by path (the comparison key). */
  files: Record<string, StateEntry>;
  /**
   * The boot the state was written in, when the provider flushes small files lazily
   * (`ProviderCapabilities.lazyFlush`): a state from another boot may describe files that never
   * reached the disk, and is not trusted (a merge run).
   */
  bootId?: string;
  /** Mirror ingest: cloud signature of each ingested file at the time it was copied in. */
  ingested?: Record<string, RemoteSignature>;
  /**
   * Per-folder digests of {@link files}, one per side (see `folder-digest.ts`): written where the
   * provider lists folder by folder, so a run can find folders unchanged before reading the files.
   */
  folders?: FolderDigests;
}

/**
 * What kind of skip a note is, for code that acts on it (logging level, clash resolution): never
 * decided from the reason's text. Absent for the rest.
 * - `ignored-name`: a name the provider refuses to store (`ProviderCapabilities.ignoredNames`);
 * - `name-clash`: differs only in case or Unicode form from a name that is synced;
 * - `non-utf8`: a name that is not valid UTF-8.
 */
export type SkipKind = "ignored-name" | "name-clash" | "non-utf8";

/** Why a file was left alone. */
export interface SkipNote {
  path: string;
  reason: string;
  /** Set by the listings where code acts on the kind (see {@link SkipKind}); not part of a run's result. */
  kind?: SkipKind;
}

/** Which side wins a conflict. */
export type Side = "local" | "remote";

/** One step of a plan. `path` is the comparison key; `localPath`/`remotePath` the names on each side. */
export type SyncAction =
  | { kind: "upload"; path: string; reason: string }
  | { kind: "download"; path: string; reason: string }
  | { kind: "deleteLocal"; path: string; reason: string }
  | { kind: "deleteRemote"; path: string; reason: string }
  | {
      kind: "conflict";
      path: string;
      /** The side whose content stays at `path`. */
      winner: Side;
      /** Name (relative) the losing content is kept under, on both sides. */
      loserPath: string;
      reason: string;
    }
  /** Both sides already agree (content identical or unchanged): only the state is refreshed. */
  | { kind: "same"; path: string }
  /** Left alone; `keepState` keeps the prior state entry (so a paused deletion happens on a later run). */
  | { kind: "skip"; path: string; reason: string; keepState?: boolean };

/** Result of a successful run (file lists are paths relative to the workspace / cloud folder). */
export interface SyncRunSuccess {
  ok: true;
  mode: SyncMode;
  uploaded: string[];
  downloaded: string[];
  deleted: string[];
  /** Paths that were in conflict (the loser kept as `<path>.conflict…`) or clashed by case. */
  conflicts: string[];
  /** Mailbox: files moved into `_inbox` (relative to `_inbox`); mirror: files ingested (relative to the workspace). */
  inboxFiles: string[];
  skipped?: SkipNote[];
  /** True when nothing was changed because of `dryRun`. */
  dryRun?: boolean;
}

/** Result of a failed run. */
export interface SyncRunFailure {
  ok: false;
  /** What went wrong and how to fix it (the plugin's shape: a message). */
  error: string;
  /** Stable error code. */
  code: import("../errors.js").ErrorCode;
}

/** The failure result for `err` (same shape as the backup API's failures). */
export function syncFailure(err: import("../errors.js").WorkspaceSyncError): SyncRunFailure {
  return { ok: false, error: err.message, code: err.code };
}

/** What {@link import("./run.js").runSyncWithProvider} resolves with. */
export type SyncRunResult = SyncRunSuccess | SyncRunFailure;
