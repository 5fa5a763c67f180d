/**
 * Whether a restore or verify runs its helper thread (restore-thread.ts): the thread pays for
 * itself on a large snapshot (decryption and small-file creation off the main thread), but
 * starting one costs tens of milliseconds, more than the whole decode of a small snapshot. The
 * decision is made from the stored size before anything is read.
 */

/**
 * When a restore or verify uses a helper thread: `"auto"` (default) from a stored size of
 * {@link HELPER_THREAD_MIN_BYTES} on, `"always"` whatever the size, `"never"` (everything on the
 * calling thread, e.g. for a host that allows no worker threads). The result is the same either way.
 */
export type HelperThreadMode = "auto" | "always" | "never";

/**
 * Stored size from which `"auto"` starts the helper thread. Measured on the bench machine
 * (encrypted snapshots of small files, whole restores): the thread cost ~90 ms at 0.1–1.3 MiB
 * stored (its start and module load), broke even around 5 MiB, and gained from there (10 MiB:
 * 0.97 against 1.24 s).
 */
export const HELPER_THREAD_MIN_BYTES = 4 * 1024 * 1024;

/** Whether to start the helper thread for a snapshot of `storedBytes` (its listed or stat'ed size). */
export function wantsHelperThread(mode: HelperThreadMode | undefined, storedBytes: number): boolean {
  if (mode === "always") return true;
  if (mode === "never") return false;
  return storedBytes >= HELPER_THREAD_MIN_BYTES;
}
