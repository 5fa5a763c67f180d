/**
 * Reading a `.tar.gz` stream: source → gunzip (multi-member; indexed members in parallel, see
 * parallel-gunzip.ts) → tar-stream, entry by entry, with every failure mapped to one typed error.
 * Shared by extract and check.
 */
import { Readable, Transform, type TransformCallback, finished } from "node:stream";
import * as tar from "tar-stream";
import { WorkspaceSyncError, abortError, errorMessage, isWorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";
import { padToBlock } from "./entry.js";
import { GzipTrailingDataError, parallelGunzip } from "./parallel-gunzip.js";
import { applyPaxTimes, hasRawName, installTarStreamFixes, isGnuSparse, shownName } from "./tar-headers.js";
import { printableName } from "../util/printable.js";
import { ReleaseQueue } from "../util/release-buffer.js";
import { chunksOf } from "../util/stream-chunks.js";

installTarStreamFixes();

/** One entry stream of tar-stream's extract (its type is not exported): `header` plus the data. */
export type TarEntry = tar.Extract extends AsyncIterable<infer S> ? S : never;

/** Options of {@link readTarGz}. */
export interface ReadTarGzOptions {
  signal?: AbortSignal;
  /** Called with the running total of compressed bytes read from the source. */
  onCompressedBytes?: (n: number) => void;
  /** Told, once at the end, of entries after the archive's end that were read but not passed on. */
  onWarning?: (message: string) => void;
}

function corrupt(detail: string, cause?: unknown): WorkspaceSyncError {
  return new WorkspaceSyncError(
    "SNAPSHOT_CORRUPT",
    `Snapshot is damaged or incomplete (${detail}): restore an older snapshot or re-run the backup`,
    { cause },
  );
}

/** Errors node:zlib raises for damaged gzip data (they carry a `Z_…` code, or its message). */
function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === "string" && code.startsWith("Z_")) return true;
  const msg = err instanceof Error ? err.message : "";
  return /^(incorrect (header|data) check|unexpected end of file|invalid [a-z ]+|too many [a-z ]+|unknown compression method|header crc mismatch)$/i.test(msg);
}

/** Errors tar-stream raises for malformed tar data. */
function isTarFormatError(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : "";
  return /Invalid tar header|Unexpected end of data|Header exceeds max size|Invalid header/.test(msg);
}

/**
 * streamx's "Stream was destroyed": an entry's data stream ended before its last byte because the
 * tar parser was torn down (the tar ends inside that entry's data, or the parser failed).
 */
function isStreamDestroyed(err: unknown): boolean {
  return (err as { code?: unknown } | undefined)?.code === "STREAM_DESTROYED";
}

/**
 * Header checks tar-stream leaves to us. A folder entry whose size is > 0 is refused: tar-stream
 * 3.2 creates a data stream for it that never ends (and parses the announced data as headers).
 * Links and other entries with a size get their data skipped by tar-stream, so they are fine.
 */
function checkHeader(h: tar.Header): void {
  checkReadable(h);
  if (isGnuSparse(h)) {
    const pax = (h as tar.Header & { pax?: Record<string, string> | null }).pax;
    const real = pax?.["GNU.sparse.name"];
    throw notSupported(real === undefined ? h : { ...h, name: real }, "it is a GNU sparse file (tar -S), which this library does not restore");
  }
  if (hasRawName(h.name) || hasRawName(h.linkname)) throw notSupported(h, "its name or link target is not valid UTF-8 (shown with \\x escapes), which a restore can not recreate byte for byte (decoded, two such names could become one)");
}

/** What every entry must pass to be read at all, extracted or not (after the end marker too). */
function checkReadable(h: tar.Header): void {
  if (h.type === "directory" && h.size > 0) {
    throw corrupt(`tar: the folder entry ${JSON.stringify(h.name)} announces ${h.size} bytes of data`);
  }
}

/** The entry's name for messages: `\x` escapes for bytes that are not UTF-8, control characters escaped. */
function shown(h: tar.Header): string {
  const link = h.linkname && (h.type === "symlink" || h.type === "link") ? ` -> "${printableName(shownName(h.linkname))}"` : "";
  return `"${printableName(shownName(h.name))}"${link}`;
}

/**
 * `NOT_SUPPORTED` for an entry this library can not restore as it is, naming it and the way out:
 * GNU tar, which extracts it.
 */
function notSupported(h: tar.Header, why: string): WorkspaceSyncError {
  return new WorkspaceSyncError(
    "NOT_SUPPORTED",
    `Archive entry ${shown(h)}: ${why}. Nothing was restored; extract this snapshot with GNU tar instead (openssl enc -d -aes-256-cbc -pbkdf2 -iter <backup.kdfIterations> -in <snapshot> | tar -xz, or tar -xzf for an unencrypted one)`,
    { path: printableName(shownName(h.name)) },
  );
}

/**
 * Tells {@link readTarGz} that the first `bytes` of the current entry's data are written (the
 * write finished) or copied, so that nothing reads them any more: their memory may be freed before
 * the entry ends (a large file's data is otherwise held until its last byte is written).
 */
