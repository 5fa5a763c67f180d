/**
 * Dropbox answers that would park a run forever: a batch job that never leaves `in_progress`, and
 * a longpoll `backoff` hint (a server-chosen delay). Each wait is bounded and honours AbortSignal.
 */
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { isWorkspaceSyncError } from "../src/errors.js";
import { silentLogger } from "../src/logger.js";
import { createDropboxProvider } from "../src/providers/dropbox/index.js";
import { startDropboxFake, type DropboxFake } from "./support/dropbox-fake.js";

const FOREVER = 1_000_000;

describe("dropbox provider: batch jobs and server back-off are bounded", () => {
  let fake: DropboxFake;
  let token: string;
  before(async () => {
    fake = await startDropboxFake();
    token = fake.issueAccessToken();
  });
  after(() => fake.close());

  let stateDir = "";
  before(async () => {
    stateDir = await fsp.mkdtemp(path.join(os.tmpdir(), "ws-dbx-jobs-"));
  });
  after(() => fsp.rm(stateDir, { recursive: true, force: true }));

  const make = (jobTimeoutMs = 1_500) =>
    createDropboxProvider({ token, fetch: fake.fetch }, { logger: silentLogger, stateDir }, { backoffBaseMs: 10, batchDelayMs: 0, jobTimeoutMs });

  it("a delete job that stays in_progress fails as retryable PROVIDER_ERROR after jobTimeoutMs, and keeps the file", async () => {
    const p = make();
    await p.write("jobs/a.txt", Readable.from([Buffer.from("a")]));
    fake.inject({ path: "/2/files/delete_batch", status: 200, body: { ".tag": "async_job_id", async_job_id: "dbjid:stuck" } });
    fake.inject({ path: "/2/files/delete_batch/check", status: 200, body: { ".tag": "in_progress" }, times: FOREVER });
    const started = Date.now();
    try {
      await assert.rejects(
        () => p.deleteMany(["jobs/a.txt"]).then((failed) => { if (failed.length > 0) throw failed[0]!.error; }),
        (err: unknown) => isWorkspaceSyncError(err) && err.code === "PROVIDER_ERROR" && err.retryable === true && /still in progress/.test(err.message),
      );
    } finally {
      fake.clearInjections();
    }
    assert.ok(Date.now() - started < 10_000, "gave up near the job limit");
    assert.ok(fake.read("/jobs/a.txt"), "nothing was deleted");
  });

  it("a commit job that stays in_progress fails the write instead of hanging", async () => {
    const p = make();
    fake.inject({ path: "/2/files/upload_session/finish_batch_v2", status: 200, body: { ".tag": "async_job_id", async_job_id: "dbjid:stuck" } });
    fake.inject({ path: "/2/files/upload_session/finish_batch/check", status: 200, body: { ".tag": "in_progress" }, times: FOREVER });
    try {
      // Two small files at once: the second goes through a batched commit.
      const results = await Promise.allSettled(["b1", "b2"].map((n) => p.write(`jobs/${n}.txt`, Readable.from([Buffer.from(n)]))));
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
      assert.equal(failed.length, 1, "the batched file failed, the single upload went through");
      const err: unknown = failed[0]!.reason;
      assert.ok(isWorkspaceSyncError(err) && err.code === "PROVIDER_ERROR" && /still in progress/.test(err.message), String(err));
    } finally {
      fake.clearInjections();
    }
    assert.equal(fake.read("/jobs/b1.txt")?.toString() ?? fake.read("/jobs/b2.txt")?.toString(), fake.read("/jobs/b1.txt") ? "b1" : "b2");
    assert.ok(!(fake.read("/jobs/b1.txt") && fake.read("/jobs/b2.txt")), "the stuck commit stored nothing");
  });

  it("a delete job aborted while in_progress stops at once with ABORTED", async () => {
    const p = make(60_000);
    await p.write("jobs/c.txt", Readable.from([Buffer.from("c")]));
    fake.inject({ path: "/2/files/delete_batch", status: 200, body: { ".tag": "async_job_id", async_job_id: "dbjid:stuck" } });
    fake.inject({ path: "/2/files/delete_batch/check", status: 200, body: { ".tag": "in_progress" }, times: FOREVER });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const started = Date.now();
    try {
      await assert.rejects(
        () => p.deleteMany(["jobs/c.txt"], { signal: ac.signal }).then((failed) => { if (failed.length > 0) throw failed[0]!.error; }),
        (err: unknown) => isWorkspaceSyncError(err) && err.code === "ABORTED",
      );
    } finally {
      fake.clearInjections();
    }
    assert.ok(Date.now() - started < 5_000, "stopped well before the 60 s job limit");
  });

  it("a longpoll backoff hint is waited out, but an abort ends the wait at once", async () => {
    const p = make();
    fake.put("/poll/a.txt", Buffer.from("a"));
    for await (const _ of p.list("poll")) void _;
    fake.inject({ path: "/2/files/list_folder/longpoll", status: 200, body: { changes: false, backoff: 3_600 } });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const started = Date.now();
    try {
      await assert.rejects(
        () => p.waitForChanges("poll", { timeoutSeconds: 30, signal: ac.signal }),
        (err: unknown) => isWorkspaceSyncError(err) && err.code === "ABORTED",
      );
    } finally {
      fake.clearInjections();
    }
    assert.ok(Date.now() - started < 5_000, "the hour-long backoff did not hold the caller after the abort");
  });
});
