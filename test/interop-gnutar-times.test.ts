/**
 * Backups keep any time GNU tar keeps, both ways: times before 1970 and after 2038 (beyond the
 * 32-bit and the 11-digit octal field too) written by us are read by GNU tar, and GNU tar's own
 * archives (default `gnu` format with base-256 numbers, and `pax`) restore exactly with ours.
 */
import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { describe, it } from "node:test";
import { extractArchive, walkSources } from "../src/archive/index.js";
import { decodeBase256, parsePaxTime } from "../src/archive/tar-headers.js";
import { tarMtime } from "../src/archive/entry.js";
import { packToFile, run, suiteTmp } from "./archive-helpers.js";

/** Whole seconds since the epoch, each a case GNU tar stores differently. */
const TIMES: Record<string, number> = {
  "y1960.txt": -315_619_200, // 1960-01-01, base-256 in GNU format (the tar-stream off-by-one case)
  "y1969.txt": -1, // one second before the epoch
  "y2020.txt": 1_577_836_800,
  "y2038.txt": 2_147_483_647, // the last second of the 32-bit range
  "y2100.txt": 4_102_444_800, // after 2038, still 11 octal digits
  "y2300.txt": 10_413_792_000, // beyond 11 octal digits: base-256 in GNU format
};
const DIR_TIME = -631_152_000; // 1950-01-01, on the folder itself

async function makeTree(root: string): Promise<void> {
  await fs.mkdir(path.join(root, "old"), { recursive: true });
  for (const [name, sec] of Object.entries(TIMES)) {
    const f = path.join(root, "old", name);
    await fs.writeFile(f, `${name}\n`);
    await fs.utimes(f, new Date(sec * 1000), new Date(sec * 1000));
  }
  await fs.utimes(path.join(root, "old"), new Date(DIR_TIME * 1000), new Date(DIR_TIME * 1000));
}

async function assertTimes(root: string, label: string): Promise<void> {
  for (const [name, sec] of Object.entries(TIMES)) {
    const st = await fs.lstat(path.join(root, "old", name), { bigint: true });
    assert.equal(st.mtimeNs / 1_000_000_000n - (st.mtimeNs % 1_000_000_000n < 0n ? 1n : 0n), BigInt(sec), `${label}: ${name}`);
  }
  const dir = await fs.lstat(path.join(root, "old"), { bigint: true });
  assert.equal(dir.mtimeNs, BigInt(DIR_TIME) * 1_000_000_000n, `${label}: the folder's time`);
}

describe("GNU tar interop: times outside 1970-2038", () => {
  const tmp = suiteTmp();

  it("our archive: GNU tar restores every time exactly, and so do we", async () => {
    const src = path.join(tmp(), "src1");
    await makeTree(src);
    const walk = await walkSources([{ item: "workspace", path: src, archiveName: "ws" }]);
    const file = path.join(tmp(), "ours.tar.gz");
    assert.deepEqual(await packToFile(walk, file), []);

    const gnuOut = path.join(tmp(), "gnu-out");
    await fs.mkdir(gnuOut);
    const r = run("tar", ["--warning=no-timestamp", "-xzf", file, "-C", gnuOut]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "", "GNU tar reads the archive without a warning");
    await assertTimes(path.join(gnuOut, "ws"), "GNU tar from ours");

    const ourOut = path.join(tmp(), "our-out");
    const warnings: string[] = [];
    await extractArchive(createReadStream(file), ourOut, { onWarning: (m) => warnings.push(m) });
    assert.deepEqual(warnings, []);
    await assertTimes(path.join(ourOut, "ws"), "ours from ours");
  });

  for (const format of ["gnu", "pax", "posix"]) {
    it(`GNU tar --format=${format} archive: restored with the exact times`, async () => {
      const src = path.join(tmp(), `src-${format}`);
      await makeTree(src);
      const file = path.join(tmp(), `gnu-${format}.tar.gz`);
      const r = run("tar", [`--format=${format}`, "-czf", file, "-C", src, "old"]);
      assert.equal(r.status, 0, r.stderr);
      const out = path.join(tmp(), `out-${format}`);
      const warnings: string[] = [];
      await extractArchive(createReadStream(file), out, { onWarning: (m) => warnings.push(m) });
      assert.deepEqual(warnings, []);
      await assertTimes(out, `ours from GNU tar ${format}`);
    });
  }

  it("base-256 decoding is two's complement (tar-stream's off-by-one)", () => {
    const field = (bytes: number[]): Uint8Array => Uint8Array.from(bytes);
    assert.equal(decodeBase256(field([0xff, ...Array(11).fill(0xff)])), -1);
    // -315619200 = 0xFF…FFED300880 in 88-bit two's complement
    assert.equal(decodeBase256(field([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xed, 0x30, 0x08, 0x80])), -315_619_200);
    assert.equal(decodeBase256(field([0x80, 0, 0, 0, 0, 0, 0, 0x02, 0x6c, 0xb5, 0xdb, 0x00])), 10_413_792_000);
  });

  it("pax times and header placement", () => {
    assert.equal(parsePaxTime("-315619200"), -315_619_200_000);
    assert.equal(parsePaxTime("-1.5"), -1500);
    assert.equal(parsePaxTime("-1.0005"), -1001);
    assert.equal(parsePaxTime("1700000000.123456789"), 1_700_000_000_123);
    assert.equal(parsePaxTime("x"), undefined);
    assert.deepEqual(tarMtime(1_577_836_800_999), { headerSeconds: 1_577_836_800 });
    assert.deepEqual(tarMtime(-1), { headerSeconds: 0, pax: "-1" });
    assert.deepEqual(tarMtime(4_102_444_800_000), { headerSeconds: 2 ** 31 - 1, pax: "4102444800" });
  });
});
