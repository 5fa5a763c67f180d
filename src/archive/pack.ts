/**
 * Pack: writes a walk's entries as a tar stream (tar-stream) and compresses it with
 * {@link parallelGzip}. Files are read with large buffers; a file whose size changed since the walk
 * is stored with exactly its walked size (zero-padded or cut) and a warning, so the archive stays valid.
 */
import fsSync from "node:fs";
import fs from "node:fs/promises";
import { Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import * as tar from "tar-stream";
import { WorkspaceSyncError, abortError, errorMessage, isWorkspaceSyncError, throwIfAborted, toWorkspaceSyncError } from "../errors.js";
import type { ProgressCallback } from "../logger.js";
import type { LocalSource } from "../providers/types.js";
import { tarMtime, type ArchiveEntry, type FileEntry, type HardLinkEntry } from "./entry.js";
import { ReadBufferPool } from "./buffer-pool.js";
import { LocalPathError, sourceAt } from "../util/safe-fs.js";
import { parallelGzip } from "./parallel-gzip.js";
import type { WalkResult } from "./walk.js";

/** Options of {@link createArchiveStream}. */
export interface ArchiveStreamOptions {
  /** gzip level 0-9 (default 6). */
  level?: number;
  signal?: AbortSignal;
  /** Non-fatal findings: a file changed or vanished while it was read. */
  onWarning?: (message: string) => void;
  /** Plain bytes read so far (`phase: "backup"`), against the walk's total. */
  onProgress?: ProgressCallback;
  /** Bytes per independent gzip block (default 1 MiB). */
  blockSize?: number;
  /** Blocks compressed at once (default 2-3, by CPU count). */
  concurrency?: number;
}

const READ_CHUNK = 1024 * 1024;
/**
 * A file entry's bytes, opened when stored: a regular file reached through no symlink. Its item's
 * own path may hold links the user named: the walk resolved those into `realPath`, where it is read.
 */
function entrySource(entry: FileEntry): LocalSource {
  const at = entry.realPath ?? entry.sourcePath;
  return sourceAt(at, entry.sourcePath, "the backup", at);
}

/** Open errors that skip the file with a warning, as GNU tar does (ENOENT has its own wording). */
const SKIPPED_OPEN_ERRORS = new Set(["EACCES", "EPERM", "EISDIR", "ENOTDIR"]);
/** Files up to this size are read synchronously in one call. */
const SMALL_FILE = 256 * 1024;
/**
 * Reads up to this size use node's own shared 8 KiB pool; larger ones a slab of the read pool.
 * (An empty file's chunk may never reach the gzip stage, so it must not hold a pool region.)
 */
const TINY_READ = 4 * 1024;
/** Read-pool slabs: room for the largest read (one more byte than a chunk, to notice growth). */
const SLAB_SIZE = READ_CHUNK + TINY_READ;
/** Reads in flight between a file and the gzip stage are few; more slabs only add memory. */
const MAX_SLABS = 6;
/** Padding for a file that shrank while read (only ever read from). */
const ZEROS = Buffer.alloc(READ_CHUNK);
const PROGRESS_EVERY = 1024 * 1024;

/**
 * Streams the `.tar.gz` bytes of a walk. Errors (unreadable files other than vanished or
 * permission-denied ones, abort) destroy the stream with a {@link WorkspaceSyncError}; an invalid
 * `level` throws `CONFIG_INVALID` at once. Destroying the returned stream stops reading files.
 */
export function createArchiveStream(walk: WalkResult, options: ArchiveStreamOptions = {}): Readable {
  const level = options.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new WorkspaceSyncError("CONFIG_INVALID", `Invalid compression level ${String(level)}: set backup.compressionLevel to a whole number from 0 to 9`);
  }
  const pack = tar.pack();
  const signal = options.signal;
  // Pack errors reach the consumer through the gzip stage's iterator; after it stopped, ignore them.
  pack.on("error", () => {});
  const pool = new ReadBufferPool(SLAB_SIZE, MAX_SLABS);
  const writer = new EntryWriter(pack, walk, options, pool);
  writer.run().then(
    () => pack.finalize(),
    (err: unknown) => pack.destroy(toWorkspaceSyncError(err)),
  );
  const gz = parallelGzip(pack as AsyncIterable<Uint8Array>, {
    level,
    signal,
    blockSize: options.blockSize,
    concurrency: options.concurrency,
    // tar-stream hands our read buffers through as they are: once copied, they can be read into again.
    onConsumed: (chunk) => pool.release(chunk),
  });
  const out = Readable.from(gz, { objectMode: false, highWaterMark: 1024 * 1024 });
  const onAbort = (): void => {
    out.destroy(abortError(signal?.reason));
  };
  if (signal) {
    if (signal.aborted) queueMicrotask(onAbort);
    else signal.addEventListener("abort", onAbort, { once: true });
    out.once("close", () => signal.removeEventListener("abort", onAbort));
  }
  out.once("close", () => {
    writer.stop();
    if (!pack.destroyed) pack.destroy();
  });
  return out;
}

