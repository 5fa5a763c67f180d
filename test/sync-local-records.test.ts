/**
 * The workspace listing's packed records (sync/local-records.ts): whatever is set is what is read
 * back, field for field (times a 64-bit integer cannot hold included), and the store answers
 * every question in the order and with the values a `Map` of the same records would.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { FileIndex } from "../src/sync/file-index.js";
import { PackedLocalFiles } from "../src/sync/local-records.js";
import { localFromState } from "../src/sync/deltas.js";
import type { LocalFile } from "../src/sync/types.js";

test("a packed record reads back as it was set, for any time, size and field set", () => {
  const store = new PackedLocalFiles();
  const records: LocalFile[] = [
    { path: "a.txt", size: 0, mtimeMs: 1796491170669, mtimeNs: 1796491170669123456n },
    { path: "b", size: 2 ** 53 - 1, mtimeMs: 1796491170669 },
    { path: "ünï/ファイル", size: 7, mtimeMs: -1, mtimeNs: -123456n },
    // 2400-01-01 (ext4 keeps times to 2446): more nanoseconds than a 64-bit integer holds.
    { path: "far", size: 1, mtimeMs: 13569465600000, mtimeNs: 13569465600000000001n },
    { path: "before-1678", size: 1, mtimeMs: -9300000000000, mtimeNs: -9300000000000000000n },
    // Exactly the integer that stands for "none".
    { path: "edge", size: 3, mtimeMs: -9223372036855, mtimeNs: -(2n ** 63n) },
    { path: "hashed", size: 4, mtimeMs: 5, mtimeNs: 5000000n, hash: "abc" },
    { path: "__proto__", size: 5, mtimeMs: 6 },
  ];
  for (const r of records) store.set(r.path, r);
  for (const r of records) assert.deepEqual(store.get(r.path), r, r.path);
  assert.equal(store.get("constructor"), undefined, "never found through a prototype");
  assert.equal(store.has("toString"), false);
  assert.equal("mtimeNs" in store.get("b")!, false, "no nanoseconds where none were set");
  // Set again without the extras: they are gone.
  store.set("hashed", { path: "hashed", size: 4, mtimeMs: 5 });
  store.set("far", { path: "far", size: 1, mtimeMs: 2, mtimeNs: 2000000n });
  assert.deepEqual(store.get("hashed"), { path: "hashed", size: 4, mtimeMs: 5 });
  assert.deepEqual(store.get("far"), { path: "far", size: 1, mtimeMs: 2, mtimeNs: 2000000n });
  // A record got and changed changes nothing held.
  store.get("a.txt")!.size = 99;
  assert.equal(store.get("a.txt")!.size, 0);
});

test("a packed store answers as a Map of the same records would, through any sequence of changes", () => {
  // Park–Miller: exact in doubles (every product stays below 2^53).
  let seed = 42;
  const rnd = (n: number): number => {
    seed = (seed * 48271) % 2147483647;
    return seed % n;
  };
  const store = new PackedLocalFiles();
  const model = new Map<string, LocalFile>();
  const same = (step: number): void => {
    assert.equal(store.size, model.size, `size at step ${step}`);
    assert.deepEqual([...store.keys()], [...model.keys()], `keys at step ${step}`);
    assert.deepEqual([...store.entries()], [...model.entries()], `entries at step ${step}`);
    assert.deepEqual([...store.values()], [...model.values()], `values at step ${step}`);
    assert.deepEqual([...store.paths()], [...model.values()].map((f) => f.path), `paths at step ${step}`);
  };
  // Enough new keys to grow the arrays several times (from 256 places), with deletes, re-adds,
  // times beyond 64 bits, hashes and a clear between.
  let most = 0;
  let asked = 0;
  for (let step = 0; step < 12000; step++) {
    const op = rnd(10);
    const key = `k${rnd(4000)}`;
    if (op < 6) {
      const ns = rnd(50) === 0 ? 13569465600000000000n + BigInt(step) : BigInt(1796491170000 + step) * 1_000_000n + BigInt(rnd(999999));
      const f: LocalFile = rnd(5) === 0 ? { path: key.toUpperCase(), size: rnd(1000), mtimeMs: 1796491170000 + rnd(1000) } : { path: key, size: rnd(1000), mtimeMs: 1796491170000 + step, mtimeNs: ns };
      if (rnd(7) === 0) f.hash = `h${step}`;
      store.set(key, f);
      model.set(key, f);
    } else if (op < 8) {
      assert.equal(store.delete(key), model.delete(key), `delete at step ${step}`);
    } else {
      asked++;
      assert.equal(store.has(key), model.has(key));
      assert.deepEqual(store.get(key), model.get(key));
    }
    most = Math.max(most, model.size);
    if (step === 9000) {
      same(step);
      store.clear();
      model.clear();
    }
    if (step % 1000 === 0) same(step);
  }
  same(12000);
  assert.ok(most >= 1024, `the arrays grew several times (${most} files at most)`);
  assert.ok(asked >= 1000, `keys looked up (${asked})`);
});

test("a FileIndex over packed records gives the same listing as over a Map", () => {
  const packed = new FileIndex<LocalFile>(undefined, localFromState, new PackedLocalFiles());
  const plain = new FileIndex<LocalFile>(undefined, localFromState);
  const files: LocalFile[] = Array.from({ length: 600 }, (_, i) => ({ path: `d${i % 7}/F${i}.md`, size: i, mtimeMs: 1796491170000 + i, mtimeNs: (1796491170000n + BigInt(i)) * 1_000_000n + 17n }));
  for (const f of files) {
    packed.set(f.path.toLowerCase(), f);
    plain.set(f.path.toLowerCase(), f);
  }
  for (let i = 0; i < 600; i += 5) {
    packed.delete(files[i]!.path.toLowerCase());
    plain.delete(files[i]!.path.toLowerCase());
  }
  assert.equal(packed.size, plain.size);
  assert.deepEqual([...packed.entries()], [...plain.entries()]);
  assert.deepEqual([...packed.paths()], [...plain.paths()], "paths as listed (not the keys)");
  assert.deepEqual(packed.get("d1/f1.md"), plain.get("d1/f1.md"));
});
