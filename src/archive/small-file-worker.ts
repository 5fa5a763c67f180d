/**
 * Worker thread of {@link SmallFileWriter} (small-file-writer.ts): creates the small files of an
 * extraction, in the order given, with synchronous calls. Each message is a batch of files and
 * their bytes; each is answered once, after its last file is closed or at the first failure.
 * After a failure every later batch is refused unwritten: the extraction is failing anyway.
 *
 * This file holds no decision: the main thread has already checked each name against the
 * extractor's rules (inside the target, parents are folders it created, nothing to replace), and
 * the open flags (`O_CREAT | O_EXCL | O_NOFOLLOW`) refuse anything already at the path, symlink or
 * not, so a file is only ever created new.
 */
import { parentPort, workerData } from "node:worker_threads";
import type { SmallFileBatch, SmallFileReply } from "./small-file-writer.js";
import { writeNewFileSync } from "./write-new-file.js";

let failed = false;
/** File bytes finished with, read by the main thread without waiting for replies. */
const doneBytes = new BigInt64Array((workerData as { doneBytes: SharedArrayBuffer }).doneBytes);

function writeBatch(batch: SmallFileBatch): SmallFileReply {
  if (failed) return { id: batch.id, skipped: true, badTimes: [], data: batch.data };
  const data = Buffer.from(batch.data);
  const badTimes: number[] = [];
  for (let i = 0; i < batch.files.length; i++) {
    const f = batch.files[i] as SmallFileBatch["files"][number];
    try {
      if (!writeNewFileSync(f.path, data, f.offset, f.length, f.mode, f.mtimeMs)) badTimes.push(i);
    } catch (err) {
      failed = true;
      const e = err as NodeJS.ErrnoException;
      return {
        id: batch.id,
        skipped: false,
        badTimes,
        data: batch.data,
        error: { message: e.message, code: e.code, errno: e.errno, syscall: e.syscall, path: f.path, index: i },
      };
    }
  }
  return { id: batch.id, skipped: false, badTimes, data: batch.data };
}

parentPort?.on("message", (batch: SmallFileBatch) => {
  const reply = writeBatch(batch);
  Atomics.add(doneBytes, 0, BigInt(batch.bytes));
  parentPort?.postMessage(reply, [batch.data]);
});
