/**
 * Credentials in an `s3.endpoint` written without a scheme (`key:secret@host:port`, which the S3
 * code accepts by adding `https://`) are recognised exactly as the S3 code reads them: masked by
 * `maskSecrets`, collected for the CLI/host redactor, and never printed by `config check`
 * (bin and host, text and --json).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { maskSecrets, resolveConfig } from "../src/config/index.js";
import { collectSecrets, redact } from "../src/cli/redact.js";
import { resolveS3Endpoint } from "../src/providers/s3/settings.js";
import { isWorkspaceSyncError } from "../src/errors.js";
import { endpointSecrets, maskEndpointCredentials, normalizeEndpoint } from "../src/util/url-credentials.js";
import { runNode } from "./support/run-node.js";
import { tempDir } from "./support/tree.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(HERE, "..", "src", "cli", "main.js");
const HOST = path.resolve(HERE, "support", "openclaw-cli-child.js");
const MANIFEST = path.resolve(HERE, "..", "..", "openclaw.plugin.json");
const KEY = "AKIDXYZ";
const SECRET = "SUPERSECRETVALUE";
const ENDPOINT = `${KEY}:${SECRET}@minio.local:9000`;

function assertClean(text: string, what: string): void {
  for (const s of [SECRET, `${KEY}:`]) assert.ok(!text.includes(s), `${what} holds ${s}: ${text.slice(0, 2000)}`);
}

test("one reading of endpoint credentials, the S3 code's: with or without a scheme", () => {
  assert.equal(normalizeEndpoint(ENDPOINT), `https://${ENDPOINT}`);
  assert.equal(normalizeEndpoint("http://h:1/"), "http://h:1");
  for (const s of [`${KEY}:${SECRET}`, SECRET, KEY]) assert.ok(endpointSecrets(ENDPOINT).includes(s), s);
  for (const s of ["k%40ey:p%21w", "k@ey:p!w", "p%21w", "p!w", "k@ey"]) assert.ok(endpointSecrets("k%40ey:p%21w@h").includes(s), s);
  assert.deepEqual(endpointSecrets("minio.local:9000"), []);
  assert.equal(maskEndpointCredentials(ENDPOINT), "***@minio.local:9000");
  assert.equal(maskEndpointCredentials(`http://${ENDPOINT}/b`), "http://***@minio.local:9000/b");
  // The endpoint VALUE is read wider than a URL parser reads it: everything up to its last @ is
  // credentials, because a secret may hold an unescaped `/ ? # @` that ends a parser's userinfo
  // early (and the cut-off tail would be printed). An @ in the path is over-masked, by design.
  assert.equal(maskEndpointCredentials("u:p@ss@host/x@y"), "***@y");
  assert.equal(maskEndpointCredentials("https://minio.local:9000/x?a=@b"), "https://***@b");
  const s3 = resolveS3Endpoint({ endpoint: ENDPOINT });
  assert.deepEqual(s3.urlCredentials, { accessKeyId: KEY, secretAccessKey: SECRET });
  assert.equal(s3.endpoint, "https://minio.local:9000");
});

test("maskSecrets and the redactor cover a scheme-less endpoint", () => {
  const config = resolveConfig({ sync: { provider: "s3", mode: "mailbox", s3: { bucket: "b", endpoint: ENDPOINT } } }, { env: {} });
  const masked = maskSecrets(config);
  assert.equal(masked.sync.s3?.endpoint, "***@minio.local:9000");
  assertClean(JSON.stringify(masked), "maskSecrets");
  const secrets = collectSecrets(config);
  assertClean(redact(`a ${SECRET} b ${ENDPOINT} c ${encodeURIComponent(SECRET)}`, secrets), "redact");
});

test("config check prints a scheme-less endpoint's credentials nowhere (bin and host, text and --json)", async (t) => {
  const { dir, cleanup } = await tempDir("ws-endpoint-creds-");
  t.after(cleanup);
  const pluginConfig = { sync: { provider: "s3", mode: "mailbox", s3: { bucket: "b", endpoint: ENDPOINT } } };
  const file = path.join(dir, "c.json");
  await fsp.writeFile(file, JSON.stringify(pluginConfig));
  for (const extra of [[], ["--json"], ["-v"]]) {
    const bin = await runNode(BIN, ["config", "check", "--config", file, ...extra]);
    assert.equal(bin.code, 0, bin.stderr);
    assert.match(bin.stdout, /\*\*\*@minio\.local:9000/);
    assertClean(bin.stdout + bin.stderr, `bin ${extra.join(" ")}`);
    const host = await runNode(HOST, [MANIFEST, JSON.stringify(pluginConfig), dir, dir, "workspace-sync", "config", "check", ...extra]);
    assert.equal(host.code, 0, host.stderr);
    assert.match(host.stdout, /\*\*\*@minio\.local:9000/);
    assertClean(host.stdout + host.stderr, `host ${extra.join(" ")}`);
  }
});

/** An AWS-style secret: base64 with `/`, which ends a URL parser's userinfo early. */
const SLASH_KEY = "AKIAIOSFODNN7EXAMPLE";
const SLASH_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

