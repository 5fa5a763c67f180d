/**
 * Listings of both sides, as maps keyed by comparison key. The local walk keeps a bounded number of
 * `readdir`/`stat` calls in flight (tens of thousands of files list in about a second). A listing
 * that fails throws: callers treat it as unknown, never as empty.
 */
import { isInside } from "../util/inside.js";
import fs, { promises as fsp } from "node:fs";
import type { Dirent } from "node:fs";
import path from "node:path";
import { throwIfAborted, toWorkspaceSyncError } from "../errors.js";
import type { RemoteEntry, StorageProvider } from "../providers/types.js";
import { installToken, syncTempKind } from "../util/temp-names.js";
import { msFromNs, msOfDate } from "../util/mtime.js";
import { childPath, flatJoin } from "../util/flat-join.js";
import { NON_UTF8_REASON, nonUtf8Names } from "../util/utf8-names.js";
import { localFromState, localMatches, remoteFromState, remoteMatches } from "./deltas.js";
import { FileIndex, type OwnRecords } from "./file-index.js";
import { PackedLocalFiles } from "./local-records.js";
import { FolderCheck, folderOf, localLine, remoteLine } from "./folder-digest.js";
import { asStateFiles, type StateFiles } from "./state-files.js";
import type { SyncFilter } from "./filters.js";
import type { LocalFile, RemoteFile, SkipKind, SkipNote, StateEntry } from "./types.js";

/**
 * Folders of the workspace read at once (symlinked targets' `stat` calls take these places too).
 * Each read's entries are looked at in its callback, up to {@link WALK_YIELD_EVERY} of them, and
 * the reads that complete together run in one poll phase of the event loop; a larger folder's
 * next piece runs in the check phase of the same iteration, still before the timers. So at most
 * 2 × this × {@link WALK_YIELD_EVERY} entries pass between two runs of the timers (this many
 * folders' entries, for folders of 512 or fewer). At 64, a no-change sync of 200 000 files in
 * folders of 1 000 blocked timers for 100–200 ms at a time all through the walk; at 8, no block
 * over ~30 ms there, and the 40 000-file no-change run takes the same time (6 rounds each, taking
 * turns). Reading ahead gains little: libuv's thread pool runs 4 calls at a time, and the
 * folders are in the page cache.
 */
export const WALK_FOLDER_READS = 8;

/**
 * Most entries of one folder listed in one turn of the event loop: the file metadata is read with
 * synchronous calls (cheaper than a thread-pool round trip each), so a folder of 100 000 files
 * must still let timers and I/O run in between.
 */
export const WALK_YIELD_EVERY = 512;

/** Options of {@link listLocal}. */
export interface LocalListOptions {
  filter: SyncFilter;
  copySymlinks: boolean;
  /** Lower-cased names the provider refuses (skipped with a note). */
  ignoredNames?: readonly string[];
  keyOf: (p: string) => string;
  /**
   * This install's temp-name token (default: the process's, see `util/temp-names.ts`): sync download temps carrying it are ours (never listed, returned
   * in `ownTemps`); those with another install's token are reported and left alone. Every other name,
   * `.ws-sync-draft.tmp` included, is a user file.
   */
  syncToken?: string;
  /** @deprecated Ignored: stale temp files are removed by the runner after a successful run, through the guarded file system. */
  removeStaleTemps?: boolean;
  /** The provider's own word on its temp files (a workspace may sit inside a local provider's root). */
  providerTempKind?: (name: string) => "own" | "other" | undefined;
  signal?: AbortSignal;
  /** The last agreed state's files and which keys may be held as marks on them (see {@link KnownFiles}). */
  known?: KnownFiles;
}

/**
 * A listing checked folder by folder against the state's digests of its side, before the state's
 * entries are read (see `folder-digest.ts`); instead of {@link LocalListOptions.known}.
 */
export interface FolderDigestOptions {
  /** The state's digests of this side, by folder key. */
  expected: ReadonlyMap<string, string>;
  /** Keys that always get a record of their own, outside every digest (as {@link KnownFiles.needsRecord}). */
  needsRecord?: (key: string) => boolean;
}

/**
 * A listing read but not yet keyed: its records, and (checked by folders) which folders were found
 * unchanged. {@link rebaseOnState} then holds those as marks on the state; {@link finishListing}
 * keys it.
 */
