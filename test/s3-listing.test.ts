import { test } from "node:test";
import assert from "node:assert/strict";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { Readable } from "node:stream";
import type { StorageProvider } from "../src/providers/types.js";
import { s3TestProvider, testS3Client } from "./support/s3.js";
import { mapLimit } from "../src/util/concurrency.js";

async function paths(p: StorageProvider, dir: string, recursive = true): Promise<string[]> {
  const out: string[] = [];
  for await (const e of p.list(dir, { recursive })) out.push(e.path);
  return out.sort();
}

test("listing paginates past 1000 keys, keeps prefixes apart, and deleteMany clears more than 1000", async (t) => {
  const fx = await s3TestProvider(t);
  if (!fx) return;
  const { s3, p } = fx;
  const client = testS3Client(t, s3);

  const names = Array.from({ length: 1234 }, (_, i) => `f${String(i).padStart(4, "0")}.txt`);
  await mapLimit(names, 32, async (name) => {
    await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: `many/${name}`, Body: name }));
  });
  // A sibling prefix that shares the leading characters must not leak into "many".
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "many-more/x.txt", Body: "x" }));
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "other/y.txt", Body: "y" }));

  const listed = await paths(p, "many");
  assert.equal(listed.length, 1234);
  assert.deepEqual(listed, names);
  assert.deepEqual(await paths(p, "many-more"), ["x.txt"]);
  assert.deepEqual(await paths(p, "other"), ["y.txt"]);
  assert.equal((await paths(p, "")).length, 1236);

  const failures = await p.deleteMany([...names.map((n) => `many/${n}`), "many/does-not-exist"]);
  assert.deepEqual(failures, []);
  assert.deepEqual(await paths(p, "many"), []);
  assert.deepEqual(await paths(p, ""), ["many-more/x.txt", "other/y.txt"]);
});

test("keys with unicode, spaces and '+' round-trip; non-recursive lists one level; folder markers are skipped", async (t) => {
  const fx = await s3TestProvider(t);
  if (!fx) return;
  const { s3, p } = fx;
  const client = testS3Client(t, s3);

  const files = ["a+b.txt", "mit leerzeichen.md", "日本語/ファイル.txt", "emoji 🎉/x+y z.bin", "ä/ö/ü.txt", "100% sure?.txt"];
  for (const f of files) await p.write(`root/${f}`, Readable.from([Buffer.from(f)]));
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "root/empty-folder/", Body: "" }));
  await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "root/日本語/", Body: "" }));

  assert.deepEqual(await paths(p, "root"), [...files].sort());
  assert.deepEqual(await paths(p, "root", false), ["100% sure?.txt", "a+b.txt", "mit leerzeichen.md"]);
  assert.deepEqual(await paths(p, "root/日本語", false), ["ファイル.txt"]);
  for (const f of files) {
    const st = await p.stat(`root/${f}`);
    assert.equal(st?.size, Buffer.byteLength(f), f);
    const chunks: Buffer[] = [];
    for await (const c of await p.read(`root/${f}`)) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), f);
  }
  assert.deepEqual(await p.deleteMany(files.map((f) => `root/${f}`)), []);
  assert.deepEqual(await paths(p, "root"), []);
});
