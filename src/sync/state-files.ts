/**
 * A state's files by key, as the sync engine holds them during a run.
 *
 * The loaded state is held compactly ({@link CompactStateFiles}): each file's key, and its four
 * numbers in one typed array, instead of three objects per file. A no-change run over 100 000
 * files held ~29 MiB of state objects on the heap, and every young-generation collection while
 * they were loading copied them; compactly it is ~12 MiB, and the objects JSON gives for each piece
 * of the file die young. An entry is built as an object only when a step asks for it.
 *
 * A plain record (a state from the public `loadState`, a test's table) is read through
 * {@link stateFilesOf}; the result of a run is the run's own entries over the prior ones it kept
 * ({@link mergedStateFiles}).
 */
import { WorkspaceSyncError } from "../errors.js";
import { remoteSignatureOf } from "./deltas.js";
import type { StateEntry } from "./types.js";

/** A state's files by key, read-only. */
export interface StateFiles {
  /** How many files. */
  readonly size: number;
  /** Every key once, in a fixed order (the same array on every call: not to be changed). */
  keys(): readonly string[];
  /** The place of `key` in {@link keys}, or -1 (never found through a prototype). */
  slotOf(key: string): number;
  /** The entry at place `slot` of {@link keys} (a new object on each call for a compact state). */
  entryAt(slot: number): StateEntry;
  /** The entry of `key`, or `undefined`. */
  get(key: string): StateEntry | undefined;
}

/**
 * The files of a state whose folders were all found unchanged (see `folder-digest.ts`): never
 * read, since the run has nothing to do; the state file is kept as it is. A step that asks for
 * them anyway fails the run (nothing was changed).
 */
export class UnreadStateFiles implements StateFiles {
  constructor(readonly file: string) {}

  #unread(): never {
    throw new WorkspaceSyncError("INTERNAL_ERROR", `The sync state ${this.file} was read only in part (nothing had changed), and a step asked for its files: report this`);
  }

  get size(): number {
    return this.#unread();
  }

  keys(): readonly string[] {
    return this.#unread();
  }

  slotOf(): number {
    return this.#unread();
  }

  entryAt(): StateEntry {
    return this.#unread();
  }

  get(): StateEntry | undefined {
    return this.#unread();
  }
}

/**
 * Numbers per entry in {@link CompactStateFiles}: local size, local mtime, cloud size, cloud mtime
 * (NaN: none), and the cloud revision's number where the revision is that number after the cloud
 * size and mtime (NaN: held as text, or none; see {@link revisionNumber}).
 */
const NUMS = 5;

/**
 * The whole number `k` when `revision` is exactly `<size>:<mtimeMs>:<k>` (each written as the
 * number's own text, `k` a safe integer), else `undefined`. The local provider's revisions are
 * that (size, time, inode): held as the number they are rebuilt from the entry's own numbers, 8
 * bytes instead of a 40-byte string a file (a first run of 200 000 files held 7.6 MiB of them).
 * Any other revision is held as its text; either way the entry reads back the same string.
 */
export function revisionNumber(revision: string, size: number, mtimeMs: number | undefined): number | undefined {
  if (mtimeMs === undefined) return undefined;
  const head = `${size}:${mtimeMs}:`;
  if (revision.length <= head.length || revision.length > head.length + 16 || !revision.startsWith(head)) return undefined;
  const tail = revision.slice(head.length);
  const k = Number(tail);
  return Number.isSafeInteger(k) && k >= 0 && String(k) === tail ? k : undefined;
}

/**
 * State files held as keys, one typed array of numbers and (only when some entry has them) the
 * cloud hashes and the revisions that are not numbers of the entry's own (see
 * {@link revisionNumber}). Built with {@link add}; entries that are not the shape the state
 * writes (a hand edit, damage) are left out, as if the file had no entry: a run treats it as
 * unknown (never deleted because of it).
 */
export class CompactStateFiles implements StateFiles {
  #keys: string[] = [];
  /** Each key's place; `undefined` after {@link append} until the next lookup builds it again. */
  #slots: Map<string, number> | undefined = new Map<string, number>();
  #nums: Float64Array;
  #hashes: (string | undefined)[] | undefined;
  #revisions: (string | undefined)[] | undefined;
  /** Set by {@link seal}: from then on every key keeps its place (marks refer to places). */
  #sealed = false;

