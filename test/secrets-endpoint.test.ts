/**
 * Credentials written into `s3.endpoint` (`http://user:password@host`) never leave the config: not
 * in errors (message, cause chain), log lines, API results, last-run state files or CLI output (with
 * and without --json / -v). The userinfo is split off before the SDK sees the URL and used as the
 * access key pair; messages show the endpoint as `http://***@host`.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { promises as fsp } from "node:fs";
import { createServer, type Socket } from "node:net";
import path from "node:path";
import { Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import { WorkspaceSyncError, errorMessage, isWorkspaceSyncError, toWorkspaceSyncError } from "../src/errors.js";
import { redactingLogger, type Logger } from "../src/logger.js";
import { createS3Provider } from "../src/providers/s3/index.js";
import { resolveS3Endpoint } from "../src/providers/s3/settings.js";
import { readLastRun, recordRun } from "../src/state/last-run.js";
import { runBackup, runSync } from "../src/index.js";
import { collectSecrets, redact } from "../src/cli/redact.js";
import { maskSecrets } from "../src/config/mask.js";
import { redactUrlCredentials, splitUrlCredentials } from "../src/util/url-credentials.js";
import { rgwFromEnv, s3TestSettings } from "./support/s3.js";
import { sampleAgent, tempDir } from "./support/tree.js";

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "src", "cli", "main.js");
/** A password with a percent-escape, so both its raw and decoded spellings are checked. */
const PW_RAW = "Url-Pw%21zq9";
const PW = "Url-Pw!zq9";

function withUserinfo(endpoint: string, userinfo: string): string {
  return endpoint.replace("://", `://${userinfo}@`);
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => lines.push(m), warn: (m) => lines.push(m), error: (m) => lines.push(m), debug: (m) => lines.push(m) };
}

function assertClean(text: string, what: string, secrets: readonly string[] = [PW_RAW, PW]): void {
  for (const s of secrets) assert.ok(!text.includes(s), `${what} holds the endpoint password ${JSON.stringify(s)}: ${text.slice(0, 2000)}`);
}

test("redactUrlCredentials masks the userinfo of every URL in a text, and nothing else", () => {
  assert.equal(redactUrlCredentials("at http://user:pw@host:9000/b failed"), "at http://***@host:9000/b failed");
  assert.equal(redactUrlCredentials("https://key@h and s3://a:b@c/d"), "https://***@h and s3://***@c/d");
  assert.equal(redactUrlCredentials("http://u:p@ss@host/x"), "http://***@host/x", "an unescaped @ in the password");
  assert.equal(redactUrlCredentials(JSON.stringify({ e: "http://u:pw@h", mail: "a@b.c" }, null, 2)), JSON.stringify({ e: "http://***@h", mail: "a@b.c" }, null, 2));
  // Without whitespace the match runs to the last `@` before a `/`: more is masked, never less.
  assert.ok(!redactUrlCredentials(JSON.stringify({ e: 'http://u:p"w@h' })).includes('p\\"w'));
  assert.equal(redactUrlCredentials("mail me at a@b.c, see http://host/x?y=@z"), "mail me at a@b.c, see http://host/x?y=@z");
  // config check uses the same function: an unescaped @ in the password no longer leaves its tail.
  assert.deepEqual(maskSecrets({ s3: { endpoint: "http://u:p@ss-tail@host" } }), { s3: { endpoint: "http://***@host" } });
  assert.deepEqual(splitUrlCredentials(`http://k%40ey:${PW_RAW}@h:1/p`), { url: "http://h:1/p", username: "k@ey", password: PW });
  assert.deepEqual(splitUrlCredentials("http://h:1"), { url: "http://h:1" });
});

