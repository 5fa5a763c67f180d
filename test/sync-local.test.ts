import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { createLocalProvider } from "../src/providers/local/index.js";
import type { LocalSource, RemoteEntry, StorageProvider } from "../src/providers/types.js";
import { sourceStream } from "../src/util/source-stream.js";
import { describeSyncSuite } from "./sync-suite.js";

describeSyncSuite("the local provider", async (dir) => ({ provider: createLocalProvider({ root: dir }) }));

/**
 * S3 semantics on a real folder: the listing mtime is the upload time (`write` ignores the source
 * mtime), so change detection must rely on the state and revisions, not on mtimes.
 */
describeSyncSuite("a folder with S3-like upload mtimes", async (dir) => {
  const inner = createLocalProvider({ root: dir });
  const provider: StorageProvider = {
    ...inner,
    capabilities: { ...inner.capabilities, listMtime: "upload" },
    write: (p, source, o) => inner.write(p, source, { ...o, mtime: undefined }),
  };
  return { provider };
});

async function sha256File(file: string | LocalSource): Promise<string> {
  const h = createHash("sha256");
  await pipeline(
    sourceStream(file),
    new Writable({
      write(chunk: Buffer, _e, cb) {
        h.update(chunk);
        cb();
      },
    }),
  );
  return h.digest("hex");
}

/** Dropbox-like: listings carry a content hash and `hashLocalFile` computes the same one. */
describeSyncSuite("a folder with content hashes", async (dir) => {
  const inner = createLocalProvider({ root: dir });
  const abs = (p: string): string => path.join(dir, ...p.split("/").filter(Boolean));
  const provider: StorageProvider = {
    ...inner,
    async *list(d, o) {
      for await (const e of inner.list(d, o)) {
        const withHash: RemoteEntry = { ...e, hash: await sha256File(abs(d ? `${d}/${e.path}` : e.path)) };
        yield withHash;
      }
    },
    async write(p, source, o) {
      const stored = await inner.write(p, source, o);
      return { ...stored, hash: await sha256File(abs(p)) };
    },
    hashLocalFile: (file) => sha256File(file),
  };
  await fsp.mkdir(dir, { recursive: true });
  return { provider };
});
