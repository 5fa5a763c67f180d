/**
 * The local provider's listing: a depth-first walk of a folder, names in sorted order, each
 * folder's files before its sub-folders (whose files follow in the same order).
 *
 * It is an iterator over arrays of entries rather than an async generator: a generator's `yield`
 * (and every level of `yield*` it is delegated through) allocates and awaits per entry, which was a
 * tenth of what a no-change sync of 40 000 files allocated. Here an entry costs one settled promise
 * and one result object.
 *
 * A large folder tree is walked on a thread of its own (`walk-thread.ts`): after
 * {@link WALK_INLINE_NAMES} names looked at here, the folders left go to the thread, which walks
 * them in the same order while this thread does other work (a sync lists the workspace meanwhile).
 * The lstat of each file is most of a listing's cost, so the two listings of a sync, each ~0.3 s
 * for 40 000 files, no longer take turns on one core. A small folder never starts a thread.
 */
import { throwIfAborted, toWorkspaceSyncError } from "../../errors.js";
import type { RemoteEntry } from "../types.js";
import { type DirIdent, type Folder, type NotAFileKind, type SubDir, WALK_BATCH, hiddenName, lookAtNames, notAFileOfSize, pushAll, readFolder, subFolders } from "./walk-look.js";
import { WalkThread, WalkThreadUnavailable } from "./walk-thread.js";
import { availableCores } from "../../util/cores.js";

/** Names of one folder looked at per turn of the event loop. */
export const WALK_YIELD_EVERY = WALK_BATCH;

/**
 * Names looked at on the calling thread before the rest of the walk goes to a thread of its own
 * (~20 ms of lstat; starting the thread costs ~9 MiB of memory and ~0.1 s of the other core).
 * It counts what was looked at, not what is left: a walk past it hands over whatever folders
 * remain, however few.
 */
export const WALK_INLINE_NAMES = 4096;

/**
 * Batches from the walk's thread taken in a row before the event loop gets a turn. A reader busy
 * elsewhere finds up to `WALK_THREAD_AHEAD` of them queued, and took them in ~65 ms without a turn:
 * V8 runs the steps that finish a concurrent marking as event-loop tasks, so the heap grew
 * meanwhile (a no-change sync of 100 000 files on Node 24: 98–111 MiB in three of four runs, its
 * full collection at 35–38 MB of heap, 17–19 MB of pages pooled after it). A turn every 4
 * batches: 94–96 MiB in the same time (a turn every batch: 90–95 MiB, ~0.1 s slower). It costs
 * Node 20, where that collection came early anyway, a little: 81–82 MiB against 76–80 MiB.
 */
export const THREAD_BATCHES_PER_TURN = 4;

/** Stops the thread of a walk whose reader dropped it unfinished (it no longer keeps the process alive, but would hold its memory). */
const dropped = new FinalizationRegistry<WalkThread>((thread) => thread.stop());

/** What a walk needs from its provider. */
export interface WalkOptions {
  recursive: boolean;
  signal?: AbortSignal;
  /** The install's temp-name token: its own temp files are never listed. */
  token: string;
  /** The entry of a listed file. */
  entryOf: (rel: string, size: number, mtimeNs: bigint, ino: bigint) => RemoteEntry;
  /** The entry of a name that is neither a file nor a folder; without it such names are not listed. */
  otherOf?: (rel: string, kind: NotAFileKind) => RemoteEntry;
  /**
   * Names looked at on this thread before the walk moves to a thread (`Infinity`: never). Default
   * {@link WALK_INLINE_NAMES} where the process may use two cores or more, else never: on one core
   * the thread only takes turns with this one (a no-change sync of 40 000 files took 1.35 s
   * with it against 1.12 s without, and 15 MiB more).
   */
  inlineNames?: number;
  /** Batches the walk's thread may post ahead of the reader before it waits (default `WALK_THREAD_AHEAD`). */
  threadAhead?: number;
  /** Called once the walk has read everything, with whether it passed over any of the install's own temp files. */
  onComplete?: (sawOwnTemp: boolean) => void;
  /** The walk thread's module (tests: one that fails to start); default `walk-worker.js`. */
  threadModule?: URL;
  /** What the folder was when it was checked: the folder read must still be that one (see `readFolder`). */
  rootIdent?: DirIdent;
}

