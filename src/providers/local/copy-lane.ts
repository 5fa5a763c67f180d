/**
 * The local provider's copy lane: a thread of its own that takes part of a sync's small copies
 * (`copy-worker.ts`), so that creating files, which is most of a first sync's time (kernel time
 * in the file system's inode allocator, the folder's lock and the rename), runs on both cores.
 * rclone copies on several threads; ours made every small copy on the main thread, at ~1.7x
 * rclone's time for 40 000 files.
 *
 * The main thread still makes every check that needs its state: it makes and checks the target
 * folder and opens a descriptor of it for the thread (one a folder), which it closes only once
 * the thread is done with every job in it (a descriptor's number is reused as soon as it is
 * closed); the thread opens each source with the checks the main thread would make
 * (`LocalSource.elsewhere`). Results come back in shared
 * memory, so the main thread picks them up between its own copies ({@link CopyLane.poll}),
 * without waiting for its event loop; a message wakes it only when it may be waiting for them.
 * A job the thread did not copy is copied again by the main thread, which then says why where
 * it cannot.
 */
import fs from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import type { Worker } from "node:worker_threads";
import { smallHeapPolicyApplied } from "../../util/heap-policy.js";
import { startWorker, workerModuleAvailable } from "../../util/worker-module.js";
import { fitsInt64 } from "../../util/mtime.js";
import { ASLEEP, COPIED, COPY_SLOTS, READY, type CopyShared, type CopyWorkerData, JOB_INTS, J_DIR, J_FLUSH, J_HAS_MTIME, J_TEXT, PENDING, SLOT_BYTES, STOP, SUBMITTED, copyShared, copySharedBuffers } from "./copy-look.js";
import type { NewFileFinish } from "./small-copy.js";
import type { Logger } from "../../logger.js";

const WORKER_URL = new URL("./copy-worker.js", import.meta.url);

/** How long the thread stays without a job before it is stopped (its memory freed). */
export const COPY_LANE_IDLE_MS = 1000;

/** How long the main thread waits for a new thread to have applied the small-heap policy. */
const READY_WAIT_MS = 250;

/** How long a stop waits for the thread's jobs, then for the thread to end, before it is terminated. */
const STOP_WAIT_MS = 10_000;

/** Copies the thread did not make in a row after which a provider copies on its main thread only. */
export const COPY_LANE_GIVE_UP = 32;

let copiedOnLanes = 0;

/** Copies made on copy threads in this process so far (tests). */
export function laneCopies(): number {
  return copiedOnLanes;
}

/** A folder the thread writes into: a descriptor the lane owns, with the real path it was checked at. */
export interface LaneFolder {
  readonly rel: string;
  readonly fd: number;
  readonly real: string;
}

/** What a copy the thread made gives back: the new file's size, time and inode. */
export interface LaneCopied {
  size: number;
  mtimeNs: bigint;
  ino: bigint;
}

/**
 * The source of a copy on the thread: a path the thread opens with the checks the main thread
 * would make (a regular file whose descriptor the kernel names `real`: see `LocalSource.elsewhere`).
 */
export interface LaneSource {
  path: string;
  real: string;
}

interface Pending {
  resolve: (copied: LaneCopied | undefined) => void;
  folder: FolderUse;
}

interface FolderUse extends LaneFolder {
  jobs: number;
}

/** A time a 64-bit slot holds with a millisecond to spare either side (see {@link CopyLane.copy}). */
function fitsInt64WithRoom(ns: bigint): boolean {
  return fitsInt64(ns - 1_000_000n) && fitsInt64(ns + 1_000_000n);
}

/** See the module comment. */
export class CopyLane {
  readonly #worker: Worker;
  readonly #shared: CopyShared;
  readonly #pending: (Pending | undefined)[] = new Array<Pending | undefined>(COPY_SLOTS);
  #count = 0;
  /** Jobs queued, as the shared Int32 counter holds it (it wraps). */
  #submitted = 0;
  #ended = false;
  #stopping: Promise<void> | undefined;
  /** Called when the last job is settled while stopping. */
  #drained: (() => void) | undefined;
  #folder: FolderUse | undefined;
  #idle: NodeJS.Timeout | undefined;
  /** Jobs settled in a row that the thread did not copy. */
  failedInARow = 0;

