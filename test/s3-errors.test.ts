import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { inspect } from "node:util";
import type { Logger } from "../src/logger.js";
import { isWorkspaceSyncError, type ErrorCode } from "../src/errors.js";
import { createS3Provider, mapS3Error } from "../src/providers/s3/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { CLOSED_ENDPOINT, s3TestSettings } from "./support/s3.js";

const SECRET = "very-secret-key-do-not-print";

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m), debug: (m) => lines.push(m) };
}

/** Asserts `promise` rejects with `code`, a message matching `message`, and nothing secret anywhere in it. */
async function rejectsWith(promise: Promise<unknown>, code: ErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isWorkspaceSyncError(err), `not a WorkspaceSyncError: ${inspect(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    assert.ok(!inspect(err, { depth: 10 }).includes(SECRET), "the secret key leaked into the error");
    return true;
  });
}

test("wrong secret key: ACCESS_DENIED naming the settings, never the key", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const logger = recordingLogger();
  const p = createS3Provider({ ...s3, secretAccessKey: SECRET }, { logger });
  t.after(() => p.close?.());
  await rejectsWith(p.check(), "ACCESS_DENIED", /s3\.accessKeyId\/s3\.secretAccessKey/);
  await rejectsWith(collect(p, ""), "ACCESS_DENIED", /rejected the credentials.*s3\.accessKeyId/);
  await rejectsWith(p.write("x", Readable.from([Buffer.from("x")])), "ACCESS_DENIED", /s3\.secretAccessKey/);
  assert.ok(!logger.lines.join("\n").includes(SECRET));
});

test("wrong access key id: ACCESS_DENIED", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const p = createS3Provider({ ...s3, accessKeyId: "NOSUCHKEY" }, { logger: recordingLogger() });
  t.after(() => p.close?.());
  await rejectsWith(collect(p, ""), "ACCESS_DENIED", /InvalidAccessKeyId.*s3\.accessKeyId/);
});

test("missing bucket: BUCKET_NOT_FOUND with the bucket, the endpoint and the fix", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const bucket = `${s3.bucket}-missing`;
  const p = createS3Provider({ ...s3, bucket }, { logger: recordingLogger() });
  t.after(() => p.close?.());
  const expected = new RegExp(`bucket "${bucket}" does not exist at ${s3.endpoint}: create it or fix s3\\.bucket`);
  await rejectsWith(p.check(), "BUCKET_NOT_FOUND", expected);
  await rejectsWith(collect(p, "backups"), "BUCKET_NOT_FOUND", expected);
  await rejectsWith(p.write("a.txt", Readable.from([Buffer.from("a")])), "BUCKET_NOT_FOUND", expected);
  await rejectsWith(p.cleanupIncomplete("", 0), "BUCKET_NOT_FOUND", expected);
});

test("unreachable endpoint: NETWORK naming the endpoint, after short retries", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const endpoint = CLOSED_ENDPOINT;
  const p = createS3Provider({ ...s3, endpoint, maxRetrySeconds: 0.3 }, { logger: recordingLogger() });
  t.after(() => p.close?.());
  const expected = new RegExp(`cannot reach ${endpoint} \\(ECONNREFUSED\\): check s3\\.endpoint`);
  await rejectsWith(p.check(), "NETWORK", expected);
  await rejectsWith(p.stat("a"), "NETWORK", expected);
  await rejectsWith(p.write("a", Readable.from([Buffer.from("a")])), "NETWORK", expected);
});

test("S3 error names map to their own codes", () => {
  const ctx = { operation: "list", bucket: "b", endpoint: "https://s3.example" };
  const cases: Array<[object, ErrorCode, RegExp]> = [
    [{ name: "NoSuchBucket", $metadata: { httpStatusCode: 404 } }, "BUCKET_NOT_FOUND", /bucket "b" does not exist at https:\/\/s3\.example/],
    [{ name: "NoSuchKey", $metadata: { httpStatusCode: 404 } }, "NOT_FOUND", /does not exist/],
    [{ name: "RequestTimeTooSkewed", $metadata: { httpStatusCode: 403 } }, "CLOCK_SKEW", /clock/],
    [{ name: "PermanentRedirect", $metadata: { httpStatusCode: 301 } }, "CONFIG_INVALID", /s3\.region or s3\.endpoint/],
    [{ name: "AuthorizationHeaderMalformed", $metadata: { httpStatusCode: 400 } }, "CONFIG_INVALID", /s3\.region/],
    [{ name: "SlowDown", $metadata: { httpStatusCode: 503 } }, "RATE_LIMITED", /maxRetrySeconds/],
    [{ name: "InternalError", $metadata: { httpStatusCode: 500 } }, "PROVIDER_ERROR", /try again later/],
    [{ name: "ExpiredToken", $metadata: { httpStatusCode: 400 } }, "AUTH_EXPIRED", /sessionToken/],
    [Object.assign(new Error("getaddrinfo ENOTFOUND s3.example"), { code: "ENOTFOUND" }), "NETWORK", /cannot reach https:\/\/s3\.example/],
    [{ name: "TimeoutError" }, "NETWORK", /timeout/],
    [{ name: "AbortError" }, "ABORTED", /aborted/],
  ];
  for (const [err, code, message] of cases) {
    const mapped = mapS3Error(err, ctx);
    assert.equal(mapped.code, code, JSON.stringify(err));
    assert.match(mapped.message, message);
  }
  const signature = mapS3Error({ name: "SignatureDoesNotMatch", AWSAccessKeyId: "AKIASECRET", StringToSign: "x", $metadata: { httpStatusCode: 403 } }, ctx);
  assert.equal(signature.code, "ACCESS_DENIED");
  assert.ok(!inspect(signature, { depth: 10 }).includes("AKIASECRET"), "raw S3 error fields are not kept");
  assert.equal(mapS3Error({ name: "SlowDown", $metadata: { httpStatusCode: 503 } }, ctx).retryable, true);
});

async function collect(p: StorageProvider, dir: string): Promise<void> {
  for await (const _ of p.list(dir)) void _;
}

test("a password in s3.endpoint never reaches errors or logs (missing bucket, unreachable endpoint)", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const logger = recordingLogger();
  const withSecret = (endpoint: string) => endpoint.replace("://", `://${s3.accessKeyId}:${SECRET}@`);
  const missing = createS3Provider({ ...s3, bucket: `${s3.bucket}-missing`, endpoint: withSecret(s3.endpoint!) }, { logger });
  t.after(() => missing.close?.());
  // The explicit keys sign; the URL's are ignored (with a warning) and shown as ***.
  await rejectsWith(missing.check(), "BUCKET_NOT_FOUND", /does not exist at http:\/\/\*\*\*@127\.0\.0\.1:\d+: create it/);
  await rejectsWith(collect(missing, ""), "BUCKET_NOT_FOUND", /http:\/\/\*\*\*@/);
  const endpoint = CLOSED_ENDPOINT;
  const down = createS3Provider({ ...s3, endpoint: withSecret(endpoint), maxRetrySeconds: 0.3 }, { logger });
  t.after(() => down.close?.());
  await rejectsWith(down.stat("a"), "NETWORK", /cannot reach http:\/\/\*\*\*@127\.0\.0\.1:\d+ \(ECONNREFUSED\)/);
  assert.ok(!logger.lines.join("\n").includes(SECRET));
});