export interface Walked<T extends { path: string }> {
  found: T[];
  files: FileIndex<T>;
  skipped: SkipNote[];
  blocked: string[];
  opaque?: string[];
  ownTemps?: OwnTemp[];
  /** Present when listed with {@link FolderDigestOptions}. */
  check?: FolderCheck<T>;
}

/**
 * The last agreed state, given to a listing: a file listed exactly as its state entry records it
 * is held as a mark, not as a record ({@link FileIndex}).
 */
export interface KnownFiles {
  /** The state's files by key (a plain record without a prototype, see `pathRecord`, or a run's {@link StateFiles}); must not change while the listing is in use. */
  files: Readonly<Record<string, StateEntry>> | StateFiles;
  /** Keys that always get a record of their own (files a step reads more of than the state keeps). */
  needsRecord?: (key: string) => boolean;
}

/** A temp file of ours found in the workspace (a crashed run's leftover, or one in flight). */
export interface OwnTemp {
  path: string;
  mtimeMs: number;
}

/** Skip reason of another install's (or process's) temp file. */
export const OTHER_TEMP_REASON = "a temp file of another workspace-sync install or process (in flight, or left by one that stopped; what it was copying is intact): not synced, left alone";

/** A listing: files by key, plus what was skipped and which names clashed by case. */
export interface Listing<T> {
  /** Files by key (a {@link FileIndex} where the listing was given the state). */
  files: Map<string, T>;
  skipped: SkipNote[];
  /** Paths that clash with another by case on a case-insensitive provider (one of each pair is skipped). */
  caseClashes: string[];
  /**
   * Keys held by more than one name (case or Unicode form), with every variant, the kept one first.
   * {@link resolveClashes} may pick another variant to keep.
   */
  clashGroups?: Map<string, T[]>;
  /**
   * Names that exist on this side but are not synced (in the workspace: symlinks without
   * copySymlinks, special files, names the provider refuses; in the cloud: names the workspace
   * cannot hold). Nothing may be written over them. Once `applyBlocked` ran, every name of this
   * side it left alone (a file of the same key as a name left alone on either side, or under one).
   */
  blocked?: string[];
  /**
   * Blocked names whose insides are out of scope too (in the workspace: symlinks not followed,
   * special files, folders with a refused name; in the cloud: symlinks and special files):
   * nothing is ever written under them, on either side.
   */
  opaque?: string[];
  /** Local only: this install's sync temp files found (the runner removes stale ones after a successful run). */
  ownTemps?: OwnTemp[];
}

/**
 * Walks the workspace folder `root`. A missing root lists as empty. Callback-style fs calls with a
 * simple in-flight counter: per-file promises cost more than the stat itself at this scale.
 */
export async function listLocal(root: string, options: LocalListOptions): Promise<Listing<LocalFile>> {
  return finishListing(await walkLocal(root, options), options.keyOf, "local");
}

