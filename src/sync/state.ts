/**
 * The sync state store: one JSON file per (provider description, cloud folder, workspace) in
 * `<stateDir>/sync/`. Written atomically (temp file, fsync, rename) and only after a run fully
 * succeeded, so an interrupted run is simply redone from the previous state.
 */
import { createHash, randomBytes, type Hash } from "node:crypto";
import { promises as fsp } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { StringDecoder } from "node:string_decoder";
import path from "node:path";
import { WorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";
import { CompactStateFiles, isStateFiles, stateFilesOf, type StateFiles } from "./state-files.js";
import type { StateEntry, SyncState } from "./types.js";

/** Identity of a state file. */
export interface StateIdentity {
  description: string;
  remotePath: string;
  workspace: string;
}

/** Path of the state file for `id` under `stateDir`. */
export function statePathFor(stateDir: string, id: StateIdentity): string {
  const digest = createHash("sha256").update(JSON.stringify([id.description, id.remotePath, path.resolve(id.workspace)])).digest("hex").slice(0, 20);
  return path.join(stateDir, "sync", `state-${digest}.json`);
}

/**
 * An empty record keyed by file path, without a prototype: a file named `__proto__`,
 * `constructor` or `toString` is a key like any other (on a plain object, reading such a key that
 * is not there finds Object.prototype's member, and assigning `__proto__` sets the prototype).
 */
export function pathRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

/**
 * Reads the state; `undefined` when there is none or it is unreadable (`onProblem` says why).
 * Without its per-folder digests: a caller may change the files and save them, and digests saved
 * beside files they were not computed from would hide changes (a run computes its own).
 */
export async function loadState(file: string, id: StateIdentity, onProblem?: (message: string) => void): Promise<SyncState | undefined> {
  const state = await loadStateWith(file, id, onProblem, () => {
    const files = pathRecord<StateEntry>();
    return {
      add(key, entry) {
        files[key] = entry as StateEntry; // (files has no prototype: a `__proto__` name is an own key)
        return true;
      },
      done: () => files,
    };
  });
  if (state !== undefined) delete state.folders;
  return state;
}

/** A state as a run holds it: its files compactly (see `state-files.ts`). */
export type RunState = Omit<SyncState, "files"> & { files: StateFiles };

/**
 * {@link loadState} for a run: the files held compactly, entries not in the state's shape left
 * out (as if the file had none).
 */
export async function loadRunState(file: string, id: StateIdentity, onProblem?: (message: string) => void, aside?: SetAside): Promise<RunState | undefined> {
  return loadStateWith(file, id, onProblem, () => {
    const files = new CompactStateFiles();
    if (aside === undefined) return { add: (key, entry) => files.add(key, entry), done: () => files.seal() };
    aside.count = 0;
    // (Neither held nor parsed: such entries are carried over as they are written, see carriedEntryLines.)
    const setAside = (key: string): boolean => aside.holds(key) && ++aside.count > 0;
    return { setAside, add: (key, entry) => setAside(key) || files.add(key, entry), done: () => files.seal() };
  });
}

/**
 * The entries a run leaves unread in the state file (those of folders found unchanged on both
 * sides, see `prepare.ts`): {@link loadRunState} counts them instead of holding them, and
 * {@link saveState} copies their lines from the file it was read from into the new one.
 */
export interface SetAside {
  /** True for the key of an entry left unread. */
  holds(key: string): boolean;
  /** How many were left unread (set by the load). */
  count: number;
  /** The `savedAt` of the state they were read from (a save checks that the file is still that one). */
  savedAt?: string;
}

/** A state's fields other than its files and ingest records (see {@link loadStateHead}). */
export type StateHeadFields = Omit<SyncState, "files" | "ingested">;

/**
 * Reads only the first line of a state written one file a line: every field but the files and the
 * ingest records (the per-folder digests among them), without reading the files. `undefined` when
 * there is none, or when it is another layout, damaged or another folder's: {@link loadRunState}
 * then reads it whole and says what is wrong.
 */
export async function loadStateHead(file: string, id: StateIdentity): Promise<StateHeadFields | undefined> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, "r");
  } catch {
    return undefined;
  }
  try {
    const decoder = new StringDecoder("utf8");
    const buf = Buffer.allocUnsafe(LOAD_CHUNK_BYTES);
    let text = "";
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) return undefined;
      const piece = decoder.write(buf.subarray(0, bytesRead));
      const nl = piece.indexOf("\n");
      if (nl < 0) {
        text += piece;
        // A state on one line has its first file right after the files' opening: not this layout.
        const open = text.indexOf(FILES_OPEN);
        if (open >= 0 && open + FILES_OPEN.length < text.length) return undefined;
        continue;
      }
      text += piece.slice(0, nl);
      break;
    }
    // (A state of one line, or another layout: read whole by the loader.)
    if (!text.endsWith(FILES_OPEN)) return undefined;
    const s = headOf(text);
    if (s === null || typeof s !== "object" || s.version !== 1 || !belongsTo(s, id)) return undefined;
    const { files: _, ingested: __, ...head } = s;
    return head;
  } catch {
    return undefined;
  } finally {
    await fh.close().catch(() => undefined);
  }
}

