/**
 * S3 test settings against the Ceph RGW that scripts/run-tests.mjs starts (scripts/rgw.mjs) and
 * announces through WS_S3_ENDPOINT, WS_S3_ACCESS_KEY_ID and WS_S3_SECRET_ACCESS_KEY.
 * Each call creates a fresh bucket, emptied and removed when the test ends: one run of the suite (CI
 * runs it on three Node versions against one RGW) must fit the OSD's in-memory store.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TestContext } from "node:test";
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import type { S3Settings } from "../../src/config/types.js";
import { silentLogger } from "../../src/logger.js";
import { buildS3Client } from "../../src/providers/s3/client.js";
import { createS3Provider } from "../../src/providers/s3/index.js";
import type { StorageProvider } from "../../src/providers/types.js";
import { startFaultProxy } from "./fault-proxy.js";

/** Settings for `createS3Provider`, with the bucket always set. */
/**
 * An S3 endpoint nobody listens on: port 1 (tcpmux), never handed out as an ephemeral port. (A
 * port the kernel picked and that was closed again could be taken by another test file's server
 * while a test retries against it for seconds.)
 */
export const CLOSED_ENDPOINT = "http://127.0.0.1:1";

export type S3TestSettings = S3Settings & { bucket: string };

const INSTALL_HINT = "S3 tests need Ceph RGW: apt-get install -y --no-install-recommends radosgw ceph-mon ceph-osd ceph-common";

/** The RGW connection from the environment, or undefined when none was started. */
export function rgwFromEnv(): { endpoint: string; accessKeyId: string; secretAccessKey: string } | undefined {
  const endpoint = process.env.WS_S3_ENDPOINT;
  if (!endpoint) return undefined;
  return {
    endpoint,
    accessKeyId: process.env.WS_S3_ACCESS_KEY_ID ?? "testaccesskey",
    secretAccessKey: process.env.WS_S3_SECRET_ACCESS_KEY ?? "testsecretkey",
  };
}

/**
 * Returns settings for a new, empty bucket on the test RGW. Without RGW the test is skipped, except
 * under CI (`CI=true`) where that is a failure. Retries are kept short so failing tests fail fast.
 * Usage: `const s3 = await s3TestSettings(t); if (!s3) return;`
 */
export async function s3TestSettings(t: TestContext, overrides: Partial<S3Settings> = {}): Promise<S3TestSettings | undefined> {
  const rgw = rgwFromEnv();
  if (!rgw) {
    if (process.env.CI === "true") throw new Error(`RGW missing under CI (WS_S3_ENDPOINT is not set). ${INSTALL_HINT}`);
    t.skip(INSTALL_HINT);
    return undefined;
  }
  const settings = await createTestBucket(rgw, "ws-test-", overrides);
  t.after(() => removeTestBucket(settings));
  return settings;
}

/**
 * Empties and deletes a test bucket (objects, then unfinished multipart uploads, then the bucket).
 * Best effort: a test that broke the bucket on purpose must not fail in its clean-up.
 */
export async function removeTestBucket(settings: S3TestSettings): Promise<void> {
  const client = rawS3Client({ ...settings, maxRetrySeconds: 2 });
  const Bucket = settings.bucket;
  try {
    for (let token: string | undefined; ; ) {
      const page = await client.send(new ListObjectsV2Command({ Bucket, ContinuationToken: token }));
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key ? [{ Key: o.Key }] : []));
      if (keys.length > 0) await client.send(new DeleteObjectsCommand({ Bucket, Delete: { Objects: keys, Quiet: true } }));
      if (!page.IsTruncated) break;
      token = page.NextContinuationToken;
    }
    const uploads = await client.send(new ListMultipartUploadsCommand({ Bucket }));
    for (const u of uploads.Uploads ?? []) {
      if (u.Key && u.UploadId) await client.send(new AbortMultipartUploadCommand({ Bucket, Key: u.Key, UploadId: u.UploadId }));
    }
    await client.send(new DeleteBucketCommand({ Bucket }));
  } catch {
    // left for the throwaway RGW
  } finally {
    client.destroy();
  }
}

/**
 * Creates a new, empty bucket named `<prefix><random>` on `rgw` and returns settings for it (short
 * retries, so failing tests fail fast).
 */
export async function createTestBucket(
  rgw: { endpoint: string; accessKeyId: string; secretAccessKey: string },
  prefix: string,
  overrides: Partial<S3Settings> = {},
): Promise<S3TestSettings> {
  const bucket = `${prefix}${randomBytes(6).toString("hex")}`;
  const settings: S3TestSettings = { ...rgw, region: "us-east-1", maxRetrySeconds: 2, ...overrides, bucket };
  const client = rawS3Client(settings);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return settings;
}

/**
 * {@link s3TestSettings} plus a provider on that bucket, closed when the test ends.
 * Usage: `const fx = await s3TestProvider(t); if (!fx) return; const { s3, p } = fx;`
 */
export async function s3TestProvider(t: TestContext, overrides: Partial<S3Settings> = {}): Promise<{ s3: S3TestSettings; p: StorageProvider } | undefined> {
  const s3 = await s3TestSettings(t, overrides);
  if (!s3) return undefined;
  const p = createS3Provider(s3, { logger: silentLogger });
  t.after(() => p.close?.());
  return { s3, p };
}

/** {@link rawS3Client}, destroyed when the test ends. */
export function testS3Client(t: TestContext, settings: S3Settings): S3Client {
  const client = rawS3Client(settings);
  t.after(() => client.destroy());
  return client;
}

/** A bare SDK client built exactly as the provider builds its own, for arranging and inspecting tests. */
export function rawS3Client(settings: S3Settings): S3Client {
  return buildS3Client(settings).client;
}

/** What {@link startS3Proxy}'s hook may answer instead of forwarding. */
export interface FakeResponse {
  status: number;
  /** S3 error code for the XML body (omitted for HEAD). */
  code?: string;
}

/**
 * An HTTP proxy in front of the test RGW that forwards every request unchanged (Host header
 * included, so SigV4 signatures stay valid) unless `hook` answers it: a way to make the real server
 * throttle, fail or be strict on demand. `requests` counts what arrived. A thin wrapper over
 * {@link startFaultProxy}, which adds rules for dropped connections, delays and truncation.
 */
export async function startS3Proxy(
  target: string,
  hook: (req: IncomingMessage) => FakeResponse | undefined,
): Promise<{ endpoint: string; requests: () => number; close: () => Promise<void> }> {
  const proxy = await startFaultProxy({
    target,
    hook: (req) => {
      const fake = hook(req);
      return fake ? { kind: "status", status: fake.status, ...(fake.code ? { code: fake.code } : {}) } : undefined;
    },
  });
  return { endpoint: proxy.endpoint, requests: () => proxy.count(), close: () => proxy.close() };
}
