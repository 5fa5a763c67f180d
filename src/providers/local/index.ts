/**
 * The `local` provider: a folder on disk plays the bucket. It is the embedded default for demos and
 * tests. Writes go to a hidden temporary name in the target folder and are renamed into place only
 * after the whole stream was written and fsync'd, so a failed or interrupted upload never leaves a
 * visible file. Temp names carry this install's token (see `util/temp-names.ts`): only those are
 * hidden from listings and removed as leftovers; a user's `.ws-tmp-report.txt` is a file like any other.
 */
import fsSync, { createReadStream, promises as fsp } from "node:fs";
import type { BigIntStats, Stats } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { WorkspaceSyncError, throwIfAborted, toWorkspaceSyncError } from "../../errors.js";
import type {
  CleanupOptions,
  DeleteFailure,
  ListOptions,
  LocalSource,
  OpenedLocalFile,
  ProviderContext,
  ReadOptions,
  RemoteEntry,
  StorageProvider,
  WriteOptions,
} from "../types.js";
import { mapLimit } from "../../util/concurrency.js";
import { bootId } from "../../util/boot-id.js";
import { normalizeRemotePath } from "../paths.js";
import { PROVIDER_TEMP_PREFIX, installToken, providerTempKind, providerTempName } from "../../util/temp-names.js";
import { LocalPathError, WorkspaceFs, isLocalNameProblem, localSourceOf, type HeldFolder } from "../../util/safe-fs.js";
import { SET_MTIME_PRECISION_NS, dateFromNs, msFromNs, nsFromMs } from "../../util/mtime.js";
import { childPath, underRoot } from "../../util/flat-join.js";
import { handingOver } from "../../util/release-buffer.js";
import { markHandsOverReads } from "../hand-over.js";
import { WALK_YIELD_EVERY, afterCheck, walkFolder } from "./walk.js";
import type { DirIdent } from "./walk-look.js";
import { SMALL_COPY_BYTES, copyFdToNewFileSync } from "./small-copy.js";
import { type CopyLane, CopyLanes, type LaneCopied, type LaneSource } from "./copy-lane.js";
import { COPY_SLOTS } from "./copy-look.js";
import { availableCores } from "../../util/cores.js";
import { emptyRange } from "../../util/byte-range.js";

/** Settings of the local provider. */
export interface LocalProviderSettings {
  /** The folder that plays the bucket; created on first write. */
  root: string;
}

/**
 * Prefix of in-flight temporary files. A name with this prefix is ours only with this install's
 * token after it (`tempFileKind`); the prefix alone decides nothing.
 */
export const LOCAL_TEMP_PREFIX = PROVIDER_TEMP_PREFIX;

const READ_BUFFER = 1024 * 1024;

/** Names of one folder listed per turn of the event loop (see `walk.ts`). */
export { WALK_YIELD_EVERY };

/**
 * How recent a complete listing that found none of the install's temp files must be for
 * `cleanupIncomplete` to skip its own pass (a sync lists the cloud folder seconds before). Only a
 * process of the same install makes such files; one could leave one behind after the listing
 * started (another sync from the same state folder into the same cloud folder, another run's
 * failed removal), and a temp file's mtime is the source's, so it may look stale at once. Skipping
 * then only leaves it to the next cleanup: this never removes anything.
 */
const CLEAN_WALK_TRUSTED_MS = 60_000;

