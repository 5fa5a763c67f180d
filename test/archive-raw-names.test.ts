/**
 * Entry names and link targets that are not valid UTF-8 (GNU tar stores Latin-1 names as they are):
 * decoded lossily they would collapse into one name, so restore and verify refuse them, naming the
 * entry with `\x` escapes and GNU tar as the way to extract it. Valid names (also long ones whose
 * header field cuts a character in two, and a real U+FFFD) restore as before.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import fs, { createReadStream, promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { checkArchive, extractArchive } from "../src/archive/index.js";
import { pythonTarGz } from "./archive-helpers.js";
import { tempDir } from "./support/tree.js";

function refusesRawName(shown: RegExp) {
  return (err: NodeJS.ErrnoException): boolean => {
    assert.equal(err.code, "NOT_SUPPORTED", err.message);
    assert.match(err.message, shown);
    assert.match(err.message, /not valid UTF-8/);
    assert.match(err.message, /GNU tar/);
    return true;
  };
}

async function bothRefuse(file: string, out: string, shown: RegExp): Promise<void> {
  await assert.rejects(extractArchive(createReadStream(file), out), refusesRawName(shown));
  await assert.rejects(checkArchive(createReadStream(file)), refusesRawName(shown));
}

for (const format of ["gnu", "posix"] as const) {
  test(`GNU tar (${format}) Latin-1 names caf\\xe9 and caf\\xe8 are refused, never collapsed into one`, async (t) => {
    const { dir, cleanup } = await tempDir("ws-rawname-");
    t.after(cleanup);
    const src = path.join(dir, "src");
    await fsp.mkdir(src);
    fs.writeFileSync(Buffer.from(`${src}/caf\xe9`, "latin1"), "e9\n");
    fs.writeFileSync(Buffer.from(`${src}/caf\xe8`, "latin1"), "e8\n");
    const file = path.join(dir, "a.tgz");
    execFileSync("tar", [`--format=${format}`, "-czf", file, "-C", src, "."]);
    await bothRefuse(file, path.join(dir, "out"), /caf\\xe[89]/);
  });
}

for (const [label, body, shown] of [
  ["a long name (GNU long-name header)", `add('x' * 120 + '/' + raw(b'caf\\xe9'), data=b'x')`, /x{120}\/caf\\xe9/],
  ["a symlink target", `add('l', 'sym', raw(b'caf\\xe9'))`, /"l"/],
  ["a hard link target", `add('f', data=b'x')\nadd('h', 'hard', raw(b'f\\xff'))`, /"h"/],
] as const) {
  test(`a non-UTF-8 name in ${label} is refused by restore and verify`, async (t) => {
    const { dir, cleanup } = await tempDir("ws-rawname-");
    t.after(cleanup);
    const file = path.join(dir, "a.tgz");
    pythonTarGz(file, body);
    await bothRefuse(file, path.join(dir, "out"), shown);
  });
}

test("a pax path that is not valid UTF-8 is refused", async (t) => {
  const { dir, cleanup } = await tempDir("ws-rawname-");
  t.after(cleanup);
  const file = path.join(dir, "a.tgz");
  pythonTarGz(file, `add(raw(b'caf\\xe9'), data=b'x')`, "PAX_FORMAT");
  await bothRefuse(file, path.join(dir, "out"), /caf\\xe9/);
});

test("valid names still restore: a real U+FFFD, and long names whose header field cuts a character", async (t) => {
  const { dir, cleanup } = await tempDir("ws-rawname-");
  t.after(cleanup);
  const src = path.join(dir, "src");
  // 99 ASCII bytes then "é" (2 bytes): the 100-byte name field holds half of it.
  const long = `${"a".repeat(99)}é.txt`;
  await fsp.mkdir(src);
  await fsp.writeFile(path.join(src, "real-\uFFFD.txt"), "fffd\n");
  await fsp.writeFile(path.join(src, long), "long\n");
  for (const format of ["gnu", "posix"]) {
    const file = path.join(dir, `${format}.tgz`);
    execFileSync("tar", [`--format=${format}`, "-czf", file, "-C", src, "."]);
    const out = path.join(dir, `out-${format}`);
    await extractArchive(createReadStream(file), out);
    assert.deepEqual((await fsp.readdir(out)).sort(), [long, "real-\uFFFD.txt"].sort());
    await checkArchive(createReadStream(file));
  }
});