  private constructor(url: URL) {
    const buffers = copySharedBuffers();
    this.#shared = copyShared(buffers);
    const workerData: CopyWorkerData = { shared: buffers, smallHeap: smallHeapPolicyApplied() };
    // A small young generation: the thread holds one job at a time.
    this.#worker = startWorker(url, { workerData, resourceLimits: { maxYoungGenerationSizeMb: 2 } });
    this.#worker.on("message", () => this.poll());
    // An error is followed by the exit; only then are the descriptors no longer in use.
    this.#worker.on("error", () => undefined);
    this.#worker.on("exit", () => this.#onExit());
    // It keeps the process alive only while a copy waits for it, and stops if none comes.
    this.#worker.unref();
    this.#armIdle();
    // V8 set the young generation's growth factor back to 2 when it configured the thread's heap
    // (see `reapplySmallHeapPolicy`): where the policy applies, this thread waits until the new
    // thread has set it again, rather than grow its own young generation meanwhile (a first sync
    // of 1 500 files: new space 8 MiB in 3–5 of 12 runs, 2–4 MiB when it waited). At most
    // READY_WAIT_MS, once a thread.
    if (workerData.smallHeap) Atomics.wait(this.#shared.control, READY, 0, READY_WAIT_MS);
  }

  /**
   * A lane with a thread of its own; `undefined` where the thread's compiled module is missing (a
   * host running the TypeScript sources through its own loader): the caller copies everything itself.
   */
  static start(module: URL = WORKER_URL): CopyLane | undefined {
    return workerModuleAvailable(module) ? new CopyLane(module) : undefined;
  }

  /** Whether the thread can take a job now (it is running and has a free slot). */
  get hasRoom(): boolean {
    return !this.#ended && this.#stopping === undefined && this.#count < COPY_SLOTS;
  }

  /** Whether the thread has ended (stopped, or failed: then for good). */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * The folder the thread writes `rel`'s files into: the one in use when it is `rel`, else a new
   * one from `share` (a descriptor checked by the caller, which the lane owns from then on);
   * `undefined` when `share` gives none.
   */
  folder(rel: string, share: () => { fd: number; real: string } | undefined): LaneFolder | undefined {
    const current = this.#folder;
    if (current?.rel === rel) return current;
    const shared = share();
    if (shared === undefined) return undefined;
    this.#folder = { rel, fd: shared.fd, real: shared.real, jobs: 0 };
    if (current !== undefined) this.#release(current);
    return this.#folder;
  }

  /** Forgets the folder in use (a job in it failed: the next one checks the folder again). */
  dropFolder(folder: LaneFolder): void {
    const current = this.#folder;
    if (current !== folder || current === undefined) return;
    this.#folder = undefined;
    this.#release(current);
  }

  /**
   * Has the thread copy `source` into `folder` (from {@link folder}) under `tmp`, then name it
   * `name`. Resolves with what was copied, or `undefined` when the thread did not copy it
   * (nothing was left behind: copy it yourself). Returns `undefined` at once when the thread
   * cannot take it (no room, texts longer than a slot holds, or a time a 64-bit slot cannot hold:
   * its copy's time is then outside that range too; within a millisecond of it, the copy's time,
   * set through a double of seconds, may round past it).
   */
  copy(folder: LaneFolder, source: LaneSource, tmp: string, name: string, finish: NewFileFinish): Promise<LaneCopied | undefined> | undefined {
    const use = folder as FolderUse;
    if (!this.hasRoom || use !== this.#folder || (finish.mtimeNs !== undefined && !fitsInt64WithRoom(finish.mtimeNs))) return undefined;
    let slot = 0;
    while (this.#pending[slot] !== undefined) slot++;
    const sh = this.#shared;
    const f = slot * JOB_INTS;
    const parts = [source.path, source.real, tmp, name, use.real];
    let at = slot * SLOT_BYTES;
    const end = at + SLOT_BYTES;
    for (let k = 0; k < parts.length; k++) {
      const part = parts[k]!;
      const n = Buffer.byteLength(part);
      if (at + n > end) return undefined;
      sh.text.write(part, at, n, "utf8");
      sh.ints[f + J_TEXT + k] = n;
      at += n;
    }
    sh.ints[f + J_DIR] = use.fd;
    sh.ints[f + J_FLUSH] = finish.flush ? 1 : 0;
    sh.ints[f + J_HAS_MTIME] = finish.mtimeNs !== undefined ? 1 : 0;
    sh.mtimes[slot] = finish.mtimeNs ?? 0n;
    return new Promise<LaneCopied | undefined>((resolve) => {
      this.#pending[slot] = { resolve, folder: use };
      use.jobs++;
      if (this.#count++ === 0) {
        clearTimeout(this.#idle);
        this.#worker.ref();
      }
      Atomics.store(sh.status, slot, PENDING);
      sh.queue[this.#submitted & (COPY_SLOTS - 1)] = slot;
      // Counted after the job is written and before the thread may look: it never finds more done
      // than queued, nor a job half written. (Int32 arithmetic, as the shared counter's.)
      this.#submitted = (this.#submitted + 1) | 0;
      Atomics.store(sh.control, SUBMITTED, this.#submitted);
      // A wake-up only where the thread sleeps (a futex call each is ~9 µs here).
      if (Atomics.load(sh.control, ASLEEP) !== 0) Atomics.notify(sh.control, SUBMITTED);
    });
  }

  /** Settles every job the thread has finished (cheap: a look at each slot in use). */
  poll(): void {
    if (this.#count === 0) return;
    const { status } = this.#shared;
    for (let slot = 0; slot < COPY_SLOTS; slot++) {
      if (this.#pending[slot] === undefined) continue;
      const s = Atomics.load(status, slot);
      if (s === PENDING) continue;
      this.#settle(slot, s === COPIED ? { size: this.#shared.sizes[slot]!, mtimeNs: this.#shared.mtimes[slot]!, ino: this.#shared.inos[slot]! } : undefined);
    }
  }

  /**
   * Stops the thread once its jobs are done (it takes no new one meanwhile): it ends on its own
   * between two jobs, so no copy is cut short. A thread that does not end within {@link
   * STOP_WAIT_MS} is terminated; jobs it had not finished are then settled as not copied.
   */
  stop(): Promise<void> {
    clearTimeout(this.#idle);
    if (this.#ended) return Promise.resolve();
    this.#stopping ??= (async () => {
      const ended = new Promise<void>((resolve) => this.#worker.once("exit", () => resolve()));
      if (this.#count > 0) await Promise.race([new Promise<void>((resolve) => (this.#drained = resolve)), ended, delay(STOP_WAIT_MS, undefined, { ref: false })]);
      Atomics.store(this.#shared.control, STOP, 1);
      Atomics.notify(this.#shared.control, SUBMITTED);
      this.#worker.ref();
      await Promise.race([ended, delay(STOP_WAIT_MS, undefined, { ref: false })]);
      if (!this.#ended) await this.#worker.terminate();
    })();
    return this.#stopping;
  }

  #armIdle(): void {
    this.#idle = setTimeout(() => void this.stop(), COPY_LANE_IDLE_MS).unref();
  }

  #settle(slot: number, copied: LaneCopied | undefined): void {
    const p = this.#pending[slot]!;
    this.#pending[slot] = undefined;
    p.folder.jobs--;
    if (p.folder !== this.#folder) this.#release(p.folder);
    if (copied !== undefined) copiedOnLanes++;
    this.failedInARow = copied === undefined ? this.failedInARow + 1 : 0;
    if (--this.#count === 0 && !this.#ended) {
      this.#worker.unref();
      if (this.#stopping === undefined) this.#armIdle();
      else this.#drained?.();
    }
    p.resolve(copied);
  }

  #release(folder: FolderUse): void {
    if (folder.jobs === 0) fs.closeSync(folder.fd);
  }

  #onExit(): void {
    // Results written before the end count; the rest were not copied (or not known to be: the
    // main thread copies them again, over its own temp name, which is harmless).
    this.poll();
    this.#ended = true;
    clearTimeout(this.#idle);
    for (let slot = 0; slot < COPY_SLOTS; slot++) if (this.#pending[slot] !== undefined) this.#settle(slot, undefined);
    const current = this.#folder;
    this.#folder = undefined;
    if (current !== undefined) this.#release(current);
  }
}

/** When a provider starts its lane (tests change it: {@link setCopyLaneTuning}). */
export interface CopyLaneTuning {
  /**
   * Small copies the main thread makes before a lane starts (and again after a lane ended): a sync
   * of a few files never pays for a thread (~10 MiB of memory on Node 20, ~18 MiB on Node 24, and
   * ~30 ms of the other core to start).
   */
  after: number;
  /** The thread's module (tests: one that fails). */
  module?: URL;
}

const DEFAULT_TUNING: CopyLaneTuning = { after: 256 };
let tuning: CopyLaneTuning = DEFAULT_TUNING;

/** Changes when lanes start, for the providers made from then on (tests); no argument: the defaults. */
export function setCopyLaneTuning(change?: Partial<CopyLaneTuning>): void {
  tuning = { ...DEFAULT_TUNING, ...change };
}

/**
 * A provider's lane, started once the main thread has made {@link CopyLaneTuning.after} small
 * copies, where the process may use two cores or more (on one, a thread only takes turns with
 * the main one), and again after it ended (idle, or failed).
 *
 * Which thread copies a file goes by its write's series (`WriteOptions.series`): series 1 on the
 * thread, the rest on the main thread. A sync's executor makes two series, each in a half of its
 * plan (`forEachLimit`'s `twoHalves`), so the two threads create files in two folders: creating,
 * looking up and renaming names in one folder is serialized by the folder's lock, and two
 * threads copying into one folder took each other's time (a copy on the main thread 81 → ~120 µs).
 */
export class CopyLanes {
  #lane: CopyLane | undefined;
  #mainCopies = 0;
  #closed = false;
  readonly #tuning = tuning;
  readonly #cores: number;
  readonly #logger: Logger | undefined;

  constructor(cores: number, logger?: Logger) {
    this.#cores = cores;
    this.#logger = logger;
  }

  /** The lane when the thread is to copy a file of write series `series` now (started here when due); else `undefined`. */
  forSeries(series: number | undefined): CopyLane | undefined {
    if (series !== 1 || this.#closed) return undefined;
    let lane = this.#lane;
    if (lane !== undefined && lane.failedInARow >= COPY_LANE_GIVE_UP) {
      // Every copy it was given came back to this thread: its folder or its sources refuse it.
      this.#logger?.debug?.(`[workspace-sync] the local provider's copy thread made none of its last ${COPY_LANE_GIVE_UP} copies; copying on the main thread only`);
      void lane.stop();
      this.#lane = undefined;
      this.#mainCopies = -Infinity;
      return undefined;
    }
    if (lane === undefined || lane.ended) {
      if (this.#cores < 2 || this.#mainCopies < this.#tuning.after) return undefined;
      this.#mainCopies = 0;
      const before = lane;
      lane = this.#lane = CopyLane.start(this.#tuning.module);
      // (No module: never again.)
      if (lane === undefined) {
        this.#mainCopies = -Infinity;
        return undefined;
      }
      // A thread that ended with its last copies sent back (one that fails as it starts) hands
      // its count on: started again every `after` copies, each costing a thread's start, it
      // was never given up (149 starts for 600 copies).
      lane.failedInARow = before?.failedInARow ?? 0;
    }
    return lane.hasRoom ? lane : undefined;
  }

  /** After a copy the main thread made: counted, and the thread's finished jobs settled. */
  madeOne(): void {
    this.#mainCopies++;
    this.#lane?.poll();
  }

  /** Stops the thread once its jobs are done; none starts after. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#lane?.stop();
  }
}