export type EntryConsumed = (bytes: number) => void;

/**
 * The reading pipeline both extract and check use: source → gunzip (multi-member) → tar-stream,
 * calling `onEntry` for each entry in order. `onEntry` must consume the entry's data, and once it
 * settles it must hold none of it: every byte written (the write finished) or copied, since the
 * memory may be freed then (see release-buffer.ts); `consumed` says so earlier, as a large
 * entry's data is written. Entries after the end-of-archive marker are read to the end of the
 * stream but not passed on (GNU tar stops there). Maps every failure to one typed error: the source's own error,
 * `SNAPSHOT_CORRUPT` for damaged data, `ABORTED`.
 */
export async function readTarGz(
  source: Readable,
  onEntry: (entry: TarEntry, consumed: EntryConsumed) => Promise<void>,
  options: ReadTarGzOptions = {},
): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) {
    source.destroy();
    throw abortError(signal.reason);
  }
  // The first failure decides the outcome: once gunzip fails, the streams around it are destroyed
  // and their own later errors (premature close, abort) say nothing about the cause.
  let first: { origin: "source" | "gzip" | "tar" | "abort"; err: unknown } | undefined;
  let compressed = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      compressed += chunk.length;
      options.onCompressedBytes?.(compressed);
      cb(null, chunk);
    },
  });
  // `source` is piped in rather than made part of the pipeline: a pipeline would destroy it with
  // gunzip's raw error, which is what a caller writing into `source` (a restore's decrypt
  // pipeline) would then report. On failure it is destroyed below with the classified error.
  source.on("error", () => {}); // reported through finished() below
  finished(source, (err) => {
    if (!err) return;
    // The source failed or closed before its end (its writer failed: decrypt, checksum, provider).
    if (!isAbortErr(err)) first ??= { origin: "source", err };
    counter.destroy(err);
  });
  source.pipe(counter);
  // Members whose header records their size inflate in parallel on the thread pool; a stream
  // without that index (older snapshots, `tar -cz | openssl enc`) is inflated in order. Chunk by
  // chunk (a stream's own iterator joins what it has buffered into a new copy), so that what the
  // decrypt stage handed over can be freed once inflated.
  const plain = parallelGunzip(chunksOf(counter), { signal });
  const ext = tar.extract({ allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
  ext.on("error", (err: unknown) => {
    // Only tar-stream's own findings; a destroy passed down from elsewhere is recorded there.
    if (isTarFormatError(err)) first ??= { origin: "tar", err };
  });
  markEntriesAfterEnd(ext);
  let tarBytes = 0;
  /** The entry `onEntry` is consuming: destroyed on abort, or a wait for its data could last forever. */
  let current: TarEntry | undefined;

  const onAbort = (): void => {
    const err = abortError(signal?.reason);
    first ??= { origin: "abort", err };
    source.destroy(err);
    counter.destroy(err); // the gunzip generator then stops at its next read, or at its next check of `signal`
    ext.destroy(err);
    current?.destroy(err);
  };
  signal?.addEventListener("abort", onAbort, { once: true });

  /**
   * Chunks written to tar-stream, with the tar offset they end at, until they are released: once
   * an entry whose data ends at or past a chunk's end has been taken by `onEntry`, tar-stream has
   * let go of the chunk and `onEntry` has written or copied every byte of it it was given (its
   * contract), so nothing reads it any more (see release-buffer.ts: only the inflated members the
   * gunzip handed over are freed).
   */
  const written = new ReleaseQueue();
  const feed = (async () => {
    try {
      for await (const chunk of plain) {
        tarBytes += chunk.length;
        written.add(chunk, tarBytes);
        if (!ext.write(chunk)) await waitDrain(ext);
      }
      (ext as unknown as { end(): void }).end();
    } catch (err) {
      if (isZlibError(err) || err instanceof GzipTrailingDataError) first ??= { origin: "gzip", err };
      ext.destroy(err as Error);
    }
  })();

  let lastEnd = 0;
  let afterEnd = 0;
  try {
    for await (const entry of ext) {
      const h = entry.header;
      if ((h as EndMarked).afterEndMarker) {
        // GNU tar (without -i) stops at the marker: what follows is read (the checks of the
        // stream cover it) but not extracted.
        checkReadable(h);
        afterEnd++;
        await drainEntry(entry);
        written.releaseUpTo(((h as tar.Header & { byteOffset?: number }).byteOffset ?? 0) + h.size);
        continue;
      }
      applyPaxTimes(h);
      checkHeader(h);
      // tar-stream skips the data of every entry with a size except folders (refused above).
      const dataStart = (h as tar.Header & { byteOffset?: number }).byteOffset ?? 0;
      lastEnd = dataStart + padToBlock(h.size);
      current = entry;
      // Only an entry read to its end has all its data past tar-stream (onEntry's contract, checked:
      // freeing a chunk tar-stream still holds would hand it an empty buffer).
      let readToEnd = h.size === 0;
      entry.once("end", () => (readToEnd = true));
      await onEntry(entry, (bytes) => written.releaseUpTo(dataStart + Math.min(bytes, h.size)));
      current = undefined;
      if (readToEnd) written.releaseUpTo(dataStart + h.size);
    }
    await feed;
    // Node's gunzip stops quietly at bytes that do not start a gzip member (a damaged member header).
    if (source.readableEnded === false) throw corrupt("unexpected data after the end of the gzip stream");
    // tar-stream accepts a stream cut right after an entry; a complete archive ends with zero blocks.
    if (tarBytes < lastEnd + 512) throw corrupt("the archive ends without its end-of-archive marker");
    if (afterEnd > 0) {
      options.onWarning?.(`${afterEnd} archive entr${afterEnd === 1 ? "y" : "ies"} after the end of the archive (its first zero block) not restored, as GNU tar reads it without -i: the archive may be two joined, or damaged`);
    }
  } catch (err) {
    const e = classify(first?.err ?? err, first?.origin === "source");
    current?.destroy(e);
    // Tell whoever writes into `source` (a restore's decrypt pipeline) why it was cut off, rather
    // than leaving it a bare "premature close".
    if (!source.destroyed) source.destroy(e);
    throw e;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!counter.destroyed) counter.destroy();
    if (!source.destroyed) source.destroy();
    if (!ext.destroyed) ext.destroy();
    await feed.catch(() => {});
  }
}

