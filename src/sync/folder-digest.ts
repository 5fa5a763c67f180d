/**
 * Per-folder digests of a sync state, so that a run can tell a folder unchanged without holding
 * the state's entries.
 *
 * The state records, for each folder, one digest of what it knows of the workspace's files in it
 * and one of the cloud's: SHA-256 over the folder's files (each as its key and exactly the fields
 * the change tests compare: `localMatches`, `remoteMatches`), in a canonical order. A listing that
 * gives a folder's files together computes the same digest of what it finds as each folder ends
 * ({@link FolderCheck}). Equal digests mean every file of the folder is listed exactly as the
 * state records it and no other is there: the folder's files are held as marks on the state
 * (`FileIndex`) without being compared one by one, and their records are dropped at once. When
 * every folder of both sides is unchanged, the run is over without reading the state's entries at
 * all (a no-change run holds one folder at a time, not one record per file). A folder that differs
 * keeps its records, and the run goes on as without digests.
 *
 * A digest is SHA-256 (its first 132 bits, 22 base64url characters) over length-prefixed fields:
 * whoever can write to the cloud folder cannot make a changed folder look unchanged. The state
 * carries the hash of its entries' text beside them (`state.ts`), so digests are used only with
 * the entries they were computed from.
 */
import { createHash } from "node:crypto";
import { pathRecord } from "./state.js";
import { changesOver, sameEntry, type StateFiles } from "./state-files.js";
import type { LocalSignature, RemoteSignature } from "./types.js";

/**
 * The digests a state records: by folder key (`""` for the top), one per side; neither where a
 * folder holds more than {@link MAX_DIGEST_FOLDER_FILES} files.
 */
export interface FolderDigests {
  /** Format of the digests (a change of what they cover makes older ones unused). */
  v: 1;
  local?: Record<string, string>;
  remote?: Record<string, string>;
}

/**
 * Most files of one folder a state keeps digests for. A listing holds each open folder's records
 * until the folder ends, and its digest sorts the folder's lines in one go: a folder of 30 000
 * files held ~25 MiB more than marks do and blocked the event loop for ~150 ms. A state with a
 * larger folder keeps no digests; its runs hold listed files as marks, one by one, as they come.
 */
export const MAX_DIGEST_FOLDER_FILES = 4096;

/** The folder key of a file's key: everything before its last `/` (`""` at the top). */
export function folderOf(key: string): string {
  const i = key.lastIndexOf("/");
  return i < 0 ? "" : key.slice(0, i);
}

/** A text field of a line, unambiguous whatever it holds (its length first), or `-` when absent. */
function field(s: string | undefined): string {
  return s === undefined ? "-" : `${s.length}:${s}`;
}

/** The line of a workspace file: its key and what `localMatches` compares. */
export function localLine(key: string, sig: LocalSignature): string {
  return `${key.length}:${key}|${sig.size}|${sig.mtimeMs}`;
}

/** The line of a cloud file: its key and what `remoteMatches` compares. */
export function remoteLine(key: string, sig: RemoteSignature): string {
  return `${key.length}:${key}|${sig.size}|${sig.mtimeMs ?? "-"}|${field(sig.hash)}|${field(sig.revision)}`;
}

/** The digest of one folder's lines (any order: they are sorted first). */
export function digestOfLines(lines: string[]): string {
  lines.sort();
  // UTF-16 as it is: UTF-8 would make every lone surrogate one replacement character.
  return createHash("sha256").update(lines.join("\n"), "utf16le").digest("base64url").slice(0, 22);
}

/**
 * Both sides' digests of every folder of `files` (computed when a state is saved). Given the state
 * it follows and that state's digests, a folder none of whose entries changed, came or went keeps
 * its digest (a run that changed one file hashes one folder).
 */
