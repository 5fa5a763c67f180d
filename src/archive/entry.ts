/**
 * The archive entry list a walk produces and the pack stage writes, and the tar size it costs.
 * Pure.
 */

/** Fields every entry has. */
interface EntryBase {
  /** Path inside the archive, `/`-separated, no trailing slash (`workspace/notes/a.md`). */
  name: string;
  /** Permission bits (`mode & 0o7777`). */
  mode: number;
  /** Modification time in ms since the epoch (a number, not a Date: walks hold 100 000s of entries). */
  mtime: number;
  uid: number;
  gid: number;
}

/** A regular file, read from `sourcePath` when packed. */
export interface FileEntry extends EntryBase {
  type: "file";
  sourcePath: string;
  /**
   * Where `sourcePath` really is, when its include item is reached through a symlink the user named
   * (or a folder above it is a link): the file is read only if it is still there, never through a
   * folder swapped for a link since the walk. Absent when `sourcePath` is its own real path.
   */
  realPath?: string;
  /** Size at walk time: exactly this many bytes are stored, whatever the file holds when read. */
  size: number;
}

/** A folder. */
export interface DirectoryEntry extends EntryBase {
  type: "directory";
  sourcePath: string;
}

/** A symbolic link, stored as a link (never followed). */
export interface SymlinkEntry extends EntryBase {
  type: "symlink";
  sourcePath: string;
  /** The link's target, as read by `readlink`. */
  linkname: string;
}

/**
 * A hard link to an earlier file entry: content reachable twice (an include item inside another,
 * or a genuine hard link) is stored once, as GNU tar does.
 */
export interface HardLinkEntry extends EntryBase {
  type: "link";
  sourcePath: string;
  /** Archive name of the earlier entry holding the content. */
  linkname: string;
  /** The file's size (used only if the earlier entry could not be stored). */
  size: number;
}

/** One entry of the archive, in archive order. */
export type ArchiveEntry = FileEntry | DirectoryEntry | SymlinkEntry | HardLinkEntry;

const BLOCK = 512;

/**
 * Largest whole second tar-stream writes correctly in a header's mtime field (it passes seconds
 * through a 32-bit integer). Times outside 0..this go in a pax `mtime` record instead, which GNU tar
 * and our reader both apply.
 */
export const USTAR_MTIME_MAX_S = 2 ** 31 - 1;

/**
 * Latest (and, negated, earliest) time a restore applies (year 9999): beyond it file systems refuse
 * or clamp it. Backups store any time; restore warns and leaves the time alone beyond this.
 */
export const MAX_MTIME_MS = 253402300799000;

/**
 * How a time (ms since the epoch) is stored: whole seconds, as GNU tar's default format keeps them;
 * `pax` is the pax `mtime` record when the header field cannot hold them (before 1970, after 2038).
 */
export function tarMtime(mtimeMs: number): { headerSeconds: number; pax?: string } {
  const seconds = Math.floor(mtimeMs / 1000);
  if (seconds >= 0 && seconds <= USTAR_MTIME_MAX_S) return { headerSeconds: seconds };
  return { headerSeconds: seconds < 0 ? 0 : USTAR_MTIME_MAX_S, pax: String(seconds) };
}

/** `n` rounded up to whole 512-byte tar blocks. */
export function padToBlock(n: number): number {
  return Math.ceil(n / BLOCK) * BLOCK;
}

function needsPax(name: string, linkname: string | undefined, mtimeMs: number): boolean {
  if (tarMtime(mtimeMs).pax !== undefined) return true;
  const nameBytes = Buffer.byteLength(name) + 1; // directories get a trailing '/'
  if (nameBytes !== name.length + 1) return true; // non-ASCII names go in a pax header
  if (nameBytes > 100) return true; // may fit a ustar prefix split, but count the pax header to be safe
  return linkname !== undefined && Buffer.byteLength(linkname) > 100;
}

/**
 * An upper bound of the bytes one entry takes in the tar stream: header, pax extended header when
 * the name or link target needs one, and the data padded to 512.
 */
export function tarEntryBytesUpperBound(entry: ArchiveEntry): number {
  const linkname = entry.type === "symlink" || entry.type === "link" ? entry.linkname : undefined;
  let bytes = BLOCK;
  if (needsPax(entry.name, linkname, entry.mtime)) {
    // `<len> path=<name>\n` + `<len> linkpath=<target>\n` + `<len> mtime=<seconds>\n`, each length prefix at most 20 digits.
    const paxData = Buffer.byteLength(entry.name) + 32 + (linkname === undefined ? 0 : Buffer.byteLength(linkname) + 32) + 48;
    bytes += BLOCK + padToBlock(paxData);
  }
  if (entry.type === "file") bytes += padToBlock(entry.size);
  return bytes;
}

/** Bytes the end-of-archive marker takes (two zero blocks). */
export const TAR_END_BYTES = 2 * BLOCK;