/** {@link listLocal} up to its records, checked by folders where `folders` is given (then `known` is not used). */
export async function walkLocal(root: string, options: LocalListOptions & { folders?: FolderDigestOptions }): Promise<Walked<LocalFile>> {
  const found: LocalFile[] = [];
  const skipped: SkipNote[] = [];
  const blocked: string[] = [];
  const ownTemps: OwnTemp[] = [];
  const opaque: string[] = [];
  const syncToken = options.syncToken ?? installToken();
  const block = (p: string, reason: string, isOpaque = false, kind?: SkipKind): void => {
    skipped.push(kind ? { path: p, reason, kind } : { path: p, reason });
    blocked.push(p);
    if (isOpaque) opaque.push(p);
    // Spelled otherwise than its key, it may twin a synced name (see `applyBlocked`), which its
    // folder's digest does not show: the run reads the state there.
    if (check !== undefined && options.keyOf(p) !== p) check.dirty(folderOf(p));
  };
  const ignored = new Set((options.ignoredNames ?? []).map((n) => n.toLowerCase()));
  const byFolders = options.folders;
  const files = new FileIndex<LocalFile>(byFolders ? undefined : knownStateFiles(options.known), localFromState, new PackedLocalFiles());
  const check = byFolders ? new FolderCheck<LocalFile>(byFolders.expected, (f) => localLine(f.path, f)) : undefined;
  const keep = keeper(files, byFolders ? undefined : options.known, options.keyOf, (f, s) => localMatches(s.local, f), check, byFolders?.needsRecord);
  const seenDirs = new Set<string>();
  const realRoot = await fsp.realpath(root).catch(() => path.resolve(root));

  type Task = { op: "dir" | "link"; abs: string; rel: string; viaLink?: boolean };
  // Absolute and normalized once: the entries below it are joined by plain concatenation.
  const queue: Task[] = [{ op: "dir", abs: path.resolve(root), rel: "" }];
  let inFlight = 0;
  let failure: unknown;
  /** Links found to be folders, decided together once the walk is idle (see `followLinkedFolders`). */
  const linkedFolders: { t: Task; real: string | undefined }[] = [];

  await new Promise<void>((resolve) => {
    const finish = (): void => {
      inFlight--;
      pump();
    };
    const fail = (err: unknown): void => {
      failure ??= err;
    };
    /** Lists one folder's entries, {@link WALK_YIELD_EVERY} at a time (the event loop gets a turn between). */
    const onDir = (t: Task, items: Dirent[], from = 0): void => {
      if (from === 0 && items.some((item) => item.name.includes("\uFFFD"))) {
        // Names that are not valid UTF-8 come back decoded lossily and open nothing: each is
        // reported (skipped, with the reason) instead of vanishing from the listing.
        try {
          const check = nonUtf8Names(t.abs);
          for (const bad of check.invalid) block(t.rel ? `${t.rel}/${bad}` : bad, NON_UTF8_REASON, true, "non-utf8");
          items = items.filter((item) => check.exists(item.name));
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "ENOENT") fail(toWorkspaceSyncError(err));
          return finish();
        }
      }
      const end = Math.min(items.length, from + WALK_YIELD_EVERY);
      if (end < items.length) {
        setImmediate(() => {
          if (failure !== undefined || options.signal?.aborted) finish();
          else onDir(t, items, end);
        });
      }
      for (let i = from; i < end; i++) {
        const item = items[i]!;
        const name = item.name;
        const relPath = t.rel ? flatJoin(t.rel, name) : name;
        if (name.charCodeAt(0) === 46 /* . */) {
          const kind = syncTempKind(name, syncToken);
          if (kind === "own") {
            // Ours (a crashed run's, or a concurrent run's in flight); only outside symlinked folders
            // is it ever removed, and only through the guarded file system.
            if (!t.viaLink && item.isFile()) {
              try {
                ownTemps.push({ path: relPath, mtimeMs: fs.lstatSync(childPath(t.abs, name)).mtimeMs });
              } catch {
                /* vanished */
              }
            }
            continue;
          }
          const pkind = kind ?? options.providerTempKind?.(name);
          if (pkind === "own") continue; // the provider's upload in flight into a root inside the workspace
          if (kind === "other" || pkind === "other") {
            // (A folder too: an inbox move's copy, left by a crash; nothing is written under it.)
            block(relPath, OTHER_TEMP_REASON, item.isDirectory());
            continue;
          }
        }
        if (options.filter.matches(relPath)) continue;
        if (ignored.has(name.toLowerCase())) {
          block(relPath, "the provider does not store this name", item.isDirectory(), "ignored-name");
          continue;
        }
        if (name.includes("\\")) {
          // The cloud listing refuses such names (a backslash is a separator elsewhere), so a copy
          // pushed up could never be synced back: both sides leave it alone.
          block(relPath, "a backslash in the name (a folder separator on other systems): not synced", item.isDirectory());
          continue;
        }
        const abs = childPath(t.abs, name);
        if (item.isDirectory()) queue.push({ op: "dir", abs, rel: relPath, viaLink: t.viaLink });
        else if (item.isFile()) {
          // Synchronous lstat: the metadata of a just-listed folder is in the page cache, and a
          // thread-pool round trip per file costs more than the call (40 000 files: ~1 s → ~0.4 s).
          try {
            // bigint: the nanoseconds rclone and the cloud's metadata keep (a double of ms cannot).
            const st = fs.lstatSync(abs, { bigint: true });
            if (st.isFile()) {
              const f: LocalFile = { path: relPath, size: Number(st.size), mtimeMs: msFromNs(st.mtimeNs), mtimeNs: st.mtimeNs };
              if (!keep(f, t.rel)) found.push(f);
            }
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOENT") fail(toWorkspaceSyncError(err));
          }
        }
        else if (item.isSymbolicLink()) {
          if (options.copySymlinks) queue.push({ op: "link", abs, rel: relPath });
          else block(relPath, "symlink (set copySymlinks to copy its target)", true);
        } else block(relPath, "not a regular file", true);
      }
      if (end >= items.length) {
        if (check) for (const f of check.end(t.rel)) found.push(f);
        finish();
      } else pump(); // folders found so far can be read meanwhile
    };
    const start = (t: Task): void => {
      inFlight++;
      if (t.op === "dir") {
        fs.readdir(t.abs, { withFileTypes: true }, (err, items) => {
          if (err) {
            // A missing root lists as empty; a folder that vanished meanwhile is simply gone.
            if (err.code !== "ENOENT") fail(toWorkspaceSyncError(err));
            finish();
          } else onDir(t, items);
        });
      } else {
        fs.stat(t.abs, { bigint: true }, (err, st) => {
          if (err) block(t.rel, "broken symlink", true);
          else if (st.isFile()) {
            found.push({ path: t.rel, size: Number(st.size), mtimeMs: msFromNs(st.mtimeNs), mtimeNs: st.mtimeNs });
            check?.extra();
          }
          else if (st.isDirectory()) {
            let real: string | undefined;
            try {
              real = fs.realpathSync(t.abs);
            } catch {
              real = undefined;
            }
            linkedFolders.push({ t, real });
          } else {
            // A FIFO, socket or device: left alone (it was neither listed nor blocked, so its
            // name's state entry read as a deletion and a synced file it replaced was deleted).
            block(t.rel, "symlink to something that is not a regular file or folder", true);
          }
          finish();
        });
      }
    };
    const pump = (): void => {
      if (failure !== undefined || options.signal?.aborted) {
        if (inFlight === 0) resolve();
        return;
      }
      while (inFlight < WALK_FOLDER_READS && queue.length > 0) start(queue.pop()!);
      if (inFlight === 0 && queue.length === 0) {
        if (linkedFolders.length === 0) return resolve();
        followLinkedFolders();
        pump();
      }
    };
    /**
     * Once everything found so far is read: the links to folders, in a fixed order (fewest folders
     * above them, then by name), each followed unless its folder is already synced (through an
     * earlier link, or inside the workspace) or holds the workspace. The walk reads in parallel: deciding as each `stat`
     * came back let the choice between two links to one folder flip from run to run. Links found
     * in the folders followed now are decided in the next round, after these.
     */
    const followLinkedFolders = (): void => {
      const round = linkedFolders.splice(0).map((l) => ({ ...l, depth: l.t.rel.split("/").length }));
      round.sort((a, b) => a.depth - b.depth || (a.t.rel < b.t.rel ? -1 : a.t.rel > b.t.rel ? 1 : 0));
      for (const { t, real } of round) {
        // (A folder holding the workspace would list it again, under the link.)
        if (!real || seenDirs.has(real) || isInside(realRoot, real) || isInside(real, realRoot)) {
          block(t.rel, "symlink to a folder already synced (loop)", true);
        } else {
          seenDirs.add(real);
          queue.push({ op: "dir", abs: t.abs, rel: t.rel, viaLink: true });
        }
      }
    };
    pump();
  });
  throwIfAborted(options.signal);
  if (failure !== undefined) throw failure;
  if (check) for (const f of check.endAll()) found.push(f);
  return { found, files, skipped, blocked, opaque, ownTemps, check };
}

