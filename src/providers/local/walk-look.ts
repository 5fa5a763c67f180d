/**
 * What the local walk does with one name, the same on the main thread (`walk.ts`) and on the walk
 * thread (`walk-worker.ts`), and the messages between the two.
 */
import fs from "node:fs";
import type { BigIntStats } from "node:fs";
import { WorkspaceSyncError } from "../../errors.js";
import { childPath, flatJoin } from "../../util/flat-join.js";
import { PROVIDER_TEMP_PREFIX, providerTempKind } from "../../util/temp-names.js";

/** Files posted per message by the walk thread (and names looked at per turn on the main thread). */
export const WALK_BATCH = 512;

/** A folder still to be read: its absolute path and its path in the listing. */
export interface Folder {
  abs: string;
  rel: string;
  /**
   * What the folder was when it was looked at (its parent's lstat, or the check of a listed
   * folder): the folder read at its path must still be that one. None for the provider's root.
   */
  ident?: DirIdent;
}

/** A folder's identity: its device and inode. */
export interface DirIdent {
  dev: bigint;
  ino: bigint;
}

/** A sub-folder found by a look: its name and identity. */
export interface SubDir {
  name: string;
  ident: DirIdent;
}

/** Whether a name is never listed: this install's own temp files (`token` is its temp-name token). */
export function hiddenName(token: string): (name: string) => boolean {
  return (name) => name.startsWith(PROVIDER_TEMP_PREFIX) && providerTempKind(name, token)?.kind === "own";
}

/**
 * The names in `folder`, sorted; `undefined` for a missing root (it lists as empty). Synchronous,
 * as the lstat calls are: through the thread pool, each folder's read waited behind the workspace
 * walk's calls in a sync, and a large walk reached its thread only once the workspace was listed.
 * Any other error (a sub-folder that vanished included) is thrown.
 */