/** True when a state's identity fields are `id`'s. */
function belongsTo(s: Pick<SyncState, "description" | "remotePath" | "workspace">, id: StateIdentity): boolean {
  return s.description === id.description && s.remotePath === id.remotePath && s.workspace === path.resolve(id.workspace);
}

/** The state's first line (ending in `"files":{`) parsed, its files empty. Throws SyntaxError on damaged text. */
function headOf(firstLine: string): SyncState {
  return JSON.parse(`${firstLine}}}`) as SyncState;
}

/** Where the loader puts each file's entry as it reads them; `done` gives the files. */
interface FilesSink<F> {
  /** False when the entry was left out (not a state entry's shape). */
  add(key: string, entry: unknown): boolean;
  /** True when the entry of `key` is set aside unread (its line need not be parsed; counted by the sink). */
  setAside?(key: string): boolean;
  done(): F;
}

async function loadStateWith<F>(file: string, id: StateIdentity, onProblem: ((message: string) => void) | undefined, sink: () => FilesSink<F>): Promise<(Omit<SyncState, "files"> & { files: F }) | undefined> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, "r");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw toWorkspaceSyncError(err);
  }
  let s: StateHead;
  let files: FilesSink<F>;
  /** Whether an entry was left out as not in the state's shape (the digests then describe others). */
  let leftOut = false;
  const watched = (): FilesSink<F> => {
    leftOut = false;
    const f = sink();
    return {
      setAside: f.setAside,
      add(key, entry) {
        const kept = f.add(key, entry);
        if (!kept) leftOut = true;
        return kept;
      },
      done: () => f.done(),
    };
  };
  try {
    try {
      files = watched();
      s = await readStateJson(fh, files).catch(async (err: unknown) => {
        // Valid JSON in another layout after a first line like ours (a hand edit): parsed whole,
        // as before the state was read a line at a time; damaged text fails here too.
        if (!(err instanceof SyntaxError)) throw err;
        files = watched();
        return wholeState(await fsp.readFile(file, "utf8"), files);
      });
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (err instanceof SyntaxError || err instanceof TypeError) {
      onProblem?.(`sync state ${file} is damaged; treating this run as a first run (merge, no deletions)`);
      return undefined;
    }
    throw toWorkspaceSyncError(err);
  }
  if (s === null || typeof s !== "object" || s.version !== 1 || !s.hasFiles) {
    onProblem?.(`sync state ${file} has an unknown format; treating this run as a first run (merge, no deletions)`);
    return undefined;
  }
  // Keyed by path: no prototype (see pathRecord); JSON.parse made names such as `__proto__` own keys.
  if (typeof s.ingested === "object" && s.ingested !== null) Object.setPrototypeOf(s.ingested, null);
  if (!belongsTo(s, id)) {
    onProblem?.(`sync state ${file} belongs to another provider or folder; treating this run as a first run (merge, no deletions)`);
    return undefined;
  }
  const { hasFiles: _, filesVerified, ...head } = s;
  // Digests are used only beside the very entries they were computed from (a hand edit or an
  // entry left out as damaged would make them describe files the state does not hold).
  if (filesVerified !== true || leftOut) delete head.folders;
  return { ...head, files: files.done() };
}

/**
 * A state's fields other than its files, whether it had a files object, and whether its files'
 * text is the text its per-folder digests were saved with (see {@link FILES_SHA}).
 */
type StateHead = Omit<SyncState, "files"> & { hasFiles: boolean; filesVerified?: boolean };

