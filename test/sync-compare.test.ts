/**
 * The comparison rules (pure): times at the coarser precision of the two sides, rclone's time
 * format for S3 metadata, conflict names and winners.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it, test } from "node:test";
import { createLocalProvider } from "../src/providers/local/index.js";
import { ContentComparer, compareTimes, localTime, remoteSourceTime, sameSizeAndTime } from "../src/sync/compare.js";
import { conflictName, conflictWinner } from "../src/sync/plan.js";
import { remoteFromState, remoteMatches, remoteSignature } from "../src/sync/deltas.js";
import type { RemoteFile } from "../src/sync/types.js";
import { formatMtimeMetadata, md5FromChecksumMetadata, parseMtimeMetadata } from "../src/providers/s3/index.js";
import { contentTypeFor } from "../src/providers/s3/content-type.js";
import { formatRcloneSeconds, msOfDate, parseRcloneSeconds, setFileTimes, utimesArg } from "../src/util/mtime.js";

describe("rclone's time format (S3 mtime metadata)", () => {
  it("formats as rclone 1.60 writes it (checked against rclone on RGW)", () => {
    assert.equal(formatRcloneSeconds(1_614_834_367_123_456_789n), "1614834367.123456789");
    assert.equal(formatRcloneSeconds(1_577_836_800_500_000_000n), "1577836800.5");
    assert.equal(formatRcloneSeconds(-315_619_200_000_000_000n), "-315619200");
    assert.equal(formatRcloneSeconds(-315_619_199_750_000_000n), "-315619199.75");
    assert.equal(formatRcloneSeconds(-250_000_000n), "-0.25");
    assert.equal(formatRcloneSeconds(7_258_118_400_000_000_001n), "7258118400.000000001");
    assert.equal(formatMtimeMetadata(new Date(1_700_000_000_123)), "1700000000.123");
  });

  it("parses rclone's, our older 3-decimal form and plain milliseconds, with their precision", () => {
    assert.deepEqual(parseRcloneSeconds("1614834367.123456789"), { ns: 1_614_834_367_123_456_789n, precisionNs: 1 });
    assert.deepEqual(parseRcloneSeconds("1577836800.5"), { ns: 1_577_836_800_500_000_000n, precisionNs: 1 });
    assert.deepEqual(parseRcloneSeconds("1700000000.123"), { ns: 1_700_000_000_123_000_000n, precisionNs: 1_000_000 });
    assert.deepEqual(parseRcloneSeconds("-315619199.75"), { ns: -315_619_199_750_000_000n, precisionNs: 1 });
    assert.deepEqual(parseRcloneSeconds("1700000000123"), { ns: 1_700_000_000_123_000_000n, precisionNs: 1_000_000 });
    assert.deepEqual(parseRcloneSeconds("1.1234567891"), { ns: 1_123_456_789n, precisionNs: 1 });
    for (const bad of ["", "abc", "1e9", "--1", "1.2.3", undefined]) assert.equal(parseRcloneSeconds(bad), undefined, String(bad));
    assert.equal(parseMtimeMetadata("-315619200")?.toISOString(), "1960-01-01T00:00:00.000Z");
  });

  it("md5chksum is base64 of the MD5", () => {
    assert.equal(md5FromChecksumMetadata("fhiqDdesaK1S3qvdR6ey6A=="), "7e18aa0dd7ac68ad52deabdd47a7b2e8");
    assert.equal(md5FromChecksumMetadata("nope"), undefined);
    assert.equal(md5FromChecksumMetadata(undefined), undefined);
  });

  it("Content-Type from the extension, as rclone sets it", () => {
    assert.equal(contentTypeFor("a/notes.TXT"), "text/plain; charset=utf-8");
    assert.equal(contentTypeFor("x.json"), "application/json");
    assert.equal(contentTypeFor("big.bin"), "application/octet-stream");
    assert.equal(contentTypeFor(".bashrc"), "application/octet-stream");
    assert.equal(contentTypeFor("dir.d/README"), "application/octet-stream");
  });

  it("utimes argument: half a microsecond away from zero, signed as a whole", () => {
    assert.equal(utimesArg(1_614_834_367_123_456_789n), "1614834367.123457289");
    assert.equal(utimesArg(-1_500_000_000n), "-1.500000500");
    assert.equal(utimesArg(-1n), "-0.000000501");
    assert.equal(utimesArg(0n), "0.000000500");
  });

  it("setFileTimes lands within a microsecond, before 1970 and after 2038 too", async () => {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-mtime-"));
    try {
      const f = path.join(dir, "f");
      await fsp.writeFile(f, "x");
      for (const ns of [1_614_834_367_123_456_789n, 1_700_000_000_000_000_000n, 1_700_000_000_000_000_999n, -315_619_199_750_000_000n, -315_619_199_749_999_999n, -1n, 4_102_444_800_000_000_123n]) {
        await setFileTimes(f, ns);
        const got = (await fsp.lstat(f, { bigint: true })).mtimeNs;
        const dt = got - ns;
        assert.ok(dt < 1000n && dt > -1000n, `${ns}: got ${got}`);
      }
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

describe("times compared at the coarser precision", () => {
  const ns = (s: string): bigint => BigInt(s);
  it("a millisecond of rounding is no difference; more than the window is", () => {
    const local = { path: "f", size: 1, mtimeMs: 1_700_000_000_123, mtimeNs: ns("1700000000123456789") };
    // our older metadata: milliseconds (truncated or rounded)
    assert.equal(compareTimes(localTime(local), { ns: ns("1700000000123000000"), precisionNs: 1_000_000 }), 0);
    assert.equal(compareTimes(localTime(local), { ns: ns("1700000000124000000"), precisionNs: 1_000_000 }), 0);
    assert.equal(compareTimes(localTime(local), { ns: ns("1700000000125000000"), precisionNs: 1_000_000 }), -1);
    // rclone's nanoseconds against a time we set (microseconds)
    assert.equal(compareTimes(localTime({ ...local, mtimeNs: ns("1700000000123456000") }), { ns: ns("1700000000123456789"), precisionNs: 1 }), 0);
    assert.equal(compareTimes(localTime({ ...local, mtimeNs: ns("1700000000123455000") }), { ns: ns("1700000000123456789"), precisionNs: 1 }), -1);
    // whole seconds (Dropbox-like)
    assert.equal(compareTimes({ ns: ns("10700000000"), precisionNs: 1000 }, { ns: ns("10000000000"), precisionNs: 1_000_000_000 }), 0);
  });

  it("an upload time is never a source time", () => {
    const r = { path: "f", size: 1, mtimeMs: 5 };
    assert.equal(remoteSourceTime(r, "upload"), undefined);
    assert.deepEqual(remoteSourceTime(r, "source"), { ns: 5_000_000n, precisionNs: 1_000_000 });
    assert.equal(sameSizeAndTime({ path: "f", size: 1, mtimeMs: 5 }, r, "upload"), false);
    assert.equal(sameSizeAndTime({ path: "f", size: 1, mtimeMs: 5 }, r, "source"), true);
    assert.equal(sameSizeAndTime({ path: "f", size: 2, mtimeMs: 5 }, r, "source"), false);
  });

  it("newer: a tie within the window goes to the workspace copy", () => {
    const l = { path: "f", size: 1, mtimeMs: 1_700_000_000_123, mtimeNs: ns("1700000000123900000") };
    // The cloud's millisecond value rounded up: not newer.
    assert.equal(conflictWinner(l, { path: "f", size: 1, mtimeMs: 1_700_000_000_124 }, "newer"), "local");
    assert.equal(conflictWinner(l, { path: "f", size: 1, mtimeMs: 1_700_000_000_126 }, "newer"), "remote");
    assert.equal(conflictWinner(l, { path: "f", size: 1, mtimeNs: ns("1700000000124000000"), mtimePrecisionNs: 1 }, "newer"), "remote");
  });
});

describe("conflict names", () => {
  it("a conflict copy is never copied again as .conflict.conflict", () => {
    assert.equal(conflictName("big.bin", new Set(["big.bin"])), "big.bin.conflict");
    assert.equal(conflictName("big.bin.conflict", new Set(["big.bin", "big.bin.conflict"])), "big.bin.conflict1");
    assert.equal(conflictName("big.bin.conflict1", new Set(["big.bin.conflict", "big.bin.conflict1"])), "big.bin.conflict2");
  });
});

test("a cloud signature holds exactly the fields its file has, in one order, for every set of fields", () => {
  const fields = ["mtimeMs", "hash", "revision"] as const;
  for (let set = 0; set < 8; set++) {
    const file: RemoteFile = { path: "a.txt", size: 5 };
    if (set & 1) file.mtimeMs = 1796491170669;
    if (set & 2) file.hash = "d41d8cd98f00b204e9800998ecf8427e";
    if (set & 4) file.revision = "5:1796491170669:42";
    const sig = remoteSignature(file);
    const want: (keyof RemoteFile & keyof typeof sig)[] = ["size", ...fields.filter((_, i) => set & (1 << i))];
    assert.deepEqual(Object.keys(sig), want, `set ${set}`);
    for (const k of want) assert.equal(sig[k], file[k]);
    assert.ok(remoteMatches(sig, file));
    assert.deepEqual(remoteFromState("a.txt", { local: { size: 5, mtimeMs: 0 }, remote: sig }), file);
  }
});

describe("the content comparer and a workspace that changed since the listing", () => {
  it("a file swapped for a symlink or a FIFO is not proven equal, and the comparison does not fail the run", async () => {
    const dir = await fsp.realpath(await fsp.mkdtemp(path.join(os.tmpdir(), "wsync-cmp-")));
    try {
      const ws = path.join(dir, "ws");
      await fsp.mkdir(path.join(dir, "cloud", "share"), { recursive: true });
      await fsp.mkdir(ws);
      await fsp.writeFile(path.join(dir, "secret.txt"), "same bytes");
      for (const n of ["linked.txt", "pipe.txt", "plain.txt"]) await fsp.writeFile(path.join(dir, "cloud", "share", n), "same bytes");
      await fsp.writeFile(path.join(ws, "plain.txt"), "same bytes");
      await fsp.symlink(path.join(dir, "secret.txt"), path.join(ws, "linked.txt"));
      execFileSync("mkfifo", [path.join(ws, "pipe.txt")]);
      const provider = createLocalProvider({ root: path.join(dir, "cloud") });
      const comparer = new ContentComparer({ provider, workspace: ws, remoteDir: "share", concurrency: 1 });
      // What the listing saw: three regular files of these bytes, times apart (so bytes decide).
      const pairs = ["linked.txt", "pipe.txt", "plain.txt"].map((key) => ({
        key,
        local: { path: key, size: 10, mtimeMs: 1_000 },
        remote: { path: key, size: 10, mtimeMs: 2_000_000 },
        readLimit: 1 << 20,
      }));
      assert.deepEqual([...(await comparer.findEqual(pairs))], ["plain.txt"]);
    } finally {
      await fsp.rm(dir, { recursive: true, force: true });
    }
  });
});

test("a backend time that did not parse is no time, never NaN in a listing's record or the state", () => {
  assert.equal(msOfDate(new Date("not a date")), undefined);
  assert.equal(msOfDate(undefined), undefined);
  assert.equal(msOfDate(new Date(1796491170669.9)), 1796491170669);
});
