import type { files } from "dropbox";
import { WorkspaceSyncError, abortError } from "../../errors.js";
import type { DropboxClient } from "./client.js";
import { toDropboxError } from "./errors.js";

interface Pending {
  entry: files.UploadSessionFinishArg;
  path: string;
  signal?: AbortSignal;
  attempts: number;
  resolve(meta: files.FileMetadata): void;
  reject(err: Error): void;
}

/** Most entries Dropbox accepts in one `finish_batch_v2`. */
export const MAX_BATCH_ENTRIES = 1000;
/** Times one entry is re-queued after `too_many_write_operations`. */
const MAX_ENTRY_ATTEMPTS = 10;

/** `path/conflict/file`-style summary from a tagged union value. */
export function tagPath(value: unknown): string {
  const parts: string[] = [];
  let v = value as Record<string, unknown> | undefined;
  while (v && typeof v === "object" && typeof v[".tag"] === "string") {
    const tag = v[".tag"] as string;
    parts.push(tag);
    v = v[tag] as Record<string, unknown> | undefined;
  }
  return parts.join("/");
}

/**
 * Commits closed upload sessions with `upload_session/finish_batch_v2`, Dropbox's advice against
 * `too_many_write_operations` when many small files are written: entries queue while a commit
 * runs, then go in one batch (at most 1 000, one batch at a time per account).
 */
export class CommitBatcher {
  private queue: Pending[] = [];
  private flushing = false;
  private timer: NodeJS.Timeout | undefined;
  /** Small files being sent that will join the queue soon. */
  private reserved = 0;

  constructor(
    private readonly client: DropboxClient,
    private readonly delayMs: number,
  ) {}

  /** True while commits are queued, announced or running: new small files should join the batch. */
  get busy(): boolean {
    return this.flushing || this.queue.length > 0 || this.reserved > 0;
  }

  /**
   * Announces a small file whose session is being started, so the batch waits for it; the result
   * releases the announcement (call it once, after the session started or failed).
   */
  reserve(): () => void {
    this.reserved++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.reserved--;
      this.schedule();
    };
  }

  /** Queues the commit of a closed session; resolves with the committed file's metadata. */
  commit(entry: files.UploadSessionFinishArg, path: string, signal?: AbortSignal): Promise<files.FileMetadata> {
    return new Promise((resolve, reject) => {
      this.queue.push({ entry, path, signal, attempts: 0, resolve, reject });
      this.schedule();
    });
  }

  /** Flushes now when nothing announced is still on its way, after `delayMs` otherwise. */
  private schedule(): void {
    if (this.flushing || this.queue.length === 0) return;
    if (this.reserved === 0 || this.queue.length >= MAX_BATCH_ENTRIES) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      queueMicrotask(() => void this.flush());
      return;
    }
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.delayMs);
  }

  private async flush(): Promise<void> {
    if (this.flushing || this.queue.length === 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.flushing = true;
    const batch: Pending[] = [];
    while (this.queue.length > 0 && batch.length < MAX_BATCH_ENTRIES) {
      const p = this.queue.shift()!;
      if (p.signal?.aborted) p.reject(abortError(p.signal.reason));
      else batch.push(p);
    }
    try {
      if (batch.length > 0) await this.commitBatch(batch);
    } catch (err) {
      for (const p of batch) p.reject(toDropboxError(err, p.path));
    } finally {
      this.flushing = false;
      this.schedule();
    }
  }

  private async commitBatch(batch: Pending[]): Promise<void> {
    const entries = batch.map((p) => p.entry);
    const launched = (await this.client.call("files/upload_session/finish_batch_v2", undefined, (sdk) => sdk.filesUploadSessionFinishBatchV2({ entries })))
      .result as files.UploadSessionFinishBatchResult | { ".tag": "async_job_id"; async_job_id: string };
    const result = "entries" in launched ? launched : await this.poll(launched.async_job_id);
    const retry: Pending[] = [];
    result.entries.forEach((r, i) => {
      const p = batch[i]!;
      if (r[".tag"] === "success") return p.resolve(r);
      const summary = tagPath(r.failure);
      if (/too_many_write_operations/.test(summary) && ++p.attempts < MAX_ENTRY_ATTEMPTS) return retry.push(p);
      p.reject(toDropboxError({ status: 409, body: { error_summary: summary, error: r.failure } }, p.path));
    });
    if (result.entries.length < batch.length) {
      for (const p of batch.slice(result.entries.length)) p.reject(new WorkspaceSyncError("PROVIDER_ERROR", `Dropbox did not report the commit of ${p.path}: upload it again`, { path: p.path, retryable: true }));
    }
    if (retry.length > 0) {
      this.client.logger.warn(`dropbox: ${retry.length} file(s) hit too_many_write_operations; committing them again`);
      this.queue.unshift(...retry);
    }
  }

  private poll(jobId: string): Promise<files.UploadSessionFinishBatchResult> {
    return this.client
      .waitForJob("batch commit", async () => {
        const r = (await this.client.call("files/upload_session/finish_batch/check", undefined, (sdk) => sdk.filesUploadSessionFinishBatchCheck({ async_job_id: jobId }))).result;
        if (r[".tag"] !== "complete" && r[".tag"] !== "in_progress") {
          throw new WorkspaceSyncError("PROVIDER_ERROR", `Dropbox batch commit failed (${r[".tag"]}): upload the files again`, { retryable: true });
        }
        return r;
      })
      .then((r) => r as files.UploadSessionFinishBatchResult);
  }

  /** Stops the pending timer. */
  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
