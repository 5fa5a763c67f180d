/**
 * Extract: gunzip (multi-member) → tar-stream extract → files under a target folder that must be
 * empty or new. Nothing is ever written outside the target, and damaged input never ends in success.
 */
import fsSync from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import type * as tar from "tar-stream";
import { WorkspaceSyncError, abortError, toWorkspaceSyncError } from "../errors.js";
import type { ProgressCallback } from "../logger.js";
import { type EntryConsumed, type TarEntry, drainEntry, readTarGz } from "./read-tar-gz.js";
import { safeEntryName, unsafeEntry } from "./safe-path.js";
import { ArchiveLayout } from "./layout.js";
import { extractionFsError } from "./fs-errors.js";
import { MAX_MTIME_MS } from "./entry.js";
import { underRoot } from "../util/flat-join.js";
import { SmallFileWriter, type SmallFileHost } from "./small-file-writer.js";
import { NEW_FILE_FLAGS, isBadTime } from "./write-new-file.js";

/** Options of {@link extractArchive}. */
export interface ExtractOptions {
  signal?: AbortSignal;
  /** Compressed bytes consumed so far (`phase: "restore"`). */
  onProgress?: ProgressCallback;
  /** Expected compressed size, passed through as `totalBytes` in progress reports. */
  totalBytes?: number;
  /**
   * Non-fatal findings: entries of unknown type that were skipped, and entries restored without
   * their modification time because the header's time field is invalid or out of range.
   */
  onWarning?: (message: string) => void;
  /**
   * What to do with a symlink whose target lies outside the target folder (an absolute path, or
   * `..` past the top): `"refuse"` (default) fails with `UNSAFE_ARCHIVE_ENTRY`, `"skip"` leaves it
   * out with a warning, `"allow"` creates it. Extraction never writes through a symlink either way.
   */
  externalSymlinks?: "refuse" | "skip" | "allow";
  /**
   * A helper thread to create the small files on (a restore's, which also decrypts); without
   * one, the extraction starts a thread of its own for them once it has written 256 of them (or
   * 4 MiB) itself; `false`: every file is created on the calling thread.
   */
  fileThread?: SmallFileHost | false | undefined;
}

/** What an extraction wrote. */
export interface ExtractResult {
  files: number;
  directories: number;
  symlinks: number;
  hardLinks: number;
  /** Bytes of file content written. */
  bytes: number;
  /** Compressed bytes read from the source. */
  compressedBytes: number;
}

const WRITE_BATCH = 1024 * 1024;
/** File entries up to this size are written by the small-file thread (see small-file-writer.ts). */
const SMALL_FILE = 256 * 1024;
const PROGRESS_EVERY = 1024 * 1024;

/**
 * Makes sure `targetDir` is an empty folder (creating it when missing) and returns its real path.
 * Throws `TARGET_NOT_EMPTY` for a folder with anything in it.
 */
async function prepareTarget(targetDir: string): Promise<string> {
  const abs = path.resolve(targetDir);
  let entries: string[];
  try {
    entries = await fs.readdir(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      await fs.mkdir(abs, { recursive: true }).catch((e: unknown) => {
        throw toWorkspaceSyncError(e);
      });
      return fs.realpath(abs);
    }
    if (code === "ENOTDIR") {
      throw new WorkspaceSyncError("TARGET_NOT_EMPTY", `Restore target ${abs} is a file: choose an empty or new folder`, { path: abs });
    }
    throw toWorkspaceSyncError(err);
  }
  if (entries.length > 0) {
    throw new WorkspaceSyncError(
      "TARGET_NOT_EMPTY",
      `Restore target ${abs} is not empty (${entries.length} entries): choose an empty or new folder so nothing is overwritten`,
      { path: abs },
    );
  }
  return fs.realpath(abs);
}

