import assert from "node:assert/strict";
import { describe, it } from "node:test";
import * as tar from "tar-stream";
import { ReadBufferPool } from "../src/archive/buffer-pool.js";
import { parallelGzip } from "../src/archive/parallel-gzip.js";
import zlib from "node:zlib";

describe("read buffer pool", () => {
  it("hands out regions of one slab and reuses it once every region is released", () => {
    const pool = new ReadBufferPool(1000, 2);
    const a = pool.take(400);
    const b = pool.take(400);
    assert.equal(a.buffer, b.buffer, "two regions of the same slab");
    assert.notEqual(a.byteOffset, b.byteOffset);
    a.fill(1);
    b.fill(2);
    assert.ok(a.every((x) => x === 1), "regions do not overlap");
    const c = pool.take(400); // does not fit: a second slab
    assert.notEqual(c.buffer, a.buffer);
    pool.release(a.subarray(0, 10)); // a chunk cut from a region counts as the region
    pool.release(b);
    assert.deepEqual(pool.stats(), { slabs: 2, fallbacks: 0, outstanding: 1 });
    const d = pool.take(700); // second slab is full for 700: the first one is free again
    assert.equal(d.buffer, a.buffer);
    pool.release(c);
    pool.release(d);
    assert.deepEqual(pool.stats(), { slabs: 2, fallbacks: 0, outstanding: 0 });
  });

  it("never reuses a slab with a region still out, and falls back to plain buffers when full", () => {
    const pool = new ReadBufferPool(100, 1);
    const a = pool.take(60);
    const b = pool.take(60); // no second slab allowed
    assert.notEqual(b.buffer, a.buffer);
    assert.equal(pool.stats().fallbacks, 1);
    pool.release(b); // not from the pool: ignored
    pool.release(b);
    assert.equal(pool.stats().outstanding, 1);
    const big = pool.take(101);
    assert.equal(big.length, 101);
    assert.equal(pool.stats().fallbacks, 2);
    pool.release(a);
    pool.release(a); // a second release of the same region does not go negative
    assert.equal(pool.stats().outstanding, 0);
    assert.equal(pool.take(100).buffer, a.buffer);
  });

  it("gets every file chunk back through tar-stream and the gzip stage (the pack stage relies on it)", async () => {
    // Room for more slabs than the files need if none came back (40 × 10 KB = 7 slabs).
    const pool = new ReadBufferPool(64 * 1024, 16);
    const pack = tar.pack();
    const sent: Buffer[] = [];
    const written = (async () => {
      for (let i = 0; i < 40; i++) {
        const data = pool.take(10_000 + i).fill(i);
        sent.push(Buffer.from(data));
        await new Promise<void>((resolve, reject) => pack.entry({ name: `f${i}`, size: data.length }, data, (err) => (err ? reject(err) : resolve())));
      }
      pack.finalize();
    })();
    const out: Buffer[] = [];
    for await (const b of parallelGzip(pack as AsyncIterable<Uint8Array>, { blockSize: 64 * 1024, onConsumed: (c) => pool.release(c) })) out.push(b);
    await written;
    const { slabs, fallbacks, outstanding } = pool.stats();
    assert.equal(outstanding, 0, "every region came back");
    assert.equal(fallbacks, 0);
    assert.ok(slabs <= 3, `slabs were reused: ${slabs} allocated`);
    const tarBytes = zlib.gunzipSync(Buffer.concat(out));
    // The content survived reuse: each file's bytes are where tar put them.
    let offset = 0;
    for (const [i, data] of sent.entries()) {
      offset += 512;
      assert.deepEqual(tarBytes.subarray(offset, offset + data.length), data, `file ${i}`);
      offset += Math.ceil(data.length / 512) * 512;
    }
  });
});
