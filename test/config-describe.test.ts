import { test } from "node:test";
import assert from "node:assert/strict";
import { describeConfig } from "../src/config/index.js";
import { backupSchema, dropboxSchema, localSchema, s3Schema, syncSchema } from "../src/config/schema.js";

const doc = describeConfig();
const rows = new Map<string, string[]>();
for (const line of doc.split("\n")) {
  const m = /^\| `([^`]+)` \| (.*) \|$/.exec(line);
  if (m) rows.set(m[1]!, m[2]!.split(/(?<!\\) \| /));
}

test("describeConfig lists every key of every schema", () => {
  const expected = [
    ...Object.keys(syncSchema.shape).filter((k) => !["s3", "dropbox", "local"].includes(k)).map((k) => `sync.${k}`),
    ...Object.keys(backupSchema.shape).filter((k) => !["s3", "dropbox", "local"].includes(k)).map((k) => `backup.${k}`),
    ...Object.keys(s3Schema.shape).map((k) => `s3.${k}`),
    ...Object.keys(dropboxSchema.shape).map((k) => `dropbox.${k}`),
    ...Object.keys(localSchema.shape).map((k) => `local.${k}`),
  ];
  assert.ok(expected.length > 40);
  for (const key of expected) assert.ok(rows.has(key), `${key} missing from the reference`);
  assert.equal(rows.size, expected.length, "no extra rows");
  for (const [key, cells] of rows) {
    assert.equal(cells.length, 3, `${key}: type, default and description cells`);
    assert.ok(cells[2]!.length > 5, `${key} has a description`);
  }
});

test("describeConfig shows types and defaults from the schema", () => {
  assert.deepEqual(rows.get("sync.provider")!.slice(0, 2), ['"off" \\| "local" \\| "s3" \\| "dropbox"', '`"off"`']);
  assert.deepEqual(rows.get("sync.exclude")!.slice(0, 2), ["array of string", '`["**/.DS_Store"]`']);
  assert.deepEqual(rows.get("sync.timeout")!.slice(1, 2), ["`1800`"]);
  assert.deepEqual(rows.get("backup.interval")!.slice(0, 2), ["number ≥ 0", "`86400`"]);
  assert.deepEqual(rows.get("backup.compressionLevel")!.slice(0, 2), ["integer 0–9", "`6`"]);
  assert.deepEqual(rows.get("backup.kdfIterations")!.slice(1, 2), ["`100000`"]);
  assert.deepEqual(rows.get("backup.retain")!.slice(0, 2), ["integer ≥ -1 or object", "`7`"]);
  assert.deepEqual(rows.get("sync.maxDelete")!.slice(0, 2), ["number 0–100", "`50`"]);
  assert.deepEqual(rows.get("sync.concurrency")!.slice(0, 2), ["integer 1–64", "`4`"]);
  assert.match(rows.get("backup.provider")![1]!, /sync provider/);
  assert.match(rows.get("sync.remoteName")![2]!, /ignored/);
  assert.match(doc, /\$\{NAME\}/);
});
