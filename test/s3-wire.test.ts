/**
 * Wire behaviour against RGW behind a proxy that injects what RGW itself never does on demand:
 * throttling (503 SlowDown), B2-style 500s, and MinIO/B2's insistence on Content-MD5 for DeleteObjects.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { silentLogger } from "../src/logger.js";
import { isWorkspaceSyncError } from "../src/errors.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import { s3TestSettings, startS3Proxy } from "./support/s3.js";

async function count(it: AsyncIterable<unknown>): Promise<number> {
  let n = 0;
  for await (const _ of it) n++;
  return n;
}

test("SlowDown and 500 answers are retried by the SDK's strategy until the server recovers", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  let failures = 0;
  const proxy = await startS3Proxy(s3.endpoint!, (req) => {
    if (req.method !== "GET" || failures >= 4) return undefined;
    failures++;
    return failures % 2 ? { status: 503, code: "SlowDown" } : { status: 500, code: "InternalError" };
  });
  t.after(() => proxy.close());
  const p = createS3Provider({ ...s3, endpoint: proxy.endpoint, maxRetrySeconds: 5 }, { logger: silentLogger });
  t.after(() => p.close?.());

  await p.write("x.txt", Readable.from([Buffer.from("x")]));
  assert.equal(await count(p.list("")), 1);
  assert.equal(failures, 4, "four injected failures were answered");
  assert.equal(proxy.requests(), 2 /* put + head */ + 5 /* list: 4 failures + success */);
});

test("throttling that outlasts maxRetrySeconds ends in a retryable RATE_LIMITED error", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const proxy = await startS3Proxy(s3.endpoint!, () => ({ status: 503, code: "SlowDown" }));
  t.after(() => proxy.close());
  const p = createS3Provider({ ...s3, endpoint: proxy.endpoint, maxRetrySeconds: 0.2 }, { logger: silentLogger });
  t.after(() => p.close?.());
  await assert.rejects(count(p.list("")), (err: unknown) => isWorkspaceSyncError(err, "RATE_LIMITED") && err.retryable && /maxRetrySeconds/.test(err.message));
  assert.ok(proxy.requests() > 1, "it was retried before giving up");

  const none = createS3Provider({ ...s3, endpoint: proxy.endpoint, maxRetrySeconds: 0 }, { logger: silentLogger });
  t.after(() => none.close?.());
  const before = proxy.requests();
  await assert.rejects(count(none.list("")), (err: unknown) => isWorkspaceSyncError(err, "RATE_LIMITED"));
  assert.equal(proxy.requests() - before, 1, "maxRetrySeconds 0 means one attempt");
});

test("DeleteObjects carries Content-MD5 (servers that require it accept the batch)", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const proxy = await startS3Proxy(s3.endpoint!, (req) => {
    const isDeleteObjects = req.method === "POST" && /[?&]delete(=|&|$)/.test(req.url ?? "");
    if (isDeleteObjects && !req.headers["content-md5"]) return { status: 400, code: "MissingContentMD5" };
    if (isDeleteObjects && req.headers["x-amz-checksum-crc32"]) return { status: 400, code: "InvalidRequest" };
    return undefined;
  });
  t.after(() => proxy.close());
  const p = createS3Provider({ ...s3, endpoint: proxy.endpoint }, { logger: silentLogger });
  t.after(() => p.close?.());
  for (const name of ["a", "b", "c"]) await p.write(`d/${name}`, Readable.from([Buffer.from(name)]));
  assert.deepEqual(await p.deleteMany(["d/a", "d/b", "d/c"]), []);
  assert.equal(await count(p.list("d")), 0);
});

test("uploads carry no Content-Encoding, no aws-chunked body and no optional checksum headers", async (t) => {
  const s3 = await s3TestSettings(t, { partSizeMiB: 5 });
  if (!s3) return;
  const seen: Array<{ method: string; url: string; headers: Record<string, string | string[] | undefined> }> = [];
  const proxy = await startS3Proxy(s3.endpoint!, (req) => {
    if (req.method === "PUT" || req.method === "POST") seen.push({ method: req.method, url: req.url ?? "", headers: req.headers });
    return undefined;
  });
  t.after(() => proxy.close());
  const p = createS3Provider({ ...s3, endpoint: proxy.endpoint }, { logger: silentLogger });
  t.after(() => p.close?.());
  await p.write("small", Readable.from([Buffer.from("small")]));
  await p.write("large", Readable.from([Buffer.alloc(11 * 1024 * 1024, 1)]));
  // PutObject; CreateMultipartUpload, three UploadParts, CompleteMultipartUpload.
  assert.equal(seen.length, 1 + 1 + 3 + 1);
  for (const { method, url, headers } of seen) {
    const what = `${method} ${url}`;
    assert.equal(headers["content-encoding"], undefined, `${what}: no Content-Encoding`);
    assert.doesNotMatch(String(headers["x-amz-content-sha256"] ?? ""), /STREAMING/, `${what}: no aws-chunked body`);
    const checksumHeaders = Object.keys(headers).filter((h) => h.startsWith("x-amz-checksum-") || h.startsWith("x-amz-sdk-checksum-"));
    assert.deepEqual(checksumHeaders, [], `${what}: no optional checksum headers`);
  }
});

test("overwrite: false still refuses when the object appears after the existence check (If-None-Match)", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  // The proxy hides the object from HEAD, as if another writer created it right after our check.
  const proxy = await startS3Proxy(s3.endpoint!, (req) => (req.method === "HEAD" && req.url?.includes("race.txt") ? { status: 404 } : undefined));
  t.after(() => proxy.close());
  const direct = createS3Provider(s3, { logger: silentLogger });
  t.after(() => direct.close?.());
  const p = createS3Provider({ ...s3, endpoint: proxy.endpoint }, { logger: silentLogger });
  t.after(() => p.close?.());

  await direct.write("race.txt", Readable.from([Buffer.from("first writer")]));
  await assert.rejects(
    p.write("race.txt", Readable.from([Buffer.from("second writer")]), { overwrite: false }),
    (err: unknown) => isWorkspaceSyncError(err, "ALREADY_EXISTS") && /during the upload/.test(err.message),
  );
  const chunks: Buffer[] = [];
  for await (const c of await direct.read("race.txt")) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), "first writer");
});
