import type { files } from "dropbox";
import { WorkspaceSyncError } from "../../errors.js";
import type { DeleteFailure } from "../types.js";
import type { DropboxClient } from "./client.js";
import { tagPath } from "./commit-batcher.js";
import { toDropboxError } from "./errors.js";

/**
 * Deletes up to 1 000 files with `files/delete_batch`, polling `delete_batch/check` while the job
 * runs. Files already gone count as deleted; `too_many_write_operations` entries are retried.
 */
export async function deleteBatch(client: DropboxClient, group: { path: string; dbx: string }[], signal?: AbortSignal): Promise<DeleteFailure[]> {
  const failures: DeleteFailure[] = [];
  let todo = group;
  for (let round = 0; todo.length > 0; round++) {
    const entries = todo.map((g) => ({ path: g.dbx }));
    const launched = (await client.call("files/delete_batch", undefined, (sdk) => sdk.filesDeleteBatch({ entries }), signal)).result;
    let result: files.DeleteBatchResult;
    if (launched[".tag"] === "complete") result = launched;
    else if (launched[".tag"] === "async_job_id") result = await pollDelete(client, launched.async_job_id, signal);
    else throw new WorkspaceSyncError("PROVIDER_ERROR", `Dropbox batch delete failed (${launched[".tag"]}): try again`, { retryable: true });
    const again: typeof todo = [];
    result.entries.forEach((r, i) => {
      const g = todo[i]!;
      if (r[".tag"] === "success") return;
      const summary = tagPath(r.failure);
      if (/not_found/.test(summary)) return; // already gone
      if (/too_many_write_operations/.test(summary) && round < 10) return void again.push(g);
      failures.push({ path: g.path, error: toDropboxError({ status: 409, body: { error_summary: summary, error: r.failure } }, g.path) });
    });
    todo = again;
    if (todo.length > 0) await client.pause(200 * (round + 1), signal);
  }
  return failures;
}

function pollDelete(client: DropboxClient, jobId: string, signal?: AbortSignal): Promise<files.DeleteBatchResult> {
  return client
    .waitForJob(
      "batch delete",
      async () => {
        const r = (await client.call("files/delete_batch/check", undefined, (sdk) => sdk.filesDeleteBatchCheck({ async_job_id: jobId }), signal)).result;
        if (r[".tag"] !== "complete" && r[".tag"] !== "in_progress") {
          throw new WorkspaceSyncError("PROVIDER_ERROR", `Dropbox batch delete failed (${tagPath(r)}): try again`, { retryable: true });
        }
        return r;
      },
      signal,
    )
    .then((r) => r as files.DeleteBatchResult);
}
