/**
 * Walks the include set: lstat-walks every source (never following symlinks below an item's root),
 * applies the excludes and produces the ordered entry list the pack stage writes, with the byte
 * totals a storage provider uses to size an upload.
 */
import fs from "node:fs/promises";
import type { Stats } from "node:fs";
import path from "node:path";
import type { IncludeItem } from "../config/types.js";
import { WorkspaceSyncError, errorMessage, throwIfAborted, toWorkspaceSyncError } from "../errors.js";
import { type ArchiveEntry, TAR_END_BYTES, tarEntryBytesUpperBound } from "./entry.js";
import { DEFAULT_EXCLUDE, createExcludeMatcher, type ExcludeMatcher } from "./exclude.js";
import { DEFAULT_INCLUDE, type IncludeRoots, type IncludeSource, resolveIncludeSources } from "./include-set.js";

/** Options of {@link walkSources}. */
export interface WalkSourcesOptions {
  /** Exclude patterns (GNU tar semantics, see `createExcludeMatcher`). Default {@link DEFAULT_EXCLUDE}. */
  exclude?: readonly string[];
  signal?: AbortSignal;
  /** Called for each non-fatal finding (skipped special file, unreadable folder). */
  onWarning?: (message: string) => void;
  /** lstat calls in flight at once (default 16). */
  statConcurrency?: number;
}

/** Options of {@link walkIncludeSet}. */
export interface WalkOptions extends WalkSourcesOptions, IncludeRoots {
  /** Include items (default {@link DEFAULT_INCLUDE}). */
  include?: readonly IncludeItem[];
}

/** What a walk found. */
export interface WalkResult {
  /** Entries in archive order: each item in include order, a folder before its contents, names sorted. */
  entries: ArchiveEntry[];
  /** Sources that exist and were walked. */
  sources: IncludeSource[];
  /** Sources that do not exist (skipped). */
  missing: IncludeSource[];
  /** Bytes of regular-file content to store (hard links not counted twice). */
  totalBytes: number;
  /** Regular files to store (hard links not counted). */
  fileCount: number;
  /** Upper bound of the uncompressed tar stream size (headers, pax headers, padding, end marker). */
  tarBytesUpperBound: number;
  /** The warnings also passed to `onWarning`. */
  warnings: string[];
}

/** Resolves the include set and walks it. Throws `NO_BACKUP_SOURCES` when no item exists. */
export async function walkIncludeSet(options: WalkOptions): Promise<WalkResult> {
  const include = options.include ?? DEFAULT_INCLUDE;
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
 * Walks already resolved sources. An item's root is followed if it is a symlink (a symlinked
 * workspace is backed up, not stored as a link); below it nothing is followed. Content reachable
 * twice (same device and inode) is stored once and later occurrences become hard-link entries.
 * Returns with `sources` empty when none exist; the caller decides whether that is an error.
 */
export async function walkSources(sources: readonly IncludeSource[], options: WalkSourcesOptions = {}): Promise<WalkResult> {
  const resolved = sources.map((s) => path.resolve(s.path));
  const overlapRoots = resolved.filter((p, i) => resolved.some((q, j) => j !== i && (p === q || p.startsWith(q.endsWith(path.sep) ? q : q + path.sep))));
  const walker = new Walker(options, overlapRoots);
  const present: IncludeSource[] = [];
  const missing: IncludeSource[] = [];
  for (const src of sources) {
    throwIfAborted(options.signal);
    let st: Stats;
    try {
      st = await fs.stat(src.path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") {
        missing.push(src);
        continue;
      }
      throw toWorkspaceSyncError(err);
    }
    present.push(src);
    await walker.addRoot(src, st);
  }
  return {
    entries: walker.entries,
    sources: present,
    missing,
    totalBytes: walker.totalBytes,
    fileCount: walker.fileCount,
    tarBytesUpperBound: walker.tarBytes + TAR_END_BYTES,
    warnings: walker.warnings,
  };
}