/**
 * Extracts a gzipped tar stream into `targetDir` (empty or new). Restores modes (without
 * setuid/setgid/sticky bits, no chown), mtimes (folders after their contents), symlinks and hard
 * links (a hard link to a symlink becomes a symlink with the same target, as with GNU tar). Refuses
 * with `UNSAFE_ARCHIVE_ENTRY` absolute names, `..` components, symlinks pointing outside the target
 * (also through other links), hard links to anything but a file or symlink extracted before,
 * replacing a link another link resolves through, writes through a symlinked
 * folder and device/fifo entries. Damaged gzip or tar data (including a folder entry that
 * announces data) → `SNAPSHOT_CORRUPT`; an entry whose mtime field is invalid or out of range is
 * restored without its time, with a warning. Entries it can not restore as they are (names or
 * link targets that are not valid UTF-8, GNU sparse files) → `NOT_SUPPORTED`, naming GNU tar as
 * the way out; entries after the end-of-archive marker are ignored, as GNU tar does. Local
 * file-system errors come typed, naming the entry (see fs-errors.ts). A {@link WorkspaceSyncError} raised by `source`
 * (e.g. `WRONG_PASSPHRASE` from decryption) is rethrown unchanged. Aborting `signal` always
 * settles the promise (`ABORTED`). On failure, files extracted so far are left in the target.
 */
export async function extractArchive(source: Readable, targetDir: string, options: ExtractOptions = {}): Promise<ExtractResult> {
  const { signal } = options;
  if (signal?.aborted) {
    source.destroy();
    throw abortError(signal.reason);
  }
  let root: string;
  try {
    root = await prepareTarget(targetDir);
  } catch (err) {
    source.destroy();
    throw err;
  }

  const result: ExtractResult = { files: 0, directories: 0, symlinks: 0, hardLinks: 0, bytes: 0, compressedBytes: 0 };
  const report = (): void => {
    options.onProgress?.({ phase: "restore", bytes: result.compressedBytes, totalBytes: options.totalBytes, files: result.files });
  };
  let lastReport = 0;
  const writer = new EntryExtractor(root, options, result);
  try {
    // A local file-system error names the entry and the fix (see fs-errors.ts).
    const onEntry = async (entry: TarEntry, consumed: EntryConsumed): Promise<void> => {
      try {
        await writer.entry(entry, consumed);
      } catch (err) {
        throw extractionFsError(err, root, entry.header.name);
      }
    };
    await readTarGz(source, onEntry, {
      signal,
      onWarning: options.onWarning,
      onCompressedBytes: (n) => {
        result.compressedBytes = n;
        if (n - lastReport >= PROGRESS_EVERY) {
          lastReport = n;
          report();
        }
      },
    });
    try {
      await writer.finish();
    } catch (err) {
      throw toWorkspaceSyncError(extractionFsError(err, root, "(folder modes and times)"));
    }
  } finally {
    // Once this settles nothing more is written: a failed restore may remove what was extracted.
    await writer.close();
  }
  report();
  return result;
}

/**
 * The header's mtime when it is usable, else `undefined`. tar-stream turns a damaged octal field
 * into an Invalid Date and a base-256 field into any number, which futimes/utimes refuse (EINVAL).
 */
function usableMtime(mtime: Date | undefined): Date | undefined {
  const ms = mtime?.getTime();
  return ms !== undefined && Number.isFinite(ms) && Math.abs(ms) <= MAX_MTIME_MS ? mtime : undefined;
}


/** Writes every byte of `chunks` (`writev` may write less than asked). */
async function writeAll(fh: fs.FileHandle, chunks: Buffer[], total: number): Promise<void> {
  const { bytesWritten } = await fh.writev(chunks);
  if (bytesWritten === total) return;
  const rest = Buffer.concat(chunks).subarray(bytesWritten);
  let off = 0;
  while (off < rest.length) off += (await fh.write(rest, off, rest.length - off)).bytesWritten;
}