/** A header read after the end-of-archive marker (see {@link markEntriesAfterEnd}). */
type EndMarked = tar.Header & { afterEndMarker?: boolean };

/**
 * Marks each header tar-stream reads after the end of the archive: its first zero block, as GNU
 * tar reads it without `-i` (the marker is two; a lone one ends it too, with a warning there).
 * tar-stream itself skips zero blocks and reads on, so `cat a.tgz b.tgz` would restore both.
 * Hooks its header step (not part of its API: without it, nothing is marked, which the tests of
 * `cat a.tgz b.tgz` and of a lone zero block would show).
 */
function markEntriesAfterEnd(ext: tar.Extract): void {
  const inner = ext as unknown as { _consumeHeader?: () => boolean; _header?: EndMarked | null };
  const consume = inner._consumeHeader;
  if (typeof consume !== "function") return;
  let ended = false;
  inner._consumeHeader = function consumeHeader(this: typeof inner): boolean {
    const ok = consume.call(this);
    if (!ok) return ok;
    if (this._header === null) ended = true;
    else if (this._header !== undefined && ended) this._header.afterEndMarker = true;
    return ok;
  };
}

/** Node's "the operation was aborted" from destroying a stream early (not the caller's signal). */
function isAbortErr(err: unknown): boolean {
  return !isWorkspaceSyncError(err) && (err as { code?: unknown } | undefined)?.code === "ABORT_ERR";
}

function classify(err: unknown, fromSource: boolean): WorkspaceSyncError {
  if (isWorkspaceSyncError(err)) return err;
  if (err instanceof GzipTrailingDataError) return corrupt(err.message, err);
  // The source's own failure (a provider read error), unless it is the gunzip error the pipeline
  // passed back up to it.
  if (fromSource && !isZlibError(err)) return toWorkspaceSyncError(err);
  if (isZlibError(err)) {
    const msg = errorMessage(err);
    if (/incorrect header check/i.test(msg)) {
      return corrupt("not gzip data: wrong passphrase, or not a workspace-sync snapshot", err);
    }
    return corrupt(`gzip: ${msg}`, err);
  }
  if (isTarFormatError(err)) return corrupt(`tar: ${errorMessage(err)}`, err);
  if (isStreamDestroyed(err)) return corrupt("tar: the archive ends inside an entry's data", err);
  if (isAbortErr(err)) return corrupt("the gzip stream ended early", err);
  if ((err as Error | undefined)?.message === TAR_CLOSED) return corrupt("tar: the reader stopped before the end of the data", err);
  // Anything else came from writing the entries (ENOSPC, EACCES, …), not from the snapshot.
  return toWorkspaceSyncError(err);
}

const TAR_CLOSED = "tar extract closed";

/**
 * Waits until tar-stream takes more, or fails once it is closed: also when it closed before this
 * was called (its own error destroys it; waiting for a 'close' that has already been was a hang).
 */
function waitDrain(stream: tar.Extract): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if ((stream as unknown as { destroyed: boolean }).destroyed) {
      reject(new Error(TAR_CLOSED));
      return;
    }
    const cleanup = (): void => {
      stream.off("drain", onDrain);
      stream.off("close", onClose);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error(TAR_CLOSED));
    };
    stream.on("drain", onDrain);
    stream.on("close", onClose);
  });
}

/** Reads an entry's data to the end, discarding it (and saying so to `consumed` as it goes). */
export async function drainEntry(entry: AsyncIterable<unknown>, consumed?: EntryConsumed): Promise<void> {
  let bytes = 0;
  for await (const chunk of entry) {
    bytes += (chunk as Buffer).length;
    consumed?.(bytes);
  }
}
