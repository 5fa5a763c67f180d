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
import { endpointCredentials, maskEndpointCredentials, normalizeEndpoint } from "../src/util/url-credentials.js";
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
  assert.deepEqual(endpointCredentials(ENDPOINT), { userinfo: `${KEY}:${SECRET}`, username: KEY, password: SECRET });
  assert.deepEqual(endpointCredentials("k%40ey:p%21w@h"), { userinfo: "k%40ey:p%21w", username: "k@ey", password: "p!w" });
  assert.equal(endpointCredentials("minio.local:9000"), undefined);
  assert.equal(endpointCredentials("https://minio.local:9000/x?a=@b"), undefined);
  assert.equal(maskEndpointCredentials(ENDPOINT), "***@minio.local:9000");
  assert.equal(maskEndpointCredentials(`http://${ENDPOINT}/b`), "http://***@minio.local:9000/b");
  assert.equal(maskEndpointCredentials("u:p@ss@host/x@y"), "***@host/x@y", "the last @ before the path, as URL parsers read it");
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
