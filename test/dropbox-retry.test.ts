import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { isWorkspaceSyncError } from "../src/errors.js";
import type { Logger } from "../src/logger.js";
import { createDropboxProvider } from "../src/providers/dropbox/index.js";
import type { StorageProvider } from "../src/providers/types.js";
import { startDropboxFake, type DropboxFake, writeContention } from "./support/dropbox-fake.js";
import { mapLimit } from "../src/util/concurrency.js";

const MiB = 1024 * 1024;

function recordingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, info() {}, warn: (m) => void warnings.push(m), error() {} };
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe("dropbox provider: rate limits and retries", () => {
  let fake: DropboxFake;
  let token: string;
  before(async () => {
    fake = await startDropboxFake();
    token = fake.issueAccessToken();
  });
  after(() => fake.close());

  const make = (logger: Logger, maxRetryMs?: number): StorageProvider =>
    createDropboxProvider({ token, fetch: fake.fetch }, { logger }, { chunkSize: 4 * MiB, backoffBaseMs: 10, ...(maxRetryMs ? { maxRetryMs } : {}) });

  it("writes 2 000 small files through a storm of 429s, all present", async () => {
    const logger = recordingLogger();
    const provider = make(logger);
    fake.inject({ path: "/2/files/upload_session/start", status: 429, retryAfter: 0, times: 12, skip: 50 });
    fake.inject({ path: "/2/files/upload_session/finish_batch_v2", status: 429, retryAfter: 1, times: 2 });
    fake.inject(writeContention(3));
    fake.inject({ path: "/2/files/upload_session/start", status: 503, times: 3, skip: 400 });
    const items = Array.from({ length: 2000 }, (_, i) => ({ path: `storm/${i % 10}/f${i}.txt`, body: Buffer.from(`file number ${i}`) }));
    await mapLimit(items, 16, (it) => provider.write(it.path, Readable.from([it.body])));
    for (const it of items) assert.ok(fake.read(`/${it.path}`)?.equals(it.body), it.path);
    assert.ok(logger.warnings.length >= 14, `${logger.warnings.length} warnings`);
    assert.ok(logger.warnings.every((w) => !w.includes(token)));
    assert.ok((fake.calls["files/upload_session/finish_batch_v2"] ?? 0) < 2000 / 2, "commits were batched");
    let listed = 0;
    for await (const _ of provider.list("storm")) listed++;
    assert.equal(listed, 2000);
  });

  it("retries a failed append at the right offset, even when the chunk had arrived", async () => {
    const provider = make(recordingLogger());
    const data = randomBytes(17 * MiB + 3);
    const before = fake.calls["files/upload_session/append_v2"] ?? 0;
    // First append: stored, but the answer is lost (500). Second append: refused before storing (503).
    fake.inject({ path: "/2/files/upload_session/append_v2", status: 500, afterApply: true, times: 1 });
    fake.inject({ path: "/2/files/upload_session/append_v2", status: 503, times: 1, skip: 1 });
    const entry = await provider.write("retry/append.bin", Readable.from([data]));
    assert.equal(entry.size, data.length);
    assert.ok(fake.read("/retry/append.bin")?.equals(data));
    // 3 appends (4 MiB chunks 2..4) + 1 repeat after the lost answer + 1 repeat after the 503.
    assert.equal((fake.calls["files/upload_session/append_v2"] ?? 0) - before, 5);
  });

  it("re-commits batch entries refused with too_many_write_operations", async () => {
    const logger = recordingLogger();
    const provider = make(logger);
    fake.failBatchEntries(7);
    const bodies = Array.from({ length: 60 }, (_, i) => Buffer.from(`entry ${i}`));
    await Promise.all(bodies.map((b, i) => provider.write(`twmo/f${i}.txt`, Readable.from([b]))));
    bodies.forEach((b, i) => assert.ok(fake.read(`/twmo/f${i}.txt`)?.equals(b), `f${i}`));
    assert.ok(logger.warnings.some((w) => /too_many_write_operations/.test(w)));
  });

  it("a finish whose answer was lost is recognised as committed", async () => {
    const provider = make(recordingLogger());
    const data = randomBytes(6 * MiB);
    fake.inject({ path: "/2/files/upload_session/finish", status: 500, afterApply: true, times: 1 });
    const entry = await provider.write("retry/finish.bin", Readable.from([data]));
    assert.equal(entry.size, data.length);
    assert.ok(fake.read("/retry/finish.bin")?.equals(data));
  });

  it("retries 5xx on downloads", async () => {
    const provider = make(recordingLogger());
    fake.put("/retry/dl.txt", Buffer.from("download me"));
    fake.inject({ path: "/2/files/download", status: 502, times: 2 });
    assert.equal((await readAll(await provider.read("retry/dl.txt"))).toString(), "download me");
  });

  it("gives up with RATE_LIMITED after the configured total wait, leaving no file", async () => {
    const logger = recordingLogger();
    const provider = make(logger, 1500);
    fake.inject({ path: "/2/files/upload_session/append_v2", status: 429, retryAfter: 1, times: 5 });
    await assert.rejects(provider.write("retry/limited.bin", Readable.from([randomBytes(9 * MiB)])), (e: unknown) => {
      assert.ok(isWorkspaceSyncError(e, "RATE_LIMITED"), String(e));
      return e.retryable;
    });
    assert.equal(fake.read("/retry/limited.bin"), undefined);
    assert.ok(logger.warnings.some((w) => /rate limited/.test(w)));
    fake.clearInjections();
  });

  it("an AbortSignal cancels a rate-limit wait", async () => {
    const provider = make(recordingLogger());
    const local = await startDropboxFake();
    try {
      const p = createDropboxProvider({ token: local.issueAccessToken(), fetch: local.fetch }, { logger: recordingLogger() });
      local.inject({ path: "/2/users/get_current_account", status: 429, retryAfter: 30, times: 1 });
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(), 200);
      await assert.rejects(p.check({ signal: ac.signal }), (e: unknown) => isWorkspaceSyncError(e, "ABORTED"));
      clearTimeout(t);
    } finally {
      await local.close();
    }
    await provider.check();
  });
});
