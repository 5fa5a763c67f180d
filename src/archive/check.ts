/**
 * Check: reads a whole `.tar.gz` stream without writing anything, so damage is found before a
 * restore is needed.
 */
import type { Readable } from "node:stream";
import type { ProgressCallback } from "../logger.js";
import { drainEntry, readTarGz } from "./read-tar-gz.js";
import { SymlinkGuard, safeEntryName, unsafeEntry } from "./safe-path.js";

const PROGRESS_EVERY = 1024 * 1024;

/** What {@link checkArchive} found. */
export interface CheckResult {
  /** Tar entries (files, folders, links). */
  entries: number;
  /** Regular files. */
  files: number;
  /** Bytes of file content. */
  bytes: number;
  /** Compressed bytes read. */
  compressedBytes: number;
}

/**
 * Reads a gzipped tar stream to the end without writing anything: gzip CRCs, tar headers and
 * checksums, the end-of-archive marker, and entry names (absolute or `..` names and device entries
 * are reported as `UNSAFE_ARCHIVE_ENTRY`). Same errors as `extractArchive` (an out-of-range mtime
 * is not an error: a restore sets no time for that entry).
 */
export async function checkArchive(
  source: Readable,
  options: { signal?: AbortSignal; onProgress?: ProgressCallback; externalSymlinks?: "refuse" | "skip" | "allow" } = {},
): Promise<CheckResult> {
  const result: CheckResult = { entries: 0, files: 0, bytes: 0, compressedBytes: 0 };
  // The same symlink rule as a restore (a virtual root: nothing is written), so verify never
  // passes a snapshot that restore would refuse.
  const guard = new SymlinkGuard("/nonexistent-restore-root");
  let lastReport = 0;
  await readTarGz(
    source,
    async (entry, consumed) => {
      const h = entry.header;
      const name = safeEntryName(h.name);
      if (h.type === "link") safeEntryName(h.linkname ?? "");
      if (h.type === "symlink" && (options.externalSymlinks ?? "refuse") === "refuse") {
        const outside = guard.check(name, h.linkname ?? "");
        if (outside !== undefined) throw unsafeEntry(h.name, `${outside} (a restore refuses it unless its option externalSymlinks is "skip" or "allow")`);
        guard.add(name, h.linkname ?? "");
      } else if (h.type !== "symlink") guard.remove(name);
      if (h.type === "character-device" || h.type === "block-device" || h.type === "fifo") throw unsafeEntry(h.name, `${h.type} entries are not restored`);
      await drainEntry(entry, consumed);
      result.entries++;
      if (h.type === "file" || h.type === "contiguous-file") {
        result.files++;
        result.bytes += h.size;
      }
    },
    {
      signal: options.signal,
      onCompressedBytes: (n) => {
        result.compressedBytes = n;
        if (n - lastReport >= PROGRESS_EVERY) {
          lastReport = n;
          options.onProgress?.({ phase: "verify", bytes: n, files: result.files });
        }
      },
    },
  );
  options.onProgress?.({ phase: "verify", bytes: result.compressedBytes, files: result.files });
  return result;
}