/** Creates a {@link StorageProvider} over a folder on disk. */
export function createLocalProvider(settings: LocalProviderSettings, ctx?: ProviderContext): StorageProvider {
  if (!settings.root) {
    throw new WorkspaceSyncError("CONFIG_INVALID", 'local.root is required for provider "local": set it to a folder path', { path: "local.root" });
  }
  const root = path.resolve(settings.root);
  const token = installToken(ctx?.stateDir);
  const lazyFlush = bootId() !== undefined;
  // Part of a sync's small copies on a thread of their own, where there are two cores (see copy-lane.ts).
  const lanes = new CopyLanes(availableCores(), ctx?.logger);
  // Writes and deletes never go through a symlink inside the folder (a link there is not the
  // provider's to follow): the same guard sync uses for the workspace.
  let guardPromise: Promise<WorkspaceFs> | undefined;
  const guard = (): Promise<WorkspaceFs> => (guardPromise ??= WorkspaceFs.open(root, "the local provider folder"));
  /**
   * Folders whose last complete recursive listing passed over none of this install's temp files,
   * with when that listing started (see `cleanupIncomplete`).
   */
  const walkedClean = new Map<string, number>();
  const kindOf = (name: string): "own" | "other" | undefined => (name.startsWith(LOCAL_TEMP_PREFIX) ? providerTempKind(name, token)?.kind : undefined);

  const abs = (p: string): string => {
    const rel = normalizeRemotePath(p);
    return underRoot(root, rel);
  };

  /**
   * A small local file copied in with synchronous calls: the metadata and the bytes are in the page
   * cache, where a thread-pool round trip per call costs more than the call and dominates when
   * syncing many small files. As on the streaming path it is written under a temp name and renamed
   * into place only complete, through the symlink-refusing guard. It is flushed to disk right away
   * only where the boot cannot be told apart; elsewhere the OS writes it back (`lazyFlush`): a
   * flush per file stalls every file created after it behind a journal commit, and is what made a
   * first sync of many small files several times slower than rclone (which flushes nothing).
   * Copies of write series 1 are made on the provider's copy thread once it runs, the checks that
   * need this thread's state made here first (see `copy-lane.ts`). Never a claim (`overwrite:
   * false`): {@link StorageProvider.write} gives those the path that checks the folder before the link.
   */
  async function writeSmallCopy(g: WorkspaceFs, rel: string, parent: string, target: string, sourceFile: string | LocalSource, options: WriteOptions): Promise<RemoteEntry> {
    throwIfAborted(options.signal);
    const finalName = path.basename(target);
    // (Only a source the thread can open with the same checks: never one read through links.)
    const elsewhere = typeof sourceFile === "string" ? undefined : sourceFile.elsewhere?.();
    const lane = elsewhere && lanes.forSeries(options.series);
    const copied = lane && (await copyOnLane(lane, g, parent, elsewhere!, finalName, options));
    if (copied) {
      options.onProgress?.(copied.size);
      return entryOf(rel, copied.size, copied.mtimeNs, copied.ino);
    }
    // Opened with its checks first (never through a symlink, never a FIFO): a refusal creates nothing.
    let src: OpenedLocalFile<number>;
    try {
      src = localSourceOf(sourceFile).openSync();
    } catch (err) {
      throw err instanceof LocalPathError ? err : toWorkspaceSyncError(err);
    }
    try {
      return copySmallFrom(g, rel, parent, finalName, src, options);
    } finally {
      fsSync.closeSync(src.handle);
      lanes.madeOne();
    }
  }

  /**
   * The copy made on the lane's thread, with the checks made here and there; `undefined` when it
   * was not (nothing left behind): then it is made here, every check made again, with its refusal.
   */
  async function copyOnLane(lane: CopyLane, g: WorkspaceFs, parent: string, source: LaneSource, finalName: string, options: WriteOptions): Promise<LaneCopied | undefined> {
    const folder = lane.folder(parent, () => shareFolder(g, parent));
    const job = folder && lane.copy(folder, source, providerTempName(token, finalName), finalName, { flush: !lazyFlush, mtimeNs: mtimeNsOf(options) });
    const copied = await job;
    if (job !== undefined && copied === undefined) {
      lane.dropFolder(folder!);
      throwIfAborted(options.signal);
    }
    return copied;
  }

  /** A descriptor of folder `parent`, checked, for the lane's thread; `undefined` where there is none to give (the copy is then made here, which says why). */
  function shareFolder(g: WorkspaceFs, parent: string): { fd: number; real: string } | undefined {
    try {
      return g.shareFolderSync(parent);
    } catch {
      return undefined;
    }
  }

  function copySmallFrom(g: WorkspaceFs, rel: string, parent: string, finalName: string, from: OpenedLocalFile<number>, options: WriteOptions): RemoteEntry {
    const tmpName = providerTempName(token, finalName);
    let created: { fd: number; dir: string };
    try {
      try {
        created = g.createFileSync(parent, tmpName, from.mode);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
        fsSync.mkdirSync(root, { recursive: true });
        created = g.createFileSync(parent, tmpName, from.mode);
      }
    } catch (err) {
      throw isLocalNameProblem(err) ? err : toWorkspaceSyncError(err);
    }
    // Every call below goes through the folder as checked (its descriptor, where /proc names it),
    // with no await in between.
    const tmp = childPath(created.dir, tmpName);
    let st: BigIntStats;
    try {
      const mtimeNs = mtimeNsOf(options);
      // No boot id to detect a restart by: flushed before it becomes visible, as large files are.
      st = copyFdToNewFileSync(from, created.fd, { flush: !lazyFlush, mtimeNs });
      g.renameInSync(created.dir, tmpName, finalName, rel);
      options.onProgress?.(Number(st.size));
      return entryOfStats(rel, st);
    } catch (err) {
      fsSync.rmSync(tmp, { force: true });
      throw isLocalNameProblem(err) && err instanceof LocalPathError ? err : toWorkspaceSyncError(err);
    }
  }

  /**
   * Checks that folder `rel` is reached from the root through real folders (or is missing: it
   * lists as empty); a symlink or a file on the way is refused with a typed error.
   */
  const listable = async (rel: string): Promise<DirIdent | undefined> => {
    try {
      const at = await (await guard()).verifyDir(rel);
      const st = await fsp.lstat(at, { bigint: true });
      return { dev: st.dev, ino: st.ino };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      if (!(err instanceof LocalPathError)) throw toWorkspaceSyncError(err);
      const why = err.reason.replace(/(; nothing is ever| ?: skipped).*$/s, "");
      throw new WorkspaceSyncError("INVALID_PATH", `Cannot list ${rel} in ${description}: ${why}. A symlink there is never followed: replace it with the folder it points to, or set local.root to that folder`, { path: rel, cause: err });
    }
  };
  const description = `local:${root}`;
  const provider: StorageProvider = {
    description,
    capabilities: { listMtime: "source", metadata: false, caseInsensitive: false, folders: true, cheapReads: true, listsFolderByFolder: true, threadWrites: { slots: COPY_SLOTS, largestBytes: SMALL_COPY_BYTES }, ...(lazyFlush ? { lazyFlush } : {}) },

    tempFileKind: kindOf,


    list(dir: string, options: ListOptions = {}): AsyncIterable<RemoteEntry> {
      const rel = normalizeRemotePath(dir);
      const base = abs(dir);
      const recursive = options.recursive ?? true;
      const started = Date.now();
      // Only a listing that ends whole says anything; until then the folder is not known clean.
      walkedClean.delete(base);
      const onComplete = (sawOwnTemp: boolean): void => {
        if (recursive && !sawOwnTemp) walkedClean.set(base, started);
        else walkedClean.delete(base);
      };
      const walk = (rootIdent?: DirIdent): AsyncIterableIterator<RemoteEntry> =>
        walkFolder(base, { recursive, signal: options.signal, token, entryOf, onComplete, rootIdent, ...(options.notFiles === true && { otherOf }) });
      // The walk looks at every name below with lstat, but opens the folder it is given by path:
      // one under the root is first checked to be reached through real folders (a symlink there,
      // to a folder outside, would list that folder's files as this one's, and a sync would read
      // the files missing from it as deleted). Each folder read must then still be the one looked
      // at (see `readFolder`).
      return rel === "" ? walk() : afterCheck(() => listable(rel), walk);
    },

    async stat(p: string): Promise<RemoteEntry | undefined> {
      try {
        // A regular file only, as the listing gives, reached through real folders: a symlink at
        // the name or on the way is not followed (its target's size and time would pass for the
        // file's, and a delete checked by them would then go ahead).
        const rel = normalizeRemotePath(p);
        const slash = rel.lastIndexOf("/");
        const dir = await (await guard()).verifyDir(slash < 0 ? "" : rel.slice(0, slash)).catch((err: unknown) => {
          if (err instanceof LocalPathError) return undefined;
          throw err;
        });
        if (dir === undefined) return undefined;
        const st = await fsp.lstat(childPath(dir, rel.slice(slash + 1)), { bigint: true });
        return st.isFile() ? entryOfStats(rel, st) : undefined;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT" || (err as NodeJS.ErrnoException).code === "ENOTDIR") return undefined;
        throw toWorkspaceSyncError(err);
      }
    },

    async read(p: string, options: ReadOptions = {}): Promise<Readable> {
      throwIfAborted(options.signal);
      if (emptyRange(options)) return Readable.from([]);
      let handle: fsp.FileHandle;
      try {
        // Never through a symlink, never a FIFO or device: the folder may have changed since it was listed.
        ({ handle } = await (await guard()).source(normalizeRemotePath(p)).open());
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          throw new WorkspaceSyncError("NOT_FOUND", `Not found on ${provider.description}: ${p}`, { path: p });
        }
        throw err instanceof LocalPathError ? err : toWorkspaceSyncError(err);
      }
      const stream = createReadStream("", {
        fd: handle,
        start: options.start,
        end: options.end,
        highWaterMark: READ_BUFFER,
        signal: options.signal,
      });
      // fs.ReadStream reads each chunk into a Buffer of its own and keeps none once pushed.
      return options.handOver === true ? handingOver(stream) : stream;
    },

    async write(p: string, source: Readable, options: WriteOptions = {}): Promise<RemoteEntry> {
      // Its error while the folder and the temp file are made is seen by the pipeline below (it
      // would otherwise have no listener and end the process).
      source.on("error", () => undefined);
      const rel = normalizeRemotePath(p);
      if (rel === "") throw new WorkspaceSyncError("INVALID_PATH", "Cannot write to the provider root: give a file path", { path: p });
      const target = abs(rel);
      const slash = rel.lastIndexOf("/");
      const g = await guard();
      const parent = slash < 0 ? "" : rel.slice(0, slash);
      // A claim (`overwrite: false`) takes the path below: its link is made after the folder's check.
      if (options.sourceFile !== undefined && options.sizeHint !== undefined && options.sizeHint <= SMALL_COPY_BYTES && options.overwrite !== false) {
        source.destroy();
        return writeSmallCopy(g, rel, parent, target, options.sourceFile, options);
      }
      let folder: HeldFolder;
      try {
        folder = await g.holdFolder(parent).catch(async (err: unknown) => {
          // The folder itself is created on the first write (checked once, not per file).
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
          await fsp.mkdir(root, { recursive: true });
          return g.holdFolder(parent);
        });
      } catch (err) {
        source.destroy();
        throw isLocalNameProblem(err) ? err : toWorkspaceSyncError(err);
      }
      // Every call below reaches the folder as checked (held open): see HeldFolder.
      const name = rel.slice(slash + 1);
      const tmp = providerTempName(token, name);
      let st: BigIntStats;
      let from: OpenedLocalFile<fsp.FileHandle> | undefined;
      try {
        // A large local file is opened with its checks and streamed, its permission bits kept (a
        // copy by path, in the kernel, would follow a folder swapped for a symlink since the listing).
        if (options.sourceFile !== undefined) {
          from = await localSourceOf(options.sourceFile).open();
          source.destroy();
        }
        // Durable before it becomes visible (a power cut never leaves a short file under the final
        // name), its mode exactly the source's (past the umask, as copyFile keeps it).
        let written = 0;
        const onChunk = options.onProgress && ((n: number): void => options.onProgress!((written += n)));
        const mtimeNs = mtimeNsOf(options);
        const opened = from;
        const input = (): Readable => (opened ? opened.handle.createReadStream({ autoClose: false, highWaterMark: READ_BUFFER }) : source);
        st = await folder.writeNewFile(tmp, input, { mode: from?.mode, mtimeNs, signal: options.signal, onChunk });
        if (options.overwrite === false) {
          // link() fails atomically when the name exists, unlike rename(): a claim (backups use
          // this) is never made by check-then-rename, even where hard links are refused.
          await folder.check();
          if (!(await folder.nameNoClobber(tmp, name, rel, false))) {
            throw new WorkspaceSyncError("ALREADY_EXISTS", `Already exists on ${provider.description}: ${rel}`, { path: rel });
          }
        } else {
          await folder.replace(tmp, name, rel);
        }
      } catch (err) {
        source.destroy();
        throw isLocalNameProblem(err) && err instanceof LocalPathError ? err : toWorkspaceSyncError(err);
      } finally {
        // The temp name, whatever happened: a link leaves it, and so does a failure (a rename takes it).
        await folder.removeQuietly(tmp);
        await folder.close();
        await from?.handle.close().catch(() => undefined);
      }
      // The same inode under its final name (rename and link keep it).
      return entryOfStats(rel, st);
    },

    async delete(p: string): Promise<void> {
      try {
        await (await guard()).unlinkFile(normalizeRemotePath(p));
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        const code = e instanceof LocalPathError ? (e.cause as NodeJS.ErrnoException | undefined)?.code : e.code;
        if (code === "ENOENT" || code === "ENOTDIR") return; // nothing of that name: deleted already
        throw err instanceof LocalPathError ? err : toWorkspaceSyncError(err);
      }
    },

    async deleteMany(paths: string[], options: { signal?: AbortSignal } = {}): Promise<DeleteFailure[]> {
      const failures: DeleteFailure[] = [];
      await mapLimit(paths, 8, async (p) => {
        throwIfAborted(options.signal);
        try {
          await provider.delete(p);
        } catch (err) {
          failures.push({ path: p, error: toWorkspaceSyncError(err) });
        }
      });
      return failures;
    },

    async ensureDir(dir: string): Promise<void> {
      try {
        await fsp.mkdir(root, { recursive: true });
        await (await guard()).ensureDir(normalizeRemotePath(dir));
      } catch (err) {
        throw err instanceof LocalPathError ? err : toWorkspaceSyncError(err);
      }
    },

    async check(): Promise<void> {
      let st: Stats;
      try {
        st = await fsp.stat(root);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") {
          // The parent must exist: a typo in local.root should not silently create a tree elsewhere.
          try {
            await fsp.stat(path.dirname(root));
          } catch {
            throw new WorkspaceSyncError("NOT_FOUND", `local.root ${root} does not exist and neither does its parent: create it or fix local.root`, { path: root });
          }
          return;
        }
        throw toWorkspaceSyncError(err);
      }
      if (!st.isDirectory()) {
        throw new WorkspaceSyncError("CONFIG_INVALID", `local.root ${root} is not a folder: point local.root at a folder`, { path: "local.root" });
      }
    },

    async cleanupIncomplete(dir: string, olderThanMs: number, options: CleanupOptions = {}): Promise<number> {
      let removed = 0;
      const cutoff = olderThanMs <= 0 ? Infinity : Date.now() - olderThanMs;
      const base = abs(dir);
      const walked = walkedClean.get(base);
      walkedClean.delete(base);
      // A whole listing of this folder, moments ago, passed over none of this install's temp
      // files (a sync lists the folder, then cleans it): this spares it a second pass over every
      // folder. One left since waits for the next cleanup (see CLEAN_WALK_TRUSTED_MS).
      if (walked !== undefined && Date.now() - walked < CLEAN_WALK_TRUSTED_MS) return 0;
      /** The path a temp file was going to become, relative to `dir`. */
      const finalPath = (full: string, name: string): string => [...path.relative(base, path.dirname(full)).split(path.sep).filter(Boolean), name].join("/");
      const visit = async (d: string): Promise<void> => {
        let items: import("node:fs").Dirent[];
        try {
          items = await fsp.readdir(d, { withFileTypes: true });
        } catch {
          return;
        }
        for (const item of items) {
          // The path only for what is looked at further (a whole cloud folder is read here each run).
          if (item.isDirectory()) await visit(childPath(d, item.name));
          else if (item.isFile() && item.name.startsWith(LOCAL_TEMP_PREFIX)) {
            const full = childPath(d, item.name);
            // Only our own temp files (this install's token), never a name pattern alone.
            const t = providerTempKind(item.name, token);
            if (t?.kind !== "own" || (options.match && !options.match(finalPath(full, t.finalName)))) continue;
            const st = await fsp.lstat(full).catch(() => undefined);
            if (st?.isFile() && st.mtimeMs <= cutoff) {
              await fsp.rm(full, { force: true });
              removed++;
            }
          }
        }
      };
      await visit(base);
      return removed;
    },

    async close(): Promise<void> {
      await lanes.close();
    },
  };
  markHandsOverReads(provider);
  return provider;
}