/** One folder being read: its sorted names and how far they have been looked at. */
interface Reading extends Folder {
  names: string[];
  next: number;
  subdirs: SubDir[];
}

/**
 * Lists `rootAbs` (absolute and normalized). A missing root lists as empty and a file that vanishes
 * meanwhile is skipped; any other error (a sub-folder that vanished included) is thrown as a
 * {@link WorkspaceSyncError}. Like any async iterator it is read one `next()` at a time.
 */
export function walkFolder(rootAbs: string, options: WalkOptions): AsyncIterableIterator<RemoteEntry> {
  let stack: Folder[] = [{ abs: rootAbs, rel: "", ...(options.rootIdent !== undefined && { ident: options.rootIdent }) }];
  const otherOf = options.otherOf;
  const lookHow = { hidden: hiddenName(options.token), recursive: options.recursive };
  let reading: Reading | undefined;
  let batch: RemoteEntry[] = [];
  let at = 0;
  let done = false;
  let inlineLeft = options.inlineNames ?? WALK_INLINE_NAMES;
  let thread: WalkThread | undefined;
  let sawOwnTemp = false;
  /** Names looked at since the event loop last had a turn. */
  let sinceTurn = 0;

  /** The thread's next batch into `batch`; false at the end. */
  const fromThread = async (t: WalkThread): Promise<boolean> => {
    let b;
    try {
      b = await t.next();
    } catch (err) {
      if (!(err instanceof WalkThreadUnavailable)) throw err;
      // It failed before it read anything: the walk goes on here, from the same folders.
      thread = undefined;
      dropped.unregister(iterator);
      stack = err.folders;
      return true;
    }
    if (b === undefined) {
      sawOwnTemp ||= t.sawOwnTemp;
      return false;
    }
    const wide = b.wide && new Map(b.wide);
    for (let i = 0; i < b.paths.length; i++) {
      const size = b.sizes[i]!;
      const other = size < 0 ? notAFileOfSize(size) : undefined;
      batch.push(other !== undefined && otherOf ? otherOf(b.paths[i]!, other) : options.entryOf(b.paths[i]!, size, wide?.get(i) ?? b.mtimes[i]!, b.inos[i]!));
    }
    sinceTurn += b.paths.length;
    return true;
  };

  /** Between two folders, once the names for this thread are used up: the rest of the walk, in the same order, to a thread. */
  const handOff = (): boolean => {
    // (The root is always read here: a missing or small one never starts a thread.)
    // (Never once the walk has ended: a `return()` while this walk waited for its turn.)
    if (done || inlineLeft > 0 || reading !== undefined || stack.length === 0 || stack[0]!.rel === "") return false;
    inlineLeft = Infinity;
    // Asked only of a walk that would move now (the cgroup files are read for it).
    if (options.inlineNames === undefined && availableCores() < 2) return false;
    thread = WalkThread.start(stack, { recursive: options.recursive, token: options.token, signal: options.signal, ahead: options.threadAhead, module: options.threadModule, others: otherOf !== undefined });
    if (thread) {
      stack = [];
      dropped.register(iterator, thread, iterator);
    }
    return thread !== undefined;
  };

  /** A turn of the event loop. */
  const turn = async (): Promise<void> => {
    await new Promise<void>((resolve) => setImmediate(resolve));
    sinceTurn = 0;
  };

  /** Fills `batch` with the next entries; false at the end. */
  const fill = async (): Promise<boolean> => {
    batch = [];
    at = 0;
    while (batch.length === 0) {
      // Checked after every wait: the reader may have ended the walk meanwhile.
      if (done) return false;
      throwIfAborted(options.signal);
      if (thread) {
        if (sinceTurn >= WALK_BATCH * THREAD_BATCHES_PER_TURN) {
          // The thread's batches queued while the reader was busy come without a wait: the event
          // loop gets a turn between them as well (see THREAD_BATCHES_PER_TURN).
          await turn();
          continue;
        }
        if (!(await fromThread(thread))) return false;
        continue;
      }
      if (reading !== undefined && sinceTurn >= WALK_BATCH) {
        // Between two pieces of a large folder: the event loop gets a turn.
        await turn();
        continue;
      }
      if (reading === undefined) {
        if (handOff()) continue;
        if (Number.isFinite(inlineLeft)) {
          // While the walk may still move to its thread, small folders are read without a turn
          // between them (WALK_INLINE_NAMES names at most, ~20-40 ms): in a sync each turn here let
          // the workspace walk's pending calls run first, the hand-off came most of that walk
          // later, and the thread saved nothing (measured). Only large folders turn, per piece.
          sinceTurn = 0;
        } else if (sinceTurn >= WALK_BATCH) {
          // Past that, the event loop gets a turn every WALK_BATCH names across folders too.
          await turn();
          continue;
        }
        const folder = stack.pop();
        if (folder === undefined) return false;
        let names: string[] | undefined;
        try {
          names = readFolder(folder);
        } catch (err) {
          throw toWorkspaceSyncError(err);
        }
        if (names === undefined) return false; // a missing root lists as empty
        reading = { ...folder, names, next: 0, subdirs: [] };
      }
      readSome(reading);
      if (reading.next >= reading.names.length) {
        // Its sub-folders next, in order.
        pushAll(stack, subFolders(reading, reading.subdirs));
        reading = undefined;
      }
    }
    return true;
  };

  /** Looks at the next names of `r`. */
  const readSome = (r: Reading): void => {
    const end = Math.min(r.names.length, r.next + WALK_BATCH - sinceTurn);
    inlineLeft -= end - r.next;
    sinceTurn += end - r.next;
    try {
      const look = lookAtNames(
        r,
        r.names,
        [r.next, end],
        lookHow,
        r.subdirs,
        (rel, st) => {
          batch.push(options.entryOf(rel, Number(st.size), st.mtimeNs, st.ino));
          return true;
        },
        otherOf && ((rel, kind) => (batch.push(otherOf(rel, kind)), true)),
      );
      r.next = look.next;
      sawOwnTemp ||= look.sawOwnTemp;
    } catch (err) {
      throw toWorkspaceSyncError(err);
    }
  };

  const end = (): void => {
    done = true;
    batch = [];
    if (thread) {
      thread.stop();
      dropped.unregister(iterator);
    }
  };
  const finished: IteratorResult<RemoteEntry> = { value: undefined, done: true };
  const iterator: AsyncIterableIterator<RemoteEntry> = {
    next: async (): Promise<IteratorResult<RemoteEntry>> => {
      if (done) return finished;
      if (options.signal?.aborted) {
        // Nothing more after an abort, not even what the current batch still holds.
        end();
        throwIfAborted(options.signal);
      }
      if (at >= batch.length) {
        try {
          if (!(await fill())) {
            // (Not complete when the reader ended it meanwhile.)
            const whole = !done;
            end();
            if (whole) options.onComplete?.(sawOwnTemp);
          }
        } catch (err) {
          end();
          throw err;
        }
        if (done) return finished;
      }
      return { value: batch[at++]!, done: false };
    },
    return: async (): Promise<IteratorResult<RemoteEntry>> => {
      end();
      return finished;
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}

/**
 * An iterator that awaits `check` on its first `next()` (a rejection is thrown there, as a listing's
 * error is) and then hands every call to the iterator `make` gives: one call more per batch, not
 * an async generator's allocation and turn per entry.
 */
export function afterCheck<C, T>(check: () => Promise<C>, make: (checked: C) => AsyncIterableIterator<T>): AsyncIterableIterator<T> {
  let inner: AsyncIterableIterator<T> | undefined;
  let ended = false;
  const iterator: AsyncIterableIterator<T> = {
    async next(): Promise<IteratorResult<T>> {
      if (ended) return { done: true, value: undefined };
      if (inner === undefined) {
        let checked: C;
        try {
          checked = await check();
        } catch (err) {
          ended = true;
          throw err;
        }
        // (Ended meanwhile by `return()`.)
        if (ended) return { done: true, value: undefined };
        inner = make(checked);
      }
      return inner.next();
    },
    async return(value?: unknown): Promise<IteratorResult<T>> {
      ended = true;
      if (inner?.return) return inner.return(value);
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