test("the mechanism: errors, errorMessage, the logger wrapper, the CLI redactor and last-run state mask URL credentials", async (t) => {
  const url = `http://AKIA:${PW_RAW}@s3.example:9000`;
  assertClean(new WorkspaceSyncError("NETWORK", `cannot reach ${url}`).message, "WorkspaceSyncError");
  assertClean(toWorkspaceSyncError(new Error(`connect to ${url} failed`)).message, "toWorkspaceSyncError");
  assertClean(errorMessage(new Error(url)), "errorMessage");
  const log = recordingLogger();
  const wrapped = redactingLogger(log);
  wrapped.info(url);
  wrapped.warn(url);
  wrapped.error(url);
  wrapped.debug?.(url);
  assert.equal(log.lines.length, 4);
  for (const l of log.lines) assert.equal(l, "http://***@s3.example:9000");
  // The CLI redactor also masks the password where it shows up without its URL (decoded or not).
  const secrets = collectSecrets({ sync: { s3: { endpoint: url } } } as never);
  assertClean(redact(`x ${PW} y ${PW_RAW} ${url}`, secrets), "CLI redact");

  const { dir, cleanup } = await tempDir("ws-secrets-state-");
  t.after(cleanup);
  await recordRun(dir, "sync", new Date(), { ok: false, error: `S3 list failed at ${url}` });
  await recordRun(dir, "backup", new Date(), { ok: true, result: `uploaded to ${url}` });
  for (const kind of ["sync", "backup"] as const) {
    assertClean(await fsp.readFile(path.join(dir, "workspace-sync", `last-${kind}.json`), "utf8"), `last-${kind}.json`);
  }
  assert.equal((await readLastRun(dir, "sync")).lastError, "S3 list failed at http://***@s3.example:9000");
});

test("resolveS3Endpoint gives the SDK the URL without userinfo and splits the credentials off", () => {
  const r = resolveS3Endpoint({ endpoint: `https://AKIA:${PW_RAW}@acc.r2.cloudflarestorage.com/` });
  assert.equal(r.endpoint, "https://acc.r2.cloudflarestorage.com");
  assert.equal(r.preset, "r2");
  assert.deepEqual(r.urlCredentials, { accessKeyId: "AKIA", secretAccessKey: PW });
  assert.equal(resolveS3Endpoint({ endpoint: "http://h:1" }).urlCredentials, undefined);
  // A URL that does not parse is reported with its userinfo masked.
  assert.throws(
    () => resolveS3Endpoint({ endpoint: `http://AKIA:${PW_RAW}/x@host:notaport` }),
    (e: unknown) => isWorkspaceSyncError(e, "CONFIG_INVALID") && !e.message.includes(PW_RAW) && e.message.includes("***@"),
  );
});

test("RGW: credentials in the endpoint URL work as the key pair; failures name the endpoint masked", async (t) => {
  const s3 = await s3TestSettings(t);
  if (!s3) return;
  const { accessKeyId, secretAccessKey, ...rest } = s3;
  const logger = recordingLogger();
  // Keys only in the URL: used to sign, never shown.
  const p = createS3Provider({ ...rest, endpoint: withUserinfo(s3.endpoint!, `${accessKeyId}:${encodeURIComponent(secretAccessKey!)}`) }, { logger });
  t.after(() => p.close?.());
  await p.write("a.txt", Readable.from([Buffer.from("hello")]));
  const listed: string[] = [];
  for await (const e of p.list("")) listed.push(e.path);
  assert.deepEqual(listed, ["a.txt"]);

  // A wrong password in the URL: ACCESS_DENIED, nothing of it anywhere.
  const bad = createS3Provider({ ...rest, endpoint: withUserinfo(s3.endpoint!, `${accessKeyId}:${PW_RAW}`) }, { logger });
  t.after(() => bad.close?.());
  await assert.rejects(bad.stat("a.txt"), (e: unknown) => {
    assert.ok(isWorkspaceSyncError(e, "ACCESS_DENIED"), inspect(e));
    assertClean(inspect(e, { depth: 10 }), "the error");
    return true;
  });
  // A missing bucket: the message names the endpoint with ***@.
  const missing = createS3Provider({ ...rest, bucket: `${s3.bucket}-nope`, endpoint: withUserinfo(s3.endpoint!, `${accessKeyId}:${PW_RAW}`), accessKeyId, secretAccessKey }, { logger });
  t.after(() => missing.close?.());
  await assert.rejects(missing.check(), (e: unknown) => {
    assert.ok(isWorkspaceSyncError(e, "BUCKET_NOT_FOUND"), inspect(e));
    assert.ok(e.message.includes(s3.endpoint!.replace("://", "://***@")), e.message);
    assertClean(inspect(e, { depth: 10 }), "the error");
    return true;
  });
  assert.ok(logger.lines.some((l) => /s3\.endpoint contains credentials/.test(l)), "explicit keys plus URL credentials are warned about");
  assertClean(logger.lines.join("\n"), "log lines", [PW_RAW, PW, secretAccessKey!]);
});