/** A walked listing keyed: clashes found, and files named like folders skipped (see {@link listLocal}, {@link listRemote}). */
export function finishListing<T extends { path: string }>(w: Walked<T>, keyOf: (p: string) => string, side: "local" | "remote"): Listing<T> {
  w.found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const listing: Listing<T> = { ...keyed(w.found, keyOf, w.skipped, w.files), skipped: w.skipped, blocked: w.blocked };
  if (w.opaque) listing.opaque = w.opaque;
  if (w.ownTemps) listing.ownTemps = w.ownTemps;
  if (side === "local") skipFilesNamedLikeFolders(listing, keyOf);
  else skipRemoteFilesNamedLikeFolders(listing, keyOf);
  return listing;
}

/**
 * A listing checked by folders, once the state is read: the files of the folders found unchanged
 * are held as marks on it, and each record the state describes exactly too, as a listing given
 * `known` holds them.
 */
export function rebaseOnState<T extends { path: string }>(w: Walked<T>, known: KnownFiles, keyOf: (p: string) => string, rebuild: (key: string, entry: StateEntry) => T, matches: (f: T, s: StateEntry) => boolean, own?: OwnRecords<T>): Walked<T> {
  const files = new FileIndex<T>(knownStateFiles(known), rebuild, own);
  files.markFolders(w.check?.clean ?? new Set(), folderOf);
  const keep = knownKeeper(files, known, keyOf, matches);
  const found: T[] = [];
  for (const f of w.found) {
    // A record of a key already marked (a listing that came back to a folder): the record stands.
    if (files.marked(f.path)) files.delete(f.path);
    if (!keep(f)) found.push(f);
  }
  return { ...w, found, files };
}