  /** @param capacity How many entries to make room for at first (it grows past that as needed). */
  constructor(capacity = 64) {
    this.#nums = new Float64Array(NUMS * Math.max(1, Math.floor(capacity)));
  }

  get size(): number {
    return this.#keys.length;
  }

  keys(): readonly string[] {
    return this.#keys;
  }

  slotOf(key: string): number {
    return this.#index().get(key) ?? -1;
  }

  get(key: string): StateEntry | undefined {
    const slot = this.#index().get(key);
    return slot === undefined ? undefined : this.entryAt(slot);
  }

  /** The places by key, built again from the keys after {@link append}s. */
  #index(): Map<string, number> {
    if (this.#slots === undefined) {
      const slots = new Map<string, number>();
      for (let slot = 0; slot < this.#keys.length; slot++) {
        const key = this.#keys[slot]!;
        if (slots.has(key)) throw new WorkspaceSyncError("INTERNAL_ERROR", `A sync recorded two state entries for ${JSON.stringify(key)}; the state was not saved (the next run compares again): report this`);
        slots.set(key, slot);
      }
      this.#slots = slots;
    }
    return this.#slots;
  }

  entryAt(slot: number): StateEntry {
    const n = this.#nums;
    const i = slot * NUMS;
    const size = n[i + 2]!;
    const m = n[i + 3]!;
    const mtimeMs = Number.isNaN(m) ? undefined : m;
    const k = n[i + 4]!;
    const revision = Number.isNaN(k) ? this.#revisions?.[slot] : `${size}:${m}:${k}`;
    return { local: { size: n[i]!, mtimeMs: n[i + 1]! }, remote: remoteSignatureOf(size, mtimeMs, this.#hashes?.[slot], revision) };
  }

  /**
   * Adds (or replaces: the last one read wins, as in JSON) the entry of `key`. Returns false, and
   * leaves the key out, when `entry` is not a state entry's shape.
   */
  add(key: string, entry: unknown): boolean {
    this.#assertOpen();
    const e = validEntry(entry);
    const slots = this.#index();
    let slot = slots.get(key);
    if (e === undefined) {
      if (slot !== undefined) this.#remove(slot);
      return false;
    }
    if (slot === undefined) {
      slot = this.#push(key);
      slots.set(key, slot);
    }
    this.#write(slot, e);
    return true;
  }

  /**
   * Adds the entry of a key this store does not hold, without looking it up: for a run's own
   * entries, whose keys the executor checks are distinct before it starts (one per planned key,
   * and the conflict names the plan reserved). A first run records one per file, and no step
   * looks any up: the map of places (~35 bytes a file) is built only if one does, and that lookup
   * throws if a key was added twice all the same. Returns false, and adds nothing, when `entry`
   * is not a state entry's shape.
   */
  append(key: string, entry: unknown): boolean {
    this.#assertOpen();
    const e = validEntry(entry);
    if (e === undefined) return false;
    // (Lookups made so far: the map is dropped, and built again, checked, by the next one.)
    this.#slots = undefined;
    this.#write(this.#push(key), e);
    return true;
  }

  /** A new place at the end for `key`, the numbers grown to hold it. */
  #push(key: string): number {
    const slot = this.#keys.length;
    this.#keys.push(key);
    if (this.#nums.length < (slot + 1) * NUMS) {
      const grown = new Float64Array(Math.max(NUMS * 64, this.#nums.length * 2));
      grown.set(this.#nums);
      this.#nums = grown;
    }
    return slot;
  }

  #write(slot: number, e: StateEntry): void {
    const i = slot * NUMS;
    this.#nums[i] = e.local.size;
    this.#nums[i + 1] = e.local.mtimeMs;
    this.#nums[i + 2] = e.remote.size;
    this.#nums[i + 3] = e.remote.mtimeMs ?? Number.NaN;
    this.#setText("hash", slot, e.remote.hash);
    const r = e.remote.revision;
    const k = r === undefined ? undefined : revisionNumber(r, e.remote.size, e.remote.mtimeMs);
    this.#nums[i + 4] = k ?? Number.NaN;
    this.#setText("revision", slot, k === undefined ? r : undefined);
  }

  /** Removes the entry of `key`, if any. */
  delete(key: string): void {
    this.#assertOpen();
    const slot = this.#index().get(key);
    if (slot !== undefined) this.#remove(slot);
  }

  /** Trims the number array to the entries held; no entry is added or removed after it (places stay). */
  seal(): this {
    this.#sealed = true;
    if (this.#nums.length > this.#keys.length * NUMS) this.#nums = this.#nums.slice(0, this.#keys.length * NUMS);
    return this;
  }

  #assertOpen(): void {
    if (this.#sealed) throw new Error("state files are sealed: no entry is added or removed once their places are in use");
  }

  #setText(which: "hash" | "revision", slot: number, value: string | undefined): void {
    let list = which === "hash" ? this.#hashes : this.#revisions;
    if (value === undefined && list === undefined) return;
    if (list === undefined) {
      list = [];
      if (which === "hash") this.#hashes = list;
      else this.#revisions = list;
    }
    list[slot] = value;
  }

  /** Removes the entry at `slot` (a later duplicate key that is not an entry): the last entry takes its place. */
  #remove(slot: number): void {
    const last = this.#keys.length - 1;
    const key = this.#keys[slot]!;
    if (slot !== last) {
      const lastKey = this.#keys[last]!;
      this.#keys[slot] = lastKey;
      this.#slots!.set(lastKey, slot);
      this.#nums.copyWithin(slot * NUMS, last * NUMS, (last + 1) * NUMS);
      if (this.#hashes) this.#hashes[slot] = this.#hashes[last];
      if (this.#revisions) this.#revisions[slot] = this.#revisions[last];
    }
    this.#keys.pop();
    this.#slots!.delete(key);
    if (this.#hashes) this.#hashes.length = Math.min(this.#hashes.length, last);
    if (this.#revisions) this.#revisions.length = Math.min(this.#revisions.length, last);
  }
}

/** The entries of `files` whose key passes `keep`, as a new compact state. */
export function keepOnly(files: StateFiles, keep: (key: string) => boolean): CompactStateFiles {
  const out = new CompactStateFiles();
  files.keys().forEach((k, slot) => {
    if (keep(k)) out.add(k, files.entryAt(slot));
  });
  return out.seal();
}

/** True when the two hold the same keys with the same entries (`a`'s keys are walked in order: put the likelier to differ first). */
export function sameStateFiles(a: StateFiles, b: StateFiles): boolean {
  if (a === b) return true;
  if (a.size !== b.size) return false;
  const keys = a.keys();
  for (let slot = 0; slot < keys.length; slot++) {
    const other = b.slotOf(keys[slot]!);
    if (other < 0 || !sameEntry(a.entryAt(slot), b.entryAt(other))) return false;
  }
  return true;
}

/** True when two entries record the same (every field the state keeps). */
export function sameEntry(x: StateEntry, y: StateEntry): boolean {
  const a = x.remote;
  const b = y.remote;
  return x.local.size === y.local.size && x.local.mtimeMs === y.local.mtimeMs && a.size === b.size && a.mtimeMs === b.mtimeMs && a.hash === b.hash && a.revision === b.revision;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === "number" && Number.isFinite(v);
}

function optional<T>(v: unknown, is: (v: unknown) => v is T): boolean {
  return v === undefined || is(v);
}

function isString(v: unknown): v is string {
  return typeof v === "string";
}

/** `entry` when it is the shape the state writes (numbers where numbers go, strings where strings go). */
function validEntry(entry: unknown): StateEntry | undefined {
  if (entry === null || typeof entry !== "object") return undefined;
  const { local, remote } = entry as { local?: unknown; remote?: unknown };
  if (local === null || typeof local !== "object" || remote === null || typeof remote !== "object") return undefined;
  const l = local as Record<string, unknown>;
  const r = remote as Record<string, unknown>;
  if (!isFiniteNumber(l.size) || !isFiniteNumber(l.mtimeMs) || !isFiniteNumber(r.size)) return undefined;
  if (!optional(r.mtimeMs, isFiniteNumber) || !optional(r.hash, isString) || !optional(r.revision, isString)) return undefined;
  return entry as StateEntry;
}

/**
 * A plain record of entries (without a prototype: see `pathRecord`) read as {@link StateFiles}: its
 * keys are listed now, so the record must not change while the view is in use (a view is made
 * for each use, never kept). An entry written as `null` is no entry.
 */
export function stateFilesOf(record: Readonly<Record<string, StateEntry>>): StateFiles {
  return new RecordStateFiles(record);
}

/** State files over a list of keys made once: their places are looked up in a map built on first use. */
abstract class KeyListFiles implements StateFiles {
  #slots: Map<string, number> | undefined;

  protected constructor(protected readonly keyList: readonly string[]) {}

  get size(): number {
    return this.keyList.length;
  }

  keys(): readonly string[] {
    return this.keyList;
  }

  slotOf(key: string): number {
    if (this.#slots === undefined) {
      const slots = new Map<string, number>();
      this.keyList.forEach((k, i) => slots.set(k, i));
      this.#slots = slots;
    }
    return this.#slots.get(key) ?? -1;
  }

  abstract entryAt(slot: number): StateEntry;

  get(key: string): StateEntry | undefined {
    const slot = this.slotOf(key);
    return slot < 0 ? undefined : this.entryAt(slot);
  }
}

class RecordStateFiles extends KeyListFiles {
  constructor(private readonly record: Readonly<Record<string, StateEntry>>) {
    super(Object.keys(record).filter((k) => record[k] !== null && record[k] !== undefined));
  }

  entryAt(slot: number): StateEntry {
    return this.record[this.keyList[slot]!]!;
  }
}

/**
 * A run's new state: its own entries (`own`, from the plan's actions) over the entries of `prior`
 * that `kept` says carry over (files unchanged on both sides, left out of the plan).
 */
export function mergedStateFiles(own: Readonly<Record<string, StateEntry>> | StateFiles, prior: StateFiles | undefined, kept: ((key: string) => boolean) | undefined): StateFiles {
  const mine = asStateFiles(own);
  if (prior === undefined || kept === undefined) return mine;
  if (mine.size === 0 && prior.keys().every(kept)) return prior;
  return new MergedStateFiles(mine, prior, kept);
}

/**
 * What `files` changed of `prior`, where `files` is a run's entries over `prior`'s kept ones
 * ({@link mergedStateFiles}): its first `own` entries are the run's (each may differ from
 * `prior`'s), every later one is `prior`'s entry as it was, and `dropped` are `prior`'s keys it
 * left out. `undefined` when `files` was not made so from `prior`.
 */
export function changesOver(files: StateFiles, prior: StateFiles): { own: number; dropped: readonly string[] } | undefined {
  if (files === prior) return { own: 0, dropped: [] };
  return files instanceof MergedStateFiles ? files.changesOver(prior) : undefined;
}

class MergedStateFiles extends KeyListFiles {
  readonly #dropped: readonly string[];

  constructor(
    private readonly own: StateFiles,
    private readonly prior: StateFiles,
    kept: (key: string) => boolean,
  ) {
    const keys = [...own.keys()];
    const dropped: string[] = [];
    for (const k of prior.keys()) {
      if (own.slotOf(k) >= 0) continue;
      if (kept(k)) keys.push(k);
      else dropped.push(k);
    }
    super(keys);
    this.#dropped = dropped;
  }

  /** See {@link changesOver}. */
  changesOver(prior: StateFiles): { own: number; dropped: readonly string[] } | undefined {
    return prior === this.prior ? { own: this.own.size, dropped: this.#dropped } : undefined;
  }

  entryAt(slot: number): StateEntry {
    return slot < this.own.size ? this.own.entryAt(slot) : this.prior.get(this.keyList[slot]!)!;
  }
}

/** `files` as {@link StateFiles} (a plain record through {@link stateFilesOf}). */
export function asStateFiles(files: Readonly<Record<string, StateEntry>> | StateFiles): StateFiles {
  return isStateFiles(files) ? files : stateFilesOf(files);
}

/**
 * True for a {@link StateFiles} (made here or by a caller of `planSync`), false for a plain record
 * of entries: a record's members are entries (objects), never functions.
 */
export function isStateFiles(files: object): files is StateFiles {
  const f = files as Partial<Record<keyof StateFiles, unknown>>;
  return typeof f.keys === "function" && typeof f.slotOf === "function" && typeof f.entryAt === "function" && typeof f.get === "function";
}
