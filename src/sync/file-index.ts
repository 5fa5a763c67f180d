/**
 * A listing's files by comparison key, where a file the last agreed state already describes
 * exactly is held as a one-byte mark (by its key's place in the state) instead of as a record.
 *
 * On most runs most files are unchanged, and their listing records repeat what the state says. A
 * no-change run over 100 000 files used to hold three copies of every file (both listings' records
 * and the state entry); it now holds the state, a byte per state key for each listing, and records
 * only for the files that can lead to an action. `get` rebuilds a marked file's record from its state entry when asked (the
 * plan and the executor look at one key at a time), so every reader sees the same map as before.
 */
import type { StateFiles } from "./state-files.js";
import type { StateEntry } from "./types.js";

/**
 * The test for keys both listings hold as marks: files unchanged on both sides since the last
 * agreement, which the plan can leave out (their state entries are kept as they are). `undefined`
 * when either listing holds none.
 */
export function unchangedOnBothSides(local: ReadonlyMap<string, unknown>, remote: ReadonlyMap<string, unknown>): ((key: string) => boolean) | undefined {
  if (!(local instanceof FileIndex) || !(remote instanceof FileIndex) || !local.hasMarks() || !remote.hasMarks()) return undefined;
  const l = local as FileIndex<{ path: string }>;
  const r = remote as FileIndex<{ path: string }>;
  const state = l.stateFiles;
  // Both marked against the same state (as a run's listings are): one lookup of the key's place.
  if (state !== undefined && state === r.stateFiles) {
    const settled = (key: string): boolean => {
      const slot = state.slotOf(key);
      return slot >= 0 && l.markedAt(slot) && r.markedAt(slot);
    };
    unsettledBySlot.set(settled, { state, local: l, remote: r });
    return settled;
  }
  return (key) => l.marked(key) && r.marked(key);
}

/** The listings and state behind each test {@link unchangedOnBothSides} made from one state's places. */
const unsettledBySlot = new WeakMap<(key: string) => boolean, { state: StateFiles; local: FileIndex<{ path: string }>; remote: FileIndex<{ path: string }> }>();

/** What {@link unsettledKeys} returns: the keys of the three sources that `settled` is false for. */
export interface UnsettledKeys {
  /** Every such key once: the listings' own records' keys, and the state's keys not marked in both. */
  all: string[];
  /** Those the workspace listing holds (as a record or a mark), each once. */
  local: string[];
}

/**
 * The keys of both listings and `state` that `settled` is false for, found by place instead of by
 * asking `settled` of every key (a plan's passes over 200 000 settled keys: ~0.15 s of lookups);
 * `undefined` unless `settled` was made by {@link unchangedOnBothSides} from these very listings,
 * marked against this very `state`. A key is settled only when marked in both listings, and a listing
 * holds a key either as a mark or as a record of its own: so every own record's key is unsettled,
 * and of the state's other keys those not marked in both.
 */
export function unsettledKeys(settled: (key: string) => boolean, state: StateFiles, local: ReadonlyMap<string, unknown>, remote: ReadonlyMap<string, unknown>): UnsettledKeys | undefined {
  const from = unsettledBySlot.get(settled);
  // The very listings and state the test was made from (a filtered copy has other keys).
  if (from === undefined || from.state !== state || from.local !== local || from.remote !== remote) return undefined;
  const { local: l, remote: r } = from;
  const all: string[] = [];
  const inLocal: string[] = [];
  for (const k of l.ownKeys()) {
    all.push(k);
    inLocal.push(k);
  }
  for (const k of r.ownKeys()) {
    if (l.hasOwn(k)) continue;
    all.push(k);
    if (l.marked(k)) inLocal.push(k);
  }
  const keys = state.keys();
  for (let slot = 0; slot < keys.length; slot++) {
    const lm = l.markedAt(slot);
    if (lm && r.markedAt(slot)) continue;
    const k = keys[slot]!;
    if (l.hasOwn(k) || r.hasOwn(k)) continue;
    all.push(k);
    if (lm) inLocal.push(k);
  }
  return { all, local: inLocal };
}

/** Records rebuilt from a state entry (they carry what the state keeps, not the listing's extras such as nanoseconds). */
const rebuilt = new WeakSet<object>();

/** True when `record` was rebuilt from the state rather than listed (see {@link FileIndex}). */
export function rebuiltFromState(record: object): boolean {
  return rebuilt.has(record);
}

/**
 * How a {@link FileIndex} holds the records of its own: a `Map` of the objects by default, or a
 * packed store that builds each record when asked (`local-records.ts`).
 */
export interface OwnRecords<T> {
  readonly size: number;
  get(key: string): T | undefined;
  has(key: string): boolean;
  set(key: string, value: T): unknown;
  delete(key: string): boolean;
  clear(): void;
  /** In insertion order, as a `Map`'s. */
  keys(): IterableIterator<string>;
  values(): IterableIterator<T>;
  entries(): IterableIterator<[string, T]>;
  /** Each record's path, without building the records (where the store can). */
  paths?(): IterableIterator<string>;
}

/** Files by key: records of their own, plus a mark (one byte by the key's place in the state) for each file listed as the state records it. */
export class FileIndex<T extends { path: string }> implements Map<string, T> {
  /** One byte per state key (its place in the state's `keys()`): 1 where the file is held as a mark. */
  private marks: Uint8Array | undefined;
  private markCount = 0;

