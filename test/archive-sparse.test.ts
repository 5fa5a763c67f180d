/**
 * GNU sparse files (`tar -S`): type 'S' in the gnu and oldgnu formats, `GNU.sparse.*` pax records in
 * posix. Read as plain entries they came out dropped or corrupt with ok:true; restore and verify
 * refuse them, naming the entry and GNU tar as the way to extract it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createReadStream, promises as fsp } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { checkArchive, extractArchive } from "../src/archive/index.js";
import { tempDir } from "./support/tree.js";

for (const format of ["gnu", "oldgnu", "posix"] as const) {
  test(`a GNU sparse file (tar -S --format=${format}) is refused by restore and verify`, async (t) => {
    const { dir, cleanup } = await tempDir("ws-sparse-");
    t.after(cleanup);
    const src = path.join(dir, "src");
    await fsp.mkdir(src);
    await fsp.writeFile(path.join(src, "plain.txt"), "plain\n");
    const fh = await fsp.open(path.join(src, "holes.bin"), "w");
    await fh.write("data", 3 * 1024 * 1024);
    await fh.truncate(8 * 1024 * 1024);
    await fh.close();
    const file = path.join(dir, "a.tgz");
    execFileSync("tar", ["-S", `--format=${format}`, "-czf", file, "-C", src, "plain.txt", "holes.bin"]);
    const check = (err: NodeJS.ErrnoException): boolean => {
      assert.equal(err.code, "NOT_SUPPORTED", err.message);
      assert.match(err.message, /"holes\.bin"/);
      assert.match(err.message, /sparse/);
      assert.match(err.message, /GNU tar/);
      return true;
    };
    await assert.rejects(extractArchive(createReadStream(file), path.join(dir, "out")), check);
    await assert.rejects(checkArchive(createReadStream(file)), check);
  });
}
