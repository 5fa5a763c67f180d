/**
 * Pure decisions for the S3 provider: endpoint presets (R2, B2, custom), the multipart part size and
 * the retry plan. No I/O, so each is pinned by a table test.
 */
import { WorkspaceSyncError } from "../../errors.js";
import type { S3Settings } from "../../config/types.js";
import { clampTimerMs } from "../../util/timers.js";
import { maskEndpointCredentials, normalizeEndpoint, splitUrlCredentials } from "../../util/url-credentials.js";

const MiB = 1024 * 1024;

/** S3 allows at most this many parts per multipart upload. */
export const MAX_PARTS = 10_000;
/** Smallest part size we choose (S3's own minimum is 5 MiB). */
export const MIN_PART_SIZE = 8 * MiB;
/** Part size for a stream of unknown size: objects up to ~156 GiB fit in 10 000 parts. */
export const DEFAULT_PART_SIZE = 16 * MiB;
/** S3 limits a part to 5 MiB .. 5 GiB. */
const S3_MIN_PART = 5 * MiB;
const S3_MAX_PART = 5 * 1024 * MiB;
/** Parts in flight by default (fewer when parts are large, see {@link chooseQueueSize}). */
export const DEFAULT_QUEUE_SIZE = 3;
/** Part buffers an upload may hold by default: (parts in flight + the one being filled) x part size. */
export const DEFAULT_UPLOAD_BUFFER_BYTES = 64 * MiB;
/** Default total retry budget: B2 answers 500/503 by design while a pod is busy. */
export const DEFAULT_MAX_RETRY_SECONDS = 300;

/**
 * Default for `s3.idleTimeoutSeconds`: a request fails when no byte moves on its connection for
 * this long (no answer at all, or a transfer that stalled). An idle limit, not a total one, so a slow
 * but progressing large part is never cut off. With {@link IDLE_TIMEOUT_RETRIES} a server that
 * accepts connections and never answers fails a command in about two minutes.
 */
export const DEFAULT_IDLE_TIMEOUT_SECONDS = 60;
/** Retries after a request went idle (then the error names the endpoint and the fix). */
export const IDLE_TIMEOUT_RETRIES = 1;
/** Longest wait for a TCP (and TLS) connection to be established. */
export const CONNECT_TIMEOUT_MS = 10_000;

/** The network deadlines of one client, in ms (all safe for Node timers). */
export interface S3Deadlines {
  /** Socket idle limit per request. */
  idleMs: number;
  /** Connection establishment limit. */
  connectMs: number;
  /** After this long without an answer a request is logged as "still waiting", and again each period. */
  noticeMs: number;
}

/**
 * Deadlines from `s3.idleTimeoutSeconds` (default {@link DEFAULT_IDLE_TIMEOUT_SECONDS}); values are
 * clamped to what a Node timer holds (~24.8 days). The "still waiting" notice comes at half the limit.
 */
export function s3Deadlines(idleTimeoutSeconds: number | undefined): S3Deadlines {
  const seconds = idleTimeoutSeconds !== undefined && Number.isFinite(idleTimeoutSeconds) && idleTimeoutSeconds > 0 ? idleTimeoutSeconds : DEFAULT_IDLE_TIMEOUT_SECONDS;
  const idleMs = Math.max(1, clampTimerMs(seconds * 1000));
  return { idleMs, connectMs: Math.min(CONNECT_TIMEOUT_MS, idleMs), noticeMs: Math.max(1, Math.round(idleMs / 2)) };
}

/** What the client is built with after presets were applied. */
export interface ResolvedS3Endpoint {
  /** Endpoint URL with scheme and without userinfo (`user:password@`), or undefined for AWS. */
  endpoint: string | undefined;
  /**
   * Credentials that were written into the endpoint URL (`https://<key id>:<secret>@host`), split off
   * so the URL given to the SDK (and every message built from it) never carries them. Only present
   * when the URL had userinfo.
   */
  urlCredentials?: { accessKeyId: string; secretAccessKey?: string };
  region: string;
  forcePathStyle: boolean;
  /** Which preset matched, for logs. */
  preset: "aws" | "r2" | "b2" | "custom";
}