  /**
   * @param state The state's files by key (marks refer to its entries).
   * @param rebuild The record of a marked file, from its key and state entry.
   * @param own Where the records of its own are held (a `Map` of them by default).
   */
  constructor(
    private readonly state: StateFiles | undefined,
    private readonly rebuild: (key: string, entry: StateEntry) => T,
    private readonly own: OwnRecords<T> = new Map<string, T>(),
  ) {}

  /**
   * Marks `key` as listed exactly as the state recorded it, where the state has an entry of its own
   * for it (found by the key's place, never through a prototype) and `matches(entry)` says so;
   * false (nothing marked) otherwise, or when the key already holds a record. The caller checks in
   * `matches` that the record it would have added equals `rebuild(key, entry)` in every field the
   * state keeps.
   */
  keepIf(key: string, matches: (entry: StateEntry) => boolean): boolean {
    if (this.state === undefined || this.own.has(key)) return false;
    const slot = this.state.slotOf(key);
    if (slot < 0 || !matches(this.state.entryAt(slot))) return false;
    this.#mark(slot);
    return true;
  }

  /**
   * Marks the files of the state's folders a listing found unchanged as a whole (see
   * `folder-digest.ts`): every state key in one of `folders` that holds no record of its own.
   */
  markFolders(folders: ReadonlySet<string>, folderOf: (key: string) => string): void {
    if (this.state === undefined || folders.size === 0) return;
    const keys = this.state.keys();
    for (let slot = 0; slot < keys.length; slot++) {
      const key = keys[slot]!;
      if (folders.has(folderOf(key)) && !this.own.has(key)) this.#mark(slot);
    }
  }

  #mark(slot: number): void {
    this.marks ??= new Uint8Array(this.state!.size);
    if (this.marks[slot] === 0) {
      this.marks[slot] = 1;
      this.markCount++;
    }
  }

  /** The keys of the files held as records of their own (not as marks), in insertion order. */
  ownKeys(): IterableIterator<string> {
    return this.own.keys();
  }

  /** True when `key` is held as a record of its own. */
  hasOwn(key: string): boolean {
    return this.own.has(key);
  }

  /** True when some file is held as a mark. */
  hasMarks(): boolean {
    return this.markCount > 0;
  }

  /** The state the marks refer to. */
  get stateFiles(): StateFiles | undefined {
    return this.state;
  }

  /** True when the file at place `slot` of the state's keys is held as a mark. */
  markedAt(slot: number): boolean {
    return this.markCount > 0 && this.marks![slot] === 1;
  }

  /** True when `key` is held as a mark (not as a record of its own). */
  marked(key: string): boolean {
    return this.markedSlot(key) >= 0;
  }

  /** The place of a marked key in `stateKeys`, or -1. */
  private markedSlot(key: string): number {
    if (this.markCount === 0) return -1;
    const slot = this.state!.slotOf(key);
    return slot >= 0 && this.marks![slot] === 1 ? slot : -1;
  }

  private unmark(slot: number): void {
    this.marks![slot] = 0;
    this.markCount--;
  }

  private record(key: string, slot: number): T {
    const r = this.rebuild(key, this.state!.entryAt(slot));
    rebuilt.add(r);
    return r;
  }

  get size(): number {
    return this.own.size + this.markCount;
  }

  get(key: string): T | undefined {
    const r = this.own.get(key);
    if (r !== undefined) return r;
    const slot = this.markedSlot(key);
    return slot >= 0 ? this.record(key, slot) : undefined;
  }

  has(key: string): boolean {
    return this.own.has(key) || this.markedSlot(key) >= 0;
  }

  set(key: string, value: T): this {
    const slot = this.markedSlot(key);
    if (slot >= 0) this.unmark(slot);
    this.own.set(key, value);
    return this;
  }

  delete(key: string): boolean {
    if (this.own.delete(key)) return true;
    const slot = this.markedSlot(key);
    if (slot < 0) return false;
    this.unmark(slot);
    return true;
  }

  clear(): void {
    this.own.clear();
    this.marks?.fill(0);
    this.markCount = 0;
  }

  /** Places of the marked files, in the state's order. */
  private *keptSlots(): IterableIterator<number> {
    if (this.markCount === 0) return;
    const marks = this.marks!;
    for (let i = 0; i < marks.length; i++) if (marks[i] === 1) yield i;
  }

  /** Keys of the marked files, in the state's order. */
  private *keptKeys(): IterableIterator<string> {
    const keys = this.state?.keys() ?? [];
    for (const slot of this.keptSlots()) yield keys[slot]!;
  }

  /** Own records first (in insertion order), then the marked files (in the state's order). */
  *keys(): IterableIterator<string> {
    yield* this.own.keys();
    yield* this.keptKeys();
  }

  /** Every file's path (a marked file's path is its key), without rebuilding records. */
  *paths(): IterableIterator<string> {
    if (this.own.paths) yield* this.own.paths();
    else for (const r of this.own.values()) yield r.path;
    yield* this.keptKeys();
  }

  *values(): IterableIterator<T> {
    for (const [, v] of this.entries()) yield v;
  }

  *entries(): IterableIterator<[string, T]> {
    yield* this.own.entries();
    const keys = this.state?.keys() ?? [];
    for (const slot of this.keptSlots()) yield [keys[slot]!, this.record(keys[slot]!, slot)];
  }

  [Symbol.iterator](): IterableIterator<[string, T]> {
    return this.entries();
  }

  forEach(fn: (value: T, key: string, map: Map<string, T>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }

  get [Symbol.toStringTag](): string {
    return "FileIndex";
  }
}
