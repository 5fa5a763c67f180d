/**
 * The part of the local provider's walk that runs the same on the calling thread and on the walk's
 * worker thread (`walk.ts`, `walk-worker.ts`): reading one folder's names and looking at them a
 * piece at a time. Errors are the file system's own (converted by the caller, on the calling thread).
 */
import fs from "node:fs";
import type { BigIntStats } from "node:fs";
import { childPath, flatJoin } from "../../util/flat-join.js";
import { providerTempKind } from "../../util/temp-shapes.js";

/** Names of one folder looked at per piece (a turn of the event loop on the calling thread). */
export const WALK_YIELD_EVERY = 512;

/** A folder still to read: its absolute path and its path relative to the walk's root. */
export interface Folder {
  abs: string;
  rel: string;
}

/** One folder being read: its sorted names and how far they have been looked at. */
export interface Reading extends Folder {
  names: string[];
  next: number;
  subdirs: string[];
}

/** What a walk is told, on either thread (plain data: it crosses to the worker). */
export interface WalkSpec {
  recursive: boolean;
  /** This install's temp-name token: its provider temp files are never listed, nor entered. */
  token: string;
}

/** A folder's names, sorted, ready to be looked at. */
export function startReading(folder: Folder, names: string[]): Reading {
  names.sort();
  return { abs: folder.abs, rel: folder.rel, names, next: 0, subdirs: [] };
}

/**
 * Looks at the next {@link WALK_YIELD_EVERY} names of `r`: each file goes to `onFile`, each
 * sub-folder is remembered. Synchronous lstat: the metadata of a just-read folder is nearly always
 * in the page cache, where a thread-pool round trip per file costs far more than the call. A name
 * gone meanwhile is skipped; any other error is thrown.
 */
export function readPiece(r: Reading, spec: WalkSpec, onFile: (rel: string, st: BigIntStats) => void): void {
  const end = Math.min(r.names.length, r.next + WALK_YIELD_EVERY);
  for (; r.next < end; r.next++) {
    const name = r.names[r.next]!;
    if (name.charCodeAt(0) === 46 /* . */ && providerTempKind(name, spec.token)?.kind === "own") continue; // our upload in flight (or a crash's leftover)
    let st: BigIntStats;
    try {
      st = fs.lstatSync(childPath(r.abs, name), { bigint: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw err;
    }
    if (st.isFile()) onFile(r.rel ? flatJoin(r.rel, name) : name, st);
    else if (st.isDirectory() && spec.recursive) r.subdirs.push(name);
  }
}

/** True when every name of `r` has been looked at. */
export function finished(r: Reading): boolean {
  return r.next >= r.names.length;
}

/** Puts `r`'s sub-folders on `stack` so that they are read next, in order. */
export function pushSubfolders(r: Reading, stack: Folder[]): void {
  for (let i = r.subdirs.length - 1; i >= 0; i--) {
    const name = r.subdirs[i]!;
    stack.push({ abs: childPath(r.abs, name), rel: r.rel ? `${r.rel}/${name}` : name });
  }
}

/** Start data of the walk's worker thread. */
export interface WalkWorkerData {
  spec: WalkSpec;
  /** Folders left to read, the next one last (the calling thread's stack as it handed it over). */
  folders: Folder[];
  /**
   * `[credits, stop]`: batches the worker may still send before the caller has read one (it waits
   * for more), and a flag the caller raises when it wants no more.
   */
  control: SharedArrayBuffer;
}

/** Files listed by the worker, in walk order, as plain arrays (cheap to send). */
export interface WalkBatch {
  t: "batch";
  rels: string[];
  sizes: Float64Array;
  mtimesNs: BigInt64Array;
  inos: BigUint64Array;
}

/** Messages from the walk's worker thread. */
export type FromWalkWorker = WalkBatch | { t: "end" } | { t: "error"; code: string | undefined; message: string; syscall: string | undefined; path: string | undefined };

/** Files per batch the worker sends. */
export const WALK_BATCH = 1024;
/** Batches the worker may send ahead of the caller. */
export const WALK_CREDITS = 4;
