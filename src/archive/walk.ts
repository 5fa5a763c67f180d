/**
 * Walks the include set: lstat-walks every source (never following symlinks below an item's root)
 * and applies the excludes. A walk is two passes, as restic's scanner and archiver are: the first
 * only counts (the byte totals a storage provider needs to size an upload, and progress totals), and
 * {@link WalkResult.entries} walks again lazily while the archive is written. No pass holds an entry
 * per file, so memory does not grow with the number of files.
 */
import fs from "node:fs";
import type { Stats } from "node:fs";
import path from "node:path";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import type { IncludeItem } from "../config/types.js";
import { WorkspaceSyncError, errorMessage, throwIfAborted, toWorkspaceSyncError } from "../errors.js";
import { type ArchiveEntry, type FileEntry, TAR_END_BYTES, tarEntryBytesUpperBound } from "./entry.js";
import { DEFAULT_BACKUP_EXCLUDE, DEFAULT_BACKUP_INCLUDE } from "../config/defaults.js";
import { createExcludeMatcher, type ExcludeMatcher } from "./exclude.js";
import { type IncludeRoots, type IncludeSource, resolveIncludeSources } from "./include-set.js";
import { NON_UTF8_REASON, displayName, isValidUtf8, nonUtf8Names } from "../util/utf8-names.js";

/** Options of {@link walkSources}. */
export interface WalkSourcesOptions {
  /** Exclude patterns (GNU tar semantics, see `createExcludeMatcher`). Default {@link DEFAULT_BACKUP_EXCLUDE}. */
  exclude?: readonly string[];
  signal?: AbortSignal;
  /** Called for each non-fatal finding of the counting pass (skipped special file, unreadable folder). */
  onWarning?: (message: string) => void;
}

/** Options of {@link walkIncludeSet}. */
export interface WalkOptions extends WalkSourcesOptions, IncludeRoots {
  /** Include items (default {@link DEFAULT_BACKUP_INCLUDE}). */
  include?: readonly IncludeItem[];
}

/** What a walk found. */
export interface WalkResult {
  /**
   * Walks the sources again and yields their entries in archive order: each item in include order,
   * a folder before its contents, names sorted. Lazy and synchronous (one `lstat` per entry, one
   * `readdir` per folder), so entries reflect the tree as it is when they are written. Warnings
   * the counting pass already reported are not repeated to `onWarning`.
   */
  entries(onWarning?: (message: string) => void): Iterable<ArchiveEntry>;
  /** Sources that exist and were walked. */
  sources: IncludeSource[];
  /** Sources that do not exist (skipped). */
  missing: IncludeSource[];
  /** Bytes of regular-file content counted (hard links not counted twice). */
  totalBytes: number;
  /** Regular files counted (hard links not counted). */
  fileCount: number;
  /**
   * Upper bound of the uncompressed tar stream size (headers, pax headers, padding, end marker) of
   * the tree as counted. It holds for the archive unless the tree grows between the two passes
   * (callers that size uploads from it keep headroom).
   */
  tarBytesUpperBound: number;
  /** The warnings also passed to `onWarning`. */
  warnings: string[];
  /** Entries left out on purpose, with the reason (names that are not valid UTF-8); each also in `warnings`. */
  skipped?: { path: string; reason: string }[];
}

/** Entries counted between two yields to the event loop, so a huge tree never blocks it for long. */
const YIELD_EVERY = 2000;

/** Resolves the include set and walks it. Throws `NO_BACKUP_SOURCES` when no item exists. */
export async function walkIncludeSet(options: WalkOptions): Promise<WalkResult> {
  const include = options.include ?? DEFAULT_BACKUP_INCLUDE;
  const sources = resolveIncludeSources(include, options);
  const result = await walkSources(sources, options);
  if (result.sources.length === 0) {
    throw new WorkspaceSyncError(
      "NO_BACKUP_SOURCES",
      `No backup sources found: none of ${include.join(", ")} exist under ${path.resolve(options.workspaceDir)} or ${path.resolve(options.stateDir)} — check workspaceDir/stateDir or backup.include`,
      { path: path.resolve(options.workspaceDir) },
    );
  }
  return result;
}

/**
 * Counts already resolved sources. An item's root is followed if it is a symlink (a symlinked
 * workspace is backed up, not stored as a link); below it nothing is followed. Content reachable
 * twice (same device and inode) is stored once and later occurrences become hard-link entries.
 * Returns with `sources` empty when none exist; the caller decides whether that is an error.
 */
export async function walkSources(sources: readonly IncludeSource[], options: WalkSourcesOptions = {}): Promise<WalkResult> {
  const resolved = sources.map((s) => path.resolve(s.path));
  const overlapRoots = resolved.filter((p, i) => resolved.some((q, j) => j !== i && (p === q || p.startsWith(q.endsWith(path.sep) ? q : q + path.sep))));
  const excluded = createExcludeMatcher(options.exclude ?? DEFAULT_BACKUP_EXCLUDE);
  const present: IncludeSource[] = [];
  const missing: IncludeSource[] = [];
  for (const src of sources) {
    throwIfAborted(options.signal);
    try {
      fs.statSync(src.path);
      present.push(src);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "ENOTDIR") throw toWorkspaceSyncError(err);
      missing.push(src);
    }
  }

  const warnings: string[] = [];
  const skipped: { path: string; reason: string }[] = [];
  const counted = new Set<string>();
  const countWarning = (message: string, skip?: { path: string; reason: string }): void => {
    if (counted.has(message)) return;
    counted.add(message);
    warnings.push(message);
    if (skip) skipped.push(skip);
    options.onWarning?.(message);
  };
  let totalBytes = 0;
  let fileCount = 0;
  let tarBytes = 0;
  let n = 0;
  for (const entry of walkTree(present, excluded, overlapRoots, countWarning, options.signal)) {
    tarBytes += tarEntryBytesUpperBound(entry);
    if (entry.type === "file") {
      totalBytes += entry.size;
      fileCount++;
    }
    if (++n % YIELD_EVERY === 0) {
      await yieldToEventLoop();
      throwIfAborted(options.signal);
    }
  }

  return {
    entries: (onWarning) => walkTree(present, excluded, overlapRoots, (m) => (counted.has(m) ? undefined : onWarning?.(m)), options.signal),
    sources: present,
    missing,
    totalBytes,
    fileCount,
    tarBytesUpperBound: tarBytes + TAR_END_BYTES,
    warnings,
    skipped,
  };
}