/**
 * A file whose name differs only in case (or Unicode form) from a synced folder (`Notes` beside
 * `notes/a.txt`) cannot exist on a case-insensitive provider: the file is skipped, reported and
 * blocked (its cloud counterpart is left alone), so the folder still syncs.
 */
function skipFilesNamedLikeFolders<T extends { path: string }>(listing: Listing<T>, keyOf: (p: string) => string): void {
  const dirs = folderSpellings(listing.files, keyOf);
  if (dirs.size === 0) return;
  for (const [k, f, dir] of filesNamedLike(listing.files, dirs)) {
    listing.files.delete(k);
    listing.clashGroups?.delete(k);
    listing.caseClashes.push(f.path);
    listing.skipped.push({ path: f.path, reason: `${CLASH_REASON} the folder ${dir}/; the provider cannot hold both: skipped`, kind: "name-clash" });
    listing.blocked?.push(f.path);
  }
}

/** Every file's path, without rebuilding the records a {@link FileIndex} holds as marks. */
function filePaths<T extends { path: string }>(files: ReadonlyMap<string, T>): Iterable<string> {
  if (files instanceof FileIndex) return (files as FileIndex<T>).paths();
  return (function* () {
    for (const f of files.values()) yield f.path;
  })();
}

/**
 * Each folder's spelling by key, from the folders of every file's path, then of each of `more`
 * (names the run leaves alone: a folder whose files are all left alone keeps its spelling).
 */
export function folderSpellings(files: ReadonlyMap<string, { path: string }>, keyOf: (p: string) => string, more: Iterable<string> = []): Map<string, string> {
  const dirs = new Map<string, string>();
  for (const p of chain(filePaths(files), more)) {
    for (let i = p.lastIndexOf("/"); i > 0; i = p.lastIndexOf("/", i - 1)) {
      const dir = p.slice(0, i);
      const k = keyOf(dir);
      if (dirs.has(k)) break; // its parents are known too
      dirs.set(k, dir);
    }
  }
  return dirs;
}

function* chain<T>(a: Iterable<T>, b: Iterable<T>): Iterable<T> {
  yield* a;
  yield* b;
}

/** The files whose key is also a folder's (key, file, the folder's spelling), collected before any is removed. */
function filesNamedLike<T>(files: ReadonlyMap<string, T>, dirs: ReadonlyMap<string, string>): [string, T, string][] {
  const out: [string, T, string][] = [];
  for (const [k, dir] of dirs) {
    const f = files.get(k);
    if (f !== undefined) out.push([k, f, dir]);
  }
  return out;
}

/** Options of {@link listRemote}. */
export interface RemoteListOptions {
  filter: SyncFilter;
  keyOf: (p: string) => string;
  signal?: AbortSignal;
  /** The last agreed state's files and which keys may be held as marks on them (see {@link KnownFiles}). */
  known?: KnownFiles;
  /** The listing itself when already started ({@link startListing}); by default listed here. */
  entries?: AsyncIterable<RemoteEntry>;
}

/** A cloud listing already under way (see {@link startListing}). */
export interface StartedListing {
  /** The listing, from its first entry. */
  entries: AsyncIterable<RemoteEntry>;
  /**
   * Ends it: where it was never read or not to its end, its request in flight is aborted and its
   * resources (a walk's thread included) are let go; after a whole read it only lets go of the
   * caller's signal. Call it once the listing is done with, whatever happened.
   */
  cancel(): Promise<void>;
}

/**
 * Starts listing `dir` (recursively) before the caller is ready to read it: its first entries are
 * asked for at once, so a cloud provider's first page request is under way while the caller reads
 * its state.
 */
