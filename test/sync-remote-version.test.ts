/**
 * A cloud file looked at again right before a delete (`sync/remote-version.ts`): changed only on
 * what the listing and `statListed` both give from the same source (size, revision, else content
 * hash), never on times, which a record may take from elsewhere.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { StorageProvider } from "../src/providers/types.js";
import { compareVersion, versionNow } from "../src/sync/remote-version.js";
import type { RemoteFile } from "../src/sync/types.js";

const listed: RemoteFile = { path: "a.txt", size: 5, mtimeMs: 1_700_000_000_000, revision: "r1", hash: "h1" };

test("gone, changed by size, by revision, or by hash where there is no revision", () => {
  assert.equal(compareVersion(listed, undefined), "gone");
  assert.equal(compareVersion(listed, { path: "a.txt", size: 6, revision: "r1" }), "changed");
  assert.equal(compareVersion(listed, { path: "a.txt", size: 5, revision: "r2", hash: "h2" }), "changed");
  assert.equal(compareVersion(listed, { path: "a.txt", size: 5, revision: "r2" }), "changed");
  assert.equal(compareVersion(listed, { path: "a.txt", size: 5, revision: "r1", hash: "other" }), "same", "the revision decides where both give one");
  assert.equal(compareVersion({ ...listed, revision: undefined }, { path: "a.txt", size: 5, revision: "r1", hash: "h2" }), "changed");
  assert.equal(compareVersion({ ...listed, revision: undefined }, { path: "a.txt", size: 5, hash: "h1" }), "same");
});

test("with neither a revision nor a hash on both sides, the times do not decide: the same", () => {
  // S3 with a listing that gives no ETag: its time is the upload time, a stat's the source time.
  const bare: RemoteFile = { path: "a.txt", size: 5, mtimeMs: 1_700_000_000_000 };
  assert.equal(compareVersion(bare, { path: "a.txt", size: 5, mtime: new Date(1_600_000_000_000), revision: "etag" }), "same");
  assert.equal(compareVersion(bare, { path: "a.txt", size: 5 }), "same");
  assert.equal(compareVersion(bare, { path: "a.txt", size: 4 }), "changed");
});

test("the look before a delete asks the listing's own source (statListed), not stat", async () => {
  // S3's HEAD may give an ETag the listing never gives: a look by `stat` would call every file changed.
  const asked: string[] = [];
  const provider = {
    stat: async () => (asked.push("stat"), { path: "a.txt", size: 5, revision: "from-head" }),
    statListed: async (p: string) => (asked.push(`statListed ${p}`), { path: "a.txt", size: 5, revision: "r1" }),
  } as unknown as StorageProvider;
  assert.equal(await versionNow(provider, "share/a.txt", listed), "same");
  assert.deepEqual(asked, ["statListed share/a.txt"]);
});

test("a provider without statListed is looked at with stat", async () => {
  const provider = { stat: async () => ({ path: "a.txt", size: 5, revision: "r2" }) } as unknown as StorageProvider;
  assert.equal(await versionNow(provider, "share/a.txt", listed), "changed");
});

test("another revision with the same content hash is the same bytes: the same (a gateway's HEAD spelling an ETag otherwise)", () => {
  assert.equal(compareVersion(listed, { path: "a.txt", size: 5, revision: "R1-SPELT-OTHERWISE", hash: "h1" }), "same");
  assert.equal(compareVersion(listed, { path: "a.txt", size: 5, revision: "r2", hash: "h2" }), "changed");
});