export function readFolder(folder: Folder): string[] | undefined {
  let names: string[];
  try {
    names = fs.readdirSync(folder.abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT" && folder.rel === "") return undefined;
    throw err;
  }
  // The names are read by path: a folder swapped for a symlink (or another folder) since it was
  // looked at would list what the link leads to as this folder's files. Looked at again after the
  // read: still the folder it was (a swap and a swap back between the two looks is not seen).
  const want = folder.ident;
  if (want !== undefined) {
    const st = fs.lstatSync(folder.abs, { bigint: true, throwIfNoEntry: false });
    if (st === undefined || !st.isDirectory() || st.ino !== want.ino || st.dev !== want.dev) {
      const what = st === undefined ? "was removed while it was listed" : "was replaced while it was listed (by a symlink or another folder): nothing is listed through it";
      throw new WorkspaceSyncError("INVALID_PATH", `${folder.rel || folder.abs} ${what}; run again`, { path: folder.rel, retryable: true });
    }
  }
  return names.sort();
}

/** What a name that is neither a file nor a folder is (see {@link NotAFile}). */
export type NotAFileKind = "symlink" | "special";

/** What one name of `folder` is: a file (with its metadata), a folder, or something else (a symlink, FIFO, socket or device). */
export type Seen = { kind: "file"; rel: string; st: BigIntStats } | { kind: "dir"; ident: DirIdent } | { kind: NotAFileKind };

const SYMLINK: Seen = { kind: "symlink" };
const SPECIAL: Seen = { kind: "special" };

/**
 * Looks at `name` in `folder` with a synchronous lstat (metadata is nearly always in the page
 * cache, where a thread-pool round trip per file costs far more than the call). `undefined` for
 * a name that vanished meanwhile; any other error is thrown.
 */
export function lookAt(folder: Folder, name: string): Seen | undefined {
  let st: BigIntStats;
  try {
    // bigint: the nanoseconds rclone and the cloud's metadata keep (a double of ms cannot).
    st = fs.lstatSync(childPath(folder.abs, name), { bigint: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  if (st.isFile()) return { kind: "file", rel: folder.rel ? flatJoin(folder.rel, name) : name, st };
  if (st.isDirectory()) return { kind: "dir", ident: { dev: st.dev, ino: st.ino } };
  return st.isSymbolicLink() ? SYMLINK : SPECIAL;
}

/**
 * Looks at `names[from..to)` of `folder` the way both threads' walks do: this install's temp
 * files (`hidden`) are passed over, files go to `onFile`, names that are neither a file nor a
 * folder to `onOther` where given (either stops the look by returning false: `stopped`),
 * sub-folder names to `subdirs` when `recursive`. Returns where it ended and whether it passed
 * over a temp file of this install. Errors are thrown as they come (see {@link lookAt}).
 */
export function lookAtNames(
  folder: Folder,
  names: readonly string[],
  [from, to]: [number, number],
  { hidden, recursive }: { hidden: (name: string) => boolean; recursive: boolean },
  subdirs: SubDir[],
  onFile: (rel: string, st: BigIntStats) => boolean,
  onOther?: (rel: string, kind: NotAFileKind) => boolean,
): { next: number; sawOwnTemp: boolean; stopped: boolean } {
  let sawOwnTemp = false;
  for (let i = from; i < to; i++) {
    const name = names[i]!;
    if (hidden(name)) {
      sawOwnTemp = true;
      continue;
    }
    const seen = lookAt(folder, name);
    if (seen === undefined) continue;
    if (seen.kind === "dir") {
      if (recursive) subdirs.push({ name, ident: seen.ident });
      continue;
    }
    const goOn = seen.kind === "file" ? onFile(seen.rel, seen.st) : onOther === undefined || onOther(folder.rel ? flatJoin(folder.rel, name) : name, seen.kind);
    if (!goOn) return { next: i + 1, sawOwnTemp, stopped: true };
  }
  return { next: to, sawOwnTemp, stopped: false };
}

/** The sub-folders `subdirs` of `folder`, in the order to push them on a walk's stack (last first). */
export function subFolders(folder: Folder, subdirs: readonly SubDir[]): Folder[] {
  const out: Folder[] = [];
  for (let i = subdirs.length - 1; i >= 0; i--) {
    const { name, ident } = subdirs[i]!;
    out.push({ abs: childPath(folder.abs, name), rel: folder.rel ? `${folder.rel}/${name}` : name, ident });
  }
  return out;
}

/** `to.push(...from)` without spreading (a folder may hold more sub-folders than a call takes arguments). */
export function pushAll<T>(to: T[], from: readonly T[]): void {
  for (const x of from) to.push(x);
}

/** The size a walk thread posts for a name that is neither a file nor a folder, by kind (no file has a negative size). */
export const NOT_A_FILE_SIZE: Readonly<Record<NotAFileKind, number>> = { symlink: -1, special: -2 };

/** The kind of a name posted with size `size`, or `undefined` for a file. */
export function notAFileOfSize(size: number): NotAFileKind | undefined {
  return size === NOT_A_FILE_SIZE.symlink ? "symlink" : size === NOT_A_FILE_SIZE.special ? "special" : undefined;
}

/** Start data of the walk thread. */
export interface WalkWorkerData {
  /** The folders left to walk, as a stack (the next one last). */
  folders: Folder[];
  recursive: boolean;
  /** The install's temp-name token (its own temp files are not listed). */
  token: string;
  /** Two Int32 slots: batches posted and not yet taken, and a stop flag. */
  control: SharedArrayBuffer;
  /** Batches the thread may have posted and not yet taken before it waits. */
  limit: number;
  /** The process runs under the bin's heap policy: applied on the thread too. */
  smallHeap: boolean;
  /** Names that are neither a file nor a folder are posted too (see {@link WalkBatch.sizes}). */
  others: boolean;
}

/** Files found, as parallel arrays. */
export interface WalkBatch {
  t: "batch";
  paths: string[];
  /** A file's size, or a name that is neither a file nor a folder: {@link NOT_A_FILE_SIZE}. */
  sizes: Float64Array;
  /** (0 where `wide` has the file's time.) */
  mtimes: BigInt64Array;
  inos: BigUint64Array;
  /** The times `mtimes` cannot hold (before 1678, after 2262; ext4 keeps times to 2446), by place. */
  wide?: [number, bigint][];
}

/** What the walk thread posts: batches, then the end or the error that stopped it. */
export type WalkMessage =
  | WalkBatch
  | { t: "end"; sawOwnTemp: boolean }
  | { t: "error"; message: string; code?: string; path?: string; syscall?: string; errno?: number };
