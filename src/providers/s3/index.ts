/**
 * The `s3` provider: Amazon S3, Cloudflare R2, Backblaze B2 and other S3-compatible servers (Ceph
 * RGW, MinIO) over `@aws-sdk/client-s3` and `@aws-sdk/lib-storage`. The provider root is the bucket
 * (or `bucket/prefix`); provider paths are object keys below it. S3 has no folders: `ensureDir` is a
 * no-op and zero-byte `folder/` marker keys are not listed.
 */
import { createHash, randomBytes } from "node:crypto";
import { PassThrough, addAbortSignal, type Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type HeadObjectCommandOutput,
} from "@aws-sdk/client-s3";
import type { S3Settings } from "../../config/types.js";
import { WorkspaceSyncError, abortError, errorMessage, throwIfAborted, toWorkspaceSyncError } from "../../errors.js";
import { redactingLogger } from "../../logger.js";
import { normalizeRemotePath } from "../paths.js";
import type {
  CleanupOptions,
  DeleteFailure,
  LocalSource,
  ListOptions,
  ProviderCapabilities,
  ProviderContext,
  ReadOptions,
  RemoteEntry,
  StorageProvider,
  WriteOptions,
} from "../types.js";
import { sourceStream } from "../../util/source-stream.js";
import { buildS3Client } from "./client.js";
import { mapS3Error, s3ErrorName, s3ErrorStatus } from "./errors.js";
import { chooseQueueSize, choosePartSize } from "./settings.js";
import { uploadObject } from "./upload.js";
import { contentTypeFor } from "./content-type.js";
import { cutToRange, emptyRange, rangeHeader } from "../../util/byte-range.js";
import { dateFromNs, formatRcloneSeconds, nsFromMs, parseRcloneSeconds, type PreciseTime } from "../../util/mtime.js";

export { resolveS3Endpoint, choosePartSize, chooseQueueSize, retryPlan, MAX_PARTS, MIN_PART_SIZE, DEFAULT_PART_SIZE } from "./settings.js";
export type { ResolvedS3Endpoint, PartSizeChoice, RetryPlan } from "./settings.js";
export { mapS3Error } from "./errors.js";

/** Metadata key holding the source mtime, as rclone writes it: seconds since the epoch with a fraction. */
export const MTIME_METADATA_KEY = "mtime";
/**
 * Metadata key holding the whole-object MD5 (base64) of a multipart upload, as rclone writes it: the
 * ETag of a multipart object is not an MD5 of its content, this is.
 */
export const MD5_METADATA_KEY = "md5chksum";
/**
 * Metadata key holding a random id per write. When the answer to a PutObject or
 * CompleteMultipartUpload is lost and the SDK's retry then meets its own object (412 from
 * If-None-Match, or NoSuchUpload for a completed upload), this id tells our write from someone else's.
 * Internal: never returned in `stat()` metadata.
 */
const WRITE_ID_METADATA_KEY = "ws-write-id";
/** DeleteObjects takes at most this many keys per request. */
const DELETE_BATCH = 1000;

const CAPABILITIES: ProviderCapabilities = {
  listMtime: "upload",
  metadata: true,
  caseInsensitive: false,
  folders: false,
};

/**
 * Formats a source mtime for object metadata exactly as rclone does (seconds with up to nine
 * decimals, trailing zeros dropped), so either tool reads the other's at full precision.
 * A Date gives milliseconds; a bigint is nanoseconds since the epoch.
 */
export function formatMtimeMetadata(mtime: Date | bigint): string {
  return formatRcloneSeconds(typeof mtime === "bigint" ? mtime : nsFromMs(mtime.getTime()));
}

