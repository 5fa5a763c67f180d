import type { files } from "dropbox";
import { WorkspaceSyncError, isWorkspaceSyncError } from "../../errors.js";
import type { DropboxClient } from "./client.js";
import { ChunkReader } from "./chunk-reader.js";
import { DropboxContentHasher, contentHashOf } from "./content-hash.js";

/** Where an upload goes and how it is committed. */
export interface UploadTarget {
  /** Provider path, for messages. */
  path: string;
  commit: files.CommitInfo;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

/** The `correct_offset` of an `incorrect_offset` failure, found in a typed error's cause. */
export function correctOffsetOf(err: unknown): number | undefined {
  const cause = isWorkspaceSyncError(err) ? err.cause : err;
  const body = (cause as { error?: { error?: Record<string, unknown> } } | undefined)?.error?.error;
  if (!body) return undefined;
  const inner = (body[".tag"] === "lookup_failed" ? body.lookup_failed : body) as Record<string, unknown> | undefined;
  if (inner?.[".tag"] !== "incorrect_offset") return undefined;
  return typeof inner.correct_offset === "number" ? inner.correct_offset : undefined;
}

/** Uploads one small file (already in memory) with a single `files/upload` call. */
export async function uploadSmall(client: DropboxClient, data: Buffer, target: UploadTarget): Promise<files.FileMetadata> {
  const hash = contentHashOf(data);
  const res = await client.call(
    "files/upload",
    target.path,
    (sdk) => sdk.filesUpload({ ...target.commit, contents: data, content_hash: hash }),
    target.signal,
  );
  target.onProgress?.(data.length);
  return checkHash(res.result, hash, target.path);
}

/** Starts a closed upload session holding all of `data` (for a batched commit). */
export async function startClosedSession(client: DropboxClient, data: Buffer, target: UploadTarget): Promise<files.UploadSessionCursor> {
  const res = await client.call(
    "files/upload_session/start",
    target.path,
    (sdk) => sdk.filesUploadSessionStart({ close: true, contents: data, content_hash: contentHashOf(data) }),
    target.signal,
  );
  target.onProgress?.(data.length);
  return { session_id: res.result.session_id, offset: data.length };
}

/**
 * Streams the rest of a file through an upload session, `first` being its first full chunk.
 * Reads the next chunk while the current one is sent (two chunks in memory at most). A chunk whose
 * answer was lost is detected through `incorrect_offset` and not sent twice. Nothing is visible
 * until `finish`, so a failed or aborted stream leaves no file.
 */
export async function uploadSession(client: DropboxClient, first: Buffer, reader: ChunkReader, chunkSize: number, target: UploadTarget): Promise<files.FileMetadata> {
  const whole = new DropboxContentHasher();
  whole.update(first);
  const start = await client.call(
    "files/upload_session/start",
    target.path,
    (sdk) => sdk.filesUploadSessionStart({ close: false, contents: first, content_hash: contentHashOf(first) }),
    target.signal,
  );
  const sessionId = start.result.session_id;
  let offset = first.length;
  target.onProgress?.(offset);
  let pending = reader.next();
  for (;;) {
    const chunk = await pending;
    whole.update(chunk);
    if (chunk.length < chunkSize || reader.ended) {
      const hash = whole.digest();
      const cursor = { session_id: sessionId, offset };
      let meta: files.FileMetadata;
      try {
        meta = (
          await client.call(
            "files/upload_session/finish",
            target.path,
            (sdk) => sdk.filesUploadSessionFinish({ cursor, commit: target.commit, contents: chunk, content_hash: contentHashOf(chunk) }),
            target.signal,
          )
        ).result;
      } catch (err) {
        // A finish whose answer was lost, then retried, finds its session gone: the file may be committed.
        const committed = await committedAlready(client, err, target, hash);
        if (!committed) throw err;
        meta = committed;
      }
      target.onProgress?.(offset + chunk.length);
      return checkHash(meta, hash, target.path);
    }
    pending = reader.next();
    pending.catch(() => undefined);
    offset = await appendChunk(client, sessionId, offset, chunk, target);
    target.onProgress?.(offset);
  }
}

async function appendChunk(client: DropboxClient, sessionId: string, offset: number, chunk: Buffer, target: UploadTarget): Promise<number> {
  const hash = contentHashOf(chunk);
  try {
    await client.call(
      "files/upload_session/append_v2",
      target.path,
      (sdk) => sdk.filesUploadSessionAppendV2({ cursor: { session_id: sessionId, offset }, close: false, contents: chunk, content_hash: hash }),
      target.signal,
    );
  } catch (err) {
    const correct = correctOffsetOf(err);
    // The chunk arrived but its answer was lost (then retried): Dropbox already holds it.
    if (correct === offset + chunk.length) return correct;
    throw err;
  }
  return offset + chunk.length;
}

async function committedAlready(client: DropboxClient, err: unknown, target: UploadTarget, hash: string): Promise<files.FileMetadata | undefined> {
  const cause = isWorkspaceSyncError(err) ? err.cause : err;
  const summary = (cause as { error?: { error_summary?: unknown } } | undefined)?.error?.error_summary;
  if (typeof summary !== "string" || !/^lookup_failed\/not_found/.test(summary)) return undefined;
  const path = target.commit.path;
  try {
    const meta = (await client.call("files/get_metadata", target.path, (sdk) => sdk.filesGetMetadata({ path }), target.signal)).result;
    return meta[".tag"] === "file" && meta.content_hash === hash ? meta : undefined;
  } catch {
    return undefined;
  }
}

function checkHash(meta: files.FileMetadata, expected: string, path: string): files.FileMetadata {
  if (meta.content_hash && meta.content_hash !== expected) {
    throw new WorkspaceSyncError("INTEGRITY_MISMATCH", `Dropbox stored different content for ${path} than was sent: upload it again`, { path, retryable: true });
  }
  return meta;
}
