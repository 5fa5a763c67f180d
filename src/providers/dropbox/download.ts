import { PassThrough, Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { DropboxClient } from "./client.js";
import { toDropboxError } from "./errors.js";
import { headerSafeJson } from "./paths.js";
import { type ByteRange, cutToRange, emptyRange, rangeHeader } from "../../util/byte-range.js";

/** Where Dropbox serves file content. */
export const DOWNLOAD_URL = "https://content.dropboxapi.com/2/files/download";

/** Thrown for a non-2xx download answer; classified like SDK errors. */
class DownloadHttpError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfterHeader: string | null,
    readonly body: unknown,
  ) {
    super(`Dropbox download failed with HTTP ${status}`);
  }
}

async function readBody(res: Response): Promise<unknown> {
  const text = await res.text().catch(() => "");
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Opens a streamed download of `range` of `dropboxPath` (the whole file by default): POST
 * `files/download` through the client's fetch with the current access token, never buffering the
 * file. The web body becomes a
 * Node Readable that honours backpressure (it pulls only when read).
 */
export async function openDownload(client: DropboxClient, dropboxPath: string, path: string, range: ByteRange, signal?: AbortSignal): Promise<Readable> {
  if (emptyRange(range)) return Readable.from([]);
  const ranged = rangeHeader(range);
  const res = await client.call(
    "files/download",
    path,
    async () => {
      const token = client.auth.getAccessToken();
      const headers: Record<string, string> = {
        Authorization: `Bearer ${token}`,
        "Dropbox-API-Arg": headerSafeJson({ path: dropboxPath }),
      };
      if (ranged !== undefined) headers.Range = ranged;
      const r = await client.fetch(DOWNLOAD_URL, { method: "POST", headers });
      // Past the end (or any range of an empty file): nothing to read.
      if (r.status === 416 && ranged !== undefined) return r;
      if (!r.ok) throw new DownloadHttpError(r.status, r.headers.get("retry-after"), await readBody(r));
      return r;
    },
    signal,
  );
  if (res.status === 416) {
    await res.body?.cancel().catch(() => undefined);
    return Readable.from([]);
  }
  const body = res.body as unknown;
  let stream: Readable;
  if (body === null || body === undefined) stream = Readable.from([]);
  else if (body instanceof Readable) stream = body;
  else stream = Readable.fromWeb(body as WebReadableStream<Uint8Array>);
  // Errors mid-stream (connection reset, abort) surface as typed errors; destroying the result
  // cancels the download.
  const out = ranged !== undefined && res.status === 200 ? cutToRange(range) : new PassThrough();
  stream.on("error", (err) => out.destroy(toDropboxError(err, path)));
  out.on("close", () => {
    if (!stream.destroyed) stream.destroy();
  });
  return stream.pipe(out);
}
