/**
 * The S3 client's retry strategy: exponential backoff with jitter from a {@link RetryPlan}, honouring
 * `Retry-After` / `x-amz-retry-after`, bounded by the plan's total time budget.
 *
 * Two budgets. Answers from the server (SlowDown, 429, 5xx, resets and timeouts mid-request) get the
 * whole plan (`maxRetrySeconds`, default 300 s): B2 answers 500/503 by design while busy. Failures to
 * reach the server at all (connection refused, unknown host, DNS failure, no route, connect timeout)
 * get a short one ({@link CONNECT_RETRY_SECONDS}, a few attempts): a wrong endpoint or a machine
 * offline should fail in seconds, not minutes. TLS certificate errors are never retried (the SDK
 * classifies them as client errors). A request whose connection went idle (no answer at all, or a
 * stalled transfer, after `s3.idleTimeoutSeconds`) is retried {@link IDLE_TIMEOUT_RETRIES} time(s)
 * in a row: a server that accepts and never answers must fail a command in minutes, not in
 * `maxRetrySeconds` times the idle limit.
 *
 * Why not the SDK's `StandardRetryStrategy`: it shares one retry quota (500 tokens, 5 per retry,
 * refunded slowly) across every request of the client. A long backup or a sync of thousands of
 * files through a throttling storm drains it, after which requests fail on their first error with
 * budget to spare ("retries ran out" after one attempt). Here each request gets the whole plan.
 */
import { clampTimerMs } from "../../util/timers.js";
import type { RetryErrorInfo, RetryStrategyV2, StandardRetryToken } from "@smithy/types";
import { IDLE_TIMEOUT_RETRIES, retryPlan, type RetryPlan } from "./settings.js";

/** Waiting budget for failures to reach the endpoint at all (never more than `maxRetrySeconds`). */
export const CONNECT_RETRY_SECONDS = 12;
/** Wall-clock limit for a streak of connection failures, from the start of its first attempt. */
export const CONNECT_RETRY_WINDOW_MS = 20_000;

/** Socket/DNS codes that mean no connection was made. */
const CONNECT_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "EAI_FAIL", "EHOSTUNREACH", "ENETUNREACH", "EHOSTDOWN", "ENETDOWN"]);

interface ErrorShape {
  name?: string;
  code?: string;
  syscall?: string;
  message?: string;
  cause?: unknown;
  errors?: unknown[];
  $metadata?: { httpStatusCode?: number };
}

/**
 * True when `err` means the request never reached the server: refused, unknown host, DNS failure,
 * no route, or the connect timeout. False for anything with an HTTP answer, and for failures on an
 * established connection (resets, idle timeouts), which keep the long budget.
 */
export function isConnectionFailure(err: unknown): boolean {
  return someInChain(err, (e) => {
    if (e.code && CONNECT_CODES.has(e.code)) return true;
    if (e.syscall === "connect" || e.syscall === "getaddrinfo") return true;
    return e.name === "TimeoutError" && /establish a connection/.test(e.message ?? "");
  });
}

/**
 * Walks `err`, its causes and (for happy-eyeballs connects on Node 20, which fail with an
 * AggregateError of per-address errors) its `errors`, and tells whether `test` holds for one of
 * them. Anything that carries an HTTP status stops the walk: the server answered.
 */
function someInChain(err: unknown, test: (e: ErrorShape) => boolean): boolean {
  const seen = new Set<unknown>();
  const visit = (value: unknown, depth: number): boolean => {
    if (!value || typeof value !== "object" || depth > 4 || seen.has(value)) return false;
    seen.add(value);
    const e = value as ErrorShape;
    if (e.$metadata?.httpStatusCode !== undefined) return false;
    if (test(e)) return true;
    return visit(e.cause, depth + 1) || (Array.isArray(e.errors) && e.errors.some((x) => visit(x, depth + 1)));
  };
  return visit(err, 0);
}

