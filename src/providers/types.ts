import type { FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { Logger } from "../logger.js";

/**
 * The one storage interface that backup and sync both use. Adapters: `local` (a folder),
 * `s3` (S3, Cloudflare R2, Backblaze B2) and `dropbox`.
 *
 * Paths are relative to the provider's root (the bucket for S3, the app folder or `/` for Dropbox,
 * the root folder for `local`), separated by `/`, with no leading or trailing slash; `""` is the root.
 * Backup and sync code never branch on which adapter they hold: differences are expressed as
 * {@link ProviderCapabilities}.
 */
export interface StorageProvider {
  /** A short description for logs, e.g. `s3://bucket` or `local:/srv/backups`. Never contains secrets. */
  readonly description: string;
  /** What this backend can and cannot do. */
  readonly capabilities: ProviderCapabilities;

  /**
   * Lists the files under folder `dir` (`""` = root), paginating internally.
   * Entry paths are relative to `dir`. With `recursive: false`, only files directly in `dir`.
   * Folders themselves are not listed. A missing folder lists as empty.
   * Throws a typed error when listing fails (callers treat that as "unknown", never as "empty").
   */
  list(dir: string, options?: ListOptions): AsyncIterable<RemoteEntry>;

  /** Metadata of one file, or `undefined` when it does not exist. Includes `metadata` where supported. */
  stat(path: string, options?: { signal?: AbortSignal }): Promise<RemoteEntry | undefined>;

  /**
   * One file as {@link StorageProvider.list} gives it (the same source, so the same size, revision
   * and hash while the file is unchanged), or `undefined` when it does not exist. A sync looks at a
   * listed file again with it right before a step that would lose a newer version (a delete).
   * Leave it out where `stat` answers from the listing's source (local, Dropbox): `stat` is used.
   * S3 asks the listing for the one key, as a HEAD's ETag may be spelled otherwise (a gateway, a proxy).
   */
  statListed?(path: string, options?: { signal?: AbortSignal }): Promise<RemoteEntry | undefined>;

  /**
   * Opens a read stream. Throws a `NOT_FOUND` {@link WorkspaceSyncError} when the file does not exist.
   * `start` (inclusive) allows resuming a download.
   */
  read(path: string, options?: ReadOptions): Promise<Readable>;

  /**
   * Writes `source` to `path`, streaming with bounded memory. Atomic: the file becomes visible only
   * when the whole stream was stored; on error or abort nothing is left behind (temp files removed,
   * multipart uploads aborted) and an existing file at `path` is untouched.
   * Resolves with the stored entry (size, hash or revision where the backend returns one).
   * Throws `ALREADY_EXISTS` when the name is taken: by anything with `overwrite: false`, and with
   * overwrite only where the name cannot be a file (a folder holds it, or a file holds the name of
   * one of its folders); a sync skips that one name and reports it.
   */
  write(path: string, source: Readable, options?: WriteOptions): Promise<RemoteEntry>;

  /** Deletes one file. Deleting a file that does not exist succeeds. */
  delete(path: string, options?: { signal?: AbortSignal }): Promise<void>;

  /**
   * Deletes several files (batched where the backend can). Resolves with the paths that failed,
   * each with its error; never throws for individual failures.
   */
  deleteMany(paths: string[], options?: { signal?: AbortSignal }): Promise<DeleteFailure[]>;

  /** Makes sure folder `dir` exists (no-op where the backend has no folders). */
  ensureDir(dir: string, options?: { signal?: AbortSignal }): Promise<void>;

  /** Cheap connectivity and credentials check. Throws a typed error naming the fix. */
  check(options?: { signal?: AbortSignal }): Promise<void>;

  /**
   * Removes leftovers of interrupted writes under `dir` older than `olderThanMs` (stale temp files,
   * abandoned multipart uploads). Returns how many were removed. `0` (or less) removes them
   * whatever their age, even one that looks started after now (a server's clock ahead of ours).
   * With `options.match`, only leftovers of writes to a path (relative to `dir`) that `match` accepts
   * are removed: in a shared bucket or folder, other tools' pending uploads are left alone.
   */
  cleanupIncomplete(dir: string, olderThanMs: number, options?: CleanupOptions): Promise<number>;

  /**
   * Computes, for a local file, the same value this backend reports as {@link RemoteEntry.hash}
   * (Dropbox `content_hash`, S3 single-part ETag = MD5), so sync can skip unchanged files without
   * downloading them. `undefined` when the backend has no comparable hash.
   */
  hashLocalFile?(file: string | LocalSource, options?: { signal?: AbortSignal }): Promise<string>;

  /**
   * Whether the bare file name `name` is one of this backend's own in-flight temp files (`"own"`:
   * made by this install, never listed, removed by {@link cleanupIncomplete} once stale) or has the
   * exact shape of another install's (`"other"`: reported by sync, never synced or deleted).
   * `undefined` for every other name, which is then a user file like any other. Backends whose
   * temp data is never visible as files (S3 multipart uploads, Dropbox sessions) omit it.
   */
  tempFileKind?(name: string): "own" | "other" | undefined;

  /** Releases sockets and timers. */
  close?(): Promise<void>;
}

/** What a backend supports; the only thing callers may branch on. */
export interface ProviderCapabilities {
  /**
   * `"source"` when {@link RemoteEntry.mtime} in listings is the mtime passed to `write()`
   * (local utimes, Dropbox `client_modified`); `"upload"` when it is the time of the upload (S3 LastModified).
   */
  listMtime: "source" | "upload";
  /** `write()` metadata comes back from `stat()`. Otherwise sidecar files are used. */
  metadata: boolean;
  /** Names differing only in case are the same file (Dropbox). */
  caseInsensitive: boolean;
  /** The backend can store empty folders (local, Dropbox) rather than only keys (S3). */
  folders: boolean;
  /**
   * Reading a file costs no transfer (a folder on this machine): sync compares contents by reading
   * both copies, whatever their size, instead of only up to its download limit.
   */
  cheapReads?: boolean;
  /** Names the backend refuses or silently ignores (Dropbox: desktop.ini, thumbs.db, ...), lower-cased. */
  ignoredNames?: readonly string[];
  /**
   * Small files copied in with `sourceFile` are renamed into place complete but not flushed one by
   * one: they reach the disk when the OS writes them back (seconds later), so a power cut right
   * after may leave such a file empty under its name. Set only where the boot can be told apart
   * (`util/boot-id.ts`): sync then records the boot with its state and, after a restart, treats
   * that state as unconfirmed (a merge run: nothing deleted, both copies kept where they differ).
   */
  lazyFlush?: boolean;
  /**
   * A recursive {@link StorageProvider.list} gives each folder's files together, one run of entries
   * per folder (a tree walked folder by folder). Sync then checks each folder as a whole against
   * per-folder digests it keeps in its state, and a run where no folder changed reads no state
   * entry (see `sync/folder-digest.ts`). A listing that comes back to a folder costs only speed.
   */
  listsFolderByFolder?: boolean;
  /**
   * Small writes of series 1 ({@link WriteOptions.series}) the backend makes on a thread of its
   * own (the local provider: copies of a `sourceFile` up to {@link ThreadWrites.largestBytes}, on
   * its copy thread). A sync whose `concurrency` is 2 or more then keeps up to
   * {@link ThreadWrites.slots} of them in flight in the second half of its plan (its other
   * transfers stay within `concurrency`): the main thread makes its own copies one at a time, and
   * a thread given fewer than it holds waited for the main thread between copies.
   */
  threadWrites?: ThreadWrites;
}

/** See {@link ProviderCapabilities.threadWrites}. */
export interface ThreadWrites {
  /** Writes the thread holds at once (whole numbers from 1 to 64 count; anything else is ignored). */
  slots: number;
  /** Largest `sizeHint` of a write the thread takes, in bytes. */
  largestBytes: number;
}

/** One file as a backend lists it. */
export interface RemoteEntry {
  /** Path relative to the listed folder (for `stat`/`write` results: the full provider path). */
  path: string;
  /** Size in bytes. */
  size: number;
  /** Modification time; see {@link ProviderCapabilities.listMtime} for what it means. */
  mtime?: Date;
  /**
   * The source modification time (the one given to `write()`, never an upload time) in nanoseconds
   * since the epoch, at the full precision the backend stored it; set only where the backend stores a
   * source time (local utimes, S3 `mtime` metadata from `stat()`).
   */
  mtimeNs?: bigint;
  /** How precise {@link mtimeNs} is, in nanoseconds (1 = exact; 1 000 000 = whole milliseconds). */
  mtimePrecisionNs?: number;
  /** Content hash in the backend's own scheme, comparable with `hashLocalFile()`. */
  hash?: string;
  /** A revision or version token that changes whenever the content changes (Dropbox `rev`, S3 ETag). */
  revision?: string;
  /** User metadata (only from `stat`, only where {@link ProviderCapabilities.metadata}). */
  metadata?: Record<string, string>;
  /**
   * Set only in a listing asked for {@link ListOptions.notFiles}: the name is neither a file nor a
   * folder but a symlink or a special file (FIFO, socket, device), on a provider whose storage can
   * hold one (the local folder). Its size is 0 and it has no time; nothing may be read, written
   * or deleted through it.
   */
  notAFile?: "symlink" | "special";
}

/** Options for {@link StorageProvider.list}. */
export interface ListOptions {
  /** Recurse into sub-folders (default true). */
  recursive?: boolean;
  signal?: AbortSignal;
  /**
   * List names that are neither files nor folders too, as entries with {@link RemoteEntry.notAFile}
   * (by default they are not listed). A sync asks, so that such a name in place of a synced file
   * or folder is left alone on both sides instead of read as a deletion. A provider whose storage
   * holds only files and folders ignores it.
   */
  notFiles?: boolean;
}

/** Options for {@link StorageProvider.read}. */
export interface ReadOptions {
  /** Byte offset to start at (inclusive). */
  start?: number;
  /**
   * Byte offset to stop at (inclusive, as in an HTTP `Range` and `fs.createReadStream`); past the
   * file's end the stream ends with the file. The built-in providers ask the storage for that range
   * only. A caller's own provider may ignore it and stream on: a reader that needs only a prefix
   * stops reading once it has it.
   */
  end?: number;
  signal?: AbortSignal;
  /**
   * The reader frees each chunk once it is done with it. A provider whose stream keeps no chunk
   * once it has passed it on may then hand them over with `handOver` (`util/release-buffer.ts`),
   * so that their memory is reused at once instead of at V8's next collection; any other
   * provider ignores this. Only the snapshot reader asks, where its decrypting stage copies each
   * chunk and is the stream's one reader, and only of a provider this library built (never of
   * one a caller passed in: a wrapper that passes the options through may keep what it hands on).
   */
  handOver?: boolean;
}

/** Options for {@link StorageProvider.write}. */
export interface WriteOptions {
  /**
   * Upper bound of the size in bytes, when known (exact for plain files, an estimate for backups).
   * S3 uses it to choose a fixed part size under the 10 000-part limit.
   */
  sizeHint?: number;
  /** Source modification time to record (utimes, S3 metadata, Dropbox client_modified). */
  mtime?: Date;
  /** The same time in nanoseconds since the epoch, when known that precisely (wins over `mtime` where the backend keeps more than milliseconds). */
  mtimeNs?: bigint;
  /**
   * The local file `source` reads, when it is one. A backend may read it before the upload (S3
   * hashes it for rclone's `md5chksum` on multipart uploads, and checks the streamed bytes against it),
   * or instead of `source`, which it then destroys unread (the local provider copies the file).
   * A path is opened as it is (never through a symlink at its last component, and only a regular
   * file); a {@link LocalSource} is opened with its own checks, at the moment of the read.
   */
  sourceFile?: string | LocalSource;
  /** User metadata to store with the file (ASCII keys and values). */
  metadata?: Record<string, string>;
  /** Fail with `ALREADY_EXISTS` instead of replacing an existing file. */
  overwrite?: boolean;
  /**
   * Which of the caller's series of writes this one belongs to, when it makes two or more at once
   * (a sync's transfers: `forEachLimit`'s `twoHalves`): the writes of one series come in order,
   * folder by folder, and two series work in different folders. A backend may make different
   * series on different threads (the local provider makes series 1's small copies on a thread of
   * its own); any other ignores it.
   */
  series?: number;
  signal?: AbortSignal;
  /** Called with the number of bytes stored so far. */
  onProgress?: (bytes: number) => void;
}

/**
 * A local file that a backend reads for an upload or a hash, opened only at the moment of the read
 * and checked there: it is a regular file (a FIFO or device swapped in is refused, never waited
 * on), reached through no symlink (a file or folder swapped for one since it was listed is refused,
 * never read through). The sync hands these out for workspace files (`WorkspaceFs.source`).
 */
export interface LocalSource {
  /** Absolute path, for messages. */
  readonly path: string;
  /** Opens it for reading with synchronous calls (for small files, see the local provider). The caller closes `fd`. */
  openSync(): OpenedLocalFile<number>;
  /** Opens it for reading. The caller closes `handle`. */
  open(): Promise<OpenedLocalFile<FileHandle>>;
  /**
   * How another thread may open it with the same checks, where they need nothing but the kernel's
   * answer: `path` opened as {@link openSync} opens it (never through a symlink at its name, never
   * waiting on a FIFO) must be a regular file whose descriptor the kernel names `real`
   * (`/proc/self/fd`: no symlink on the way either). `undefined` where the checks need more (no
   * `/proc`, links followed by the user's choice), or the path is already refused.
   */
  elsewhere?(): { path: string; real: string } | undefined;
}

/** An opened {@link LocalSource}: its descriptor or handle, and its size and permission bits at the open. */
export interface OpenedLocalFile<H> {
  handle: H;
  size: number;
  /** `mode & 0o7777`: a copy keeps them, as `copyFile` does. */
  mode: number;
}

/** Options for {@link StorageProvider.cleanupIncomplete}. */
export interface CleanupOptions {
  /**
   * Decides which leftovers are ours: called with the path the interrupted write was going to
   * (relative to `dir`, `/`-separated); only leftovers it returns true for are removed. Without it,
   * every leftover under `dir` older than the cutoff is removed. Backends whose leftovers carry no
   * path (Dropbox upload sessions) ignore it.
   */
  match?: (path: string) => boolean;
  signal?: AbortSignal;
}

/** A file that {@link StorageProvider.deleteMany} could not delete. */
export interface DeleteFailure {
  path: string;
  error: Error;
}

/** What every provider factory receives besides its own settings. */
export interface ProviderContext {
  logger: Logger;
  /** Folder for small provider state (Dropbox list cursors, tokens). */
  stateDir?: string;
}
