/**
 * Run lock: two runs (syncs of one folder pair, backups from one state folder) never overlap. Inside one process an in-memory set keyed by
 * the state file; across processes on one host a lock file created with `wx` that holds
 * pid, hostname and time. A lock left by a dead process on this host is taken over.
 */
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { WorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";

const held = new Set<string>();

/** Contents of a lock file. */
export interface LockInfo {
  pid: number;
  hostname: string;
  time: string;
}

/** A lock file whose content is unreadable counts as stale after this long (a crash between create and write). */
const UNREADABLE_STALE_MS = 60_000;

/** An acquired lock. */
export interface SyncLock {
  readonly file: string;
  release(): Promise<void>;
}

/** True when process `pid` is alive on this host. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes the lock for `stateFile` (the lock file is `<stateFile>.lock`), or throws `LOCKED` naming the holder. */
export async function acquireLock(stateFile: string, what: "sync" | "backup" = "sync"): Promise<SyncLock> {
  const file = `${stateFile}.lock`;
  if (held.has(file)) {
    throw new WorkspaceSyncError("LOCKED", `Another ${what} ${what === "sync" ? "of this folder " : ""}is already running in this process (lock ${file}); wait for it to finish`, { path: file, retryable: true });
  }
  held.add(file);
  try {
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const info: LockInfo = { pid: process.pid, hostname: os.hostname(), time: new Date().toISOString() };
    for (let attempt = 0; ; attempt++) {
      try {
        const fh = await fsp.open(file, "wx", 0o600);
        try {
          await fh.writeFile(JSON.stringify(info));
        } finally {
          await fh.close();
        }
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw toWorkspaceSyncError(err);
        const holder = await readHolder(file);
        if (attempt < 2 && holder.stale) {
          await fsp.rm(file, { force: true });
          continue;
        }
        throw new WorkspaceSyncError("LOCKED", `${what === "sync" ? "Sync" : "Backup"} is locked by ${holder.who} (lock file ${file}); wait for that run to finish, or delete the lock file if that process is gone`, {
          path: file,
          retryable: true,
        });
      }
    }
  } catch (err) {
    held.delete(file);
    throw err;
  }
  let released = false;
  return {
    file,
    async release() {
      if (released) return;
      released = true;
      held.delete(file);
      await fsp.rm(file, { force: true }).catch(() => undefined);
    },
  };
}

async function readHolder(file: string): Promise<{ stale: boolean; who: string }> {
  let text: string;
  let mtimeMs = Date.now();
  try {
    mtimeMs = (await fsp.stat(file)).mtimeMs;
    text = await fsp.readFile(file, "utf8");
  } catch {
    return { stale: true, who: "a process that just finished" };
  }
  try {
    const info = JSON.parse(text) as Partial<LockInfo>;
    if (typeof info.pid === "number" && typeof info.hostname === "string") {
      const who = `pid ${info.pid} on ${info.hostname} since ${info.time ?? "?"}`;
      if (info.hostname === os.hostname() && !pidAlive(info.pid)) return { stale: true, who };
      return { stale: false, who };
    }
  } catch {
    // fall through: unreadable
  }
  return { stale: Date.now() - mtimeMs > UNREADABLE_STALE_MS, who: "an unknown process (unreadable lock file)" };
}
