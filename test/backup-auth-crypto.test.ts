/**
 * The MAC construction and the authentication mark, below the backup layer: key separation, what
 * the MAC binds, streaming equals one-shot, and the mark's round trip through gzip readers.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac, randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { gunzipSync, gzipSync } from "node:zlib";
import {
  AUTH_MARKER,
  createMacStream,
  createStripAuthMarker,
  deriveKeyIv,
  deriveMacKeys,
  pbkdf2Kdf,
  prependAuthMarker,
  snapshotMac,
  startsWithAuthMarker,
} from "../src/crypto/index.js";
import { formatMacFile, parseMacFile } from "../src/backup/auth-file.js";

const salt = Buffer.alloc(16, 7);
const id = { name: "backup-20260101T000000Z.tar.gz.enc", created: "2026-01-01T00:00:00.123Z", format: "2", kdf: "pbkdf2-sha256-1000", size: 4096 };

test("MAC keys: own salt and label, never the AES key; the check value depends on the passphrase", async () => {
  const a = await deriveMacKeys("pass", salt, 1000);
  const b = await deriveMacKeys("pass", salt, 1000);
  const other = await deriveMacKeys("pasS", salt, 1000);
  const otherSalt = await deriveMacKeys("pass", Buffer.alloc(16, 8), 1000);
  assert.deepEqual(a, b, "deterministic");
  assert.notDeepEqual(a.check, other.check);
  assert.notDeepEqual(a.body, otherSalt.body);
  assert.notDeepEqual(a.body, a.identity);
  // Not the AES key, even for the same passphrase, iterations and the same salt bytes.
  const aes = await deriveKeyIv("pass", salt.subarray(0, 8), pbkdf2Kdf(1000));
  for (const k of [a.body, a.identity]) assert.ok(!k.equals(aes.key) && !k.subarray(0, 16).equals(aes.iv));
  await assert.rejects(deriveMacKeys("", salt, 1000), { code: "PASSPHRASE_MISSING" });
  await assert.rejects(deriveMacKeys("pass", salt, 1e12), { code: "CONFIG_INVALID" });
});

test("the MAC binds every identity field and every byte; streaming gives the one-shot value", async () => {
  const keys = await deriveMacKeys("pass", salt, 1000);
  const data = randomBytes(300_000);
  const mac = createMacStream(keys);
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += 7777) chunks.push(data.subarray(i, i + 7777));
  await pipeline(Readable.from(chunks), mac, async function* (src) {
    for await (const _ of src) void _;
  });
  assert.equal(mac.bytes, data.length);
  assert.deepEqual(mac.tag, createHmac("sha256", keys.body).update(data).digest());
  const base = snapshotMac(keys, id, mac.tag as Buffer);
  for (const change of [{ name: id.name.replace("000000Z", "000001Z") }, { created: "2026-01-01T00:00:00.124Z" }, { format: "3" }, { kdf: "pbkdf2-sha256-1001" }, { size: 4097 }]) {
    assert.notEqual(snapshotMac(keys, { ...id, ...change }, mac.tag as Buffer), base, JSON.stringify(change));
  }
  const flipped = Buffer.from(data);
  flipped[12345] ^= 1;
  assert.notEqual(snapshotMac(keys, id, createHmac("sha256", keys.body).update(flipped).digest()), base);
});

test("MAC file: round trip, and anything malformed is refused with a reason", () => {
  const rec = { ...id, macIterations: 1000, salt: "ab".repeat(16), passphraseCheck: "cd".repeat(16), mac: "ef".repeat(32) };
  assert.deepEqual(parseMacFile(formatMacFile(rec)), rec);
  const good = JSON.parse(formatMacFile(rec)) as Record<string, unknown>;
  for (const [k, v] of Object.entries({ version: 2, algorithm: "md5", macKdf: "pbkdf2-sha256-99999999999", salt: "zz", mac: "ef", size: -1, snapshot: "", created: "yesterday" })) {
    assert.equal(typeof parseMacFile(JSON.stringify({ ...good, [k]: v })), "string", k);
  }
  assert.equal(typeof parseMacFile("not json"), "string");
  assert.equal(typeof parseMacFile("[1]"), "string");
});

test("the mark is an empty gzip member: gunzip skips it, the first block still looks like gzip, strip removes exactly it", async () => {
  const tgz = gzipSync(Buffer.from("archive bytes"));
  const marked = Buffer.concat([AUTH_MARKER, tgz]);
  assert.equal(gunzipSync(marked).toString(), "archive bytes");
  assert.ok(startsWithAuthMarker(marked));
  assert.equal(AUTH_MARKER.length, 34);
  assert.deepEqual([...AUTH_MARKER.subarray(0, 4)], [0x1f, 0x8b, 0x08, 0x04]);

  const collect = async (input: Buffer[], strip = createStripAuthMarker()) => {
    const out: Buffer[] = [];
    await pipeline(Readable.from(input), strip, async function* (src) {
      for await (const c of src) out.push(c as Buffer);
    });
    return { out: Buffer.concat(out), marked: strip.marked };
  };
  // Split at every point of the mark: the decision never depends on chunking.
  for (let cut = 0; cut <= 40; cut++) {
    const r = await collect([marked.subarray(0, cut), marked.subarray(cut)]);
    assert.equal(r.marked, true);
    assert.deepEqual(r.out, tgz);
  }
  const plain = await collect([tgz]);
  assert.equal(plain.marked, false);
  assert.deepEqual(plain.out, tgz);
  const tiny = await collect([Buffer.from([1, 2, 3])]);
  assert.equal(tiny.marked, false);
  assert.deepEqual(tiny.out, Buffer.from([1, 2, 3]));

  // A listener refusing the mark stops the stream before a byte is passed on.
  const strip = createStripAuthMarker();
  strip.on("marker", (m: boolean) => m && strip.destroy(new Error("refused")));
  const seen: Buffer[] = [];
  await assert.rejects(
    pipeline(Readable.from([marked]), strip, async function* (src) {
      for await (const c of src) seen.push(c as Buffer);
    }),
    /refused/,
  );
  assert.deepEqual(seen, []);

  // prependAuthMarker: the mark once, first, also for an empty input.
  const pre = async (input: Buffer[]) => {
    const out: Buffer[] = [];
    await pipeline(Readable.from(input), prependAuthMarker(), async function* (src) {
      for await (const c of src) out.push(c as Buffer);
    });
    return Buffer.concat(out);
  };
  assert.deepEqual(await pre([tgz.subarray(0, 5), tgz.subarray(5)]), marked);
  assert.deepEqual(await pre([]), AUTH_MARKER);
});
