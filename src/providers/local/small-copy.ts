/**
 * A small local file copied into a file just created, with synchronous calls: the local
 * provider's main thread and its copy thread (`copy-worker.ts`) both copy this way.
 */
import fsSync, { type BigIntStats } from "node:fs";
import type { OpenedLocalFile } from "../types.js";
import { utimesArg } from "../../util/mtime.js";

/** Largest file copied in with synchronous calls (see the local provider's `writeSmallCopy`). */
export const SMALL_COPY_BYTES = 256 * 1024;

/** The buffer of {@link copyFdToNewFileSync} (synchronous: one copy at a time on each thread), made on first use. */
let copyBuffer: Buffer | undefined;

/** How {@link copyFdToNewFileSync} finishes the new file. */
export interface NewFileFinish {
  /** Flush it (`fdatasync`) before it is closed (where the boot cannot be told apart: `lazyFlush`). */
  flush: boolean;
  /** Its modification time in nanoseconds, set on its descriptor. */
  mtimeNs: bigint | undefined;
}

/**
 * Copies opened file `from` as it was when opened (its first `from.size` bytes, fewer if it shrank
 * since: no read past them to find the end) into `out`, a file just created with `from`'s
 * permission bits as its mode, with synchronous calls: small files whose bytes are in the page
 * cache. Then, on the new file's descriptor (never by path): flushed where `finish` says, its time
 * set, its stats read; where the umask took bits from the mode the stats show, they are given
 * back (as `copyFile` keeps them), which spares a `chmod` a file where it took none. Closes `out`
 * and returns the stats (a chmod keeps the size, the times and the inode they hold).
 */
export function copyFdToNewFileSync(from: OpenedLocalFile<number>, out: number, finish: NewFileFinish): BigIntStats {
  const buf = (copyBuffer ??= Buffer.allocUnsafe(SMALL_COPY_BYTES));
  try {
    for (let copied = 0; copied < from.size; ) {
      const n = fsSync.readSync(from.handle, buf, 0, Math.min(buf.length, from.size - copied), null);
      if (n === 0) break;
      for (let off = 0; off < n; ) off += fsSync.writeSync(out, buf, off, n - off);
      copied += n;
    }
    if (finish.flush) fsSync.fdatasyncSync(out);
    if (finish.mtimeNs !== undefined) {
      const t = utimesArg(finish.mtimeNs);
      fsSync.futimesSync(out, t, t);
    }
    const st = fsSync.fstatSync(out, { bigint: true });
    if ((Number(st.mode) & 0o7777) !== from.mode) fsSync.fchmodSync(out, from.mode);
    return st;
  } finally {
    fsSync.closeSync(out);
  }
}
