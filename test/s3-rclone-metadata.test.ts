/**
 * The S3 provider writes and reads object metadata as rclone does: `mtime` in rclone's
 * nanosecond format, `md5chksum` on multipart uploads of a local file (and never a checksum the
 * uploaded bytes do not have), Content-Type by extension; `stat()` reports both.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { isWorkspaceSyncError } from "../src/errors.js";
import { s3TestProvider, testS3Client } from "./support/s3.js";

const MiB = 1024 * 1024;

describe("S3 metadata as rclone writes it", () => {
  it("mtime with nanoseconds (before 1970 too), md5chksum on multipart, Content-Type; stat reads them back", async (t) => {
    const fx = await s3TestProvider(t, { partSizeMiB: 5 });
    if (!fx) return;
    const { s3, p } = fx;
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-s3meta-"));
    t.after(() => fsp.rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, "big.bin");
    const data = randomBytes(6 * MiB + 5);
    await fsp.writeFile(file, data);
    const md5 = createHash("md5").update(data).digest();

    const stored = await p.write("d/big.bin", createReadStream(file), { sizeHint: data.length, sourceFile: file, mtimeNs: -315_619_199_750_000_001n });
    assert.equal(stored.hash, md5.toString("hex"), "the stored entry's hash is the content MD5 despite the multipart ETag");
    assert.equal(stored.mtimeNs, -315_619_199_750_000_001n);
    assert.equal(stored.mtimePrecisionNs, 1);
    const head = await testS3Client(t, s3).send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "d/big.bin" }));
    assert.match(head.ETag ?? "", /-2"?$/);
    assert.equal(head.Metadata?.mtime, "-315619199.750000001");
    assert.equal(head.Metadata?.md5chksum, md5.toString("base64"));
    assert.equal(head.ContentType, "application/octet-stream");

    const small = await p.write("d/n.txt", Readable.from([Buffer.from("hi\n")]), { mtimeNs: 1_700_000_000_123_456_789n });
    assert.equal(small.mtimeNs, 1_700_000_000_123_456_789n);
    const h2 = await testS3Client(t, s3).send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "d/n.txt" }));
    assert.equal(h2.Metadata?.mtime, "1700000000.123456789");
    assert.equal(h2.Metadata?.md5chksum, undefined, "single-part: the ETag is the MD5");
    assert.equal(h2.ContentType, "text/plain; charset=utf-8");
    // Listings give the upload time only; stat gives the source time.
    for await (const e of p.list("d")) assert.equal(e.mtimeNs, undefined, e.path);
  });

  it("bytes that differ from the file hashed before the upload: cancelled, nothing stored", async (t) => {
    const fx = await s3TestProvider(t, { partSizeMiB: 5 });
    if (!fx) return;
    const { p } = fx;
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-s3meta-"));
    t.after(() => fsp.rm(dir, { recursive: true, force: true }));
    const file = path.join(dir, "f.bin");
    await fsp.writeFile(file, randomBytes(6 * MiB));
    // The file changed between the hash and the read: the stream carries other bytes.
    const err = await p.write("f.bin", Readable.from([randomBytes(6 * MiB)]), { sizeHint: 6 * MiB, sourceFile: file }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(isWorkspaceSyncError(err, "INTEGRITY_MISMATCH"), String(err));
    assert.equal(await p.stat("f.bin"), undefined);
  });
});
