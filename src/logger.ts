/**
 * The logger shape the plugin host passes (info/warn/error, optional debug). Every module logs
 * through it; nothing writes to the console by itself.
 */
import { redactUrlCredentials } from "./util/url-credentials.js";

export interface Logger {
  /** Progress and outcomes (`[backup] Snapshot uploaded: …`). */
  info(message: string): void;
  /** Something the user should look at; the operation went on. */
  warn(message: string): void;
  /** An operation failed. */
  error(message: string): void;
  /** Detail for troubleshooting; optional, as in the plugin host's logger. */
  debug?(message: string): void;
}

/** A logger that drops everything: the default when the caller passes none. */
export const silentLogger: Logger = {
  info() {},
  warn() {},
  error() {},
  debug() {},
};

/**
 * Wraps `logger` so every line has URL credentials masked (`http://***@host`): the last guard for
 * messages that carry an endpoint or a foreign error text.
 */
export function redactingLogger(logger: Logger): Logger {
  const debug = logger.debug;
  return {
    info: (m) => logger.info(redactUrlCredentials(m)),
    warn: (m) => logger.warn(redactUrlCredentials(m)),
    error: (m) => logger.error(redactUrlCredentials(m)),
    ...(debug ? { debug: (m: string) => debug.call(logger, redactUrlCredentials(m)) } : {}),
  };
}

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