export function startListing(provider: StorageProvider, dir: string, signal?: AbortSignal): StartedListing {
  // A signal of its own, so that `cancel` ends a request in flight (an async generator's
  // `return()` waits behind the `next()` it is in), and the caller's still ends it.
  const ac = new AbortController();
  const follow = (): void => ac.abort(signal?.reason);
  if (signal?.aborted) follow();
  else signal?.addEventListener("abort", follow, { once: true });
  const it = provider.list(dir, { ...SYNC_LISTING, signal: ac.signal })[Symbol.asyncIterator]();
  let first: Promise<IteratorResult<RemoteEntry>> | undefined = it.next();
  // Its failure is seen by whoever reads it; until then it is not an unhandled rejection.
  first.catch(() => undefined);
  const entries: AsyncIterableIterator<RemoteEntry> = {
    next: () => {
      const p = first ?? it.next();
      first = undefined;
      return p;
    },
    return: async (value?: unknown) => (await it.return?.(value)) ?? { value: undefined, done: true },
    [Symbol.asyncIterator]: () => entries,
  };
  return {
    entries,
    cancel: async () => {
      signal?.removeEventListener("abort", follow);
      // (Nothing listens any more once the listing was read to its end.)
      ac.abort();
      await it.return?.().catch(() => undefined);
    },
  };
}

/** Longest name (one path segment) a workspace file system holds, in bytes. */
const MAX_SEGMENT_BYTES = 255;

/**
 * Lists the cloud folder `dir` recursively. Names the workspace cannot hold are skipped with a
 * reason and listed in `blocked` (so nothing of that name is deleted or overwritten on either side):
 * unsafe names (`..`, backslash, NUL), segments over 255 bytes, a file beside a folder of the same
 * name (the file is skipped; the folder's files sync), another install's in-flight temp files.
 */
export async function listRemote(provider: StorageProvider, dir: string, options: RemoteListOptions): Promise<Listing<RemoteFile>> {
  return finishListing(await walkRemote(provider, dir, options), options.keyOf, "remote");
}

/**
 * {@link listRemote} up to its records, checked by folders where `folders` is given (then `known`
 * is not used). The provider must list each folder's files together
 * (`ProviderCapabilities.listsFolderByFolder`); a folder it comes back to is taken as changed.
 */
export async function walkRemote(provider: StorageProvider, dir: string, options: RemoteListOptions & { folders?: FolderDigestOptions }): Promise<Walked<RemoteFile>> {
  const found: RemoteFile[] = [];
  const skipped: SkipNote[] = [];
  const blocked: string[] = [];
  const opaque: string[] = [];
  const block = (p: string, reason: string): void => {
    skipped.push({ path: p, reason });
    blocked.push(p);
  };
  const byFolders = options.folders;
  const files = new FileIndex<RemoteFile>(byFolders ? undefined : knownStateFiles(options.known), remoteFromState);
  const check = byFolders ? new FolderCheck<RemoteFile>(byFolders.expected, (f) => remoteLine(f.path, f)) : undefined;
  const keep = keeper(files, byFolders ? undefined : options.known, options.keyOf, (f, s) => remoteMatches(s.remote, f), check, byFolders?.needsRecord);
  /** The folder whose files are being listed (checked by folders: it ends when another begins). */
  let current: string | undefined;
  try {
    for await (const e of options.entries ?? provider.list(dir, { ...SYNC_LISTING, signal: options.signal })) {
      if (!isSafeRelativePath(e.path)) {
        // A key such as `share/../../etc/x` must never become a path outside the workspace.
        block(e.path, "unsafe name (empty, `.` or `..` component, backslash or NUL): skipped");
        continue;
      }
      if (options.filter.excluded(e.path)) continue;
      if (e.notAFile !== undefined) {
        // In place of a synced file or folder, its absence from the files is no deletion: the
        // name, and everything under it, is left alone on both sides (as a workspace symlink is).
        block(e.path, NOT_A_FILE_REASON[e.notAFile]);
        opaque.push(e.path);
        check?.dirty(folderOf(e.path));
        continue;
      }
      const base = e.path.slice(e.path.lastIndexOf("/") + 1);
      if (base.charCodeAt(0) === 46 /* . */ && provider.tempFileKind?.(base)) {
        // The provider's own temps never reach a listing; another install's in flight are reported.
        block(e.path, OTHER_TEMP_REASON);
        continue;
      }
      if (partLongerThan(e.path, MAX_SEGMENT_BYTES)) {
        block(e.path, `a name part is longer than ${MAX_SEGMENT_BYTES} bytes; the workspace file system cannot hold it: skipped`);
        continue;
      }
      const f = remoteFileOf(e);
      if (check) {
        const folder = folderOf(f.path);
        if (folder !== current) {
          if (current !== undefined) for (const g of check.end(current)) found.push(g);
          current = folder;
        }
      }
      if (!keep(f, current ?? "")) found.push(f);
    }
  } catch (err) {
    throw toWorkspaceSyncError(err);
  }
  if (check) for (const f of check.endAll()) found.push(f);
  return { found, files, skipped, blocked, opaque, check };
}

