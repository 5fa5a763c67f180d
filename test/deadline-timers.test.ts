/**
 * Timers set from user values never overflow: Node's setTimeout takes at most 2^31-1 ms and fires a
 * larger delay after 1 ms with a TimeoutOverflowWarning, so `timeout: 1e10` used to abort a sync at
 * once. Long delays are chained, retry waits clamped, and the one new key is bounded by the schema.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import type { RetryErrorInfo } from "@smithy/types";
import { isWorkspaceSyncError } from "../src/errors.js";
import { resolveConfig, runSync } from "../src/index.js";
import { PlanRetryStrategy } from "../src/providers/s3/retry.js";
import { retryPlan } from "../src/providers/s3/settings.js";
import { MAX_TIMER_MS, clampTimerMs, setLongTimeout } from "../src/util/timers.js";
import { sampleAgent, tempDir } from "./support/tree.js";

/** Collects process warnings named `name` while `fn` runs. */
async function warningsDuring(name: string, fn: () => Promise<void>): Promise<string[]> {
  const seen: string[] = [];
  const onWarning = (w: Error) => {
    if (w.name === name) seen.push(w.message);
  };
  process.on("warning", onWarning);
  try {
    await fn();
    // Warnings are emitted on the next tick.
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off("warning", onWarning);
  }
  return seen;
}

test("setLongTimeout: huge delays wait (chained), Infinity never fires, small ones fire, clear cancels", async () => {
  const fired: string[] = [];
  const warnings = await warningsDuring("TimeoutOverflowWarning", async () => {
    const huge = setLongTimeout(() => fired.push("huge"), 1e13, { unref: true });
    const never = setLongTimeout(() => fired.push("never"), Infinity, { unref: true });
    const cleared = setLongTimeout(() => fired.push("cleared"), 5);
    cleared.clear();
    await new Promise<void>((resolve) => setLongTimeout(() => (fired.push("small"), resolve()), 10));
    await new Promise((r) => setTimeout(r, 30));
    huge.clear();
    never.clear();
  });
  assert.deepEqual(fired, ["small"]);
  assert.deepEqual(warnings, []);
  assert.equal(clampTimerMs(1e13), MAX_TIMER_MS);
  assert.equal(clampTimerMs(Number.NaN), 0);
  assert.equal(clampTimerMs(-5), 0);
});

test("sync with timeout: 1e10 runs to the end (no overflow warning, no instant TIMEOUT)", async (t) => {
  const { dir, cleanup } = await tempDir("ws-timer-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  let result: Awaited<ReturnType<typeof runSync>> | undefined;
  const warnings = await warningsDuring("TimeoutOverflowWarning", async () => {
    result = await runSync({
      syncConfig: { sync: { provider: "local", mode: "mirror", remotePath: "share", local: { root: path.join(dir, "cloud") }, timeout: 1e10 } },
      workspaceDir,
      stateDir,
    });
  });
  assert.deepEqual(warnings, []);
  assert.ok(result?.ok, JSON.stringify(result));
});

test("S3 retry waits stay within a Node timer even with a huge budget and Retry-After", async () => {
  const s = new PlanRetryStrategy(retryPlan(1e10), () => 1, () => 0);
  const throttled = (retryAfterHint: Date): RetryErrorInfo => ({
    errorType: "THROTTLING",
    error: Object.assign(new Error("slow down"), { $metadata: { httpStatusCode: 503 } }) as never,
    retryAfterHint,
  });
  // Half an hour fits the (attempt-capped) budget: honoured, as one valid timer.
  const token = await s.refreshRetryTokenForRetry(await s.acquireInitialRetryToken(), throttled(new Date(1_800_000)));
  assert.equal(token.getRetryDelay(), 1_800_000);
  // 300 years does not: give up with the server's error instead of arming an overflowing timer.
  await assert.rejects(s.refreshRetryTokenForRetry(await s.acquireInitialRetryToken(), throttled(new Date(1e13))));
});

test("s3.idleTimeoutSeconds is validated: 1e10 is refused naming the key and the range", () => {
  assert.throws(
    () => resolveConfig({ sync: { provider: "s3", mode: "mirror", s3: { bucket: "b", idleTimeoutSeconds: 1e10 } } }),
    (e: unknown) => isWorkspaceSyncError(e, "CONFIG_INVALID") && /idleTimeoutSeconds/.test(e.message) && /between 1 and 86400/.test(e.message),
  );
  const ok = resolveConfig({ sync: { provider: "s3", mode: "mirror", s3: { bucket: "b", idleTimeoutSeconds: 120 } } });
  assert.equal(ok.sync.s3?.idleTimeoutSeconds, 120);
});
