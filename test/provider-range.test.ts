/**
 * Ranged reads (`ReadOptions.start`/`end`) on each built-in provider, over the wire where there is
 * one: the storage is asked for the range only (a snapshot's head is read on each prune), and a
 * server that answers a range request with the whole file is cut to the range.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { Readable } from "node:stream";
import { silentLogger } from "../src/logger.js";
import { createDropboxProvider } from "../src/providers/dropbox/index.js";
import { createLocalProvider } from "../src/providers/local/index.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { cutToRange, emptyRange, rangeHeader } from "../src/util/byte-range.js";
import { startDropboxFake } from "./support/dropbox-fake.js";
import { s3TestSettings, startS3Proxy } from "./support/s3.js";
import { tempDir } from "./support/tree.js";

const data = randomBytes(3 * 1024 * 1024 + 123);

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** Each range's bytes, as `Buffer.subarray` gives them (inclusive `end`). */
const RANGES: { start?: number; end?: number }[] = [
  { end: 79 },
  { end: 0 },
  { start: 5, end: 20 },
  { start: 1024 * 1024 - 3, end: 2 * 1024 * 1024 + 4 },
  { start: data.length - 10, end: data.length + 100 },
  { start: data.length - 1 },
  { start: 10, end: 9 },
  { start: data.length, end: data.length + 5 },
];

async function assertRanges(p: StorageProvider, key: string): Promise<void> {
  for (const r of RANGES) {
    const got = await readAll(await p.read(key, r));
    const want = data.subarray(r.start ?? 0, r.end === undefined ? undefined : r.end + 1);
    assert.ok(got.equals(want), `range ${JSON.stringify(r)}: ${got.length} bytes, want ${want.length}`);
  }
  await p.write(`${key}.empty`, Readable.from([]));
  assert.equal((await readAll(await p.read(`${key}.empty`, { end: 79 }))).length, 0, "a range of an empty file reads nothing");
}

test("byte ranges: the Range header, an empty range, and the cut for a server that sends the whole file", async () => {
  assert.equal(rangeHeader({}), undefined);
  assert.equal(rangeHeader({ start: 0 }), undefined);
  assert.equal(rangeHeader({ start: 7 }), "bytes=7-");
  assert.equal(rangeHeader({ end: 79 }), "bytes=0-79");
  assert.equal(rangeHeader({ start: 7, end: 9 }), "bytes=7-9");
  assert.equal(emptyRange({ start: 10, end: 9 }), true);
  assert.equal(emptyRange({ end: 0 }), false);
  assert.equal(emptyRange({ start: 10 }), false);
  for (const r of RANGES) {
    // The whole file in uneven pieces, as a server ignoring `Range` sends it.
    const pieces = [];
    for (let at = 0; at < data.length; at += 65_537) pieces.push(data.subarray(at, at + 65_537));
    const got = await readAll(Readable.from(pieces).pipe(cutToRange(r)));
    assert.ok(got.equals(data.subarray(r.start ?? 0, r.end === undefined ? undefined : r.end + 1)), JSON.stringify(r));
  }
});

test("local provider: ranged reads", async (t) => {
  const { dir, cleanup } = await tempDir("ws-range-");
  t.after(cleanup);
  await fsp.writeFile(path.join(dir, "f.bin"), data);
  await assertRanges(createLocalProvider({ root: dir }), "f.bin");
});

test("Dropbox (wire fake): ranged reads send a Range header and download only the range", async (t) => {
  const fake = await startDropboxFake();
  t.after(() => fake.close());
  const p = createDropboxProvider({ token: fake.issueAccessToken(), fetch: fake.fetch }, { logger: silentLogger });
  fake.put("/f.bin", data);
  await assertRanges(p, "f.bin");
  const before = fake.downloadedBytes;
  assert.equal((await readAll(await p.read("f.bin", { end: 79 }))).length, 80);
  assert.equal(fake.downloadedBytes - before, 80, "the server sent the range only");
});

test("S3 (RGW): ranged reads ask the server for the range", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const ranges: string[] = [];
  const proxy = await startS3Proxy(s3.endpoint!, (req) => {
    if (req.method === "GET" && req.url?.includes("f.bin")) ranges.push(String(req.headers.range ?? ""));
    return undefined;
  });
  t.after(() => proxy.close());
  const p = createS3Provider({ ...s3, endpoint: proxy.endpoint }, { logger: silentLogger });
  t.after(() => p.close?.());
  await p.write("f.bin", Readable.from([data]));
  await assertRanges(p, "f.bin");
  assert.ok(ranges.includes("bytes=0-79") && ranges.includes("bytes=5-20"), `Range headers sent: ${ranges.join(", ")}`);
  assert.ok(!ranges.includes(""), "every read of the file asked for a range");
});
