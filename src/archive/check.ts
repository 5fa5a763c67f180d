/**
 * Check: reads a whole `.tar.gz` stream without writing anything, so damage is found before a
 * restore is needed.
 */
import type { Readable } from "node:stream";
import type * as tar from "tar-stream";
import type { ProgressCallback } from "../logger.js";
import { drainEntry, readTarGz } from "./read-tar-gz.js";
import { safeEntryName, unsafeEntry } from "./safe-path.js";
import { ArchiveLayout, type ExternalSymlinks } from "./layout.js";

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
 * are reported as `UNSAFE_ARCHIVE_ENTRY`), with the extractor's own record of what is where
 * ({@link ArchiveLayout}), so it refuses exactly what a restore refuses. Same errors as
 * `extractArchive` but for local file-system ones (an out-of-range mtime is not an error: a
 * restore sets no time for that entry).
 */
export async function checkArchive(
  source: Readable,
  options: { signal?: AbortSignal; onProgress?: ProgressCallback; externalSymlinks?: ExternalSymlinks } = {},
): Promise<CheckResult> {
  const result: CheckResult = { entries: 0, files: 0, bytes: 0, compressedBytes: 0 };
  // The same record and rules as a restore (a virtual root: nothing is written), so verify never
  // passes a snapshot that restore would refuse.
  const layout = new ArchiveLayout("/nonexistent-restore-root", options.externalSymlinks ?? "refuse");
  let lastReport = 0;
  await readTarGz(
    source,
    async (entry, consumed) => {
      const h = entry.header;
      planEntry(layout, h);
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

/** What `extractArchive` would do with the entry `h`, on `layout` only: throws what it would throw. */
function planEntry(layout: ArchiveLayout, h: tar.Header): void {
  const name = safeEntryName(h.name);
  if (name === "" && h.type !== "directory") throw unsafeEntry(h.name, "it would replace the restore folder itself");
  const how = 'a restore refuses it unless its option externalSymlinks is "skip" or "allow"';
  const symlink = (linkname: string): void => {
    if (layout.symlink(name, linkname, h.name, how) !== undefined) return;
    layout.newParents(name, h.name);
    layout.replace(name, h.name, "symlink");
    layout.added(name, "symlink", linkname);
  };
  switch (h.type) {
    case "file":
    case "contiguous-file":
      layout.newParents(name, h.name);
      layout.replace(name, h.name, "file");
      layout.added(name, "file");
      return;
    case "directory":
      if (name === "") return;
      layout.newParents(name, h.name);
      if (layout.replace(name, h.name, "dir") === undefined) layout.added(name, "dir");
      return;
    case "symlink":
      return symlink(h.linkname ?? "");
    case "link": {
      const plan = layout.hardLink(name, h.linkname ?? "", h.name);
      if (plan?.kind === "symlink") return symlink(plan.linkname);
      if (plan === undefined) return;
      layout.newParents(name, h.name);
      layout.replace(name, h.name, "file");
      layout.added(name, "file");
      return;
    }
    case "character-device":
    case "block-device":
    case "fifo":
      throw unsafeEntry(h.name, `${h.type} entries are not restored`);
  }
}
