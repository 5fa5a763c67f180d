/**
 * An unreachable endpoint fails fast: connection-level failures (refused, unknown host, connect
 * timeout) get a short retry budget, while throttling and 5xx keep the long one (`maxRetrySeconds`).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import type { RetryErrorInfo } from "@smithy/types";
import { isWorkspaceSyncError } from "../src/errors.js";
import { silentLogger } from "../src/logger.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import { CONNECT_RETRY_WINDOW_MS, PlanRetryStrategy, isConnectionFailure } from "../src/providers/s3/retry.js";
import { retryPlan } from "../src/providers/s3/settings.js";
import { CLOSED_ENDPOINT } from "./support/s3.js";

function nodeError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
}

test("connection failures are told apart from answers and from failures on an open connection", () => {
  assert.equal(isConnectionFailure(nodeError("ECONNREFUSED", "connect")), true);
  assert.equal(isConnectionFailure(nodeError("ENOTFOUND", "getaddrinfo")), true);
  assert.equal(isConnectionFailure(nodeError("EAI_AGAIN", "getaddrinfo")), true);
  assert.equal(isConnectionFailure(nodeError("ETIMEDOUT", "connect")), true, "a TCP connect timeout");
  assert.equal(isConnectionFailure(Object.assign(new AggregateError([nodeError("ECONNREFUSED", "connect")]), { code: "ECONNREFUSED" })), true);
  assert.equal(
    isConnectionFailure(Object.assign(new Error("the request socket did not establish a connection with the server within the configured timeout"), { name: "TimeoutError" })),
    true,
  );
  assert.equal(isConnectionFailure(nodeError("ECONNRESET", "read")), false, "a reset mid-request keeps the long budget");
  assert.equal(isConnectionFailure(Object.assign(new Error("socket timed out after 120000 ms of inactivity"), { name: "TimeoutError" })), false);
  assert.equal(isConnectionFailure(Object.assign(new Error("busy"), { name: "ServiceUnavailable", $metadata: { httpStatusCode: 503 } })), false);
  assert.equal(isConnectionFailure(undefined), false);
});

test("connection failures get a few quick retries; 503s keep the whole maxRetrySeconds budget", async () => {
  let now = 1_000_000;
  const s = new PlanRetryStrategy(retryPlan(), () => 1, () => now);
  const refused: RetryErrorInfo = { errorType: "TRANSIENT", error: nodeError("ECONNREFUSED", "connect") as never };
  let token = await s.acquireInitialRetryToken();
  let waited = 0;
  let retries = 0;
  for (;;) {
    try {
      token = await s.refreshRetryTokenForRetry(token, refused);
    } catch {
      break;
    }
    retries++;
    waited += token.getRetryDelay();
    now += token.getRetryDelay() + 1000; // each refused attempt takes a second here
  }
  assert.ok(retries >= 2 && retries <= 8, `a few attempts (${retries})`);
  assert.ok(waited + retries * 1000 <= CONNECT_RETRY_WINDOW_MS, `within the connection window (${waited} ms waited)`);

  // The same default settings retry a busy server (503) for minutes.
  const busy: RetryErrorInfo = { errorType: "TRANSIENT", error: Object.assign(new Error("busy"), { $metadata: { httpStatusCode: 503 } }) as never };
  let t503 = await s.acquireInitialRetryToken();
  let waited503 = 0;
  for (;;) {
    try {
      t503 = await s.refreshRetryTokenForRetry(t503, busy);
    } catch {
      break;
    }
    waited503 += t503.getRetryDelay();
  }
  assert.ok(waited503 >= 200_000, `a busy server is retried for minutes (${waited503} ms)`);

  // A budget smaller than the connection budget wins.
  const short = new PlanRetryStrategy(retryPlan(0));
  await assert.rejects(short.refreshRetryTokenForRetry(await short.acquireInitialRetryToken(), refused));
});

test("listing against a refused endpoint with the default retry settings fails with NETWORK naming the endpoint", { timeout: 60_000 }, async (t) => {
  const endpoint = CLOSED_ENDPOINT;
  const p = createS3Provider({ bucket: "nowhere", endpoint, region: "us-east-1", accessKeyId: "k", secretAccessKey: "s" }, { logger: silentLogger });
  t.after(() => p.close?.());
  const started = Date.now();
  await assert.rejects(
    (async () => {
      for await (const entry of p.list("")) assert.fail(`unexpected entry ${entry.path}`);
    })(),
    (e: unknown) => isWorkspaceSyncError(e, "NETWORK") && e.message.includes(endpoint) && /ECONNREFUSED/.test(e.message),
  );
  t.diagnostic(`gave up after ${Date.now() - started} ms`);
});
