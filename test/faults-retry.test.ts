/**
 * The S3 retry strategy (src/providers/s3/retry.ts) as pure decisions: backoff with jitter from
 * the plan, Retry-After honoured within the time budget, no retry for client errors, and no retry
 * quota shared between requests (the SDK's default drains after ~100 retries and then fails
 * requests on their first error: see faults-rate-limit.test.ts for the end-to-end storm).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { RetryErrorInfo } from "@smithy/types";
import { PlanRetryStrategy } from "../src/providers/s3/retry.js";
import { retryPlan } from "../src/providers/s3/settings.js";

const throttled: RetryErrorInfo = { errorType: "THROTTLING" };

test("waits follow the plan with equal jitter, then give up when the attempts are spent", async () => {
  const plan = { maxAttempts: 4, delays: [100, 200, 400] };
  for (const [random, factor] of [[0, 0.5], [0.999999, 1]] as const) {
    const s = new PlanRetryStrategy(plan, () => random);
    let token = await s.acquireInitialRetryToken();
    const waits: number[] = [];
    for (let i = 0; i < 3; i++) {
      token = await s.refreshRetryTokenForRetry(token, { errorType: "TRANSIENT" });
      waits.push(token.getRetryDelay());
    }
    assert.deepEqual(waits, plan.delays.map((d) => Math.round(d * factor)));
    await assert.rejects(s.refreshRetryTokenForRetry(token, { errorType: "TRANSIENT" }));
  }
});

test("client errors are not retried", async () => {
  const s = new PlanRetryStrategy(retryPlan(10));
  const token = await s.acquireInitialRetryToken();
  await assert.rejects(s.refreshRetryTokenForRetry(token, { errorType: "CLIENT_ERROR" }));
  await assert.rejects(s.refreshRetryTokenForRetry(token, { errorType: "SERVER_ERROR" }));
});

test("Retry-After is honoured when longer than the backoff, and ends the retries when it exceeds the budget", async () => {
  const now = 1_000_000;
  const s = new PlanRetryStrategy({ maxAttempts: 4, delays: [100, 200, 400] }, () => 0, () => now);
  const t1 = await s.refreshRetryTokenForRetry(await s.acquireInitialRetryToken(), { ...throttled, retryAfterHint: new Date(now + 300) });
  assert.equal(t1.getRetryDelay(), 300, "Retry-After beats the 50 ms jittered backoff");
  const t2 = await s.refreshRetryTokenForRetry(t1, { ...throttled, retryAfterHint: new Date(now + 10) });
  assert.equal(t2.getRetryDelay(), 100, "a short Retry-After does not shorten the backoff");
  // 300 + 100 waited of a 700 ms budget: asking for 500 more is beyond it.
  await assert.rejects(s.refreshRetryTokenForRetry(t2, { ...throttled, retryAfterHint: new Date(now + 500) }));
});

test("no shared quota: thousands of throttled requests each still get their full plan", async () => {
  const s = new PlanRetryStrategy(retryPlan(2), () => 0.5);
  for (let request = 0; request < 2000; request++) {
    let token = await s.acquireInitialRetryToken();
    token = await s.refreshRetryTokenForRetry(token, throttled);
    token = await s.refreshRetryTokenForRetry(token, { errorType: "TRANSIENT" });
    assert.equal(token.getRetryCount(), 2);
  }
});