/** Parses the stored source mtime: rclone's seconds (with fraction, before 1970 too) or milliseconds since the epoch. */
export function parseMtimeMetadata(value: string | undefined): Date | undefined {
  const t = parseRcloneSeconds(value);
  if (!t) return undefined;
  const date = dateFromNs(t.ns);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The whole-object MD5 as hex from rclone's `md5chksum` (base64); undefined when absent or malformed. */
export function md5FromChecksumMetadata(value: string | undefined): string | undefined {
  if (!value || !/^[A-Za-z0-9+/]{22}==$/.test(value.trim())) return undefined;
  return Buffer.from(value.trim(), "base64").toString("hex");
}

/**
 * The MD5 hex of a single-part ETag; undefined for multipart (`<md5>-<parts>`) or odd ETags. Read
 * whatever its spelling (quotes, capitals, a weak `W/` mark, which a HEAD through a gateway or a
 * proxy may add): the content hash then matches the listing's where the revision text does not.
 */
export function md5FromEtag(etag: string | undefined): string | undefined {
  const clean = etag?.trim().replace(/^W\//, "").replace(/"/g, "").toLowerCase();
  return clean && /^[0-9a-f]{32}$/.test(clean) ? clean : undefined;
}

/** Pages a one-key listing follows while they come back empty but truncated (see `statListed`). */
const ONE_KEY_PAGES = 8;

/** An entry from what S3 reports; `hash` only for single-part ETags, `revision` always the ETag. */
function toEntry(path: string, size: number | undefined, mtime: Date | undefined, rawEtag: string | undefined): RemoteEntry {
  const etag = rawEtag?.replace(/"/g, "");
  const hash = md5FromEtag(etag);
  return {
    path,
    size: size ?? 0,
    ...(mtime ? { mtime } : {}),
    ...(hash ? { hash } : {}),
    ...(etag ? { revision: etag } : {}),
  };
}

/** Creates an S3 {@link StorageProvider} for `settings.bucket` (`bucket` or `bucket/prefix`). */
export function createS3Provider(settings: S3Settings & { bucket: string }, ctx: ProviderContext): StorageProvider {
  const [bucket = "", ...rootParts] = normalizeRemotePath(settings.bucket).split("/");
  if (!bucket) {
    throw new WorkspaceSyncError("CONFIG_INVALID", "s3.bucket is empty: set it to the bucket name", { path: "s3.bucket" });
  }
  const root = rootParts.join("/");
  const logger = redactingLogger(ctx.logger);
  const { client, endpointLabel } = buildS3Client(settings, logger);

  const keyOf = (path: string): string => {
    const rel = normalizeRemotePath(path);
    if (rel === "") throw new WorkspaceSyncError("INVALID_PATH", "an object path is empty: name a file, not the root", { path });
    return root ? `${root}/${rel}` : rel;
  };
  /** Key prefix of folder `dir`, ending in `/` (or `""` for the bucket root). */
  const prefixOf = (dir: string): string => {
    const rel = [root, normalizeRemotePath(dir)].filter(Boolean).join("/");
    return rel ? `${rel}/` : "";
  };
  const fail = (err: unknown, operation: string, key?: string): WorkspaceSyncError =>
    mapS3Error(err, { operation, bucket, endpoint: endpointLabel, ...(key === undefined ? {} : { key }) });

  async function head(key: string, signal?: AbortSignal): Promise<HeadObjectCommandOutput | undefined> {
    try {
      return await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    } catch (err) {
      if (s3ErrorStatus(err) === 404 && s3ErrorName(err) !== "NoSuchBucket") return undefined;
      throw fail(err, "stat", key);
    }
  }

  /**
   * A HEAD answer as an entry: the source mtime from `mtime` metadata at its full precision (else
   * the upload time, without `mtimeNs`), and as `hash` the content MD5: the ETag's for a single-part
   * object, else the `md5chksum` that rclone (and this provider) store with multipart uploads.
   */
  function entryFromHead(path: string, out: HeadObjectCommandOutput): RemoteEntry {
    const { [MTIME_METADATA_KEY]: storedMtime, [WRITE_ID_METADATA_KEY]: _writeId, ...metadata } = out.Metadata ?? {};
    const source: PreciseTime | undefined = parseRcloneSeconds(storedMtime);
    const mtime = source ? dateFromNs(source.ns) : out.LastModified;
    const entry: RemoteEntry = { ...toEntry(path, out.ContentLength, mtime, out.ETag), metadata };
    if (source) {
      entry.mtimeNs = source.ns;
      entry.mtimePrecisionNs = source.precisionNs;
    }
    if (entry.hash === undefined) {
      const md5 = md5FromChecksumMetadata(metadata[MD5_METADATA_KEY]);
      if (md5) entry.hash = md5;
    }
    return entry;
  }

  async function* list(dir: string, options: ListOptions = {}): AsyncIterable<RemoteEntry> {
    const prefix = prefixOf(dir);
    const recursive = options.recursive ?? true;
    let token: string | undefined;
    do {
      throwIfAborted(options.signal);
      let page;
      try {
        page = await client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            ...(recursive ? {} : { Delimiter: "/" }),
            ...(token ? { ContinuationToken: token } : {}),
          }),
          { abortSignal: options.signal },
        );
      } catch (err) {
        throw fail(err, `list "${prefix}"`);
      }
      for (const obj of page.Contents ?? []) {
        if (!obj.Key || !obj.Key.startsWith(prefix)) continue;
        const path = obj.Key.slice(prefix.length);
        if (path === "" || path.endsWith("/")) {
          if ((obj.Size ?? 0) > 0) logger.warn(`workspace-sync: skipping S3 key "${obj.Key}": a key ending in "/" cannot be a file`);
          continue; // folder markers
        }
        yield toEntry(path, obj.Size, obj.LastModified, obj.ETag);
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
      if (page.IsTruncated && !token) {
        throw new WorkspaceSyncError("PROVIDER_ERROR", `S3 list "${prefix}" failed: ${endpointLabel} returned a truncated page without a continuation token`);
      }
    } while (token);
  }

  async function stat(path: string, options: { signal?: AbortSignal } = {}): Promise<RemoteEntry | undefined> {
    const key = keyOf(path);
    const out = await head(key, options.signal);
    return out ? entryFromHead(normalizeRemotePath(path), out) : undefined;
  }

  /**
   * The one key as the listing gives it: a listing of its name as prefix, one key long (the key
   * itself sorts before every longer key it prefixes; a page with no key, which S3 may give while
   * more follow, is followed). A HEAD's ETag may be spelled otherwise than the listing's (a gateway,
   * a proxy), and a version compared across the two would never match. Not in the listing, or a
   * server that cannot list one key (a directory bucket wants a prefix ending in `/`): a HEAD has
   * the last word, so a file is "gone" only when the HEAD says so too.
   */
  async function statListed(path: string, options: { signal?: AbortSignal } = {}): Promise<RemoteEntry | undefined> {
    const key = keyOf(path);
    let token: string | undefined;
    try {
      for (let page = 0; page < ONE_KEY_PAGES; page++) {
        throwIfAborted(options.signal);
        const out = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: key, MaxKeys: 1, ...(token ? { ContinuationToken: token } : {}) }), { abortSignal: options.signal });
        const obj = out.Contents?.find((o) => o.Key === key);
        if (obj) return toEntry(normalizeRemotePath(path), obj.Size, obj.LastModified, obj.ETag);
        if ((out.Contents?.length ?? 0) > 0 || !out.IsTruncated || !out.NextContinuationToken) break;
        token = out.NextContinuationToken;
      }
    } catch (err) {
      throwIfAborted(options.signal);
      logger.debug?.(`workspace-sync: S3 listing of one key "${key}" failed (${errorMessage(err)}): asking HEAD`);
    }
    return stat(path, options);
  }

  async function read(path: string, options: ReadOptions = {}): Promise<Readable> {
    const key = keyOf(path);
    const { signal } = options;
    throwIfAborted(signal);
    if (emptyRange(options)) return new PassThrough().end();
    const range = rangeHeader(options);
    let body: Readable;
    let ignoredRange = false;
    try {
      const out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key, ...(range !== undefined ? { Range: range } : {}) }), { abortSignal: signal });
      body = out.Body as Readable;
      ignoredRange = range !== undefined && out.ContentRange === undefined;
    } catch (err) {
      // A range past the end (resuming exactly at it, or any range of an empty object): nothing to read.
      if (range !== undefined && s3ErrorStatus(err) === 416) return new PassThrough().end();
      const mapped = fail(err, "read", key);
      if (mapped.code === "NOT_FOUND") {
        throw new WorkspaceSyncError("NOT_FOUND", `S3 object "${key}" does not exist in bucket "${bucket}"`, { path, cause: mapped.cause });
      }
      throw mapped;
    }
    // Re-emit body errors as typed errors (a reset mid-download becomes NETWORK, retryable with `start`).
    // Destroying the returned stream (consumer gave up, or abort) releases the socket.
    const out = new PassThrough({ highWaterMark: 1 << 20 });
    const onAbort = () => out.destroy(abortError(signal?.reason));
    signal?.addEventListener("abort", onAbort, { once: true });
    body.once("error", (err) => out.destroy(fail(err, "read", key)));
    out.once("close", () => {
      signal?.removeEventListener("abort", onAbort);
      if (!body.destroyed) body.destroy();
    });
    // A server that ignored the range sent the whole object: the range is cut here.
    (ignoredRange ? body.pipe(cutToRange(options)) : body).pipe(out);
    return out;
  }

  async function write(path: string, source: Readable, options: WriteOptions = {}): Promise<RemoteEntry> {
    let key: string;
    try {
      key = keyOf(path);
      throwIfAborted(options.signal);
      if (options.overwrite === false && (await head(key, options.signal))) {
        throw new WorkspaceSyncError("ALREADY_EXISTS", `S3 object "${key}" already exists in bucket "${bucket}": choose another name or allow overwriting`, { path });
      }
    } catch (err) {
      source.destroy();
      throw toWorkspaceSyncError(err);
    }
    const metadata: Record<string, string> = { ...options.metadata };
    for (const [k, v] of Object.entries(metadata)) {
      if (!/^[!-~]+$/.test(k) || !/^[ -~]*$/.test(v)) {
        source.destroy();
        throw new WorkspaceSyncError("INVALID_PATH", `metadata ${JSON.stringify(k)} is not printable ASCII: S3 metadata travels in HTTP headers`, { path });
      }
    }
    if (options.mtimeNs !== undefined) metadata[MTIME_METADATA_KEY] = formatMtimeMetadata(options.mtimeNs);
    else if (options.mtime) metadata[MTIME_METADATA_KEY] = formatMtimeMetadata(options.mtime);
    const writeId = randomBytes(8).toString("hex");
    metadata[WRITE_ID_METADATA_KEY] = writeId;
    const { partSize, warning } = choosePartSize(options.sizeHint, settings.partSizeMiB);
    if (warning) logger.warn(`workspace-sync: ${warning}`);
    // A multipart ETag is no content MD5: as rclone does, store the file's MD5 (hashed before the
    // upload starts; the streamed bytes are checked against it before the upload completes).
    let expectMd5: string | undefined;
    if (options.sourceFile !== undefined && options.sizeHint !== undefined && options.sizeHint >= partSize) {
      try {
        expectMd5 = await hashLocalFile(options.sourceFile, { signal: options.signal });
      } catch (err) {
        source.destroy();
        throw toWorkspaceSyncError(err);
      }
      metadata[MD5_METADATA_KEY] = Buffer.from(expectMd5, "hex").toString("base64");
    }
    try {
      await uploadObject({
        client,
        bucket,
        key,
        source,
        partSize,
        queueSize: chooseQueueSize(partSize, settings.queueSize),
        metadata,
        contentType: contentTypeFor(key),
        ...(expectMd5 ? { expectMd5 } : {}),
        ifNoneMatch: options.overwrite === false,
        logger,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onProgress ? { onProgress: options.onProgress } : {}),
      });
    } catch (err) {
      // A retried PutObject/Complete whose first answer was lost meets the object it created itself.
      if (s3ErrorStatus(err) === 412 || s3ErrorName(err) === "NoSuchUpload") {
        const mine = await head(key, options.signal).catch(() => undefined);
        if (mine?.Metadata?.[WRITE_ID_METADATA_KEY] === writeId) return entryFromHead(normalizeRemotePath(path), mine);
      }
      if (options.overwrite === false && s3ErrorStatus(err) === 412) {
        throw new WorkspaceSyncError("ALREADY_EXISTS", `S3 object "${key}" was created by someone else during the upload: choose another name`, { path });
      }
      if (/Exceeded \d+ parts/.test(String((err as Error)?.message))) {
        throw new WorkspaceSyncError("PROVIDER_ERROR", `S3 upload of "${key}" needs more than 10000 parts of ${partSize / 1048576} MiB: pass a larger size estimate or raise s3.partSizeMiB`, { path });
      }
      throw fail(err, "upload", key);
    }
    // Ceph RGW (16) returns an empty ETag from CompleteMultipartUpload: ask for the stored entry.
    const out = await head(key, options.signal);
    if (!out) {
      throw new WorkspaceSyncError("PROVIDER_ERROR", `S3 upload of "${key}" completed but the object is not visible: check the bucket's consistency or retry`, { path });
    }
    return entryFromHead(normalizeRemotePath(path), out);
  }

  async function deleteOne(path: string, options: { signal?: AbortSignal } = {}): Promise<void> {
    const key = keyOf(path);
    try {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: options.signal });
    } catch (err) {
      if (s3ErrorName(err) === "NoSuchKey") return;
      throw fail(err, "delete", key);
    }
  }

  async function deleteMany(paths: string[], options: { signal?: AbortSignal } = {}): Promise<DeleteFailure[]> {
    const failures: DeleteFailure[] = [];
    const byKey = new Map<string, string>();
    for (const path of paths) {
      try {
        byKey.set(keyOf(path), path);
      } catch (err) {
        failures.push({ path, error: toWorkspaceSyncError(err) });
      }
    }
    const keys = [...byKey.keys()];
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH);
      try {
        throwIfAborted(options.signal);
        const out = await client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
          { abortSignal: options.signal },
        );
        for (const e of out.Errors ?? []) {
          if (!e.Key || e.Code === "NoSuchKey") continue;
          const error = fail({ name: e.Code, message: e.Message }, "delete", e.Key);
          failures.push({ path: byKey.get(e.Key) ?? e.Key, error });
        }
      } catch (err) {
        const error = fail(err, "delete");
        for (const key of batch) failures.push({ path: byKey.get(key)!, error });
      }
    }
    return failures;
  }

  async function check(options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }), { abortSignal: options.signal });
    } catch (err) {
      // HEAD answers carry no error body: a bare 404 here can only mean the bucket.
      if (s3ErrorStatus(err) === 404) throw fail({ ...(err as object), name: "NoSuchBucket" }, "check");
      throw fail(err, "check");
    }
  }

  async function cleanupIncomplete(dir: string, olderThanMs: number, options: CleanupOptions = {}): Promise<number> {
    const prefix = prefixOf(dir);
    const cutoff = olderThanMs <= 0 ? Infinity : Date.now() - olderThanMs;
    let removed = 0;
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      throwIfAborted(options.signal);
      let page;
      try {
        page = await client.send(
          new ListMultipartUploadsCommand({
            Bucket: bucket,
            Prefix: prefix,
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
            ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
          }),
          { abortSignal: options.signal },
        );
      } catch (err) {
        throw fail(err, `list incomplete uploads "${prefix}"`);
      }
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId || !u.Initiated || u.Initiated.getTime() > cutoff || !u.Key.startsWith(prefix)) continue;
        // Someone else's upload in a shared bucket or prefix: not ours to abort.
        if (options.match && !options.match(u.Key.slice(prefix.length))) continue;
        try {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }), { abortSignal: options.signal });
          removed++;
        } catch (err) {
          if (s3ErrorName(err) === "NoSuchUpload") continue;
          throw fail(err, "abort incomplete upload", u.Key);
        }
      }
      if (!page.IsTruncated || !page.NextKeyMarker) break;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
    if (removed > 0) logger.info(`workspace-sync: aborted ${removed} incomplete S3 upload(s) under "${prefix}"`);
    return removed;
  }

  async function hashLocalFile(file: string | LocalSource, options: { signal?: AbortSignal } = {}): Promise<string> {
    const hash = createHash("md5");
    const stream = sourceStream(file);
    if (options.signal) addAbortSignal(options.signal, stream);
    try {
      for await (const chunk of stream) hash.update(chunk as Buffer);
    } catch (err) {
      stream.destroy();
      throw toWorkspaceSyncError(err);
    }
    return hash.digest("hex");
  }

  return {
    description: `s3://${bucket}${root ? `/${root}` : ""}`,
    capabilities: CAPABILITIES,
    list,
    stat,
    statListed,
    read,
    write,
    delete: deleteOne,
    deleteMany,
    ensureDir: async () => {},
    check,
    cleanupIncomplete,
    hashLocalFile,
    close: async () => client.destroy(),
  };
}
