/**
 * The walk's worker thread (started by `walk.ts` once a listing proves large): it reads the folders
 * it was handed, in the same order as the calling thread would, and sends the files back in
 * batches, at most {@link WALK_CREDITS} ahead of the reader. The reader checks every entry as
 * before; this thread only saves it the system calls.
 */
import fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { finished, pushSubfolders, readPiece, startReading, WALK_BATCH, type Folder, type FromWalkWorker, type WalkWorkerData } from "./walk-core.js";

const data = workerData as WalkWorkerData;
const control = new Int32Array(data.control);
const port = parentPort!;

let rels: string[] = [];
let sizes: number[] = [];
let mtimes: bigint[] = [];
let inos: bigint[] = [];

/** Waits for a credit; false when the reader wants no more. */
function takeCredit(): boolean {
  for (;;) {
    if (Atomics.load(control, 1) !== 0) return false;
    const credits = Atomics.load(control, 0);
    if (credits > 0) {
      if (Atomics.compareExchange(control, 0, credits, credits - 1) === credits) return true;
      continue;
    }
    // Woken by the reader's notify; the timeout only bounds how late a stop is seen.
    Atomics.wait(control, 0, credits, 200);
  }
}

/** Sends the files gathered so far; false when the reader wants no more. */
function flush(): boolean {
  if (rels.length === 0) return true;
  if (!takeCredit()) return false;
  const s = Float64Array.from(sizes);
  const m = BigInt64Array.from(mtimes);
  const i = BigUint64Array.from(inos);
  const batch: FromWalkWorker = { t: "batch", rels, sizes: s, mtimesNs: m, inos: i };
  port.postMessage(batch, [s.buffer as ArrayBuffer, m.buffer as ArrayBuffer, i.buffer as ArrayBuffer]);
  rels = [];
  sizes = [];
  mtimes = [];
  inos = [];
  return true;
}

function walk(stack: Folder[]): boolean {
  for (let folder = stack.pop(); folder !== undefined; folder = stack.pop()) {
    let names: string[];
    try {
      names = fs.readdirSync(folder.abs);
    } catch (err) {
      // A missing root lists as empty, as on the calling thread.
      if ((err as NodeJS.ErrnoException).code === "ENOENT" && folder.rel === "") continue;
      throw err;
    }
    const r = startReading(folder, names);
    while (!finished(r)) {
      readPiece(r, data.spec, (rel, st) => {
        rels.push(rel);
        sizes.push(Number(st.size));
        mtimes.push(st.mtimeNs);
        inos.push(st.ino);
      });
      if (rels.length >= WALK_BATCH && !flush()) return false;
    }
    pushSubfolders(r, stack);
  }
  return flush();
}

try {
  if (walk(data.folders)) port.postMessage({ t: "end" } satisfies FromWalkWorker);
} catch (err) {
  const e = err as NodeJS.ErrnoException;
  port.postMessage({ t: "error", code: e.code, message: e.message, syscall: e.syscall, path: e.path } satisfies FromWalkWorker);
}
