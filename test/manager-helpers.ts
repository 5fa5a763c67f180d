/** Shared helpers of the manager tests: a recording logger, temp dirs, controllable fake operations. */
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { RunBackupParams, RunBackupResult } from "../src/backup/index.js";
import type { Logger } from "../src/logger.js";
import type { RunSyncOptions, SyncRunResult } from "../src/sync/index.js";

export interface LogLine {
  level: "info" | "warn" | "error" | "debug";
  message: string;
}

/** A logger that records every line. */
export function recordingLogger(): Logger & { lines: LogLine[]; text(level?: LogLine["level"]): string[] } {
  const lines: LogLine[] = [];
  return {
    lines,
    info: (message) => lines.push({ level: "info", message }),
    warn: (message) => lines.push({ level: "warn", message }),
    error: (message) => lines.push({ level: "error", message }),
    debug: (message) => lines.push({ level: "debug", message }),
    text: (level) => lines.filter((l) => !level || l.level === level).map((l) => l.message),
  };
}

/** A fresh temp folder; remove with {@link removeDir}. */
export async function tempDir(tag: string): Promise<string> {
  return fsp.mkdtemp(path.join(os.tmpdir(), `ws-manager-${tag}-`));
}

export async function removeDir(dir: string): Promise<void> {
  await fsp.rm(dir, { recursive: true, force: true });
}

/** One call of a controllable operation. */
export interface PendingCall<P, R> {
  params: P;
  settled: boolean;
  resolve(result: R): void;
}

/**
 * A fake operation whose calls stay pending until the test resolves them (or, with `autoResult`,
 * finish at once). An abort of the call's signal settles it with `abortResult` unless `ignoreAbort`.
 * `maxConcurrent` records the most calls that were pending at the same time.
 */
export function controllable<P extends { signal?: AbortSignal }, R>(abortResult: () => R) {
  const calls: PendingCall<P, R>[] = [];
  const state = { active: 0, maxConcurrent: 0, autoResult: undefined as R | undefined, ignoreAbort: false, onCall: undefined as ((p: P) => void | Promise<void>) | undefined };
  const fn = (params: P): Promise<R> =>
    new Promise<R>((resolve) => {
      state.active++;
      state.maxConcurrent = Math.max(state.maxConcurrent, state.active);
      const call: PendingCall<P, R> = {
        params,
        settled: false,
        resolve(result) {
          if (call.settled) return;
          call.settled = true;
          state.active--;
          resolve(result);
        },
      };
      calls.push(call);
      if (!state.ignoreAbort) params.signal?.addEventListener("abort", () => call.resolve(abortResult()), { once: true });
      void Promise.resolve(state.onCall?.(params)).then(() => {
        if (state.autoResult !== undefined) call.resolve(state.autoResult);
      });
    });
  return { fn, calls, state };
}

export const okBackup = (name = "backup-20260101T000000Z.tar.gz"): RunBackupResult => ({
  ok: true,
  snapshotName: name,
  encrypted: false,
  sizeBytes: 1024 * 1024,
  plainBytes: 2048 * 1024,
  sha256: "0".repeat(64),
  warnings: [],
});
export const failedBackup = (error = "disk on fire"): RunBackupResult => ({ ok: false, error, code: "PROVIDER_ERROR" });
export const abortedBackup = (): RunBackupResult => ({ ok: false, error: "Operation aborted", code: "ABORTED" });

export const okSync = (inboxFiles: string[] = []): SyncRunResult => ({ ok: true, mode: "mailbox", uploaded: [], downloaded: [], deleted: [], conflicts: [], inboxFiles });
export const failedSync = (message = "remote unreachable"): SyncRunResult => ({ ok: false, error: message, code: "NETWORK" });
export const abortedSync = (): SyncRunResult => ({ ok: false, error: "Operation aborted", code: "ABORTED" });

export function fakeBackup() {
  return controllable<RunBackupParams, RunBackupResult>(abortedBackup);
}
export function fakeSync() {
  return controllable<RunSyncOptions, SyncRunResult>(abortedSync);
}

/** Lets already-due callbacks run (real event-loop turns, no time assertion). */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((r) => setImmediate(r));
}

/** Polls `predicate` on real time until true; throws after `limitMs` with `what`. */
export async function waitUntil(predicate: () => boolean | Promise<boolean>, what: string, limitMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!(await predicate())) {
    if (Date.now() - start > limitMs) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Counts of active resources of one kind (e.g. "Timeout"). */
export function activeResources(kind: string): number {
  return process.getActiveResourcesInfo().filter((r) => r === kind).length;
}