/** The source time a write gives, in nanoseconds (its `mtimeNs`, else its `mtime`'s milliseconds). */
function mtimeNsOf(options: WriteOptions): bigint | undefined {
  return options.mtimeNs ?? (options.mtime ? nsFromMs(options.mtime.getTime()) : undefined);
}

/** A listed file: the mtime at the file system's full precision (nanoseconds), compared at the microsecond this library can set. */
function entryOf(rel: string, size: number, mtimeNs: bigint, ino: bigint): RemoteEntry {
  return {
    path: rel,
    size,
    mtime: dateFromNs(mtimeNs),
    mtimeNs,
    mtimePrecisionNs: SET_MTIME_PRECISION_NS,
    revision: localRevision(size, mtimeNs, ino),
  };
}

/**
 * A local file's revision: size, time in milliseconds and inode number. The number is taken as
 * unsigned: Node's bigint stats give one of 2^63 or more as negative, and the walk thread's
 * `BigUint64Array` as positive, so the same file had two revisions (NFS, overlayfs with xino).
 * Joined, not a template: a template of this length is a tree of V8 cons strings holding every
 * part (~220 bytes a file in a listing kept in memory); join makes one flat string (~80).
 */
export function localRevision(size: number, mtimeNs: bigint, ino: bigint): string {
  return [size, msFromNs(mtimeNs), BigInt.asUintN(64, ino)].join(":");
}

/** The entry of `rel`, neither a file nor a folder (see {@link ListOptions.notFiles}). */
function otherOf(rel: string, kind: "symlink" | "special"): RemoteEntry {
  return { path: rel, size: 0, notAFile: kind };
}

/** {@link entryOf} from a file's metadata. */
function entryOfStats(rel: string, st: BigIntStats): RemoteEntry {
  return entryOf(rel, Number(st.size), st.mtimeNs, st.ino);
}
