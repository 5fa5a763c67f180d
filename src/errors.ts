/**
 * Typed errors. Every error the library reports is a {@link WorkspaceSyncError} with a stable
 * {@link ErrorCode}, the path or key involved where there is one, and a message that says what to do.
 * Messages never contain secrets (passphrases, keys, tokens): credentials inside URLs
 * (`http://user:pw@host`) are masked by the constructor and by {@link errorMessage}, whatever built them.
 */
import { redactUrlCredentials } from "./util/url-credentials.js";

/** Stable machine-readable error codes. */
export type ErrorCode =
  | "CONFIG_INVALID"
  | "CONFIG_MISSING_ENV"
  | "CONFIG_UNSUPPORTED"
  | "BACKUP_NOT_ENABLED"
  | "NO_BACKUP_SOURCES"
  | "PASSPHRASE_MISSING"
  | "WRONG_PASSPHRASE"
  | "SNAPSHOT_CORRUPT"
  | "SNAPSHOT_NOT_FOUND"
  | "INTEGRITY_MISMATCH"
  | "UNSAFE_ARCHIVE_ENTRY"
  | "TARGET_NOT_EMPTY"
  | "NOT_FOUND"
  | "ALREADY_EXISTS"
  | "BUCKET_NOT_FOUND"
  | "ACCESS_DENIED"
  | "AUTH_EXPIRED"
  | "CLOCK_SKEW"
  | "NETWORK"
  | "RATE_LIMITED"
  | "PROVIDER_ERROR"
  | "INSUFFICIENT_SPACE"
  | "INVALID_PATH"
  | "ABORTED"
  | "TIMEOUT"
  | "LOCKED"
  | "SYNC_SAFETY_ABORT"
  | "NOT_SUPPORTED"
  /** An authenticated snapshot's bytes or identity do not match its MAC (changed in storage). */
  | "SNAPSHOT_TAMPERED"
  /** A snapshot presented under another name than the one its MAC binds (renamed, swapped MAC file, rollback). */
  | "SNAPSHOT_SUBSTITUTED"
  /** A snapshot without a valid MAC where one is required (MAC file deleted, refused legacy snapshot). */
  | "SNAPSHOT_UNAUTHENTICATED"
  /** A snapshot shorter than its MAC file records (cut off in storage or in transfer). */
  | "SNAPSHOT_TRUNCATED"
  /** A failure inside workspace-sync itself, e.g. a helper thread that stopped (out of memory); retryable. */
  | "INTERNAL_ERROR";

/** Options for {@link WorkspaceSyncError}. */
export interface WorkspaceSyncErrorOptions {
  /** The file, key, snapshot or config path the error is about. */
  path?: string;
  /** The underlying error. */
  cause?: unknown;
  /** Whether retrying the same operation later may succeed. */
  retryable?: boolean;
}

/** Base class of every error the library throws or returns. */
export class WorkspaceSyncError extends Error {
  /** Stable error code. */
  readonly code: ErrorCode;
  /** The file, key, snapshot or config path the error is about, when there is one. */
  readonly path: string | undefined;
  /** Whether retrying later may succeed (network trouble, rate limits, 5xx). */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: WorkspaceSyncErrorOptions = {}) {
    super(redactUrlCredentials(message), options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WorkspaceSyncError";
    this.code = code;
    this.path = options.path;
    this.retryable = options.retryable ?? false;
  }
}

/** True when `err` is a {@link WorkspaceSyncError}, optionally with the given code. */
export function isWorkspaceSyncError(err: unknown, code?: ErrorCode): err is WorkspaceSyncError {
  return err instanceof WorkspaceSyncError && (code === undefined || err.code === code);
}

/** The error a cancelled operation reports. */
export function abortError(reason?: unknown): WorkspaceSyncError {
  if (reason instanceof WorkspaceSyncError) return reason;
  // Node's AbortError wraps the reason given to abort() as its cause: report that reason.
  const cause = (reason as { name?: string; cause?: unknown } | undefined)?.cause;
  if ((reason as { name?: string } | undefined)?.name === "AbortError" && cause !== undefined) return abortError(cause);
  const why = reason instanceof Error ? reason.message : reason === undefined ? "" : String(reason);
  return new WorkspaceSyncError("ABORTED", `Operation aborted${why ? `: ${why}` : ""}`, { cause: reason });
}

/** Throws the abort error when `signal` has fired. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal.reason);
}

/** A human-readable message for any thrown value. */
export function errorMessage(err: unknown): string {
  return redactUrlCredentials(err instanceof Error ? err.message : String(err));
}

/**
 * Turns any thrown value into a {@link WorkspaceSyncError}. Known node errors (ENOSPC, ENOENT,
 * EACCES, AbortError) get their own code and a message with the fix; anything else keeps its message.
 */
export function toWorkspaceSyncError(err: unknown, fallback: ErrorCode = "PROVIDER_ERROR"): WorkspaceSyncError {
  if (err instanceof WorkspaceSyncError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const p = typeof e?.path === "string" ? e.path : undefined;
  switch (e?.code) {
    case "ENOSPC":
      return new WorkspaceSyncError("INSUFFICIENT_SPACE", `No space left on device${p ? ` writing ${p}` : ""}: free disk space or restore to another folder`, { path: p, cause: err });
    case "ENOENT":
      return new WorkspaceSyncError("NOT_FOUND", `Not found: ${p ?? errorMessage(err)}`, { path: p, cause: err });
    case "EACCES":
    case "EPERM":
      return new WorkspaceSyncError("ACCESS_DENIED", `Permission denied${p ? `: ${p}` : ""}: check the file permissions`, { path: p, cause: err });
    case "ABORT_ERR":
      return abortError(err);
  }
  if (e?.name === "AbortError") return abortError(err);
  return new WorkspaceSyncError(fallback, errorMessage(err), { cause: err, path: p });
}