/**
 * Applies the presets that make common endpoints work without extra keys:
 * `*.r2.cloudflarestorage.com` → region `auto`; `s3.<region>.backblazeb2.com` → that region; any
 * custom endpoint → path-style addressing (MinIO, Ceph RGW, B2 and R2 all accept it; virtual-host
 * style needs wildcard DNS). Explicit settings always win. A bare host gets `https://`.
 * Userinfo in the URL is split off into `urlCredentials` (see {@link ResolvedS3Endpoint}).
 */
export function resolveS3Endpoint(settings: Pick<S3Settings, "endpoint" | "region" | "forcePathStyle">): ResolvedS3Endpoint {
  const raw = settings.endpoint?.trim();
  if (!raw) {
    return { endpoint: undefined, region: settings.region || "us-east-1", forcePathStyle: settings.forcePathStyle ?? false, preset: "aws" };
  }
  const withUserinfo = normalizeEndpoint(raw);
  // The raw text may hold a password: messages show everything up to its last `@` masked.
  const shown = JSON.stringify(maskEndpointCredentials(raw));
  let host: string;
  let endpoint: string;
  let urlCredentials: ResolvedS3Endpoint["urlCredentials"];
  try {
    host = new URL(withUserinfo).hostname.toLowerCase();
    const split = splitUrlCredentials(withUserinfo);
    endpoint = split.url;
    if (split.username) urlCredentials = { accessKeyId: split.username, ...(split.password ? { secretAccessKey: split.password } : {}) };
  } catch {
    throw new WorkspaceSyncError("CONFIG_INVALID", `s3.endpoint ${shown} is not a URL: use e.g. https://<account>.r2.cloudflarestorage.com`, { path: "s3.endpoint" });
  }
  // An unescaped `/ ? #` in a key or secret ends the URL's userinfo early: the rest of the secret
  // would be read as a port or path and kept in the URL (an `@` remains), and `//key:secret@host`
  // or `https:/key:secret@host` would be read with the wrong host. Refuse rather than guess.
  // (`https:key:secret@host`, without `//`, would read its user name as "https".)
  if (endpoint.includes("@") || /^(?:\/\/|[a-z][a-z0-9+.-]*:\/(?!\/)|https?:(?!\/))/i.test(raw)) {
    throw new WorkspaceSyncError(
      "CONFIG_INVALID",
      `s3.endpoint ${shown} cannot be read as a URL with a key and secret in it: percent-encode / ? # @ in the key or secret (%2F %3F %23 %40), or set s3.accessKeyId and s3.secretAccessKey instead`,
      { path: "s3.endpoint" },
    );
  }
  const extra = urlCredentials ? { urlCredentials } : {};
  const forcePathStyle = settings.forcePathStyle ?? true;
  if (host.endsWith(".r2.cloudflarestorage.com")) {
    return { endpoint, region: settings.region || "auto", forcePathStyle, preset: "r2", ...extra };
  }
  const b2 = /^s3\.([a-z0-9-]+)\.backblazeb2\.com$/.exec(host);
  if (b2) {
    return { endpoint, region: settings.region || b2[1]!, forcePathStyle, preset: "b2", ...extra };
  }
  return { endpoint, region: settings.region || "us-east-1", forcePathStyle, preset: "custom", ...extra };
}

/** The part size {@link choosePartSize} picked, and why it differs from the override if it does. */
export interface PartSizeChoice {
  /** Bytes per part; every part but the last has exactly this size. */
  partSize: number;
  /** Set when `partSizeMiB` had to be raised to stay under 10 000 parts. */
  warning?: string;
}