/** One pass over the present sources, yielding entries in archive order. */
function* walkTree(
  sources: readonly IncludeSource[],
  excluded: ExcludeMatcher,
  /** Paths of items that lie inside (or are) another item's path. */
  overlapRoots: readonly string[],
  warn: (message: string, skip?: { path: string; reason: string }) => void,
  signal: AbortSignal | undefined,
): Generator<ArchiveEntry, void, undefined> {
  const skip = (abs: string, reason: string): void => warn(`Skipped ${abs}: ${reason}`, { path: abs, reason });
  // Only content that can be reached twice is remembered (genuine hard links, and files under an
  // item that lies inside another item): remembering every file costs ~100 bytes each.
  const seenFiles = new Map<string, string>();
  const inOverlap = (abs: string): boolean => overlapRoots.some((r) => abs === r || abs.startsWith(r.endsWith(path.sep) ? r : r + path.sep));
  /** The item being walked: its path as named and its real path (nothing below it is followed). */
  let root = { abs: "", real: "" };

  function* visit(name: string, abs: string, st: Stats, linkname: string | undefined): Generator<ArchiveEntry, void, undefined> {
    const mode = st.mode & 0o7777;
    if (st.isDirectory()) {
      yield { type: "directory", name, sourcePath: abs, mode, mtime: st.mtimeMs, uid: st.uid, gid: st.gid };
      yield* walkDir(abs, name);
    } else if (st.isFile()) {
      if (st.nlink > 1 || inOverlap(abs)) {
        const key = `${st.dev}:${st.ino}`;
        const first = seenFiles.get(key);
        if (first !== undefined) {
          yield { type: "link", name, sourcePath: abs, mode, mtime: st.mtimeMs, uid: st.uid, gid: st.gid, linkname: first, size: st.size };
          return;
        }
        seenFiles.set(key, name);
      }
      const file: FileEntry = { type: "file", name, sourcePath: abs, mode, mtime: st.mtimeMs, uid: st.uid, gid: st.gid, size: st.size };
      if (root.real !== root.abs) file.realPath = path.join(root.real, path.relative(root.abs, abs));
      yield file;
    } else if (st.isSymbolicLink()) {
      if (linkname !== undefined) yield { type: "symlink", name, sourcePath: abs, mode, mtime: st.mtimeMs, uid: st.uid, gid: st.gid, linkname };
    } else {
      warn(`Skipped ${abs}: not a regular file, folder or symlink (sockets, fifos and devices are not backed up)`);
    }
  }

  function* walkDir(dir: string, archiveDir: string): Generator<ArchiveEntry, void, undefined> {
    throwIfAborted(signal);
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch (err) {
      warn(`Cannot read folder ${dir} (${errorMessage(err)}): its contents are not in the backup`);
      return;
    }
    if (names.some((n) => n.includes("\uFFFD"))) {
      // Names that are not valid UTF-8 came back decoded lossily: the decoded name opens nothing.
      try {
        const check = nonUtf8Names(dir);
        for (const bad of check.invalid) skip(path.join(dir, bad), NON_UTF8_REASON);
        names = names.filter(check.exists);
      } catch (err) {
        warn(`Cannot read folder ${dir} (${errorMessage(err)}): its contents are not in the backup`);
        return;
      }
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const n of names) {
      const abs = path.join(dir, n);
      const name = `${archiveDir}/${n}`;
      let st: Stats;
      let linkname: string | undefined;
      try {
        st = fs.lstatSync(abs);
        if (excluded(name, st.isDirectory(), true)) continue;
        if (st.isSymbolicLink()) {
          const target = fs.readlinkSync(abs, { encoding: "buffer" });
          if (!isValidUtf8(target)) {
            skip(abs, `a symlink whose target ${displayName(target)} is not valid UTF-8: a tar header here holds UTF-8 only`);
            continue;
          }
          linkname = target.toString("utf8");
        }
      } catch (err) {
        warn(`Skipped ${abs}: ${errorMessage(err)}`);
        continue;
      }
      yield* visit(name, abs, st, linkname);
    }
  }

  for (const src of sources) {
    throwIfAborted(signal);
    let st: Stats;
    try {
      st = fs.statSync(src.path);
      // An item named through a symlink is followed (the user named it): its files keep their
      // names, and the packer checks each is still at its real path (see FileEntry.realPath).
      root = { abs: src.path, real: fs.realpathSync.native(src.path) };
    } catch (err) {
      warn(`Skipped ${src.item} (${src.path}): ${errorMessage(err)}`);
      continue;
    }
    if (excluded(src.archiveName, st.isDirectory())) {
      warn(`${src.item} (${src.path}) matches an exclude pattern and is not backed up`);
      continue;
    }
    yield* visit(src.archiveName, src.path, st, undefined);
  }
}