/**
 * The trailer's field holding the SHA-256 of the files' text (the lines between the first line and
 * the closing one, joined by line breaks), written beside per-folder digests.
 */
const FILES_SHA = "filesSha256";

/** The hash {@link FILES_SHA} holds, as a reader computes it: given the files' lines (or blocks of them) in order, without the breaks between. */
class FilesTextHash {
  readonly #sha = createHash("sha256");
  #first = true;

  update(lines: string): void {
    this.#sha.update(this.#first ? lines : `\n${lines}`);
    this.#first = false;
  }

  hex(): string {
    return this.#sha.digest("hex");
  }
}

/** A state's text parsed whole (one line, or another layout): its files go to `files`. */
function wholeState(text: string, files: FilesSink<unknown>): StateHead {
  const parsed = JSON.parse(text) as unknown;
  if (parsed === null || typeof parsed !== "object") return parsed as StateHead;
  const { files: record, [FILES_SHA]: _, ...rest } = parsed as SyncState & { [FILES_SHA]?: unknown };
  const hasFiles = typeof record === "object" && record !== null && !Array.isArray(record);
  if (hasFiles) for (const k of Object.keys(record)) files.add(k, record[k]);
  return { ...rest, hasFiles };
}

/** Bytes read per call while loading the state. */
const LOAD_CHUNK_BYTES = 64 * 1024;

/**
 * The text of `fh` from its position, read {@link LOAD_CHUNK_BYTES} at a time and decoded as
 * UTF-8, in blocks of whole lines: each block ends where a piece's last line break was (the break
 * in neither block), and the text after the file's last break comes last, even empty. The blocks
 * joined with `\n` are the text. Only new text is searched: a state of one long line is one block,
 * scanned once.
 */
async function* lineBlocks(fh: FileHandle): AsyncGenerator<string> {
  const decoder = new StringDecoder("utf8");
  const buf = Buffer.allocUnsafe(LOAD_CHUNK_BYTES);
  let pending = "";
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    const text = bytesRead > 0 ? decoder.write(buf.subarray(0, bytesRead)) : decoder.end();
    const last = text.lastIndexOf("\n");
    if (last < 0) pending += text;
    else {
      yield pending + text.slice(0, last);
      pending = text.slice(last + 1);
    }
    if (bytesRead === 0) break;
  }
  yield pending;
}

/** The end of the first line of a state written one file a line (see {@link stateJsonPieces}). */
const FILES_OPEN = '"files":{';

/**
 * The state file's JSON, read in 64 KiB pieces where it was written one file a line (the whole
 * text of 100 000 files and its bytes are never held at once: ~32 MB at the start of every run),
 * and whole where it is one line (states written before, or by hand). Each piece's complete lines
 * are parsed in one call. Loading costs the same CPU as one parse of the whole text (10 loads
 * of a 40 000-file state: 2.0–2.5 s either way, profiled). Throws SyntaxError (or TypeError) on
 * damaged text.
 */
async function readStateJson(fh: FileHandle, files: FilesSink<unknown>): Promise<StateHead> {
  let header: SyncState | undefined;
  /** The text so far of a state read whole (one line, or another layout). */
  let whole: string | undefined;
  let trailer: string | undefined;
  const filesSha = new FilesTextHash();
  /** Complete lines after the first: files (`"name":{…},`), then the closing line (`}…`). */
  const onLines = (block: string): void => {
    if (trailer !== undefined) {
      if (block.trim() !== "") throw new SyntaxError("text after the end of the state");
      return;
    }
    const close = block.startsWith("}") ? 0 : block.indexOf("\n}");
    let entries = block;
    if (close >= 0) {
      trailer = block.slice(close === 0 ? 0 : close + 1);
      entries = block.slice(0, close);
    }
    // (Blocks are whole lines; the line break between two blocks is not in either.)
    if (entries !== "") {
      filesSha.update(entries);
    }
    if (files.setAside !== undefined) entries = linesNotSetAside(entries, files.setAside);
    entries = entries.trimEnd();
    if (entries.endsWith(",")) entries = entries.slice(0, -1);
    if (entries === "") return;
    const some = JSON.parse(`{${entries}}`) as Record<string, unknown>;
    // (JSON.parse makes a `__proto__` name an own key; Object.keys lists it.)
    for (const k of Object.keys(some)) files.add(k, some[k]);
  };
  for await (let block of lineBlocks(fh)) {
    if (whole !== undefined) {
      whole += `\n${block}`;
      continue;
    }
    if (header === undefined) {
      const nl = block.indexOf("\n");
      const first = nl < 0 ? block : block.slice(0, nl);
      if (!first.endsWith(FILES_OPEN)) {
        // One line (or another layout): parsed whole.
        whole = block;
        continue;
      }
      header = headOf(first);
      block = nl < 0 ? "" : block.slice(nl + 1);
    }
    if (block !== "") onLines(block);
  }
  if (whole !== undefined || header === undefined) return wholeState(whole ?? "", files);
  // The end: `}}`, or `},"ingested":{…}}`, and where digests were saved the files' hash.
  const { files: _, [FILES_SHA]: sha, ...tail } = JSON.parse(`{"files":{${trailer ?? ""}`) as Partial<SyncState> & { [FILES_SHA]?: unknown };
  const { files: __, ...head } = header;
  return { ...head, ...tail, hasFiles: true, filesVerified: typeof sha === "string" && sha === filesSha.hex() };
}