/** How a sync lists the cloud: recursively, with the names that are neither files nor folders. */
const SYNC_LISTING = { recursive: true, notFiles: true } as const;

/** Why a cloud name that is neither a file nor a folder is left alone. */
const NOT_A_FILE_REASON: Readonly<Record<NonNullable<RemoteEntry["notAFile"]>, string>> = {
  symlink: "a symlink in the cloud folder, not a file or folder: left alone on both sides (nothing is read, written or deleted through it, or under it)",
  special: "a special file (FIFO, socket or device) in the cloud folder: left alone on both sides",
};

/**
 * The listing's record of `e`. The usual shapes are built as one object literal: V8 sizes a
 * literal's object for exactly its own fields, and each field added afterwards goes to a separate
 * property array (~60 bytes a file more, 100 000 of them held for the whole run).
 */
function remoteFileOf(e: RemoteEntry): RemoteFile {
  const mtimeMs = msOfDate(e.mtime);
  if (mtimeMs !== undefined && e.hash === undefined && e.revision !== undefined) {
    // The local provider: source time in nanoseconds, a revision, no hash.
    if (e.mtimeNs !== undefined && e.mtimePrecisionNs !== undefined) {
      return { path: e.path, size: e.size, mtimeMs, mtimeNs: e.mtimeNs, mtimePrecisionNs: e.mtimePrecisionNs, revision: e.revision };
    }
    if (e.mtimeNs === undefined) return { path: e.path, size: e.size, mtimeMs, revision: e.revision };
  }
  if (mtimeMs !== undefined && e.hash !== undefined && e.revision !== undefined && e.mtimeNs === undefined) {
    // S3 (ETag and revision) and Dropbox (content hash and rev).
    return { path: e.path, size: e.size, mtimeMs, hash: e.hash, revision: e.revision };
  }
  const f: RemoteFile = { path: e.path, size: e.size };
  if (mtimeMs !== undefined) f.mtimeMs = mtimeMs;
  if (e.mtimeNs !== undefined) {
    f.mtimeNs = e.mtimeNs;
    if (e.mtimePrecisionNs !== undefined) f.mtimePrecisionNs = e.mtimePrecisionNs;
  }
  if (e.hash !== undefined) f.hash = e.hash;
  if (e.revision !== undefined) f.revision = e.revision;
  return f;
}

/**
 * Object stores hold `a` beside `a/b`; a folder tree cannot. The file is skipped and blocked (kept
 * in the cloud, never deleted) so the folder's files still sync.
 */
function skipRemoteFilesNamedLikeFolders<T extends { path: string }>(listing: Listing<T>, keyOf: (p: string) => string): void {
  const dirs = folderSpellings(listing.files, keyOf);
  if (dirs.size === 0) return;
  for (const [k, f, d] of filesNamedLike(listing.files, dirs)) {
    listing.files.delete(k);
    listing.clashGroups?.delete(k);
    listing.skipped.push({ path: f.path, reason: `the cloud also holds a folder ${d}/; the workspace cannot hold a file and a folder of one name: skipped, the cloud copy is kept` });
    listing.blocked?.push(f.path);
  }
}

/** True for a `/`-separated relative path with no empty, `.` or `..` component, backslash or NUL. */
export function isSafeRelativePath(p: string): boolean {
  if (p === "" || p.includes("\\") || p.includes("\0")) return false;
  // Part by part without splitting (a listing asks this of every cloud file).
  for (let start = 0; start <= p.length; ) {
    let end = p.indexOf("/", start);
    if (end === -1) end = p.length;
    const len = end - start;
    if (len === 0) return false;
    if (len <= 2 && p.charCodeAt(start) === 46 /* . */ && (len === 1 || p.charCodeAt(start + 1) === 46)) return false;
    start = end + 1;
  }
  return true;
}

/** True when a part of `p` is longer than `max` bytes in UTF-8. */
function partLongerThan(p: string, max: number): boolean {
  // A UTF-16 unit is at most 3 bytes of UTF-8 (a pair of them 4): most paths need no counting.
  if (p.length * 3 <= max) return false;
  return p.split("/").some((seg) => Buffer.byteLength(seg) > max);
}

/** Prefix of the skip reason of a name that clashes with another by case or Unicode form. */
const CLASH_REASON = "differs only in case or Unicode form from";

