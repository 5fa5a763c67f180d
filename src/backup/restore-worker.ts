/**
 * The helper thread of a restore or verify (see restore-thread.ts). It serves what the main thread
 * connects to it, each on a port of its own: the decoding of the snapshot (decode-serve.ts) and
 * the creation of small files (archive/small-file-serve.ts). One thread for both: a second one
 * cost ~10 MiB of peak RSS, and each of the two jobs keeps a thread busy for only part of a
 * restore.
 */
import { parentPort, workerData, type MessagePort } from "node:worker_threads";
import { applySmallHeapPolicy } from "../util/heap-policy.js";
import { serveSmallFiles } from "../archive/small-file-serve.js";
import type { SmallFileShared } from "../archive/small-file-writer.js";
import { serveDecode } from "./decode-serve.js";
import type { DecodeWorkerData } from "./decode-thread.js";

/** What the main thread connects (see restore-thread.ts). */
export type RestoreThreadJob = { t: "decode"; port: MessagePort; data: DecodeWorkerData } | { t: "files"; port: MessagePort; shared: SmallFileShared };

/** Start data of the thread. */
export interface RestoreWorkerData {
  /** The process runs under the bin's heap policy: applied on this thread too (see util/heap-policy.ts). */
  smallHeap: boolean;
}

if ((workerData as RestoreWorkerData | null)?.smallHeap) applySmallHeapPolicy();

parentPort?.on("message", (job: RestoreThreadJob) => {
  if (job.t === "decode") serveDecode(job.port, job.data);
  else serveSmallFiles(job.port, job.shared);
});
