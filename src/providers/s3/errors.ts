/**
 * Maps AWS SDK and socket errors to {@link WorkspaceSyncError}s whose message names the fix. The SDK
 * error itself is not kept as `cause`: S3 error bodies carry fields such as `AWSAccessKeyId` and
 * `StringToSign` that must not reach logs. A sanitised cause keeps name, HTTP status and request id.
 */
import { WorkspaceSyncError, abortError, type ErrorCode } from "../../errors.js";
import { redactUrlCredentials } from "../../util/url-credentials.js";
import { isIdleTimeout } from "./retry.js";

/** Where the failing request went, for the message. */
export interface S3ErrorContext {
  /** What was being done, e.g. `list "backups/"`. */
  operation: string;
  bucket: string;
  /** Endpoint URL, or `AWS S3` when none is configured. */
  endpoint: string;
  /** The object key involved, if any. */
  key?: string;
}

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number; requestId?: string };
  $response?: { headers?: Record<string, string> };
  cause?: unknown;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_FAIL",
  "EHOSTDOWN",
  "ENETDOWN",
  "ETIMEDOUT",
  "ECONNRESET",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EPIPE",
  "ECONNABORTED",
  "UND_ERR_SOCKET",
]);

/** The S3 error name (`NoSuchBucket`, `SlowDown`, ...), the socket code, or undefined. */
export function s3ErrorName(err: unknown): string | undefined {
  const e = err as SdkErrorShape | undefined;
  return e?.name && e.name !== "Error" ? e.name : e?.code;
}

