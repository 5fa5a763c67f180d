/**
 * What the local provider's main thread and its copy thread share (`copy-lane.ts`,
 * `copy-worker.ts`): shared memory holding the jobs, their order and their results. A job is
 * written into a free slot and its slot number queued; the counters say how many were queued and
 * how many are done. Nothing is posted per job: a message cost ~20 µs of the main thread a job.
 */

/** Jobs the copy thread may hold at once (the lane's slots; a power of two: a wrapped counter masks to the same place). */
export const COPY_SLOTS = 8;

/** Bytes of a slot's text: the source's path and real path, the temp and final names, the folder's real path. */
export const SLOT_BYTES = 20 * 1024;

/**
 * Slots of {@link CopyShared.control}: jobs queued, jobs done (each only grows), a stop flag, and
 * whether the thread is (about to be) asleep waiting for a job (then a job queued wakes it).
 */
export const SUBMITTED = 0;
export const DONE = 1;
export const STOP = 2;
export const ASLEEP = 3;
/** Set by the thread once it has applied the small-heap policy (see `CopyLane`). */
export const READY = 4;

/** A slot's status: no result yet, copied (its results set), or not copied (nothing left behind). */
export const PENDING = 0;
export const COPIED = 1;
export const NOT_COPIED = 2;

/** Int32 fields of a job, per slot. */
export const J_DIR = 0; // a descriptor of the target folder (the main thread's, checked when it opened it)
export const J_FLUSH = 1; // 1: flushed before it gets its name
export const J_HAS_MTIME = 2; // 1: the slot's time is the one to set
export const J_TEXT = 3; // five lengths in bytes: source path, source real path, temp name, final name, folder real path
export const JOB_INTS = 8;

/** The shared buffers (the thread gets them as its `workerData.shared`). */
export interface CopySharedBuffers {
  control: SharedArrayBuffer;
  queue: SharedArrayBuffer;
  ints: SharedArrayBuffer;
  sizes: SharedArrayBuffer;
  mtimes: SharedArrayBuffer;
  text: SharedArrayBuffer;
  status: SharedArrayBuffer;
  inos: SharedArrayBuffer;
}

/** What the thread is started with. */
export interface CopyWorkerData {
  shared: CopySharedBuffers;
  /** The process runs under the bin's heap policy: applied on the thread too. */
  smallHeap: boolean;
}

/**
 * Views of the shared memory. Per slot: the job's Int32 fields (`ints`, {@link JOB_INTS} each),
 * its time in nanoseconds (`mtimes`; on a result, the copy's), its text (`text`, {@link
 * SLOT_BYTES} each), and the result's status, size and inode.
 */
export interface CopyShared {
  control: Int32Array;
  queue: Int32Array;
  ints: Int32Array;
  sizes: Float64Array;
  mtimes: BigInt64Array;
  text: Buffer;
  status: Int32Array;
  inos: BigUint64Array;
}

/** New shared buffers. */
export function copySharedBuffers(): CopySharedBuffers {
  return {
    control: new SharedArrayBuffer(5 * 4),
    queue: new SharedArrayBuffer(COPY_SLOTS * 4),
    ints: new SharedArrayBuffer(COPY_SLOTS * JOB_INTS * 4),
    sizes: new SharedArrayBuffer(COPY_SLOTS * 8),
    mtimes: new SharedArrayBuffer(COPY_SLOTS * 8),
    text: new SharedArrayBuffer(COPY_SLOTS * SLOT_BYTES),
    status: new SharedArrayBuffer(COPY_SLOTS * 4),
    inos: new SharedArrayBuffer(COPY_SLOTS * 8),
  };
}

/** Views of `b`. */
export function copyShared(b: CopySharedBuffers): CopyShared {
  return {
    control: new Int32Array(b.control),
    queue: new Int32Array(b.queue),
    ints: new Int32Array(b.ints),
    sizes: new Float64Array(b.sizes),
    mtimes: new BigInt64Array(b.mtimes),
    text: Buffer.from(b.text),
    status: new Int32Array(b.status),
    inos: new BigUint64Array(b.inos),
  };
}
