/**
 * The workspace listing's own records held packed: a first run lists every file as a record of
 * its own (there is no state to mark them against), and as objects each took ~96 bytes besides
 * its path (the object, the boxed millisecond time, the nanosecond BigInt): 9 MiB at 100 000
 * files, held until the run ends. Packed, a file is its path, two numbers and a 64-bit integer in
 * typed arrays (~24 bytes), and {@link PackedLocalFiles.get} builds the record when a step asks
 * for it (the plan and the executor look at one key at a time; the objects die young).
 */
import type { OwnRecords } from "./file-index.js";
import type { LocalFile } from "./types.js";
import { fitsInt64 } from "../util/mtime.js";

/** Files at first, doubled as needed. */
const FIRST_ROOM = 256;
/** The 64-bit integer that stands for "no nanosecond time" (a time that is exactly it goes to the side map). */
const NO_NS = -(2n ** 63n);

/**
 * Workspace files by key, packed (see the module's comment). The records it gives back are new
 * objects with the fields the listing gave (`path`, `size`, `mtimeMs`, and `mtimeNs` and `hash`
 * where present), equal to what was set but not the same object: a caller that changes a record
 * it got changes nothing here (none does), and identity is not kept (only a cloud record's is
 * ever asked, `rebuiltFromState`).
 */
export class PackedLocalFiles implements OwnRecords<LocalFile> {
  readonly #slots = new Map<string, number>();
  #paths: string[] = [];
  /** Size and mtimeMs per place. */
  #nums = new Float64Array(2 * FIRST_ROOM);
  /** mtimeNs per place ({@link NO_NS}: none, or see {@link #wideNs}). */
  #ns = new BigInt64Array(FIRST_ROOM);
  /** Nanosecond times a 64-bit integer cannot hold (before 1678 or after 2262: ext4 keeps times to 2446), by place. */
  #wideNs: Map<number, bigint> | undefined;
  /** Content hashes, where a record has one, by place. */
  #hashes: Map<number, string> | undefined;
  /** Places freed by a delete, taken again by the next new key. */
  #free: number[] = [];

  get size(): number {
    return this.#slots.size;
  }

  has(key: string): boolean {
    return this.#slots.has(key);
  }

  get(key: string): LocalFile | undefined {
    const slot = this.#slots.get(key);
    return slot === undefined ? undefined : this.#at(slot);
  }

  set(key: string, f: LocalFile): this {
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = this.#free.pop() ?? this.#grow();
      this.#slots.set(key, slot);
    }
    this.#paths[slot] = f.path;
    this.#nums[2 * slot] = f.size;
    this.#nums[2 * slot + 1] = f.mtimeMs;
    this.#wideNs?.delete(slot);
    this.#hashes?.delete(slot);
    const ns = f.mtimeNs;
    if (ns === undefined) this.#ns[slot] = NO_NS;
    else if (fitsInt64(ns) && ns !== NO_NS) this.#ns[slot] = ns;
    else {
      this.#ns[slot] = NO_NS;
      (this.#wideNs ??= new Map()).set(slot, ns);
    }
    if (f.hash !== undefined) (this.#hashes ??= new Map()).set(slot, f.hash);
    return this;
  }

  delete(key: string): boolean {
    const slot = this.#slots.get(key);
    if (slot === undefined) return false;
    this.#slots.delete(key);
    this.#paths[slot] = "";
    this.#wideNs?.delete(slot);
    this.#hashes?.delete(slot);
    this.#free.push(slot);
    return true;
  }

  clear(): void {
    this.#slots.clear();
    this.#paths = [];
    this.#free = [];
    this.#wideNs = undefined;
    this.#hashes = undefined;
  }

  keys(): IterableIterator<string> {
    return this.#slots.keys();
  }

  *paths(): IterableIterator<string> {
    for (const slot of this.#slots.values()) yield this.#paths[slot]!;
  }

  *values(): IterableIterator<LocalFile> {
    for (const slot of this.#slots.values()) yield this.#at(slot);
  }

  *entries(): IterableIterator<[string, LocalFile]> {
    for (const [key, slot] of this.#slots) yield [key, this.#at(slot)];
  }

  #at(slot: number): LocalFile {
    const path = this.#paths[slot]!;
    const size = this.#nums[2 * slot]!;
    const mtimeMs = this.#nums[2 * slot + 1]!;
    const packed = this.#ns[slot]!;
    const mtimeNs = packed !== NO_NS ? packed : this.#wideNs?.get(slot);
    const f: LocalFile = mtimeNs !== undefined ? { path, size, mtimeMs, mtimeNs } : { path, size, mtimeMs };
    const hash = this.#hashes?.get(slot);
    if (hash !== undefined) f.hash = hash;
    return f;
  }

  /** A new place at the end, the arrays grown to hold it. */
  #grow(): number {
    const slot = this.#paths.length;
    this.#paths.push("");
    if (this.#ns.length <= slot) {
      const nums = new Float64Array(this.#nums.length * 2);
      nums.set(this.#nums);
      this.#nums = nums;
      const ns = new BigInt64Array(this.#ns.length * 2);
      ns.set(this.#ns);
      this.#ns = ns;
    }
    return slot;
  }
}
