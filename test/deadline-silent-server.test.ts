/**
 * Every network request has a deadline. A server that accepts TCP connections and never answers
 * makes S3 and Dropbox calls fail (after one retry) with NETWORK naming the endpoint and the fix, and
 * a "still waiting" line is logged meanwhile. The limits are idle limits: a slow but moving answer
 * is never cut off. Limits are shortened here (test-time settings) so each case takes seconds.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer, type Socket } from "node:net";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { isWorkspaceSyncError } from "../src/errors.js";
import type { Logger } from "../src/logger.js";
import { DropboxClient } from "../src/providers/dropbox/client.js";
import { createDropboxProvider } from "../src/providers/dropbox/index.js";
import { resolveConfig } from "../src/config/resolve.js";
import { parseToken } from "../src/providers/dropbox/token.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import { isIdleTimeout } from "../src/providers/s3/retry.js";
import { DEFAULT_IDLE_TIMEOUT_SECONDS, s3Deadlines } from "../src/providers/s3/settings.js";
import { FetchDeadlineError, withDeadlines } from "../src/util/fetch-deadline.js";
import { startFaultProxy } from "./support/fault-proxy.js";
import { s3TestSettings } from "./support/s3.js";
import { sampleAgent, tempDir } from "./support/tree.js";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "src", "cli", "main.js");

const MiB = 1024 * 1024;

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m), debug: (m) => lines.push(m) };
}

/** A server on 127.0.0.1 that accepts connections, reads what comes, and never answers. */
async function silentServer(t: { after: (fn: () => void) => void }): Promise<{ endpoint: string; connections: () => number }> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server = createServer((s) => {
    count++;
    sockets.add(s);
    s.on("data", () => undefined);
    s.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return { endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`, connections: () => count };
}

test("defaults: 60 s idle per request, retried once (about two minutes for a silent server); clamped to what a timer holds", () => {
  assert.equal(DEFAULT_IDLE_TIMEOUT_SECONDS, 60);
  assert.deepEqual(s3Deadlines(undefined), { idleMs: 60_000, connectMs: 10_000, noticeMs: 30_000 });
  assert.equal(s3Deadlines(1e10).idleMs, 2 ** 31 - 1);
  assert.equal(isIdleTimeout(Object.assign(new Error("the request socket timed out after 60000 ms of inactivity"), { name: "TimeoutError" })), true);
  assert.equal(isIdleTimeout(Object.assign(new Error("did not establish a connection"), { name: "TimeoutError" })), false);
});

test("S3: a server that accepts and never answers fails list, stat and write with NETWORK naming the endpoint and the fix", { timeout: 60_000 }, async (t) => {
  const silent = await silentServer(t);
  const endpoint = silent.endpoint.replace("://", "://AKIA:Silent-Pw9@");
  const logger = recordingLogger();
  // The default retry budget (maxRetrySeconds 300): the deadline alone must end the wait.
  const p = createS3Provider({ bucket: "b", endpoint, region: "us-east-1", idleTimeoutSeconds: 0.4 }, { logger });
  t.after(() => p.close?.());
  const check = (e: unknown): boolean => {
    assert.ok(isWorkspaceSyncError(e, "NETWORK"), inspect(e));
    assert.ok(e.message.includes(silent.endpoint.replace("://", "://***@")), e.message);
    assert.match(e.message, /sent nothing for 0\.4 s \(2 attempts\).*check that s3\.endpoint is an S3 server.*raise s3\.idleTimeoutSeconds/);
    assert.equal(e.retryable, true);
    assert.ok(!inspect(e, { depth: 10 }).includes("Silent-Pw9"));
    return true;
  };
  const before = silent.connections();
  await assert.rejects(
    (async () => {
      for await (const entry of p.list("")) assert.fail(`unexpected ${entry.path}`);
    })(),
    check,
  );
  assert.equal(silent.connections() - before, 2, "one attempt and one retry");
  await assert.rejects(p.stat("a.txt"), check);
  await assert.rejects(p.write("small.txt", Readable.from([Buffer.from("x")])), check);
  const waiting = logger.lines.filter((l) => l.startsWith("s3: still waiting for http://***@127.0.0.1:"));
  assert.ok(waiting.length > 0, `a "still waiting" line: ${logger.lines.join("\n")}`);
  assert.match(waiting[0]!, /s3\.idleTimeoutSeconds/);
  assert.ok(!logger.lines.join("\n").includes("Silent-Pw9"));
});

test("S3 (RGW): a multipart part whose answer never comes fails the upload; no object appears", { timeout: 60_000 }, async (t) => {
  const settings = await s3TestSettings(t);
  if (!settings) return;
  const proxy = await startFaultProxy({ target: settings.endpoint! });
  t.after(() => proxy.close());
  // Every UploadPart is held far longer than the idle limit before it is forwarded.
  proxy.add({ method: "PUT", path: /partNumber=/, action: { kind: "delay", ms: 20_000 }, times: Infinity });
  const logger = recordingLogger();
  const p = createS3Provider({ ...settings, endpoint: proxy.endpoint, partSizeMiB: 5, queueSize: 1, maxRetrySeconds: 300, idleTimeoutSeconds: 0.5 }, { logger });
  t.after(() => p.close?.());
  await assert.rejects(p.write("big.bin", Readable.from([Buffer.alloc(6 * MiB, 1)])), (e: unknown) => {
    assert.ok(isWorkspaceSyncError(e, "NETWORK"), inspect(e));
    assert.ok(e.message.includes(proxy.endpoint), e.message);
    assert.match(e.message, /s3\.idleTimeoutSeconds/);
    return true;
  });
  assert.equal(await p.stat("big.bin"), undefined);
  const parts = proxy.log.filter((r) => r.method === "PUT" && /partNumber=1\b/.test(r.url));
  assert.equal(parts.length, 2, "part 1: one attempt and one retry");
});

/** A fetch that sends every Dropbox host to `endpoint`. */
function redirectFetch(endpoint: string): typeof globalThis.fetch {
  return ((input: string | URL | Request, init?: RequestInit) => {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    return globalThis.fetch(url.replace(/^https:\/\/[a-z]+\.dropboxapi\.com/, endpoint), init);
  }) as typeof globalThis.fetch;
}

test("Dropbox: a server that accepts and never answers fails the call with NETWORK and the fix, after one retry", { timeout: 60_000 }, async (t) => {
  const silent = await silentServer(t);
  const logger = recordingLogger();
  const client = new DropboxClient({
    token: parseToken("sl.test-access-token", false)!,
    fetch: redirectFetch(silent.endpoint),
    logger,
    maxRetryMs: 300_000,
    backoffBaseMs: 10,
    idleTimeoutMs: 400,
  });
  const before = silent.connections();
  await assert.rejects(
    client.call("files/list_folder", "", (sdk) => sdk.filesListFolder({ path: "" })),
    (e: unknown) => {
      assert.ok(isWorkspaceSyncError(e, "NETWORK"), inspect(e));
      assert.match(e.message, /^Dropbox files\/list_folder \(\/\) failed: https:\/\/api\.dropboxapi\.com sent no answer for 0\.4 s \(2 attempts\): check the network connection/);
      return true;
    },
  );
  assert.ok(silent.connections() - before >= 1);
  assert.ok(logger.lines.some((l) => /^dropbox: still waiting for https:\/\/api\.dropboxapi\.com after \d+ s/.test(l)), logger.lines.join("\n"));
});

test("Dropbox: dropbox.idleTimeoutSeconds from the config sets the limit, and the error names the key", { timeout: 60_000 }, async (t) => {
  const silent = await silentServer(t);
  const settings = resolveConfig({ sync: { provider: "dropbox", mode: "mirror", dropbox: { token: "sl.test-access-token", idleTimeoutSeconds: 1 } } }).sync.dropbox!;
  const p = createDropboxProvider({ ...settings, fetch: redirectFetch(silent.endpoint) }, { logger: recordingLogger() }, { backoffBaseMs: 10 });
  t.after(() => p.close?.());
  const started = Date.now();
  await assert.rejects(p.stat("a.txt"), (e: unknown) => {
    assert.ok(isWorkspaceSyncError(e, "NETWORK"), inspect(e));
    assert.match(e.message, /sent no answer for 1 s \(2 attempts\)/);
    assert.match(e.message, /dropbox\.idleTimeoutSeconds/);
    return true;
  });
  assert.ok(Date.now() - started < 20_000, "failed after about two idle periods, not the 60 s default");
});

test("fetch deadlines are idle limits: a slow but moving body and a slow reader pass; a stalled body fails", { timeout: 30_000 }, async (t) => {
  const server = createHttpServer((req, res) => {
    res.writeHead(200, { "content-type": "application/octet-stream" });
    if (req.url === "/trickle") {
      // 12 chunks 100 ms apart: 1.2 s in total, never 800 ms silent (a pause of the test's own process included).
      let n = 0;
      const timer = setInterval(() => {
        res.write(Buffer.alloc(1000, n));
        if (++n === 12) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
    } else if (req.url === "/all") {
      res.end(Buffer.alloc(256 * 1024, 7));
    } else {
      res.write("start");
      // then nothing, ever
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const logger = recordingLogger();
  const f = withDeadlines(globalThis.fetch, { idleMs: 800, logger, label: "test" });

  const trickle = await f(`${base}/trickle`);
  assert.equal((await trickle.arrayBuffer()).byteLength, 12_000);

  // The reader pauses longer than the limit between reads: only time spent waiting on the network counts.
  const all = await f(`${base}/all`);
  const reader = all.body!.getReader();
  let bytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    bytes += value.byteLength;
    await new Promise((r) => setTimeout(r, 900));
  }
  assert.equal(bytes, 256 * 1024);

  const stalled = await f(`${base}/stall`);
  await assert.rejects(stalled.arrayBuffer(), (e: unknown) => e instanceof FetchDeadlineError && /stopped sending the answer for 0\.8 s/.test(e.message));
});

test("CLI: backup list -v, backup now and sync against a silent S3 server fail with the endpoint and the fix, and say they are waiting", { timeout: 90_000 }, async (t) => {
  const silent = await silentServer(t);
  const { dir, cleanup } = await tempDir("ws-deadline-cli-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const s3 = { endpoint: silent.endpoint, region: "us-east-1", accessKeyId: "k", secretAccessKey: "s", idleTimeoutSeconds: 1 };
  const configFile = path.join(dir, "ws.json");
  await fsp.writeFile(configFile, JSON.stringify({ sync: { provider: "s3", mode: "mirror", s3: { ...s3, bucket: "b" } }, backup: { enabled: true, provider: "s3", bucket: "b", s3 } }));
  const base = ["--config", configFile, "--workspace", workspaceDir, "--state-dir", stateDir];
  for (const cmd of [["backup", "list", "-v"], ["backup", "now"], ["sync"]]) {
    const r = await runCli([...base, ...cmd]);
    assert.notEqual(r.code, 0, `${cmd.join(" ")}: ${r.out}`);
    assert.ok(r.out.includes(`still waiting for ${silent.endpoint}`), `${cmd.join(" ")} says it is waiting: ${r.out}`);
    assert.match(r.out, new RegExp(`${silent.endpoint.replace(/[.]/g, "\\.")} sent nothing for 1 s \\(2 attempts\\).*s3\\.idleTimeoutSeconds`), `${cmd.join(" ")}: ${r.out}`);
  }
});

function runCli(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}