/** The entry lines of `block` (`"key":{…},` each) whose entry `setAside` does not take, joined again. */
function linesNotSetAside(block: string, setAside: (key: string) => boolean): string {
  const kept: string[] = [];
  for (const line of block.split("\n")) {
    const entry = line.endsWith(",") ? line.slice(0, -1) : line;
    if (entry.trim() !== "" && !setAside(entryLineKey(entry))) kept.push(entry);
  }
  return kept.join(",\n");
}

/**
 * Writes the state atomically (a run's {@link RunState} too). With `aside`, the entries a run left
 * unread in `file` are carried over from it, after `state`'s own (which must hold none of them).
 */
export async function saveState(file: string, state: SyncState | RunState, aside?: SetAside): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const fh = await fsp.open(tmp, "wx", 0o600);
    try {
      await writeStateJson(fh, state, aside && carriedEntryLines(file, aside));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true }).catch(() => undefined);
    throw toWorkspaceSyncError(err);
  }
}

/**
 * The lines of the entries `aside` left unread in the state file `file` (each without its comma),
 * read again as the new state is written. The file must still be the one they were read from: the
 * same `savedAt`, its entries' text matching the hash it carries, and as many set aside; otherwise
 * (another process wrote it meanwhile) the save fails and the state stays as that process left it.
 */
async function* carriedEntryLines(file: string, aside: SetAside): AsyncGenerator<string> {
  const changed = (): WorkspaceSyncError =>
    new WorkspaceSyncError("LOCKED", `The sync state ${file} was changed by another process during this run: this run's state was not saved (nothing is lost: the next run compares both sides again)`, { path: file, retryable: true });
  const fh = await fsp.open(file, "r").catch((err: unknown) => {
    throw (err as NodeJS.ErrnoException).code === "ENOENT" ? changed() : err;
  });
  try {
    const sha = new FilesTextHash();
    let head = true;
    let trailer: string | undefined;
    let seen = 0;
    for await (const block of lineBlocks(fh)) {
      for (const line of block.split("\n")) {
        if (trailer !== undefined) {
          trailer += `\n${line}`;
          continue;
        }
        if (head) {
          head = false;
          if (!line.endsWith(FILES_OPEN) || headOf(line).savedAt !== aside.savedAt) throw changed();
          continue;
        }
        if (line.startsWith("}")) {
          trailer = line;
          continue;
        }
        sha.update(line);
        const entry = line.endsWith(",") ? line.slice(0, -1) : line;
        if (!aside.holds(entryLineKey(entry))) continue;
        seen++;
        yield entry;
      }
    }
    const tail = trailer === undefined ? undefined : (JSON.parse(`{"files":{${trailer}`) as Record<string, unknown>)[FILES_SHA];
    if (tail !== sha.hex() || seen !== aside.count) throw changed();
  } catch (err) {
    if (err instanceof SyntaxError) throw changed();
    throw err;
  } finally {
    await fh.close();
  }
}

/** The key of one entry line of a state (`"key":{…}`). Throws SyntaxError on another shape. */
export function entryLineKey(line: string): string {
  if (line.charCodeAt(0) !== 34 /* " */) throw new SyntaxError("not an entry line");
  let i = 1;
  for (; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c === 34) break;
    if (c === 92 /* \\ */) i++;
  }
  if (line.charCodeAt(i + 1) !== 58 /* : */) throw new SyntaxError("not an entry line");
  return JSON.parse(line.slice(0, i + 1)) as string;
}

