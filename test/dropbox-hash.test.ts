import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import type { Logger } from "../src/logger.js";
import { createDropboxProvider, dropboxContentHash } from "../src/providers/dropbox/index.js";
import { fakeContentHash, startDropboxFake, type DropboxFake } from "./support/dropbox-fake.js";

const MiB = 1024 * 1024;
const quiet: Logger = { info() {}, warn() {}, error() {} };

describe("dropbox content_hash", () => {
  let fake: DropboxFake;
  let dir: string;
  before(async () => {
    fake = await startDropboxFake();
    dir = await mkdtemp(join(tmpdir(), "dropbox-hash-"));
  });
  after(async () => {
    await fake.close();
    await rm(dir, { recursive: true, force: true });
  });

  for (const size of [0, 1, 4 * MiB, 4 * MiB + 1, 9 * MiB + 17]) {
    it(`hashLocalFile matches what Dropbox reports for ${size} bytes`, async () => {
      const provider = createDropboxProvider({ token: fake.issueAccessToken(), fetch: fake.fetch }, { logger: quiet }, { chunkSize: 4 * MiB });
      const data = randomBytes(size);
      const file = join(dir, `f${size}.bin`);
      await writeFile(file, data);
      const local = await provider.hashLocalFile!(file);
      assert.match(local, /^[0-9a-f]{64}$/);
      assert.equal(local, fakeContentHash(data));
      const stored = await provider.write(`h/f${size}.bin`, Readable.from(size ? [data] : []));
      assert.equal(stored.hash, local);
      assert.equal((await provider.stat(`h/f${size}.bin`))?.hash, local);
      // The stream form, fed in odd-sized pieces across block boundaries.
      const pieces = [];
      for (let i = 0; i < data.length; i += 1_000_003) pieces.push(data.subarray(i, i + 1_000_003));
      assert.equal(await dropboxContentHash(Readable.from(pieces)), local);
    });
  }

  it("the empty hash is SHA-256 of nothing hashed again", async () => {
    // No blocks: content_hash = SHA-256("") (the documented definition with zero blocks).
    assert.equal(await dropboxContentHash(Readable.from([])), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  });
});
