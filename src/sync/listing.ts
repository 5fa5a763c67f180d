/**
 * Listings of both sides, as maps keyed by comparison key. The local walk keeps a bounded number of
 * `readdir`/`stat` calls in flight (tens of thousands of files list in about a second). A listing
 * that fails throws: callers treat it as unknown, never as empty.
 */
import fs, { promises as fsp } from "node:fs";
import type { Dirent } from "node:fs";
import path from "node:path";
import { throwIfAborted, toWorkspaceSyncError } from "../errors.js";
import type { StorageProvider } from "../providers/types.js";
import type { SyncFilter } from "./filters.js";
import type { LocalFile, RemoteFile, SkipNote } from "./types.js";

/** Prefix of this module's download temp files in the workspace; never listed. */
export const SYNC_TEMP_PREFIX = ".ws-sync-";
/** The local provider's temp prefix (a workspace may sit inside a local provider's root). */
const OTHER_TEMP_PREFIXES = [".ws-tmp-"];

const FS_CONCURRENCY = 64;

/** Options of {@link listLocal}. */
export interface LocalListOptions {
  filter: SyncFilter;
  copySymlinks: boolean;
  /** Lower-cased names the provider refuses (skipped with a note). */
  ignoredNames?: readonly string[];
  keyOf: (p: string) => string;
  /** Remove this module's download temp files older than an hour (left by a crash). Off for dry runs. */
  removeStaleTemps?: boolean;
  signal?: AbortSignal;
}

/** Age after which a download temp file counts as left over by a crashed run. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/** A listing: files by key, plus what was skipped and which names clashed by case. */
export interface Listing<T> {
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
   * Local only: names that exist in the workspace but are not synced (symlinks without
   * copySymlinks, special files, names the provider refuses). Nothing may be written over them.
   */
  blocked?: string[];
}

/**
 * Walks the workspace folder `root`. A missing root lists as empty. Callback-style fs calls with a
 * simple in-flight counter: per-file promises cost more than the stat itself at this scale.
 */
