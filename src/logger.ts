/**
 * The logger shape the plugin host passes (info/warn/error, optional debug). Every module logs
 * through it; nothing writes to the console by itself.
 */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  debug?(message: string): void;
}

/** A logger that drops everything: the default when the caller passes none. */
export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
  debug() {},
};

/** Progress of a long transfer, reported through `onProgress` callbacks. */
export interface Progress {
  /** What is running: "backup", "restore", "upload", "download", "sync". */
  phase: string;
  /** Bytes processed so far (plain bytes read for a backup, bytes downloaded for a restore). */
  bytes: number;
  /** Expected total, when known. */
  totalBytes?: number;
  /** Files processed so far, when counted. */
  files?: number;
}

/** Callback for {@link Progress} reports. */
export type ProgressCallback = (progress: Progress) => void;