function clashNote(path: string, kept: string): SkipNote {
  return { path, reason: `${CLASH_REASON} ${kept}; the provider cannot hold both: skipped`, kind: "name-clash" };
}

/**
 * The test that holds a listed file as a mark beside the state (see {@link FileIndex}) where
 * `matches` says the entry records it exactly; true when it did (the caller drops the record).
 * Only a file whose path is its own key can be rebuilt from its key.
 */
function knownStateFiles(known: KnownFiles | undefined): StateFiles | undefined {
  if (known === undefined) return undefined;
  return asStateFiles(known.files);
}

/**
 * What a listing does with each file it finds: true when it is held otherwise than as a record of
 * the listing's own (a mark, or a file of a folder being checked); false to keep the record.
 */
function keeper<T extends { path: string }>(
  files: FileIndex<T>,
  known: KnownFiles | undefined,
  keyOf: (p: string) => string,
  matches: (f: T, s: StateEntry) => boolean,
  check: FolderCheck<T> | undefined,
  needsRecord: ((key: string) => boolean) | undefined,
): (f: T, folder: string) => boolean {
  if (check === undefined) return knownKeeper(files, known, keyOf, matches);
  return (f, folder) => {
    const key = keyOf(f.path);
    if (needsRecord?.(key) === true) return false;
    if (key !== f.path) {
      // (Its state entry, if any, is under its key: the folder cannot match as listed.)
      check.dirty(folder);
      return false;
    }
    check.add(folder, f);
    return true;
  };
}

function knownKeeper<T extends { path: string }>(files: FileIndex<T>, known: KnownFiles | undefined, keyOf: (p: string) => string, matches: (f: T, s: StateEntry) => boolean): (f: T) => boolean {
  if (known === undefined) return () => false;
  return (f) => keyOf(f.path) === f.path && known.needsRecord?.(f.path) !== true && files.keepIf(f.path, (s) => matches(f, s));
}

function keyed<T extends { path: string }>(list: T[], keyOf: (p: string) => string, skipped: SkipNote[], files: Map<string, T>): { files: Map<string, T>; caseClashes: string[]; clashGroups: Map<string, T[]> } {
  if (files instanceof FileIndex && files.size > 0) {
    // A file held as a mark whose key another name shares (a case or Unicode twin) gets its record
    // back, so the twins are ordered and resolved as if none had been marked (the state keeps no
    // spelling: its entry may describe the twin).
    const n = list.length;
    for (let i = 0; i < n; i++) {
      const k = keyOf(list[i]!.path);
      if (!files.marked(k)) continue;
      list.push(files.get(k)!);
      files.delete(k);
    }
    if (list.length > n) list.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }
  const caseClashes: string[] = [];
  const clashGroups = new Map<string, T[]>();
  for (const f of list) {
    const k = keyOf(f.path);
    const prior = files.get(k);
    if (prior) {
      caseClashes.push(f.path);
      skipped.push(clashNote(f.path, prior.path));
      const group = clashGroups.get(k);
      if (group) group.push(f);
      else clashGroups.set(k, [prior, f]);
      continue;
    }
    files.set(k, f);
  }
  return { files, caseClashes, clashGroups };
}

/**
 * Lets `choose` pick which variant of each clash group is synced (the first in name order by
 * default), and rewrites the listing's files, clash list and skip notes to match. Used to keep the
 * name that was synced before, so a new case twin never replaces its cloud copy.
 */
export function resolveClashes<T extends { path: string }>(listing: Listing<T>, choose: (key: string, variants: readonly T[]) => T): void {
  for (const [key, variants] of listing.clashGroups ?? []) {
    const chosen = choose(key, variants);
    if (chosen === variants[0] || !variants.includes(chosen)) continue;
    const names = new Set(variants.map((v) => v.path));
    const others = variants.filter((v) => v !== chosen);
    listing.files.set(key, chosen);
    listing.clashGroups!.set(key, [chosen, ...others]);
    for (let i = listing.skipped.length - 1; i >= 0; i--) {
      const s = listing.skipped[i]!;
      if (names.has(s.path) && s.kind === "name-clash") listing.skipped.splice(i, 1);
    }
    for (let i = listing.caseClashes.length - 1; i >= 0; i--) if (names.has(listing.caseClashes[i]!)) listing.caseClashes.splice(i, 1);
    for (const o of others) {
      listing.caseClashes.push(o.path);
      listing.skipped.push(clashNote(o.path, chosen.path));
    }
  }
}
