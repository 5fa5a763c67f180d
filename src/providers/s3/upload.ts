/**
 * One streamed object upload over lib-storage's `Upload`, with the failure path built as carefully
 * as the success path: the first failed request (or a source error, or the caller's abort) cancels
 * the parts in flight, stops reading the source, and the multipart upload is aborted and awaited
 * before `uploadObject` rejects, so no object and no pending upload are left behind.
 */
import { createHash } from "node:crypto";
import { Transform, type Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { WorkspaceSyncError, abortError, toWorkspaceSyncError } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { s3ErrorName } from "./errors.js";

/** What {@link uploadObject} needs. */
export interface UploadRequest {
  client: S3Client;
  bucket: string;
  key: string;
  source: Readable;
  /** Fixed part size in bytes (see `choosePartSize`). */
  partSize: number;
  /** Parts in flight. */
  queueSize: number;
  metadata: Record<string, string>;
  /** Content-Type header of the object. */
  contentType?: string;
  /**
   * MD5 (hex) the streamed bytes must have (the `md5chksum` stored in `metadata`): checked before a
   * multipart upload is completed, so a file that changed while it was read is never stored under
   * a checksum it does not have.
   */
  expectMd5?: string;
  /** Send `If-None-Match: *` so a concurrent writer cannot be overwritten either. */
  ifNoneMatch: boolean;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
  logger: Logger;
}

/**
 * Uploads `source` to `key`. Small bodies (one part) go as a single PutObject. Rejects with the
 * first error that happened (not a follow-up cancellation), after the multipart upload was aborted:
 * a {@link WorkspaceSyncError} for source errors and aborts, the raw SDK error for S3 failures.
 */
export async function uploadObject(req: UploadRequest): Promise<void> {
  const { client, source, signal } = req;
  if (signal?.aborted) throw abortError(signal.reason);

  const inFlight = new AbortController();
  let firstFailure: unknown;
  const stop = (err: unknown): void => {
    if (firstFailure !== undefined) return;
    firstFailure = err;
    inFlight.abort(err);
    if (!source.destroyed) source.destroy(err instanceof Error ? err : new Error(String(err)));
  };
  const onAbort = () => stop(abortError(signal?.reason));
  // A source failure is not an S3 failure: keep its own code (ENOSPC, WRONG_PASSPHRASE, ...).
  const onSourceError = (err: Error) => stop(toWorkspaceSyncError(err));
  signal?.addEventListener("abort", onAbort, { once: true });
  source.once("error", onSourceError);

  // The bytes as they are read, hashed for the check against `expectMd5`.
  const md5 = req.expectMd5 ? createHash("md5") : undefined;
  let body: Readable = source;
  if (md5) {
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        md5.update(chunk);
        cb(null, chunk);
      },
    });
    source.once("error", (err) => tap.destroy(err));
    body = source.pipe(tap);
  }

  // lib-storage sends through the client it is given: hand it a per-upload view of the shared client
  // that reports the first failed request and gives data-carrying requests the in-flight signal, so an
  // abort or a failure elsewhere cancels them. CreateMultipartUpload, Complete and Abort get no signal:
  // cancelling those could orphan an upload id.
  const uploadClient = Object.create(client) as S3Client;
  const send = ((command: Parameters<S3Client["send"]>[0]) => {
    const cancellable = command instanceof UploadPartCommand || command instanceof PutObjectCommand;
    if (md5 && command instanceof CompleteMultipartUploadCommand) {
      const got = md5.copy().digest("hex");
      if (got !== req.expectMd5) {
        const err = new WorkspaceSyncError("INTEGRITY_MISMATCH", `"${req.key}" changed while it was uploaded (MD5 ${got}, hashed before the upload as ${req.expectMd5}): the upload was cancelled; the next run uploads it again`, { retryable: true });
        stop(err);
        return Promise.reject(err);
      }
    }
    return client.send(command, cancellable ? { abortSignal: inFlight.signal } : {}).catch((err: unknown) => {
      stop(err);
      throw err;
    });
  }) as S3Client["send"];
  uploadClient.send = send;

  const upload = new Upload({
    client: uploadClient,
    params: {
      Bucket: req.bucket,
      Key: req.key,
      Body: body,
      Metadata: req.metadata,
      ...(req.contentType ? { ContentType: req.contentType } : {}),
      ...(req.ifNoneMatch ? { IfNoneMatch: "*" } : {}),
    },
    partSize: req.partSize,
    queueSize: req.queueSize,
    leavePartsOnError: false,
  });
  if (req.onProgress) {
    const onProgress = req.onProgress;
    upload.on("httpUploadProgress", (p) => {
      if (p.loaded !== undefined) onProgress(p.loaded);
    });
  }
  try {
    await upload.done();
  } catch (err) {
    // lib-storage has already sent AbortMultipartUpload (and awaited it) unless that request failed
    // too; abort again so the guarantee does not rest on its internals. NoSuchUpload = already gone.
    if (upload.uploadId) await abortUpload(client, req, upload.uploadId);
    throw firstFailure ?? err;
  } finally {
    signal?.removeEventListener("abort", onAbort);
    source.removeListener("error", onSourceError);
  }
}

async function abortUpload(client: S3Client, req: UploadRequest, uploadId: string): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: req.bucket, Key: req.key, UploadId: uploadId }));
  } catch (err) {
    if (s3ErrorName(err) === "NoSuchUpload") return;
    req.logger.warn(
      `workspace-sync: could not abort the incomplete upload of "${req.key}" (${s3ErrorName(err) ?? "error"}); ` +
        "the next backup's cleanup removes it, or set a lifecycle rule that aborts incomplete multipart uploads",
    );
  }
}