export function folderDigestsOf(files: StateFiles, prior?: { files: StateFiles; folders: FolderDigests | undefined }): FolderDigests {
  const steps = digestSteps(files, prior);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * {@link folderDigestsOf}, with `turn()` awaited after a folder is hashed once `everyMs` have
 * passed since the last turn: the same digests, in stretches of about `everyMs` (a folder is
 * hashed whole, and the first pass over the keys, grouping them by folder, is one stretch). A
 * first sync of 40 000 files hashed its 200 folders in one stretch of ~140 ms (~54 MB allocated:
 * each file's lines and the entries they are made from), so ~0.35 s at 100 000 files and ~0.7 s
 * at 200 000, in which a host's timers and I/O waited.
 */
export async function folderDigestsWithTurns(
  files: StateFiles,
  prior: { files: StateFiles; folders: FolderDigests | undefined } | undefined,
  turn: () => Promise<void>,
  everyMs: number,
): Promise<FolderDigests> {
  const steps = digestSteps(files, prior);
  let since = performance.now();
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    if (performance.now() - since >= everyMs) {
      await turn();
      since = performance.now();
    }
  }
}

/** The work of {@link folderDigestsOf}, a folder at a time (it yields after each folder it hashes). */
function* digestSteps(files: StateFiles, prior: { files: StateFiles; folders: FolderDigests | undefined } | undefined): Generator<void, FolderDigests> {
  const keys = files.keys();
  const before = prior && readFolderDigests(prior.folders);
  let touched: Set<string> | undefined;
  if (prior && before) {
    touched = new Set();
    // A run's entries over the prior ones: only its own can differ (no pass over every entry).
    const changes = changesOver(files, prior.files);
    const compared = changes?.own ?? keys.length;
    for (let slot = 0; slot < compared; slot++) {
      const other = prior.files.slotOf(keys[slot]!);
      if (other < 0 || !sameEntry(files.entryAt(slot), prior.files.entryAt(other))) touched.add(folderOf(keys[slot]!));
    }
    if (changes) for (const k of changes.dropped) touched.add(folderOf(k));
    else for (const k of prior.files.keys()) if (files.slotOf(k) < 0) touched.add(folderOf(k));
  }
  const local = pathRecord<string>();
  const remote = pathRecord<string>();
  const byFolder = new Map<string, number[]>();
  for (let slot = 0; slot < keys.length; slot++) {
    const folder = folderOf(keys[slot]!);
    if (before && !touched!.has(folder)) {
      const l = before.local.get(folder);
      const r = before.remote.get(folder);
      if (l !== undefined && r !== undefined) {
        local[folder] = l;
        remote[folder] = r;
        continue;
      }
    }
    const slots = byFolder.get(folder);
    if (slots === undefined) byFolder.set(folder, [slot]);
    else if (slots.push(slot) > MAX_DIGEST_FOLDER_FILES) return { v: 1 };
  }
  for (const [folder, slots] of byFolder) {
    const l: string[] = [];
    const r: string[] = [];
    for (const slot of slots) {
      const e = files.entryAt(slot);
      l.push(localLine(keys[slot]!, e.local));
      r.push(remoteLine(keys[slot]!, e.remote));
    }
    local[folder] = digestOfLines(l);
    remote[folder] = digestOfLines(r);
    yield;
  }
  return { v: 1, local, remote };
}

/** Both sides' digests as read from a state, or `undefined` when they are not in the shape {@link folderDigestsOf} writes. */
export function readFolderDigests(value: unknown): { local: Map<string, string>; remote: Map<string, string> } | undefined {
  const local = readSide(value, "local");
  const remote = local && readSide(value, "remote");
  return remote && { local: local!, remote };
}

function readSide(value: unknown, side: "local" | "remote"): Map<string, string> | undefined {
  if (value === null || typeof value !== "object") return undefined;
  const d = value as Partial<FolderDigests>;
  const record = d[side];
  if (d.v !== 1 || record === null || typeof record !== "object" || Array.isArray(record)) return undefined;
  const out = new Map<string, string>();
  // (JSON.parse made a folder named `__proto__` an own key; Object.keys lists it.)
  for (const k of Object.keys(record)) {
    const v = (record as Record<string, unknown>)[k];
    if (typeof v !== "string") return undefined;
    out.set(k, v);
  }
  return out;
}

/**
 * One listing's check of its folders against a state's digests of that side. The listing gives
 * each file whose key is its path (and that the state may describe) to {@link add}, says a folder
 * holds something else with {@link dirty}, and ends each folder with {@link end}, which hands back
 * the folder's records when it differs from the state (or nothing when it is unchanged: they are
 * marks then). A folder may end more than once (a listing that came back to it): it is then
 * changed, whatever it held, and its first verdict stands for the files seen before.
 */
export class FolderCheck<T> {
  readonly #expected: ReadonlyMap<string, string>;
  readonly #line: (f: T) => string;
  readonly #open = new Map<string, T[]>();
  readonly #ended = new Set<string>();
  readonly #dirty = new Set<string>();
  /** Folders found unchanged (their state entries are the listing's files there). */
  readonly clean = new Set<string>();
  #changed = false;

  /**
   * @param expected The state's digests of this side, by folder key.
   * @param line The line of a file (see {@link localLine}, {@link remoteLine}).
   */
  constructor(expected: ReadonlyMap<string, string>, line: (f: T) => string) {
    this.#expected = expected;
    this.#line = line;
  }

  /** A file of `folder` whose key is its path. */
  add(folder: string, f: T): void {
    const open = this.#open.get(folder);
    if (open === undefined) this.#open.set(folder, [f]);
    else open.push(f);
  }

  /** `folder` holds a file the state cannot describe as it is listed (kept as a record): it is changed. */
  dirty(folder: string): void {
    this.#dirty.add(folder);
  }

  /** A record outside any folder's digest (a file reached through a link): the run is not unchanged. */
  extra(): void {
    this.#changed = true;
  }

  /** Ends `folder`: its records to keep (changed), or an empty list (unchanged, or nothing in it). */
  end(folder: string): T[] {
    const files = this.#open.get(folder) ?? [];
    this.#open.delete(folder);
    const again = this.#ended.has(folder);
    this.#ended.add(folder);
    const expected = this.#expected.get(folder);
    if (!again && !this.#dirty.has(folder)) {
      if (expected === undefined && files.length === 0) return files;
      if (expected !== undefined && digestOfLines(files.map(this.#line)) === expected) {
        this.clean.add(folder);
        return [];
      }
    }
    this.#changed = true;
    return files;
  }

  /** Ends every folder still open (a listing's end); the records to keep. */
  endAll(): T[] {
    const out: T[] = [];
    for (const folder of [...this.#open.keys()]) for (const f of this.end(folder)) out.push(f);
    return out;
  }

  /** True when every folder the state knows was found unchanged and nothing else was listed. */
  unchanged(): boolean {
    // (Only folders the state knows are ever clean: as many means the same.)
    return !this.#changed && this.#dirty.size === 0 && this.clean.size === this.#expected.size;
  }
}