type TarHeader = Parameters<tar.Pack["entry"]>[0];

class EntryWriter {
  private stopped = false;
  private bytes = 0;
  private files = 0;
  private reportedBytes = 0;
  /** Archive names of files that could not be stored, mapped to the entry that took their place. */
  private readonly redirected = new Map<string, string | undefined>();

  constructor(
    private readonly pack: tar.Pack,
    private readonly walk: WalkResult,
    private readonly options: ArchiveStreamOptions,
    private readonly pool: ReadBufferPool,
  ) {}

  stop(): void {
    this.stopped = true;
  }

  async run(): Promise<void> {
    for (const entry of this.walk.entries((message) => this.warn(message))) {
      if (this.stopped) throw new WorkspaceSyncError("ABORTED", "Archive stream closed before it was complete");
      throwIfAborted(this.options.signal);
      await this.writeEntry(entry);
    }
    this.report(true);
  }

  /**
   * The tar header of `entry` stored as `type` (one object per entry: tar-stream fills in the rest).
   * Any time is kept to the second, as GNU tar keeps it: outside 1970-2038 in a pax `mtime` record.
   */
  private header(entry: ArchiveEntry, type: TarHeader["type"], extra?: { size?: number; linkname?: string }): TarHeader {
    const time = tarMtime(entry.mtime);
    // tar-stream takes mode 0 for "unset" and would store 0644/0755: the file-type bits keep a real
    // 000 (it masks them off when writing the header).
    const typeBits = entry.type === "directory" ? 0o040000 : entry.type === "symlink" ? 0o120000 : 0o100000;
    return {
      name: entry.name,
      mode: entry.mode | typeBits,
      mtime: new Date(time.headerSeconds * 1000),
      uid: entry.uid,
      gid: entry.gid,
      type,
      size: extra?.size,
      linkname: extra?.linkname,
      ...(time.pax !== undefined ? { pax: { mtime: time.pax } } : {}),
    };
  }

  private async writeEntry(entry: ArchiveEntry): Promise<void> {
    switch (entry.type) {
      case "directory":
        return this.voidEntry(this.header(entry, "directory"));
      case "symlink":
        return this.voidEntry(this.header(entry, "symlink", { linkname: entry.linkname }));
      case "link":
        return this.writeLink(entry);
      case "file":
        await this.writeFile(entry);
        return;
    }
  }

  private async writeLink(entry: HardLinkEntry): Promise<void> {
    let target: string | undefined = entry.linkname;
    if (this.redirected.has(target)) target = this.redirected.get(target);
    if (target === undefined) {
      // The first copy could not be stored: store this one as a regular file instead.
      const stored = await this.writeFile({ ...entry, type: "file" });
      this.redirected.set(entry.linkname, stored ? entry.name : undefined);
      return;
    }
    return this.voidEntry(this.header(entry, "link", { linkname: target, size: 0 }));
  }

