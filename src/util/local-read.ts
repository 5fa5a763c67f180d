/**
 * Opening a local file for reading where the tree may change between the listing and the read (the
 * workspace, the local provider's folder): the check is made on the open descriptor, so there is
 * no window between check and use.
 *
 * - The name is opened with `O_NOFOLLOW`: a symlink at the name fails (`ELOOP`) instead of being
 *   followed, and with `O_NONBLOCK`: a FIFO swapped in opens at once (and is then refused) instead of
 *   waiting for a writer forever (reads of a regular file ignore `O_NONBLOCK`), and with
 *   `O_NOCTTY`: a terminal reached before the checks never becomes the process's.
 * - The descriptor must be a regular file (`fstat`).
 * - Where the kernel tells what a descriptor is (Linux `/proc/self/fd`), the caller compares that
 *   real path with the one expected: a folder on the way swapped for a symlink is caught even when it
 *   was swapped back right after the open.
 */
import fs, { constants as fsConstants, promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import type { OpenedLocalFile } from "../providers/types.js";

/** Flags of every read open: see the module comment. */
const READ_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NOFOLLOW ?? 0) | (fsConstants.O_NONBLOCK ?? 0) | (fsConstants.O_NOCTTY ?? 0);

/** The same where the user chose to follow symlinks (`copySymlinks`): only FIFOs are kept from blocking. */
const FOLLOWING_READ_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0) | (fsConstants.O_NOCTTY ?? 0);

/** Checks an open descriptor (its `fstat` and, where known, its real path); throws to refuse it. */
export type OpenCheck = (stats: fs.Stats, realPath: string | undefined) => void;

/** Whether `/proc/self/fd` answers here (decided by the first read open; it does not change while running). */
let procWorks: boolean | undefined;

/** Where the kernel names this process's descriptors (Linux). */
export const PROC_FD_DIR = "/proc/self/fd/";

/** The path that names descriptor `fd` (see {@link PROC_FD_DIR}). */
export const procLink = (fd: number): string => `${PROC_FD_DIR}${fd}`;

/**
 * The real path of the file open at `fd`, as the kernel names it (`/proc/self/fd`), or `undefined`
 * where this system does not tell.
 */
export function realPathOfSync(fd: number): string | undefined {
  if (procWorks === false) return undefined;
  try {
    const p = fs.readlinkSync(procLink(fd));
    procWorks = true;
    return p;
  } catch (err) {
    return noProc(err);
  }
}

/** Whether `/proc/self/fd` names this process's descriptors (asked once, of the root folder, if no read open has told yet). */
export function procNamesDescriptors(): boolean {
  if (procWorks === undefined) {
    let fd: number | undefined;
    try {
      fd = fs.openSync("/", fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
      realPathOfSync(fd);
    } catch {
      // (Not known: taken as no.)
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  return procWorks === true;
}

/** `undefined` (and no more tries) when this system has no `/proc/self/fd`; any other failure is thrown. */
function noProc(err: unknown): undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (procWorks !== true && (code === "ENOENT" || code === "ENOTDIR" || code === "EACCES" || code === "EPERM")) {
    procWorks = false;
    return undefined;
  }
  throw err;
}

/** {@link realPathOfSync} through the thread pool. */
export async function realPathOf(fd: number): Promise<string | undefined> {
  if (procWorks === false) return undefined;
  try {
    const p = await fsp.readlink(procLink(fd));
    procWorks = true;
    return p;
  } catch (err) {
    return noProc(err);
  }
}

/**
 * Opens `abs` for reading with synchronous calls and runs `check` on the descriptor; closes it when
 * `check` throws. The caller closes the returned descriptor. `followLinks`: the user chose to read
 * through symlinks (`check` then gets no real path).
 */
export function openCheckedSync(abs: string, check: OpenCheck, followLinks = false): OpenedLocalFile<number> {
  const fd = fs.openSync(abs, followLinks ? FOLLOWING_READ_FLAGS : READ_FLAGS);
  try {
    const st = fs.fstatSync(fd);
    check(st, st.isFile() && !followLinks ? realPathOfSync(fd) : undefined);
    return { handle: fd, size: st.size, mode: st.mode & 0o7777 };
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** {@link openCheckedSync} through the thread pool. The caller closes the returned handle. */
export async function openChecked(abs: string, check: OpenCheck, followLinks = false): Promise<OpenedLocalFile<FileHandle>> {
  const fh = await fsp.open(abs, followLinks ? FOLLOWING_READ_FLAGS : READ_FLAGS);
  try {
    const st = await fh.stat();
    check(st, st.isFile() && !followLinks ? await realPathOf(fh.fd) : undefined);
    return { handle: fh, size: st.size, mode: st.mode & 0o7777 };
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}