/**
 * True when `err` is the idle deadline of a request on an established connection: the socket saw no
 * byte for `s3.idleTimeoutSeconds` (or the SDK's total request timeout, when one is set, fired).
 */
export function isIdleTimeout(err: unknown): boolean {
  return someInChain(err, (e) => e.name === "TimeoutError" && /of inactivity|requestTimeout/.test(e.message ?? ""));
}

/** A retry token: attempts so far, the wait before the next attempt, and the time waited. */
class PlanToken implements StandardRetryToken {
  constructor(
    private readonly count: number,
    private readonly delay: number,
    /** Sum of waits so far, in ms. */
    readonly waited: number,
    /** When the next attempt starts (now + delay), in ms since the epoch. */
    readonly attemptAt: number,
    /** Consecutive connection failures so far (0 after any other outcome). */
    readonly connectFailures: number = 0,
    /** Start of the first attempt of the current connection-failure streak. */
    readonly connectSince?: number,
    /** Consecutive idle timeouts so far (0 after any other outcome). */
    readonly idleFailures: number = 0,
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

/**
 * Retries throttling and transient errors (5xx, resets, timeouts) per `plan`, per request; failures
 * to connect at all per a short plan (see the module comment).
 */
export class PlanRetryStrategy implements RetryStrategyV2 {
  readonly mode = "standard";
  private readonly budgetMs: number;
  private readonly connectPlan: RetryPlan;

  constructor(
    private readonly plan: RetryPlan,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {
    this.budgetMs = plan.delays.reduce((a, b) => a + b, 0);
    this.connectPlan = retryPlan(Math.min(CONNECT_RETRY_SECONDS, this.budgetMs / 1000));
  }

  async acquireInitialRetryToken(): Promise<StandardRetryToken> {
    return new PlanToken(0, 0, 0, this.now());
  }

  async refreshRetryTokenForRetry(token: StandardRetryToken, info: RetryErrorInfo): Promise<StandardRetryToken> {
    if (info.errorType !== "THROTTLING" && info.errorType !== "TRANSIENT") throw new NoRetry("not retryable");
    const count = token.getRetryCount();
    const prev = token instanceof PlanToken ? token : undefined;
    const waited = prev?.waited ?? 0;
    const now = this.now();
    if (isConnectionFailure(info.error)) {
      // The endpoint is unreachable: a few quick attempts, then give up with NETWORK.
      const streak = prev?.connectFailures ?? 0;
      const since = prev?.connectSince ?? prev?.attemptAt ?? now;
      const step = this.connectPlan.delays[streak];
      if (step === undefined) throw new NoRetry("connection attempts exhausted");
      const wait = this.jitter(step);
      if (now - since + wait > CONNECT_RETRY_WINDOW_MS || waited + wait > this.budgetMs + 1) throw new NoRetry("connection time budget exhausted");
      return new PlanToken(count + 1, Math.round(wait), waited + wait, now + wait, streak + 1, since);
    }
    const idleFailures = isIdleTimeout(info.error) ? (prev?.idleFailures ?? 0) + 1 : 0;
    if (idleFailures > IDLE_TIMEOUT_RETRIES) throw new NoRetry("the server did not answer");
    const step = this.plan.delays[count];
    if (step === undefined) throw new NoRetry("attempts exhausted");
    let wait = this.jitter(step);
    if (info.retryAfterHint instanceof Date) wait = Math.max(wait, info.retryAfterHint.getTime() - now);
    // A Retry-After beyond the remaining budget: give up now with the server's error.
    if (waited + wait > this.budgetMs + 1) throw new NoRetry("time budget exhausted");
    // The SDK sleeps with one Node timer: keep the wait within what a timer holds.
    wait = clampTimerMs(wait);
    return new PlanToken(count + 1, wait, waited + wait, now + wait, 0, undefined, idleFailures);
  }

  recordSuccess(): void {}

  /** "Equal jitter": half the step fixed, half random, so concurrent requests spread out. */
  private jitter(step: number): number {
    return step / 2 + this.random() * (step / 2);
  }
}
