/**
 * A listing's files by comparison key, where a file the last agreed state already describes
 * exactly is held as a mark on that state entry instead of as a record of its own.
 *
 * On most runs most files are unchanged, and their listing records repeat what the state says. A
 * no-change run over 100 000 files used to hold three copies of every file (both listings' records
 * and the state entry); it now holds the state, a set of marks, and records only for the files that
 * can lead to an action. `get` rebuilds a marked file's record from its state entry when asked (the
 * plan and the executor look at one key at a time), so every reader sees the same map as before.
 */
import type { StateEntry } from "./types.js";

/** Each state's keys, listed once (enumerating a 100 000-key record is slow, and both listings need them). */
const keysOf = new WeakMap<object, string[]>();

/** The keys of a state's files, listed once per record (a loaded state's files never change afterwards). */
export function stateKeys(state: Readonly<Record<string, StateEntry>>): string[] {
  let keys = keysOf.get(state);
  if (keys === undefined) keysOf.set(state, (keys = Object.keys(state)));
  return keys;
}

/**
 * The test for keys both listings hold as marks: files unchanged on both sides since the last
 * agreement, which the plan can leave out (their state entries are kept as they are). `undefined`
 * when either listing holds none.
 */
export function unchangedOnBothSides(local: ReadonlyMap<string, unknown>, remote: ReadonlyMap<string, unknown>): ((key: string) => boolean) | undefined {
  if (!(local instanceof FileIndex) || !(remote instanceof FileIndex) || !local.hasMarks() || !remote.hasMarks()) return undefined;
  const l = local as FileIndex<{ path: string }>;
  const r = remote as FileIndex<{ path: string }>;
  return (key) => l.marked(key) && r.marked(key);
}

/** Records rebuilt from a state entry (they carry what the state keeps, not the listing's extras such as nanoseconds). */
const rebuilt = new WeakSet<object>();

/** True when `record` was rebuilt from the state rather than listed (see {@link FileIndex}). */
export function rebuiltFromState(record: object): boolean {
  return rebuilt.has(record);
}

/** Files by key: records of their own, plus state entries marked as listed unchanged. */
export class FileIndex<T extends { path: string }> implements Map<string, T> {
  private readonly own = new Map<string, T>();
  private readonly kept = new Set<StateEntry>();

  /**
   * @param state The state's files by key (marks refer to its entries).
   * @param rebuild The record of a marked file, from its key and state entry.
   */
  constructor(
    private readonly state: Readonly<Record<string, StateEntry>> | undefined,
    private readonly rebuild: (key: string, entry: StateEntry) => T,
  ) {}

  /**
   * Marks `key` as listed exactly as the state recorded it; false (nothing marked) when the state
   * has no entry for it or the key already holds a record. The caller has checked that the record
   * it would have added equals `rebuild(key, entry)` in every field the state keeps.
   */
  keep(key: string): boolean {
    const entry = this.state?.[key];
    if (entry === undefined || this.own.has(key)) return false;
    this.kept.add(entry);
    return true;
  }

  /** True when some file is held as a mark. */
  hasMarks(): boolean {
    return this.kept.size > 0;
  }

  /** True when `key` is held as a mark (not as a record of its own). */
  marked(key: string): boolean {
    return this.keptEntry(key) !== undefined;
  }

  /** The state entry behind a marked key. */
  private keptEntry(key: string): StateEntry | undefined {
    if (this.kept.size === 0) return undefined;
    const entry = this.state?.[key];
    return entry !== undefined && this.kept.has(entry) ? entry : undefined;
  }

  private record(key: string, entry: StateEntry): T {
    const r = this.rebuild(key, entry);
    rebuilt.add(r);
    return r;
  }

  get size(): number {
    return this.own.size + this.kept.size;
  }

  get(key: string): T | undefined {
    const r = this.own.get(key);
    if (r !== undefined) return r;
    const entry = this.keptEntry(key);
    return entry === undefined ? undefined : this.record(key, entry);
  }

  has(key: string): boolean {
    return this.own.has(key) || this.keptEntry(key) !== undefined;
  }

  set(key: string, value: T): this {
    const entry = this.keptEntry(key);
    if (entry !== undefined) this.kept.delete(entry);
    this.own.set(key, value);
    return this;
  }

  delete(key: string): boolean {
    if (this.own.delete(key)) return true;
    const entry = this.keptEntry(key);
    return entry !== undefined && this.kept.delete(entry);
  }

  clear(): void {
    this.own.clear();
    this.kept.clear();
  }

  /** Keys of the marked files, in the state's order. */
  private *keptKeys(): IterableIterator<string> {
    if (this.kept.size === 0 || this.state === undefined) return;
    const state = this.state;
    for (const k of stateKeys(state)) if (this.kept.has(state[k]!)) yield k;
  }

  /** Own records first (in insertion order), then the marked files (in the state's order). */
  *keys(): IterableIterator<string> {
    yield* this.own.keys();
    yield* this.keptKeys();
  }

  /** Every file's path (a marked file's path is its key), without rebuilding records. */
  *paths(): IterableIterator<string> {
    for (const r of this.own.values()) yield r.path;
    yield* this.keptKeys();
  }

  *values(): IterableIterator<T> {
    for (const [, v] of this.entries()) yield v;
  }

  *entries(): IterableIterator<[string, T]> {
    yield* this.own.entries();
    for (const k of this.keptKeys()) yield [k, this.record(k, this.state![k]!)];
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