function assertNoSlashSecret(text: string, what: string): void {
  for (const s of [SLASH_SECRET, "wJalrXUtnFEMI", "K7MDENG", "bPxRfiCYEXAMPLEKEY", `${SLASH_KEY}:`]) assert.ok(!text.includes(s), `${what} holds ${s}: ${text.slice(0, 2000)}`);
}

test("an endpoint value's credentials run to its last @: a secret holding / is masked whole (scheme or not)", async (t) => {
  const { dir, cleanup } = await tempDir("ws-endpoint-slash-");
  t.after(cleanup);
  for (const endpoint of [`https://${SLASH_KEY}:${SLASH_SECRET}@minio:9000`, `${SLASH_KEY}:${SLASH_SECRET}@minio:9000`]) {
    const shown = endpoint.startsWith("https://") ? "https://***@minio:9000" : "***@minio:9000";
    assert.equal(maskEndpointCredentials(endpoint), shown);
    const config = resolveConfig({ sync: { provider: "s3", mode: "mailbox", s3: { bucket: "b", endpoint } } }, { env: {} });
    assert.equal(maskSecrets(config).sync.s3?.endpoint, shown);
    const secrets = collectSecrets(config);
    assertNoSlashSecret(redact(`a ${endpoint} b ${SLASH_SECRET} c ${JSON.stringify({ endpoint })}`, secrets), "redact");
    const pluginConfig = { sync: { provider: "s3", mode: "mailbox", s3: { bucket: "b", endpoint } } };
    const file = path.join(dir, "c.json");
    await fsp.writeFile(file, JSON.stringify(pluginConfig));
    for (const extra of [[], ["--json"], ["-v"]]) {
      const bin = await runNode(BIN, ["config", "check", "--config", file, ...extra]);
      assertNoSlashSecret(bin.stdout + bin.stderr, `bin ${endpoint} ${extra.join(" ")}`);
      const host = await runNode(HOST, [MANIFEST, JSON.stringify(pluginConfig), dir, dir, "workspace-sync", "config", "check", ...extra]);
      assertNoSlashSecret(host.stdout + host.stderr, `host ${endpoint} ${extra.join(" ")}`);
    }
  }
});

test("an endpoint whose credentials a URL parser would misread is CONFIG_INVALID, masked, saying how to fix it", () => {
  const bad = [
    "//AKID:SeCrEt99@host",
    "https:/AKID:SeCrEt99@host",
    "https:AKID:SeCrEt99@host",
    "HTTP:AKID:SeCrEt99@host",
    "https://AKID:12/SeCrEt99@host",
    "https://AKID:12?SeCrEt99@host",
    "https://AKID:12#SeCrEt99@host",
    "AKID:12/SeCrEt99@host",
  ];
  for (const endpoint of bad) {
    assert.throws(
      () => resolveS3Endpoint({ endpoint }),
      (err: unknown) => {
        assert.ok(isWorkspaceSyncError(err), String(err));
        assert.equal(err.code, "CONFIG_INVALID");
        for (const s of ["SeCrEt99", "AKID", "Crt99"]) assert.ok(!err.message.includes(s), `${endpoint}: ${err.message}`);
        assert.match(err.message, /%2F/);
        assert.match(err.message, /s3\.accessKeyId/);
        return true;
      },
      endpoint,
    );
  }
  // Percent-encoded, the same key pair is read as written.
  const ok = resolveS3Endpoint({ endpoint: "https://AKID:12%2FSeCrEt99%40x@host:9000" });
  assert.deepEqual(ok.urlCredentials, { accessKeyId: "AKID", secretAccessKey: "12/SeCrEt99@x" });
  assert.equal(ok.endpoint, "https://host:9000");
});

test("config check refuses an endpoint the S3 code would refuse, naming the section, without its credentials", async (t) => {
  const { dir, cleanup } = await tempDir("ws-endpoint-check-");
  t.after(cleanup);
  const file = path.join(dir, "c.json");
  for (const endpoint of ["//AKID:SeCrEt99@host", "https://AKID:12/SeCrEt99@host"]) {
    for (const [config, section] of [
      [{ sync: { provider: "s3", mode: "mailbox", s3: { bucket: "b", endpoint } } }, "sync"],
      [{ backup: { enabled: true, provider: "s3", s3: { bucket: "b", endpoint } } }, "backup"],
    ] as const) {
      await fsp.writeFile(file, JSON.stringify(config));
      for (const extra of [[], ["--json"]]) {
        const r = await runNode(BIN, ["config", "check", "--config", file, ...extra]);
        const out = r.stdout + r.stderr;
        assert.notEqual(r.code, 0, out);
        assert.match(out, new RegExp(`${section}\\.s3\\.endpoint .*%2F`));
        for (const s of ["SeCrEt99", "AKID"]) assert.ok(!out.includes(s), out);
      }
    }
  }
});
