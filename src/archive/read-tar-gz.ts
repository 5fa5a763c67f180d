/**
 * Reading a `.tar.gz` stream: source → gunzip (multi-member) → tar-stream, entry by entry, with
 * every failure mapped to one typed error. Shared by extract and check.
 */
import { type Readable, Transform, type TransformCallback, pipeline } from "node:stream";
import zlib from "node:zlib";
import * as tar from "tar-stream";
import { WorkspaceSyncError, abortError, errorMessage, isWorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";
import { padToBlock } from "./entry.js";

/** One entry stream of tar-stream's extract (its type is not exported): `header` plus the data. */
export type TarEntry = tar.Extract extends AsyncIterable<infer S> ? S : never;

/** Options of {@link readTarGz}. */
export interface ReadTarGzOptions {
  signal?: AbortSignal;
  /** Called with the running total of compressed bytes read from the source. */
  onCompressedBytes?: (n: number) => void;
}

function corrupt(detail: string, cause?: unknown): WorkspaceSyncError {
  return new WorkspaceSyncError(
    "SNAPSHOT_CORRUPT",
    `Snapshot is damaged or incomplete (${detail}): restore an older snapshot or re-run the backup`,
    { cause },
  );
}

function isZlibError(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && code.startsWith("Z_");
}

/** Errors tar-stream raises for malformed tar data. */
function isTarFormatError(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : "";
  return /Invalid tar header|Unexpected end of data|Header exceeds max size|Invalid header/.test(msg);
}

/**
 * The reading pipeline both extract and check use: source → gunzip (multi-member) → tar-stream,
 * calling `onEntry` for each entry in order (it must consume the entry's data). Maps every failure
 * to one typed error: the source's own error, `SNAPSHOT_CORRUPT` for damaged data, `ABORTED`.
 */
export async function readTarGz(
  source: Readable,
  onEntry: (entry: TarEntry) => Promise<void>,
  options: ReadTarGzOptions = {},
): Promise<void> {
  const { signal } = options;
  if (signal?.aborted) {
    source.destroy();
    throw abortError(signal.reason);
  }
  // The first failure decides the outcome: once gunzip fails, the pipeline destroys the source and
  // its own later error (premature close, abort) says nothing about the cause.
  let first: { origin: "source" | "gzip" | "abort"; err: unknown } | undefined;
  source.on("error", (err) => {
    // The pipeline aborts the source when gunzip stops early (data after a damaged gzip member header).
    if (isAbortErr(err)) return;
    first ??= { origin: "source", err };
  });
  let compressed = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      compressed += chunk.length;
      options.onCompressedBytes?.(compressed);
      cb(null, chunk);
    },
  });
  const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024 });
  gunzip.on("error", (err) => {
    if (isAbortErr(err)) return;
    first ??= { origin: "gzip", err };
  });
  const plain = pipeline(source, counter, gunzip, () => {});
  const ext = tar.extract({ allowUnknownFormat: true } as Parameters<typeof tar.extract>[0]);
  let tarBytes = 0;

  const onAbort = (): void => {
    const err = abortError(signal?.reason);
    first ??= { origin: "abort", err };
    source.destroy(err);
    plain.destroy(err);
    ext.destroy(err);
  };
  signal?.addEventListener("abort", onAbort, { once: true });

  const feed = (async () => {
    try {
      for await (const chunk of plain as AsyncIterable<Buffer>) {
        tarBytes += chunk.length;
        if (!ext.write(chunk)) await waitDrain(ext);
      }
      (ext as unknown as { end(): void }).end();
    } catch (err) {
      ext.destroy(err as Error);
    }
  })();

  let lastEnd = 0;
  try {
    for await (const entry of ext) {
      const h = entry.header;
      lastEnd = (h as tar.Header & { byteOffset?: number }).byteOffset ?? 0;
      lastEnd += h.type === "file" || h.type === "contiguous-file" ? padToBlock(h.size) : 0;
      await onEntry(entry);
    }
    await feed;
    // Node's gunzip stops quietly at bytes that do not start a gzip member (a damaged member header).
    if (source.readableEnded === false) throw corrupt("unexpected data after the end of the gzip stream");
    // tar-stream accepts a stream cut right after an entry; a complete archive ends with zero blocks.
    if (tarBytes < lastEnd + 512) throw corrupt("the archive ends without its end-of-archive marker");
  } catch (err) {
    throw classify(first?.err ?? err, first?.origin === "source");
  } finally {
    signal?.removeEventListener("abort", onAbort);
    if (!plain.destroyed) plain.destroy();
    if (!source.destroyed) source.destroy();
    if (!ext.destroyed) ext.destroy();
    await feed.catch(() => {});
  }
}

/** Node's "the operation was aborted" from destroying a stream early (not the caller's signal). */
function isAbortErr(err: unknown): boolean {
  return !isWorkspaceSyncError(err) && (err as { code?: unknown } | undefined)?.code === "ABORT_ERR";
}

function classify(err: unknown, fromSource: boolean): WorkspaceSyncError {
  if (fromSource) return isWorkspaceSyncError(err) ? err : toWorkspaceSyncError(err);
  if (isWorkspaceSyncError(err)) return err;
  if (isZlibError(err)) {
    const msg = errorMessage(err);
    if (/incorrect header check/i.test(msg)) {
      return corrupt("not gzip data: wrong passphrase, or not a workspace-sync snapshot", err);
    }
    return corrupt(`gzip: ${msg}`, err);
  }
  if (isTarFormatError(err)) return corrupt(`tar: ${errorMessage(err)}`, err);
  if (isAbortErr(err)) return corrupt("the gzip stream ended early", err);
  return toWorkspaceSyncError(err);
}

function waitDrain(stream: tar.Extract): Promise<void> {
  return new Promise<void>((resolve, reject) => {
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
      reject(new Error("tar extract closed"));
    };
    stream.on("drain", onDrain);
    stream.on("close", onClose);
  });
}

/** Reads an entry's data to the end, discarding it. */
export async function drainEntry(entry: AsyncIterable<unknown>): Promise<void> {
  for await (const _chunk of entry) {
    // discard
  }
}