interface DeferredDir {
  full: string;
  /** The entry's name in the archive (for warnings). */
  name: string;
  depth: number;
  mode: number;
  mtime: Date | undefined;
}

class EntryExtractor {
  /** What is where, and the rules each entry must pass (shared with `checkArchive`). */
  private readonly layout: ArchiveLayout;
  private readonly dirs: DeferredDir[] = [];
  /**
   * Creates small files on a thread (the caller's helper thread, or one of the writer's own once
   * it has written the first 256 files or 4 MiB itself), in order. A queued file may not be on disk yet:
   * whatever depends on that (replacing it, hard-linking to it, folder modes and times at the
   * end) waits for `small.barrier()` first. Parents are created here, before a file is queued,
   * and a folder is never removed or replaced during an extraction, so the checks made here
   * still hold when the file is written; `O_EXCL | O_NOFOLLOW` refuses anything at the path.
   */
  private readonly small: SmallFileWriter;

  constructor(
    private readonly root: string,
    private readonly options: ExtractOptions,
    private readonly result: ExtractResult,
  ) {
    this.layout = new ArchiveLayout(root, options.externalSymlinks ?? "refuse");
    this.small = new SmallFileWriter((name) => this.badTime(name), options.fileThread);
  }

  /** Stops the small-file thread (see {@link SmallFileWriter.close}). */
  close(): Promise<void> {
    return this.small.close();
  }

  /** `name` (from safeEntryName: relative, `/`-separated, no empty, `.` or `..` parts) under the root. */
  private full(name: string): string {
    return underRoot(this.root, name);
  }

  async entry(entry: TarEntry, consumed?: EntryConsumed): Promise<void> {
    this.small.check();
    const h = entry.header;
    const name = safeEntryName(h.name);
    if (name === "" && h.type !== "directory") throw unsafeEntry(h.name, "it would replace the restore folder itself");
    switch (h.type) {
      case "file":
      case "contiguous-file":
        return this.file(name, h, entry, consumed);
      case "directory":
        await drainEntry(entry);
        if (name === "") return; // `./`: the target itself
        return this.directory(name, h);
      case "symlink":
        await drainEntry(entry);
        return this.symlink(name, h);
      case "link":
        await drainEntry(entry);
        return this.hardLink(name, h);
      case "character-device":
      case "block-device":
      case "fifo":
        throw unsafeEntry(h.name, `${h.type} entries are not restored`);
      default:
        await drainEntry(entry);
        this.options.onWarning?.(`Skipped archive entry ${JSON.stringify(h.name)}: unsupported entry type`);
    }
  }

  /** Creates missing parent folders of `name`, refusing to go through anything but real folders. */
  private parents(name: string, original: string): void {
    for (const rel of this.layout.newParents(name, original)) {
      const full = this.full(rel);
      try {
        fsSync.mkdirSync(full);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        const st = fsSync.lstatSync(full);
        if (!st.isDirectory()) throw unsafeEntry(original, `its parent ${JSON.stringify(rel)} is not a folder`);
      }
    }
  }

  /** Removes an earlier file or symlink at `name` (a later entry replaces it, as tar does). */
  private async replace(name: string, original: string, next: "file" | "symlink"): Promise<void> {
    if (this.layout.replace(name, original, next) === undefined) return;
    await this.small.barrier();
    await fs.unlink(this.full(name));
  }

