/**
 * The thread side of the local provider's copy lane (`copy-lane.ts`): small copies, one at a time
 * in the order queued, each as the main thread makes them (`writeSmallCopy`): the source opened
 * with its checks, the copy created under its temp name through the
 * folder's descriptor, flushed where asked, timed, and renamed into place only complete, and only
 * over a regular file or no file. The folder's descriptor was checked by the main thread when it
 * opened it, and is checked here again, file by file, to still be where it was. Whatever fails
 * leaves nothing behind and is reported as "not copied": the main thread then copies that file
 * itself, and gives its own typed error or skip note where there is one.
 */
import fs from "node:fs";
import { setImmediate as yieldToEventLoop } from "node:timers/promises";
import { parentPort, workerData } from "node:worker_threads";
import { applySmallHeapPolicy } from "../../util/heap-policy.js";
import { childPath } from "../../util/flat-join.js";
import { openCheckedSync, procLink } from "../../util/local-read.js";
import { ASLEEP, COPIED, COPY_SLOTS, type CopyWorkerData, DONE, READY, JOB_INTS, J_DIR, J_FLUSH, J_HAS_MTIME, J_TEXT, NOT_COPIED, SLOT_BYTES, STOP, SUBMITTED, copyShared } from "./copy-look.js";
import { copyFdToNewFileSync } from "./small-copy.js";

const data = workerData as CopyWorkerData;
const shared = copyShared(data.shared);
const { control, ints, text } = shared;
if (data.smallHeap) {
  applySmallHeapPolicy();
  // The main thread waits for this (see `CopyLane`).
  Atomics.store(control, READY, 1);
  Atomics.notify(control, READY);
}

/** The job's five texts (see `J_TEXT`). */
function texts(slot: number): string[] {
  const out: string[] = [];
  let at = slot * SLOT_BYTES;
  for (let k = 0; k < 5; k++) {
    const n = ints[slot * JOB_INTS + J_TEXT + k]!;
    out.push(text.toString("utf8", at, at + n));
    at += n;
  }
  return out;
}

function copy(slot: number): fs.BigIntStats {
  const f = slot * JOB_INTS;
  const [srcPath, srcReal, tmpName, name, dirReal] = texts(slot) as [string, string, string, string, string];
  const dir = procLink(ints[f + J_DIR]!);
  // Still where it was checked (a folder moved out of the tree since is refused).
  if (fs.readlinkSync(dir) !== dirReal) throw new Error("the folder moved");
  // Opened with the main thread's checks: a regular file whose descriptor is the real path
  // expected (no symlink at its name or on the way to it), never blocking on a FIFO.
  const from = openCheckedSync(srcPath, (st, real) => {
    if (!st.isFile() || real !== srcReal) throw new Error("not the file expected");
  });
  try {
    const tmp = childPath(dir, tmpName);
    const out = fs.openSync(tmp, "wx", from.mode);
    try {
      const st = copyFdToNewFileSync(from, out, { flush: ints[f + J_FLUSH] === 1, mtimeNs: ints[f + J_HAS_MTIME] === 1 ? shared.mtimes[slot]! : undefined });
      const at = fs.lstatSync(childPath(dir, name), { throwIfNoEntry: false });
      if (at !== undefined && !at.isFile()) throw new Error("not a file at the name");
      // Still there once the file is written (as the main thread's rename checks).
      if (fs.readlinkSync(dir) !== dirReal) throw new Error("the folder moved");
      fs.renameSync(tmp, childPath(dir, name));
      return st;
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw err;
    }
  } finally {
    fs.closeSync(from.handle);
  }
}

/**
 * Takes the jobs as they are queued. It waits for the next one without blocking its event loop,
 * and gives the loop a turn every {@link TURN_JOBS} jobs: the tasks V8 posts for this thread's
 * heap (parts of its garbage collection) run there, and a stop is seen between two jobs.
 */
async function run(): Promise<void> {
  let taken = 0;
  for (;;) {
    if (Atomics.load(control, STOP) !== 0) return;
    const submitted = Atomics.load(control, SUBMITTED);
    if (taken === submitted) {
      // Said before the last look (the main thread wakes it only when it says so): a job queued
      // after it either is seen by that look or finds the flag set. The timeout is a safety net only.
      Atomics.store(control, ASLEEP, 1);
      const wait = waitAsync(control, SUBMITTED, submitted, 1000);
      if (wait.async) await wait.value;
      Atomics.store(control, ASLEEP, 0);
      continue;
    }
    if ((taken & (TURN_JOBS - 1)) === TURN_JOBS - 1) await yieldToEventLoop();
    const slot = shared.queue[taken & (COPY_SLOTS - 1)]!;
    // (Int32 arithmetic, as the shared counter's, which wraps.)
    taken = (taken + 1) | 0;
    let status = NOT_COPIED;
    try {
      const st = copy(slot);
      shared.sizes[slot] = Number(st.size);
      shared.mtimes[slot] = st.mtimeNs;
      shared.inos[slot] = st.ino;
      status = COPIED;
    } catch {
      // (The main thread copies it itself, and says why where it cannot.)
    }
    Atomics.store(shared.status, slot, status);
    const done = (Atomics.add(control, DONE, 1) + 1) | 0;
    // The main thread reads results as it goes; it is woken only when this was the last job it
    // queued (it may be waiting for nothing else).
    if (Atomics.load(control, SUBMITTED) === done) parentPort?.postMessage(0);
  }
}

/** Jobs between two turns of the thread's event loop (a power of two: masked). */
const TURN_JOBS = 64;

/** `Atomics.waitAsync` (in Node since 16; in TypeScript's library from ES2024). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: boolean; value: Promise<string> | string } }).waitAsync;

// The port kept open: a thread waiting for its next job has nothing else keeping it alive. Once
// told to stop (between two jobs), it closes the port and ends.
parentPort?.on("message", () => undefined);
void run().finally(() => parentPort?.close());
