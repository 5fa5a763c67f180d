/**
 * The serving side of {@link SmallFileWriter} (small-file-writer.ts): creates the small files of an
 * extraction, in the order given, with synchronous calls, on whatever thread calls
 * {@link serveSmallFiles} (its own worker, small-file-worker.ts, or a restore's helper thread).
 * Each batch is answered once, after its last file is closed or at the first failure. After a
 * failure, or once the writer has raised the stop flag, every later file is left unwritten.
 *
 * This file holds no decision: the main thread has already checked each name against the
 * extractor's rules (inside the target, parents are folders it created, nothing to replace), and
 * the open flags (`O_CREAT | O_EXCL | O_NOFOLLOW`) refuse anything already at the path, symlink or
 * not, so a file is only ever created new.
 */
import type { MessagePort } from "node:worker_threads";
import type { SmallFileBatch, SmallFileReply, SmallFileShared, ToSmallFiles } from "./small-file-writer.js";
import { writeNewFileSync } from "./write-new-file.js";

/** Serves the batches that arrive on `port`; see the module comment. */
export function serveSmallFiles(port: MessagePort, shared: SmallFileShared): void {
  let failed = false;
  /** File bytes finished with, read by the writer without waiting for replies. */
  const doneBytes = new BigInt64Array(shared.doneBytes);
  /** Raised by the writer when it closes: nothing more is written. */
  const stop = new Int32Array(shared.stop);

  function writeBatch(batch: SmallFileBatch): SmallFileReply {
    if (failed || Atomics.load(stop, 0) !== 0) return { id: batch.id, skipped: true, badTimes: [], data: batch.data };
    const data = Buffer.from(batch.data);
    const badTimes: number[] = [];
    for (let i = 0; i < batch.files.length; i++) {
      const f = batch.files[i] as SmallFileBatch["files"][number];
      if (Atomics.load(stop, 0) !== 0) return { id: batch.id, skipped: true, badTimes, data: batch.data };
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

  port.on("message", (msg: ToSmallFiles) => {
    if ("close" in msg) {
      port.postMessage({ closed: true });
      port.close();
      return;
    }
    const reply = writeBatch(msg);
    Atomics.add(doneBytes, 0, BigInt(msg.bytes));
    port.postMessage(reply, [msg.data]);
  });
}