  private async file(name: string, h: tar.Header, entry: TarEntry, consumed: EntryConsumed | undefined): Promise<void> {
    this.parents(name, h.name);
    await this.replace(name, h.name, "file");
    const full = this.full(name);
    if (h.size <= SMALL_FILE) {
      // Small files go to the small-file thread in batches (see small-file-writer.ts): creating
      // them here, one syscall after the other, was most of a restore's main-thread time.
      const chunks: Buffer[] = [];
      let length = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        chunks.push(chunk);
        length += chunk.length;
      }
      this.layout.added(name, "file");
      this.small.write(full, h.name, chunks, length, h.mode & 0o777, this.mtime(h));
      this.result.bytes += length;
      this.result.files++;
      return;
    }
    const fh = await fs.open(full, NEW_FILE_FLAGS, 0o600);
    this.layout.added(name, "file");
    try {
      let batch: Buffer[] = [];
      let batched = 0;
      let written = 0;
      for await (const chunk of entry as AsyncIterable<Buffer>) {
        batch.push(chunk);
        batched += chunk.length;
        if (batched >= WRITE_BATCH) {
          await writeAll(fh, batch, batched);
          this.result.bytes += batched;
          written += batched;
          consumed?.(written);
          batch = [];
          batched = 0;
        }
      }
      if (batched > 0) {
        await writeAll(fh, batch, batched);
        this.result.bytes += batched;
      }
      await fh.chmod(h.mode & 0o777);
      const mtime = this.mtime(h);
      if (mtime) {
        await fh.utimes(mtime, mtime).catch((err: unknown) => {
          if (!isBadTime(err)) throw err;
          this.badTime(h.name);
        });
      }
    } finally {
      await fh.close();
    }
    this.result.files++;
  }

  private async directory(name: string, h: tar.Header): Promise<void> {
    this.parents(name, h.name);
    const full = this.full(name);
    if (this.layout.replace(name, h.name, "dir") === undefined) {
      fsSync.mkdirSync(full, 0o700);
      this.layout.added(name, "dir");
      this.result.directories++;
    }
    this.dirs.push({ full, name: h.name, depth: name.split("/").length, mode: h.mode & 0o777, mtime: this.mtime(h) });
  }

  private async symlink(name: string, h: tar.Header, linkname = h.linkname ?? ""): Promise<void> {
    const how = 'restore with the option externalSymlinks: "skip" to leave such links out, or "allow" to recreate them as they were';
    const skipped = this.layout.symlink(name, linkname, h.name, how);
    if (skipped !== undefined) {
      this.options.onWarning?.(skipped);
      return;
    }
    this.parents(name, h.name);
    await this.replace(name, h.name, "symlink");
    const full = this.full(name);
    await fs.symlink(linkname, full);
    this.layout.added(name, "symlink", linkname);
    const mtime = this.mtime(h);
    if (mtime) await fs.lutimes(full, mtime, mtime).catch(() => {});
    this.result.symlinks++;
  }

  private async hardLink(name: string, h: tar.Header): Promise<void> {
    const plan = this.layout.hardLink(name, h.linkname ?? "", h.name);
    if (plan === undefined) return;
    // A hard link to a symlink: a symlink with the same target, checked where it is.
    if (plan.kind === "symlink") return this.symlink(name, h, plan.linkname);
    this.parents(name, h.name);
    await this.replace(name, h.name, "file");
    await this.small.barrier(); // the target may still be queued
    await fs.link(this.full(plan.target), this.full(name));
    this.layout.added(name, "file");
    this.result.hardLinks++;
  }

  /** Applies folder modes and mtimes, deepest first, once their contents are in place. */
  async finish(): Promise<void> {
    await this.small.barrier();
    const dirs = [...this.dirs].sort((a, b) => b.depth - a.depth);
    for (const d of dirs) {
      await fs.chmod(d.full, d.mode);
      if (d.mtime) {
        await fs.utimes(d.full, d.mtime, d.mtime).catch((err: unknown) => {
          if (!isBadTime(err)) throw err;
          this.badTime(d.name);
        });
      }
    }
  }

  /** The entry's mtime, or `undefined` (with a warning) when the header's time field is unusable. */
  private mtime(h: tar.Header): Date | undefined {
    const mtime = usableMtime(h.mtime);
    if (!mtime) this.badTime(h.name);
    return mtime;
  }

  private badTime(name: string): void {
    this.options.onWarning?.(`Restored ${JSON.stringify(name)} without its modification time: the archive's time field is out of range`);
  }
}