  private async voidEntry(header: TarHeader): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
    // tar-stream pushes header-only entries (folders, links) without waiting for its reader; wait
    // here so a tree of many folders cannot pile up in memory while the upload is slow.
    while (!this.stopped && this.backpressured()) await delay(5);
  }

  private backpressured(): boolean {
    // The static streamx provides (inherited by tar-stream's Pack; streamx is not our dependency).
    const ctor = this.pack.constructor as unknown as { isBackpressured?: (rs: unknown) => boolean };
    return typeof ctor.isBackpressured === "function" ? ctor.isBackpressured(this.pack) : false;
  }

  private warn(message: string): void {
    this.options.onWarning?.(message);
  }

  /** Stores one file; false when it could not be opened (vanished, permission denied) and was skipped. */
  private async writeFile(entry: FileEntry): Promise<boolean> {
    return entry.size <= SMALL_FILE ? this.writeSmallFile(entry) : this.writeLargeFile(entry);
  }

  /** Whether an open error means "skip this file with a warning" (as GNU tar does) rather than fail. */
  private skipped(entry: FileEntry, err: unknown): boolean {
    const code = (err as NodeJS.ErrnoException).code;
    // A LocalPathError: a symlink or a FIFO where the walk saw a regular file (never read through, never waited on).
    const why = err instanceof LocalPathError ? err.reason : code === "ENOENT" ? "removed before it was read" : SKIPPED_OPEN_ERRORS.has(code ?? "") ? errorMessage(err) : undefined;
    if (why === undefined) return false;
    this.warn(`Skipped ${entry.sourcePath}: ${why}`);
    this.redirected.set(entry.name, undefined);
    return true;
  }

  private sizeWarning(entry: FileEntry, read: number): void {
    if (read < entry.size) {
      this.warn(`${entry.sourcePath} shrank while it was read: stored ${entry.size} bytes padded with zeros; back it up again for a consistent copy`);
    } else if (read > entry.size) {
      this.warn(`${entry.sourcePath} grew while it was read: stored its first ${entry.size} bytes; back it up again for a consistent copy`);
    }
  }

  private fileDone(): void {
    this.files++;
    this.report(false);
  }

  /**
   * Small files are read synchronously in one go: a thread-pool round trip per open/read/close costs
   * more than the page-cache read itself, and workspaces are mostly small files.
   */
  private async writeSmallFile(entry: FileEntry): Promise<boolean> {
    const size = entry.size;
    // One byte more than expected tells whether the file grew.
    const buf = size + 1 <= TINY_READ ? Buffer.allocUnsafe(size + 1) : this.pool.take(size + 1);
    let n = 0;
    try {
      const fd = entrySource(entry).openSync().handle;
      try {
        while (n < buf.length) {
          const r = fsSync.readSync(fd, buf, n, buf.length - n, n);
          if (r === 0) break;
          n += r;
        }
      } finally {
        fsSync.closeSync(fd);
      }
    } catch (err) {
      this.pool.release(buf);
      if (this.skipped(entry, err)) return false;
      throw toWorkspaceSyncError(err);
    }
    this.sizeWarning(entry, n);
    const data = buf.subarray(0, size);
    if (n < size) data.fill(0, n);
    await new Promise<void>((resolve, reject) => {
      this.pack.entry(this.header(entry, "file", { size }), data, (err) => (err ? reject(err) : resolve()));
    });
    this.bytes += size;
    this.fileDone();
    return true;
  }

  private async writeLargeFile(entry: FileEntry): Promise<boolean> {
    let fh: fs.FileHandle;
    try {
      fh = (await entrySource(entry).open()).handle;
    } catch (err) {
      if (this.skipped(entry, err)) return false;
      throw toWorkspaceSyncError(err);
    }
    try {
      const size = entry.size;
      let settle: (err?: Error | null) => void = () => {};
      const done = new Promise<void>((resolve, reject) => {
        settle = (err) => (err ? reject(err) : resolve());
      });
      done.catch(() => {});
      const sink = this.pack.entry(this.header(entry, "file", { size }), (err) => settle(err));
      let pos = 0;
      let grew = false;
      while (pos < size) {
        if (this.stopped) throw new WorkspaceSyncError("ABORTED", "Archive stream closed before it was complete");
        const want = Math.min(READ_CHUNK, size - pos);
        // The last read asks for one byte more to notice a file that grew.
        const ask = pos + want === size ? want + 1 : want;
        const buf = this.pool.take(ask);
        let bytesRead: number;
        try {
          ({ bytesRead } = await fh.read(buf, 0, ask, pos));
        } catch (err) {
          this.pool.release(buf);
          throw err;
        }
        if (bytesRead === 0) {
          this.pool.release(buf);
          break;
        }
        if (bytesRead > want) grew = true;
        const take = Math.min(bytesRead, want);
        pos += take;
        await writeChunk(sink, buf.subarray(0, take));
        this.progress(take);
      }
      this.sizeWarning(entry, grew ? size + 1 : pos);
      while (pos < size) {
        const n = Math.min(READ_CHUNK, size - pos);
        await writeChunk(sink, ZEROS.subarray(0, n));
        pos += n;
      }
      (sink as unknown as { end(): void }).end();
      await done;
      this.fileDone();
      return true;
    } catch (err) {
      if (isWorkspaceSyncError(err)) throw err;
      throw toWorkspaceSyncError(err);
    } finally {
      await fh.close().catch(() => {});
    }
  }

  private progress(n: number): void {
    this.bytes += n;
    this.report(false);
  }

  /** Progress at most every 1 MiB (and at the end), not once per small file. */
  report(final: boolean): void {
    if (!this.options.onProgress) return;
    if (!final && this.bytes - this.reportedBytes < PROGRESS_EVERY) return;
    this.reportedBytes = this.bytes;
    this.options.onProgress({ phase: "backup", bytes: this.bytes, totalBytes: this.walk.totalBytes, files: this.files });
  }
}

interface SinkLike {
  write(data: Buffer): boolean;
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  destroyed?: boolean;
}

/** Writes one chunk, waiting for `drain` when the pack stream is full. */
function writeChunk(sink: SinkLike, data: Buffer): Promise<void> {
  if (sink.destroyed) return Promise.reject(new WorkspaceSyncError("ABORTED", "Archive stream closed before it was complete"));
  if (sink.write(data)) return Promise.resolve();
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => {
      sink.off("drain", onDrain);
      sink.off("close", onClose);
      sink.off("error", onError);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new WorkspaceSyncError("ABORTED", "Archive stream closed before it was complete"));
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(err);
    };
    sink.once("drain", onDrain);
    sink.once("close", onClose);
    sink.once("error", onError);
  });
}