/** Bytes written per call while saving (the state of 100 000 files is ~16 MB of JSON). */
export const SAVE_CHUNK_BYTES = 256 * 1024;

/**
 * Writes {@link stateJsonPieces} through one buffer of {@link SAVE_CHUNK_BYTES}: each piece is
 * encoded into it as soon as it is made, so no text outlives its file's line. (Joined into strings
 * of 256 K characters first, the pieces lived through the young generation's collections, and the
 * old generation grew by a quarter of the whole state while saving: 16 MiB at 100 000 files.)
 */
async function writeStateJson(fh: FileHandle, state: SyncState | RunState, carried?: AsyncIterable<string>): Promise<void> {
  const buf = Buffer.allocUnsafeSlow(SAVE_CHUNK_BYTES);
  let used = 0;
  // writeFile, not write: it writes all it is given (at the handle's position), where write may
  // write part of it on a nearly full disk and report success.
  for await (const piece of carried ? stateJsonPiecesCarrying(state, carried) : stateJsonPieces(state)) {
    // (A UTF-16 code unit is at most 3 bytes of UTF-8.)
    const most = piece.length * 3;
    if (used > 0 && used + most > buf.length) {
      await fh.writeFile(buf.subarray(0, used));
      used = 0;
    }
    if (most > buf.length) await fh.writeFile(piece);
    else used += buf.write(piece, used);
  }
  if (used > 0) await fh.writeFile(buf.subarray(0, used));
}

/**
 * `JSON.stringify(state)` in pieces: the same JSON (a line break between members is whitespace),
 * one file a line, read back a line at a time by {@link loadState}. The first piece ends with
 * `"files":{`, each file is a piece of its own, and the last piece closes the files (and holds
 * the ingest records).
 */
export function* stateJsonPieces(state: SyncState | RunState): Generator<string> {
  const w = new StatePieces(state);
  yield w.head;
  for (const line of w.ownLines()) yield w.entry(line);
  yield w.close();
}

/** {@link stateJsonPieces} with `carried` entry lines (each `"key":{…}`, as written) after the state's own files. */
async function* stateJsonPiecesCarrying(state: SyncState | RunState, carried: AsyncIterable<string>): AsyncGenerator<string> {
  const w = new StatePieces(state);
  yield w.head;
  for (const line of w.ownLines()) yield w.entry(line);
  for await (const line of carried) yield w.entry(line);
  yield w.close();
}

/** The pieces of a state's text: the first line, one per file, the closing one (see {@link stateJsonPieces}). */
class StatePieces {
  readonly head: string;
  readonly #files: StateFiles;
  readonly #ingested: SyncState["ingested"];
  /** Beside per-folder digests, the hash of the files' text as a reader sees it (see FILES_SHA). */
  readonly #sha: Hash | undefined;
  #first = true;

  constructor(state: SyncState | RunState) {
    const { files, ingested, ...rest } = state;
    this.#files = isStateFiles(files) ? files : stateFilesOf(files);
    this.#ingested = ingested;
    this.#sha = rest.folders !== undefined ? createHash("sha256") : undefined;
    const head = JSON.stringify(rest).slice(0, -1);
    this.head = `${head}${head.length > 1 ? "," : ""}${FILES_OPEN}`;
  }

  /** The lines of the state's own files. */
  *ownLines(): Generator<string> {
    const keys = this.#files.keys();
    for (let slot = 0; slot < keys.length; slot++) yield `${JSON.stringify(keys[slot])}:${JSON.stringify(this.#files.entryAt(slot))}`;
  }

  /** The piece of one file's line. */
  entry(line: string): string {
    const piece = this.#first ? `\n${line}` : `,\n${line}`;
    // (The text a reader hashes starts after the first line's break.)
    this.#sha?.update(this.#first ? line : piece);
    this.#first = false;
    return piece;
  }

  /** The closing piece: the files' end, the ingest records, the files' hash. */
  close(): string {
    const shaField = this.#sha !== undefined ? `,"${FILES_SHA}":"${this.#sha.digest("hex")}"` : "";
    return `\n}${this.#ingested !== undefined ? `,"ingested":${JSON.stringify(this.#ingested)}` : ""}${shaField}}`;
  }
}
