/**
 * The sync state store: one JSON file per (provider description, cloud folder, workspace) in
 * `<stateDir>/sync/`. Written atomically (temp file, fsync, rename) and only after a run fully
 * succeeded, so an interrupted run is simply redone from the previous state.
 */
import { createHash, randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { toWorkspaceSyncError } from "../errors.js";
import type { SyncState } from "./types.js";

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

/** Reads the state; `undefined` when there is none or it is unreadable (`onProblem` says why). */
export async function loadState(file: string, id: StateIdentity, onProblem?: (message: string) => void): Promise<SyncState | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw toWorkspaceSyncError(err);
  }
  try {
    const s = JSON.parse(text) as SyncState;
    if (s.version !== 1 || typeof s.files !== "object" || s.files === null) {
      onProblem?.(`sync state ${file} has an unknown format; treating this run as a first run (merge, no deletions)`);
      return undefined;
    }
    // Keyed by path: no prototype (see pathRecord); JSON.parse made names such as `__proto__` own keys.
    Object.setPrototypeOf(s.files, null);
    if (typeof s.ingested === "object" && s.ingested !== null) Object.setPrototypeOf(s.ingested, null);
    if (s.description !== id.description || s.remotePath !== id.remotePath || s.workspace !== path.resolve(id.workspace)) {
      onProblem?.(`sync state ${file} belongs to another provider or folder; treating this run as a first run (merge, no deletions)`);
      return undefined;
    }
    return s;
  } catch {
    onProblem?.(`sync state ${file} is damaged; treating this run as a first run (merge, no deletions)`);
    return undefined;
  }
}

/** Writes the state atomically. */
export async function saveState(file: string, state: SyncState): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const fh = await fsp.open(tmp, "wx", 0o600);
    try {
      for (const chunk of stateJsonChunks(state)) await fh.write(chunk);
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

/** Text written per call while saving (the state of 100 000 files is ~16 MB of JSON). */
const SAVE_CHUNK_CHARS = 256 * 1024;

/**
 * `JSON.stringify(state)` in pieces of about {@link SAVE_CHUNK_CHARS}: the same text, without
 * holding all of it (and its bytes) at once at the end of a run that changed many files.
 */
export function* stateJsonChunks(state: SyncState): Generator<string> {
  const { files, ingested, ...rest } = state;
  let out = JSON.stringify(rest).slice(0, -1);
  out += `${out.length > 1 ? "," : ""}"files":{`;
  let first = true;
  for (const k of Object.keys(files)) {
    const entry = files[k];
    if (entry === undefined) continue; // as JSON.stringify leaves it out
    out += `${first ? "" : ","}${JSON.stringify(k)}:${JSON.stringify(entry)}`;
    first = false;
    if (out.length >= SAVE_CHUNK_CHARS) {
      yield out;
      out = "";
    }
  }
  out += "}";
  if (ingested !== undefined) out += `,"ingested":${JSON.stringify(ingested)}`;
  yield `${out}}`;
}
