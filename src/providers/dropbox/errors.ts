import { WorkspaceSyncError, abortError, errorMessage } from "../../errors.js";

/** The re-authorisation advice every AUTH_EXPIRED error carries. */
export const REAUTH_ADVICE = "create a new token in the Dropbox App Console or re-run authorization, then set dropbox.token";

/** An HTTP error answer from Dropbox, from the SDK or from our own streamed calls. */
export interface DropboxHttpFailure {
  status: number;
  /** Value of the `Retry-After` header, when present. */
  retryAfterHeader?: string | null;
  /** Parsed JSON body, or the text body. */
  body: unknown;
}

/** How a failed call should be handled. */
export type FailureKind = "rate-limit" | "server" | "network" | "token-expired" | "fatal" | "aborted";

/** A failure classified for the retry loop. */
export interface ClassifiedFailure {
  kind: FailureKind;
  /** Dropbox `error_summary` (or a short description) for messages and mapping. */
  summary: string;
  /** Seconds Dropbox asked us to wait. */
  retryAfterSec?: number;
  status?: number;
}

/** Pulls status, headers and body out of an SDK `DropboxResponseError` or our own failures. */
export function asHttpFailure(err: unknown): DropboxHttpFailure | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as { status?: unknown; headers?: unknown; error?: unknown; body?: unknown; retryAfterHeader?: unknown };
  if (typeof e.status !== "number") return undefined;
  let retryAfterHeader: string | null | undefined;
  if (typeof e.retryAfterHeader === "string") retryAfterHeader = e.retryAfterHeader;
  else if (e.headers && typeof (e.headers as { get?: unknown }).get === "function") {
    retryAfterHeader = (e.headers as { get(name: string): string | null }).get("retry-after");
  }
  return { status: e.status, retryAfterHeader, body: "error" in e ? e.error : e.body };
}

/** The `error_summary` (or OAuth `error`) of a failure body. */
export function summaryOf(body: unknown): string {
  if (typeof body === "string") return body.slice(0, 200);
  if (typeof body === "object" && body !== null) {
    const b = body as Record<string, unknown>;
    if (typeof b.error_summary === "string") return b.error_summary;
    if (typeof b.error === "string") return b.error;
    const inner = b.error as Record<string, unknown> | undefined;
    if (inner && typeof inner[".tag"] === "string") return inner[".tag"] as string;
  }
  return "";
}

function retryAfterOf(f: DropboxHttpFailure): number | undefined {
  const h = f.retryAfterHeader != null ? Number(f.retryAfterHeader) : NaN;
  if (Number.isFinite(h) && h >= 0) return h;
  const body = f.body as { error?: { retry_after?: unknown } } | undefined;
  const r = body?.error?.retry_after;
  return typeof r === "number" && r >= 0 ? r : undefined;
}

/** Classifies any error thrown by a Dropbox call. */
export function classifyFailure(err: unknown): ClassifiedFailure {
  if (err instanceof WorkspaceSyncError) {
    if (err.code === "ABORTED") return { kind: "aborted", summary: err.message };
    return { kind: "fatal", summary: err.message };
  }
  const name = (err as { name?: unknown } | undefined)?.name;
  if (name === "AbortError") return { kind: "aborted", summary: "aborted" };
  const f = asHttpFailure(err);
  if (!f) return { kind: "network", summary: errorMessage(err) };
  const summary = summaryOf(f.body);
  const retryAfterSec = retryAfterOf(f);
  if (f.status === 429 || /too_many_requests|too_many_write_operations/.test(summary)) {
    return { kind: "rate-limit", summary, retryAfterSec, status: f.status };
  }
  if (f.status === 401 && /expired_access_token/.test(summary)) return { kind: "token-expired", summary, status: f.status };
  if (f.status >= 500) return { kind: "server", summary: summary || `HTTP ${f.status}`, status: f.status, retryAfterSec };
  return { kind: "fatal", summary: summary || `HTTP ${f.status}`, status: f.status };
}

/** Turns a failed Dropbox call into a typed error naming the fix. `path` is the provider path involved. */
export function toDropboxError(err: unknown, path?: string): WorkspaceSyncError {
  if (err instanceof WorkspaceSyncError) return err;
  const c = classifyFailure(err);
  const at = path !== undefined ? ` (${path === "" ? "/" : path})` : "";
  const opts = { path, cause: err };
  if (c.kind === "aborted") return abortError(err);
  const s = c.summary;
  if (c.status === 401 || /invalid_grant|invalid_access_token|expired_access_token|invalid_client/.test(s)) {
    if (/missing_scope/.test(s)) {
      return new WorkspaceSyncError("ACCESS_DENIED", `Dropbox token lacks a permission (${s}): enable files.metadata.read/write and files.content.read/write for the app, then ${REAUTH_ADVICE}`, opts);
    }
    return new WorkspaceSyncError("AUTH_EXPIRED", `Dropbox authorization expired or was revoked (${s.split("/")[0] || "401"}): ${REAUTH_ADVICE}`, opts);
  }
  if (c.kind === "rate-limit") {
    return new WorkspaceSyncError("RATE_LIMITED", `Dropbox rate limit (${s})${at}: wait a few minutes, lower sync.concurrency or raise sync.interval`, { ...opts, retryable: true });
  }
  if (/insufficient_space/.test(s)) {
    return new WorkspaceSyncError("INSUFFICIENT_SPACE", `Dropbox is out of space${at}: free space in Dropbox or upgrade the plan`, opts);
  }
  if (/malformed_path|disallowed_name|too_long/.test(s)) {
    return new WorkspaceSyncError("INVALID_PATH", `Dropbox refuses the name${at} (${s}): rename the file or exclude it`, opts);
  }
  if (/(^|\/)not_found/.test(s) && !/lookup_failed\/(not_found|incorrect_offset)/.test(s)) {
    return new WorkspaceSyncError("NOT_FOUND", `Not found in Dropbox${at}`, opts);
  }
  if (/conflict/.test(s)) {
    return new WorkspaceSyncError("ALREADY_EXISTS", `Already exists in Dropbox${at}: pass overwrite to replace it`, opts);
  }
  if (/no_write_permission|restricted_content|team_folder|access_denied|missing_scope/.test(s)) {
    return new WorkspaceSyncError("ACCESS_DENIED", `Dropbox denied access${at} (${s}): check the app's permissions and folder sharing`, opts);
  }
  if (c.kind === "network") {
    return new WorkspaceSyncError("NETWORK", `Cannot reach Dropbox${at}: ${s}; check the network connection`, { ...opts, retryable: true });
  }
  if (c.kind === "server") {
    return new WorkspaceSyncError("PROVIDER_ERROR", `Dropbox server error${at} (${s}): try again later`, { ...opts, retryable: true });
  }
  return new WorkspaceSyncError("PROVIDER_ERROR", `Dropbox error${at}: ${s}`, opts);
}