/** A server that accepts connections and never answers. */
async function silentServer(t: { after: (fn: () => void) => void }): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

test("API results, logger lines and last-run state of sync and backup against an endpoint with a password", async (t) => {
  const rgw = rgwFromEnv();
  const { dir, cleanup } = await tempDir("ws-secrets-api-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  // The real RGW with a missing bucket when there is one; a silent server otherwise (both fail).
  const base = rgw ? rgw.endpoint : await silentServer(t);
  const s3 = { endpoint: withUserinfo(base, `AKIA:${PW_RAW}`), bucket: "ws-missing-bucket-secrets", region: "us-east-1", maxRetrySeconds: 1, idleTimeoutSeconds: 1 };
  const config = {
    sync: { provider: "s3", mode: "mirror", remotePath: "share", s3 },
    backup: { enabled: true, provider: "s3", bucket: s3.bucket, s3 },
  };
  const logger = recordingLogger();
  const sync = await runSync({ syncConfig: config, workspaceDir, stateDir, logger });
  assert.equal(sync.ok, false);
  assertClean(JSON.stringify(sync), "the sync result");
  const backup = await runBackup({ syncConfig: config, workspaceDir, stateDir, logger });
  assert.equal(backup.ok, false);
  assertClean(JSON.stringify(backup), "the backup result");
  assert.ok(logger.lines.length > 0);
  assertClean(logger.lines.join("\n"), "log lines");
  await recordRun(stateDir, "sync", new Date(), sync.ok ? { ok: true } : { ok: false, error: sync.error });
  for (const kind of ["sync", "backup"]) {
    assertClean(await fsp.readFile(path.join(stateDir, "workspace-sync", `last-${kind}.json`), "utf8"), `last-${kind}.json`);
  }
});

function cli(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? -1, out }));
  });
}

test("CLI (plain, --json, -v) and its state files never show the endpoint password", { timeout: 120_000 }, async (t) => {
  const rgw = rgwFromEnv();
  const { dir, cleanup } = await tempDir("ws-secrets-cli-");
  t.after(cleanup);
  const { workspaceDir, stateDir } = await sampleAgent(dir);
  const base = rgw ? rgw.endpoint : await silentServer(t);
  const s3 = { endpoint: withUserinfo(base, `AKIA:${PW_RAW}`), region: "us-east-1", maxRetrySeconds: 1, idleTimeoutSeconds: 1 };
  const configFile = path.join(dir, "ws.json");
  await fsp.writeFile(
    configFile,
    JSON.stringify({ sync: { provider: "s3", mode: "mirror", remotePath: "share", s3: { ...s3, bucket: "ws-missing-cli" } }, backup: { enabled: true, provider: "s3", bucket: "ws-missing-cli", s3 } }),
  );
  const common = ["--config", configFile, "--workspace", workspaceDir, "--state-dir", stateDir];
  for (const cmd of [["sync"], ["backup", "now"], ["backup", "list"], ["config", "check"]]) {
    for (const flags of [[], ["--json"], ["-v"], ["--json", "-v"]]) {
      const r = await cli([...common, ...cmd, ...flags]);
      if (cmd[0] !== "config") assert.notEqual(r.code, 0, `${cmd.join(" ")} ${flags.join(" ")} should fail: ${r.out}`);
      assertClean(r.out, `${cmd.join(" ")} ${flags.join(" ")}`);
      if (cmd[0] !== "config") assert.ok(r.out.length > 0);
    }
  }
  for (const f of await fsp.readdir(path.join(stateDir, "workspace-sync"), { recursive: true })) {
    const file = path.join(stateDir, "workspace-sync", String(f));
    if ((await fsp.stat(file)).isFile()) assertClean(await fsp.readFile(file, "utf8"), file);
  }
});
