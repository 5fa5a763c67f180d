/** Bisync settings for child processes (no test-runner imports, so a child can load it). */
import type { SyncSettings } from "../../src/config/types.js";

/** Full bisync settings over cloud folder `share`, one transfer at a time. */
export function syncSettingsForChild(): SyncSettings {
  return {
    provider: "local",
    mode: "bisync",
    ingest: false,
    ingestPath: "inbox",
    notifyOnInbox: false,
    remotePath: "share",
    localPath: "",
    interval: 0,
    timeout: 0,
    onSessionStart: false,
    onSessionEnd: false,
    conflictResolve: "newer",
    exclude: [],
    copySymlinks: false,
    maxDelete: 50,
    concurrency: 1,
  };
}
