import { createHash, randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** One file in a saved listing (short keys: the snapshot can hold many thousand entries). */
export interface SavedEntry {
  /** Path relative to the listed folder, display case. */
  p: string;
  /** Size. */
  s: number;
  /** client_modified (ISO). */
  m?: string;
  /** content_hash. */
  h?: string;
  /** rev. */
  r?: string;
}

/** A listing snapshot and the cursor that continues from it. */
export interface ListingState {
  version: 1;
  cursor: string;
  /** Keyed by Dropbox `path_lower`. */
  entries: Record<string, SavedEntry>;
}

/**
 * Keeps list cursors and their snapshots between runs: one JSON file per listed root under
 * `stateDir` (written atomically: temp file + rename), or in memory when there is no stateDir.
 */
export class CursorStore {
  private readonly memory = new Map<string, ListingState>();

  constructor(private readonly stateDir: string | undefined) {}

  private file(key: string): string {
    const id = createHash("sha256").update(key).digest("hex").slice(0, 24);
    return join(this.stateDir ?? "", `dropbox-list-${id}.json`);
  }

  /** The saved state for `key`, or undefined (also when the file is unreadable or from another version). */
  async load(key: string): Promise<ListingState | undefined> {
    if (!this.stateDir) return this.memory.get(key);
    try {
      const parsed = JSON.parse(await readFile(this.file(key), "utf8")) as Partial<ListingState>;
      if (parsed.version !== 1 || typeof parsed.cursor !== "string" || typeof parsed.entries !== "object" || parsed.entries === null) return undefined;
      return parsed as ListingState;
    } catch {
      return undefined;
    }
  }

  /** Saves the state for `key` (atomically on disk). */
  async save(key: string, state: ListingState): Promise<void> {
    if (!this.stateDir) {
      this.memory.set(key, state);
      return;
    }
    await mkdir(this.stateDir, { recursive: true });
    const target = this.file(key);
    const tmp = `${target}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    try {
      await writeFile(tmp, JSON.stringify(state), { mode: 0o600 });
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** Forgets the state for `key`. */
  async drop(key: string): Promise<void> {
    this.memory.delete(key);
    if (this.stateDir) await rm(this.file(key), { force: true });
  }
}
