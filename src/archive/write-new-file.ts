/**
 * Creating one small extracted file with synchronous calls: shared by the small-file thread and
 * by the main thread when that thread has enough queued (see small-file-writer.ts).
 */
import fs, { constants as fsConstants } from "node:fs";

/** Opens only a new file, never through a symlink: `O_CREAT | O_EXCL | O_NOFOLLOW`. */
export const NEW_FILE_FLAGS = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | (fsConstants.O_NOFOLLOW ?? 0);

/** The kernel or filesystem refused the time itself (not the file): the content is still fine. */
export function isBadTime(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === "EINVAL" || code === "EOVERFLOW" || code === "ERANGE";
}

/**
 * Creates `file` (which must not exist) with `data[offset, offset + length)`, `mode` and, when
 * given, `mtimeMs`. Returns false when the filesystem refused the time (the file is written
 * without it); throws the system error otherwise.
 */
export function writeNewFileSync(file: string, data: Uint8Array, offset: number, length: number, mode: number, mtimeMs: number | undefined): boolean {
  const fd = fs.openSync(file, NEW_FILE_FLAGS, 0o600);
  try {
    let off = offset;
    const end = offset + length;
    while (off < end) off += fs.writeSync(fd, data, off, end - off);
    fs.fchmodSync(fd, mode);
    if (mtimeMs !== undefined) {
      const t = new Date(mtimeMs);
      try {
        fs.futimesSync(fd, t, t);
      } catch (err) {
        if (!isBadTime(err)) throw err;
        return false;
      }
    }
    return true;
  } finally {
    fs.closeSync(fd);
  }
}
