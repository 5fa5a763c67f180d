/**
 * The thread side of a local walk handed off by `walk.ts` (see `walk-thread.ts`): it walks the
 * folders it was given in the same order as the main thread would (depth-first, names sorted, a
 * folder's files before its sub-folders) and posts the files (and, where asked, the names that are
 * neither a file nor a folder) in batches. Each batch is one
 * message of parallel arrays (paths, sizes, mtimes in nanoseconds, inode numbers): a few objects
 * a batch to copy across, not one a file. A time a 64-bit slot cannot hold goes beside them.
 *
 * Batches not yet taken are counted in shared memory: past {@link WalkWorkerData.limit} the thread
 * sleeps until the main thread takes one, so a main thread busy elsewhere never finds the whole
 * listing queued in its heap.
 */
import type { BigIntStats } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { applySmallHeapPolicy } from "../../util/heap-policy.js";
import { fitsInt64 } from "../../util/mtime.js";
import { type Folder, type NotAFileKind, type SubDir, type WalkBatch, type WalkMessage, type WalkWorkerData, NOT_A_FILE_SIZE, WALK_BATCH, hiddenName, lookAtNames, pushAll, readFolder, subFolders } from "./walk-look.js";

const data = workerData as WalkWorkerData;
if (data.smallHeap) applySmallHeapPolicy();
const ctl = new Int32Array(data.control);
const lookHow = { hidden: hiddenName(data.token), recursive: data.recursive };

/** Slots of {@link WalkWorkerData.control}: batches posted and not yet taken; set to 1 to stop. */
const PENDING = 0;
const STOP = 1;

function post(message: WalkMessage, transfer: ArrayBuffer[] = []): void {
  parentPort?.postMessage(message, transfer);
}

/** Waits while too many batches are queued; false when the main thread asked to stop. */
function mayGoOn(): boolean {
  for (;;) {
    if (Atomics.load(ctl, STOP) !== 0) return false;
    const pending = Atomics.load(ctl, PENDING);
    if (pending < data.limit) return true;
    // Woken by the main thread taking a batch or stopping; the timeout is a safety net only.
    Atomics.wait(ctl, PENDING, pending, 1000);
  }
}

let sawOwnTemp = false;

function run(): void {
  const stack: Folder[] = data.folders.slice();
  let paths: string[] = [];
  let sizes = new Float64Array(WALK_BATCH);
  let mtimes = new BigInt64Array(WALK_BATCH);
  let inos = new BigUint64Array(WALK_BATCH);
  let wide: [number, bigint][] | undefined;
  const flush = (): boolean => {
    if (paths.length === 0) return true;
    const n = paths.length;
    const batch: WalkBatch = { t: "batch", paths, sizes: sizes.subarray(0, n), mtimes: mtimes.subarray(0, n), inos: inos.subarray(0, n), ...(wide && { wide }) };
    Atomics.add(ctl, PENDING, 1);
    post(batch, [sizes.buffer, mtimes.buffer, inos.buffer] as ArrayBuffer[]);
    paths = [];
    sizes = new Float64Array(WALK_BATCH);
    mtimes = new BigInt64Array(WALK_BATCH);
    inos = new BigUint64Array(WALK_BATCH);
    wide = undefined;
    return mayGoOn();
  };
  let whole: boolean;
  try {
    whole = walk(
      stack,
      (rel, st) => {
        const i = paths.length;
        paths.push(rel);
        sizes[i] = Number(st.size);
        if (fitsInt64(st.mtimeNs)) mtimes[i] = st.mtimeNs;
        else (wide ??= []).push([i, st.mtimeNs]);
        inos[i] = st.ino;
        return paths.length < WALK_BATCH || flush();
      },
      data.others
        ? (rel, kind) => {
            // (Its time and inode stay 0: the main thread reads the kind from the size.)
            sizes[paths.length] = NOT_A_FILE_SIZE[kind];
            paths.push(rel);
            return paths.length < WALK_BATCH || flush();
          }
        : undefined,
    );
  } catch (err) {
    // What was found before the error is posted first, as a walk on the main thread returns it.
    flush();
    throw err;
  }
  // (Not whole: the main thread asked it to stop.)
  if (whole && flush()) post({ t: "end", sawOwnTemp });
}

/** Walks `stack` (the next folder last), calling `found` for each file (and `other` for each name neither a file nor a folder); false when either stopped it. */
function walk(stack: Folder[], found: (rel: string, st: BigIntStats) => boolean, other?: (rel: string, kind: NotAFileKind) => boolean): boolean {
  for (;;) {
    const folder = stack.pop();
    if (folder === undefined) return true;
    const names = readFolder(folder);
    if (names === undefined) continue; // a missing root lists as empty
    const subdirs: SubDir[] = [];
    const look = lookAtNames(folder, names, [0, names.length], lookHow, subdirs, found, other);
    sawOwnTemp ||= look.sawOwnTemp;
    if (look.stopped) return false;
    pushAll(stack, subFolders(folder, subdirs));
  }
}

try {
  run();
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  // The fields the main thread turns into the same typed error a walk on its own thread throws.
  post({ t: "error", message: e?.message ?? String(err), code: e?.code, path: e?.path, syscall: e?.syscall, errno: e?.errno });
}