export async function listLocal(root: string, options: LocalListOptions): Promise<Listing<LocalFile>> {
  const found: LocalFile[] = [];
  const skipped: SkipNote[] = [];
  const blocked: string[] = [];
  const block = (p: string, reason: string): void => {
    skipped.push({ path: p, reason });
    blocked.push(p);
  };
  const ignored = new Set((options.ignoredNames ?? []).map((n) => n.toLowerCase()));
  const seenDirs = new Set<string>();
  const realRoot = await fsp.realpath(root).catch(() => path.resolve(root));

  type Task = { op: "dir" | "link" | "temp"; abs: string; rel: string };
  const queue: Task[] = [{ op: "dir", abs: root, rel: "" }];
  let inFlight = 0;
  let failure: unknown;

  await new Promise<void>((resolve) => {
    const finish = (): void => {
      inFlight--;
      pump();
    };
    const fail = (err: unknown): void => {
      failure ??= err;
    };
    const onDir = (t: Task, items: Dirent[]): void => {
      for (const item of items) {
        const name = item.name;
        if (name.startsWith(SYNC_TEMP_PREFIX)) {
          if (options.removeStaleTemps && name.endsWith(".tmp")) queue.push({ op: "temp", abs: path.join(t.abs, name), rel: "" });
          continue;
        }
        if (OTHER_TEMP_PREFIXES.some((p) => name.startsWith(p))) continue;
        const relPath = t.rel ? `${t.rel}/${name}` : name;
        if (options.filter.matches(relPath)) continue;
        if (ignored.has(name.toLowerCase())) {
          block(relPath, "the provider does not store this name");
          continue;
        }
        const abs = path.join(t.abs, name);
        if (item.isDirectory()) queue.push({ op: "dir", abs, rel: relPath });
        else if (item.isFile()) {
          // Synchronous lstat: the metadata of a just-listed folder is in the page cache, and a
          // thread-pool round trip per file costs more than the call (40 000 files: ~1 s → ~0.4 s).
          try {
            const st = fs.lstatSync(abs);
            if (st.isFile()) found.push({ path: relPath, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) });
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code !== "ENOENT") fail(toWorkspaceSyncError(err));
          }
        }
        else if (item.isSymbolicLink()) {
          if (options.copySymlinks) queue.push({ op: "link", abs, rel: relPath });
          else block(relPath, "symlink (set copySymlinks to copy its target)");
        } else block(relPath, "not a regular file");
      }
    };
    const start = (t: Task): void => {
      inFlight++;
      if (t.op === "dir") {
        fs.readdir(t.abs, { withFileTypes: true }, (err, items) => {
          if (err) {
            // A missing root lists as empty; a folder that vanished meanwhile is simply gone.
            if (err.code !== "ENOENT") fail(toWorkspaceSyncError(err));
          } else onDir(t, items);
          finish();
        });
      } else if (t.op === "temp") {
        fs.lstat(t.abs, (err, st) => {
          if (!err && st.isFile() && Date.now() - st.mtimeMs > STALE_TEMP_MS) fs.unlink(t.abs, () => finish());
          else finish();
        });
      } else {
        fs.stat(t.abs, (err, st) => {
          if (err) block(t.rel, "broken symlink");
          else if (st.isFile()) found.push({ path: t.rel, size: st.size, mtimeMs: Math.trunc(st.mtimeMs) });
          else if (st.isDirectory()) {
            let real: string | undefined;
            try {
              real = fs.realpathSync(t.abs);
            } catch {
              real = undefined;
            }
            if (!real || seenDirs.has(real) || isInside(real, realRoot)) {
              block(t.rel, "symlink to a folder already synced (loop)");
            } else {
              seenDirs.add(real);
              queue.push({ op: "dir", abs: t.abs, rel: t.rel });
            }
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
      while (inFlight < FS_CONCURRENCY && queue.length > 0) start(queue.pop()!);
      if (inFlight === 0 && queue.length === 0) resolve();
    };
    pump();
  });
  throwIfAborted(options.signal);
  if (failure !== undefined) throw failure;
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const listing: Listing<LocalFile> = { ...keyed(found, options.keyOf, skipped), skipped, blocked };
  skipFilesNamedLikeFolders(listing, options.keyOf);
  return listing;
}

/**
 * A file whose name differs only in case (or Unicode form) from a synced folder (`Notes` beside
 * `notes/a.txt`) cannot exist on a case-insensitive provider: the file is skipped, reported and
 * blocked (its cloud counterpart is left alone), so the folder still syncs.
 */
function skipFilesNamedLikeFolders(listing: Listing<LocalFile>, keyOf: (p: string) => string): void {
  const dirs = new Map<string, string>();
  for (const f of listing.files.values()) {
    for (let i = f.path.lastIndexOf("/"); i > 0; i = f.path.lastIndexOf("/", i - 1)) {
      const dir = f.path.slice(0, i);
      const k = keyOf(dir);
      if (dirs.has(k)) break;
      dirs.set(k, dir);
    }
  }
  if (dirs.size === 0) return;
  for (const [k, f] of listing.files) {
    const dir = dirs.get(k);
    if (dir === undefined) continue;
    listing.files.delete(k);
    listing.clashGroups?.delete(k);
    listing.caseClashes.push(f.path);
    listing.skipped.push({ path: f.path, reason: `${CLASH_REASON} the folder ${dir}/; the provider cannot hold both: skipped` });
    listing.blocked?.push(f.path);
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
}

/** Options of {@link listRemote}. */
export interface RemoteListOptions {
  filter: SyncFilter;
  keyOf: (p: string) => string;
  signal?: AbortSignal;
}

/** Lists the cloud folder `dir` recursively. */
export async function listRemote(provider: StorageProvider, dir: string, options: RemoteListOptions): Promise<Listing<RemoteFile>> {
  const found: RemoteFile[] = [];
  const skipped: SkipNote[] = [];
  try {
    for await (const e of provider.list(dir, { recursive: true, signal: options.signal })) {
      if (!isSafeRelativePath(e.path)) {
        // A key such as `share/../../etc/x` must never become a path outside the workspace.
        skipped.push({ path: e.path, reason: "unsafe name (empty, `.` or `..` component, backslash or NUL): skipped" });
        continue;
      }
      if (options.filter.excluded(e.path)) continue;
      const f: RemoteFile = { path: e.path, size: e.size };
      if (e.mtime) f.mtimeMs = Math.trunc(e.mtime.getTime());
      if (e.hash !== undefined) f.hash = e.hash;
      if (e.revision !== undefined) f.revision = e.revision;
      found.push(f);
    }
  } catch (err) {
    throw toWorkspaceSyncError(err);
  }
  found.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { ...keyed(found, options.keyOf, skipped), skipped };
}

/** True for a `/`-separated relative path with no empty, `.` or `..` component, backslash or NUL. */
export function isSafeRelativePath(p: string): boolean {
  if (p === "" || p.includes("\\") || p.includes("\0")) return false;
  return p.split("/").every((part) => part !== "" && part !== "." && part !== "..");
}

/** Prefix of the skip reason of a name that clashes with another by case or Unicode form. */
const CLASH_REASON = "differs only in case or Unicode form from";

function clashNote(path: string, kept: string): SkipNote {
  return { path, reason: `${CLASH_REASON} ${kept}; the provider cannot hold both: skipped` };
}

function keyed<T extends { path: string }>(list: T[], keyOf: (p: string) => string, skipped: SkipNote[]): { files: Map<string, T>; caseClashes: string[]; clashGroups: Map<string, T[]> } {
  const files = new Map<string, T>();
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
      if (names.has(s.path) && s.reason.startsWith(CLASH_REASON)) listing.skipped.splice(i, 1);
    }
    for (let i = listing.caseClashes.length - 1; i >= 0; i--) if (names.has(listing.caseClashes[i]!)) listing.caseClashes.splice(i, 1);
    for (const o of others) {
      listing.caseClashes.push(o.path);
      listing.skipped.push(clashNote(o.path, chosen.path));
    }
  }
}