/**
 * Chooses one fixed part size for a multipart upload. Fixed because R2 rejects uploads whose
 * non-trailing parts differ in size; chosen up front because the size cannot change mid-upload.
 * `sizeHint` is an upper bound of the object size: the part size keeps it under 9 000 parts (headroom
 * below the 10 000 limit for an estimate that runs over), in whole MiB, at least 8 MiB.
 * `partSizeMiB` overrides, unless it would not fit the hinted size in 10 000 parts.
 */
export function choosePartSize(sizeHint: number | undefined, partSizeMiB?: number): PartSizeChoice {
  const needed = sizeHint !== undefined && sizeHint > 0 ? Math.ceil(sizeHint / (MAX_PARTS * 0.9) / MiB) * MiB : 0;
  if (partSizeMiB !== undefined) {
    const override = Math.round(partSizeMiB * MiB);
    if (!Number.isFinite(override) || override < S3_MIN_PART || override > S3_MAX_PART) {
      throw new WorkspaceSyncError("CONFIG_INVALID", `s3.partSizeMiB ${partSizeMiB} is out of range: use 5 to 5120 (MiB)`, { path: "s3.partSizeMiB" });
    }
    if (sizeHint !== undefined && Math.ceil(sizeHint / override) > MAX_PARTS) {
      const partSize = Math.min(S3_MAX_PART, Math.max(needed, MIN_PART_SIZE));
      return {
        partSize,
        warning: `s3.partSizeMiB ${partSizeMiB} would need more than ${MAX_PARTS} parts for ${sizeHint} bytes: using ${partSize / MiB} MiB for this upload`,
      };
    }
    return { partSize: override };
  }
  if (sizeHint === undefined) return { partSize: DEFAULT_PART_SIZE };
  return { partSize: Math.min(S3_MAX_PART, Math.max(needed, MIN_PART_SIZE)) };
}

/**
 * Parts in flight for one upload. An upload holds (queueSize + 1) part buffers, so by default the
 * count is lowered for large parts to keep that within {@link DEFAULT_UPLOAD_BUFFER_BYTES}
 * (8 and 16 MiB parts: 3 in flight; 24 MiB: 1 less; 32 MiB and up: 1). An explicit `s3.queueSize` wins.
 */
export function chooseQueueSize(partSize: number, queueSize?: number): number {
  if (queueSize !== undefined && Number.isFinite(queueSize)) return Math.max(1, Math.floor(queueSize));
  return Math.max(1, Math.min(DEFAULT_QUEUE_SIZE, Math.floor(DEFAULT_UPLOAD_BUFFER_BYTES / partSize) - 1));
}

/** How often and how long the SDK retries throttling, 5xx and network errors. */
export interface RetryPlan {
  /** Total attempts including the first (1 = no retries). */
  maxAttempts: number;
  /** Delay before retry number `attempt` (1-based), in ms, before jitter. */
  delays: number[];
}

/**
 * Exponential backoff (base doubling up to a cap) with as many attempts as fit in `maxRetrySeconds`
 * of total waiting. 300 s gives 1, 2, 4, 8, 16 s then 30 s steps: 14 attempts. Small budgets (tests)
 * scale the base and cap down so a few quick retries still happen.
 */
export function retryPlan(maxRetrySeconds: number = DEFAULT_MAX_RETRY_SECONDS): RetryPlan {
  const budget = Math.max(0, maxRetrySeconds) * 1000;
  const base = Math.max(10, Math.min(1000, budget / 8));
  const cap = Math.max(base, Math.min(30_000, budget / 4));
  const delays: number[] = [];
  let total = 0;
  for (let attempt = 1; attempt < 100; attempt++) {
    const delay = Math.min(cap, base * 2 ** (attempt - 1));
    if (total + delay > budget) break;
    delays.push(delay);
    total += delay;
  }
  return { maxAttempts: delays.length + 1, delays };
}