/** HTTP status of an SDK error, when it got a response. */
export function s3ErrorStatus(err: unknown): number | undefined {
  return (err as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
}

function sanitisedCause(err: unknown): Error {
  const e = (err ?? {}) as SdkErrorShape;
  const status = e.$metadata?.httpStatusCode;
  const requestId = e.$metadata?.requestId;
  const cause = new Error(
    redactUrlCredentials(`${s3ErrorName(err) ?? "Error"}${status ? ` (HTTP ${status})` : ""}: ${e.message ?? String(err)}${requestId ? ` [request id ${requestId}]` : ""}`),
  );
  cause.name = s3ErrorName(err) ?? "Error";
  return cause;
}

/** TLS failures: the endpoint answered, but not with a certificate we trust (or not with TLS at all). */
function tlsCode(err: unknown): string | undefined {
  for (let e = err as SdkErrorShape | undefined, depth = 0; e && depth < 3; e = e.cause as SdkErrorShape | undefined, depth++) {
    const code = e.code ?? "";
    if (/^(CERT_|ERR_TLS_|ERR_SSL_)|_CERT|_SIGNATURE$/.test(code)) return code;
  }
  return undefined;
}

function networkCode(err: unknown): string | undefined {
  // The SDK may wrap the socket error; look one level down too.
  for (let e = err as SdkErrorShape | undefined, depth = 0; e && depth < 3; e = e.cause as SdkErrorShape | undefined, depth++) {
    if (e.code && NETWORK_CODES.has(e.code)) return e.code;
    if (e.name === "TimeoutError") return "timeout";
  }
  return undefined;
}

/** Converts any error from an S3 call into a typed error with a fix in its message. */
export function mapS3Error(err: unknown, ctx: S3ErrorContext): WorkspaceSyncError {
  if (err instanceof WorkspaceSyncError) return err;
  const e = (err ?? {}) as SdkErrorShape;
  if (e.name === "AbortError" || e.code === "ABORT_ERR") return abortError(err);
  const name = s3ErrorName(err);
  const status = s3ErrorStatus(err);
  const where = ctx.key === undefined ? "" : ` (key ${JSON.stringify(ctx.key)})`;
  const make = (code: ErrorCode, message: string, retryable = false) =>
    new WorkspaceSyncError(code, `S3 ${ctx.operation} failed${where}: ${message}`, { path: ctx.key, cause: sanitisedCause(err), retryable });

  if (isIdleTimeout(err)) {
    const ms = /after (\d+) ms/.exec((err as SdkErrorShape).message ?? "")?.[1];
    const seconds = ms ? ` for ${Math.round(Number(ms) / 100) / 10} s` : "";
    const attempts = (err as { $metadata?: { attempts?: number } }).$metadata?.attempts;
    return make(
      "NETWORK",
      `${ctx.endpoint} sent nothing${seconds}${attempts && attempts > 1 ? ` (${attempts} attempts)` : ""}: no answer, or a stalled transfer; check that s3.endpoint is an S3 server and the network works, or raise s3.idleTimeoutSeconds if the server is just slow`,
      true,
    );
  }
  const net = networkCode(err);
  if (net) {
    return make("NETWORK", `cannot reach ${ctx.endpoint} (${net}): check s3.endpoint and the network connection`, true);
  }
  const tls = tlsCode(err);
  if (tls) {
    return make("NETWORK", `the TLS connection to ${ctx.endpoint} failed (${tls}): check s3.endpoint (https vs http, host name) or trust its CA with NODE_EXTRA_CA_CERTS`);
  }
  switch (name) {
    case "NoSuchBucket":
      return make("BUCKET_NOT_FOUND", `bucket "${ctx.bucket}" does not exist at ${ctx.endpoint}: create it or fix s3.bucket`);
    case "NoSuchKey":
    case "NoSuchUpload":
      return make("NOT_FOUND", "the object does not exist");
    case "AccessDenied":
    case "Forbidden":
    case "AllAccessDisabled":
    case "AccountProblem":
      return make("ACCESS_DENIED", `access denied to bucket "${ctx.bucket}": check s3.accessKeyId/s3.secretAccessKey and that the key may use this bucket`);
    case "InvalidAccessKeyId":
    case "SignatureDoesNotMatch":
    case "InvalidToken":
    case "CredentialsProviderError":
      return make(
        "ACCESS_DENIED",
        name === "CredentialsProviderError"
          ? "no S3 credentials found: set s3.accessKeyId and s3.secretAccessKey (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
          : `${ctx.endpoint} rejected the credentials (${name}): check s3.accessKeyId/s3.secretAccessKey`,
      );
    case "ExpiredToken":
    case "TokenRefreshRequired":
      return make("AUTH_EXPIRED", "the session token has expired: renew s3.sessionToken (or the credentials it came from)");
    case "RequestTimeTooSkewed":
      return make("CLOCK_SKEW", "this machine's clock differs too much from the server's: sync the system clock (NTP)");
    case "PermanentRedirect":
    case "AuthorizationHeaderMalformed":
    case "IllegalLocationConstraintException":
    case "InvalidRegion":
      return make("CONFIG_INVALID", `wrong region or endpoint for bucket "${ctx.bucket}" (${name}): fix s3.region or s3.endpoint`);
    case "SlowDown":
    case "TooManyRequests":
    case "ServiceUnavailable":
    case "RequestLimitExceeded":
      return make("RATE_LIMITED", `${ctx.endpoint} is throttling requests (${name}) and retries ran out: try again later or raise s3.maxRetrySeconds`, true);
    case "EntityTooLarge":
    case "TooManyParts":
      return make("PROVIDER_ERROR", `${name}: the object is too large for the part size: raise s3.partSizeMiB`);
  }
  if (status === 301 || status === 307) {
    const region = e.$response?.headers?.["x-amz-bucket-region"];
    return make("CONFIG_INVALID", `bucket "${ctx.bucket}" is served from another region${region ? ` (${region})` : ""}: fix s3.region or s3.endpoint`);
  }
  if (status === 404 && name === "NotFound") return make("NOT_FOUND", "not found");
  if (status === 401 || status === 403) {
    return make("ACCESS_DENIED", `access denied (HTTP ${status}): check s3.accessKeyId/s3.secretAccessKey and the bucket permissions`);
  }
  if (status === 429 || status === 503) {
    return make("RATE_LIMITED", `${ctx.endpoint} is throttling requests (HTTP ${status}) and retries ran out: try again later or raise s3.maxRetrySeconds`, true);
  }
  if (status !== undefined && status >= 500) {
    return make("PROVIDER_ERROR", `${ctx.endpoint} failed (${name ?? "HTTP " + status}) and retries ran out: try again later`, true);
  }
  return make("PROVIDER_ERROR", `${name ?? "error"}: ${e.message ?? String(err)}`);
}