interface Child {
  name: string;
  abs: string;
  st?: Stats;
  linkname?: string;
}

class Walker {
  readonly entries: ArchiveEntry[] = [];
  readonly warnings: string[] = [];
  totalBytes = 0;
  fileCount = 0;
  tarBytes = 0;
  private readonly excluded: ExcludeMatcher;
  private readonly seenFiles = new Map<string, string>();
  private readonly concurrency: number;

  constructor(
    private readonly options: WalkSourcesOptions,
    /** Paths of items that lie inside (or are) another item's path. */
    private readonly overlapRoots: readonly string[] = [],
  ) {
    this.excluded = createExcludeMatcher(options.exclude ?? DEFAULT_EXCLUDE);
    this.concurrency = Math.max(1, options.statConcurrency ?? 16);
  }

  async addRoot(src: IncludeSource, st: Stats): Promise<void> {
    if (this.excluded(src.archiveName, st.isDirectory())) {
      this.warn(`${src.item} (${src.path}) matches an exclude pattern and is not backed up`);
      return;
    }
    await this.addChild({ name: src.archiveName, abs: src.path, st });
  }

  private inOverlap(abs: string): boolean {
    return this.overlapRoots.some((r) => abs === r || abs.startsWith(r.endsWith(path.sep) ? r : r + path.sep));
  }

  private warn(message: string): void {
    this.warnings.push(message);
    this.options.onWarning?.(message);
  }

  private push(entry: ArchiveEntry): void {
    this.entries.push(entry);
    this.tarBytes += tarEntryBytesUpperBound(entry);
  }

  private async addChild(child: Child): Promise<void> {
    const st = child.st;
    if (!st) return;
    const base = { name: child.name, sourcePath: child.abs, mode: st.mode & 0o7777, mtime: st.mtimeMs, uid: st.uid, gid: st.gid };
    if (st.isDirectory()) {
      this.push({ type: "directory", ...base });
      await this.walkDir(child.abs, child.name);
    } else if (st.isFile()) {
      // Only content that can be reached twice is remembered (genuine hard links, and files under
      // an item that lies inside another item): remembering every file costs ~100 bytes each.
      if (st.nlink > 1 || this.inOverlap(child.abs)) {
        const key = `${st.dev}:${st.ino}`;
        const first = this.seenFiles.get(key);
        if (first !== undefined) {
          this.push({ type: "link", ...base, linkname: first, size: st.size });
          return;
        }
        this.seenFiles.set(key, child.name);
      }
      this.push({ type: "file", ...base, size: st.size });
      this.totalBytes += st.size;
      this.fileCount++;
    } else if (st.isSymbolicLink()) {
      if (child.linkname === undefined) return;
      this.push({ type: "symlink", ...base, linkname: child.linkname });
    } else {
      this.warn(`Skipped ${child.abs}: not a regular file, folder or symlink (sockets, fifos and devices are not backed up)`);
    }
  }

  private async walkDir(dir: string, archiveDir: string): Promise<void> {
    throwIfAborted(this.options.signal);
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch (err) {
      this.warn(`Cannot read folder ${dir} (${errorMessage(err)}): its contents are not in the backup`);
      return;
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const children: Child[] = names.map((n) => ({ name: `${archiveDir}/${n}`, abs: path.join(dir, n) }));
    await mapLimit(children, this.concurrency, async (c) => {
      try {
        c.st = await fs.lstat(c.abs);
        if (c.st.isSymbolicLink()) c.linkname = await fs.readlink(c.abs);
      } catch (err) {
        c.st = undefined;
        this.warn(`Skipped ${c.abs}: ${errorMessage(err)}`);
      }
    });
    for (const c of children) {
      if (!c.st || this.excluded(c.name, c.st.isDirectory(), true)) continue;
      await this.addChild(c);
    }
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight. */
async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
