/**
 * The S3 client's retry strategy: exponential backoff with jitter from a {@link RetryPlan}, honouring
 * `Retry-After` / `x-amz-retry-after`, bounded by the plan's total time budget and nothing else.
 *
 * Why not the SDK's `StandardRetryStrategy`: it shares one retry quota (500 tokens, 5 per retry,
 * refunded slowly) across every request of the client. A long backup or a sync of thousands of
 * files through a throttling storm drains it, after which requests fail on their first error with
 * budget to spare ("retries ran out" after one attempt). Here each request gets the whole plan.
 */
import type { RetryErrorInfo, RetryStrategyV2, StandardRetryToken } from "@smithy/types";
import type { RetryPlan } from "./settings.js";

/** A retry token: attempts so far, the wait before the next attempt, and the time waited. */
class PlanToken implements StandardRetryToken {
  constructor(
    private readonly count: number,
    private readonly delay: number,
    /** Sum of waits so far, in ms. */
    readonly waited: number,
  ) {}
  getRetryCount(): number {
    return this.count;
  }
  getRetryDelay(): number {
    return this.delay;
  }
  getRetryCost(): number | undefined {
    return undefined;
  }
}

/** Thrown to tell the SDK not to retry; it then rethrows the request's own error. */
class NoRetry extends Error {}

/** Retries throttling and transient errors (5xx, resets, timeouts) per `plan`, per request. */
export class PlanRetryStrategy implements RetryStrategyV2 {
  readonly mode = "standard";
  private readonly budgetMs: number;

  constructor(
    private readonly plan: RetryPlan,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {
    this.budgetMs = plan.delays.reduce((a, b) => a + b, 0);
  }

  async acquireInitialRetryToken(): Promise<StandardRetryToken> {
    return new PlanToken(0, 0, 0);
  }

  async refreshRetryTokenForRetry(token: StandardRetryToken, info: RetryErrorInfo): Promise<StandardRetryToken> {
    if (info.errorType !== "THROTTLING" && info.errorType !== "TRANSIENT") throw new NoRetry("not retryable");
    const count = token.getRetryCount();
    const step = this.plan.delays[count];
    if (step === undefined) throw new NoRetry("attempts exhausted");
    // "Equal jitter": half the step fixed, half random, so concurrent requests spread out.
    let wait = step / 2 + this.random() * (step / 2);
    if (info.retryAfterHint instanceof Date) wait = Math.max(wait, info.retryAfterHint.getTime() - this.now());
    const waited = token instanceof PlanToken ? token.waited : 0;
    // A Retry-After beyond the remaining budget: give up now with the server's error.
    if (waited + wait > this.budgetMs + 1) throw new NoRetry("time budget exhausted");
    return new PlanToken(count + 1, Math.max(0, Math.round(wait)), waited + wait);
  }

  recordSuccess(): void {}
}
