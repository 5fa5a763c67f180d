import { test } from "node:test";
import assert from "node:assert/strict";
import { maskSecrets, resolveConfig, MASK } from "../src/config/index.js";

const secrets = {
  passphrase: "pass-PHRASE-1",
  accessKeyId: "AKIA-ACCESS-2",
  secretAccessKey: "secret-ACCESS-3",
  sessionToken: "session-TOKEN-4",
  token: "dropbox-TOKEN-5",
  appKey: "app-KEY-6",
  appSecret: "app-SECRET-7",
  backupKey: "backup-s3-KEY-8",
  urlPass: "url-PASS-9",
  rclone: "rclone-OPT-10",
  gdrive: "gdrive-TOKEN-11",
};

function raw(fetchImpl?: typeof globalThis.fetch) {
  return {
    sync: {
      provider: "s3",
      mode: "mailbox",
      s3: { bucket: "bkt", endpoint: `https://user:${secrets.urlPass}@minio.local:9000`, accessKeyId: secrets.accessKeyId, secretAccessKey: secrets.secretAccessKey, sessionToken: secrets.sessionToken },
      dropbox: { token: secrets.token, appKey: secrets.appKey, appSecret: secrets.appSecret, fetch: fetchImpl },
      custom: { rcloneType: "sftp", rcloneOptions: { pass: secrets.rclone } },
      gdrive: { token: secrets.gdrive },
    },
    backup: { enabled: true, encrypt: true, passphrase: secrets.passphrase, s3: { bucket: "b2", secretAccessKey: secrets.backupKey, accessKeyId: secrets.backupKey } },
  };
}

function assertNoSecrets(text: string) {
  for (const [name, value] of Object.entries(secrets)) assert.ok(!text.includes(value), `${name} leaked: ${text}`);
}

test("maskSecrets hides every secret in a raw config", () => {
  const masked = maskSecrets(raw());
  assertNoSecrets(JSON.stringify(masked));
  assert.equal(masked.backup.passphrase, MASK);
  assert.equal(masked.sync.s3.accessKeyId, MASK);
  assert.equal(masked.sync.dropbox.appSecret, MASK);
  assert.equal(masked.sync.s3.endpoint, "https://***@minio.local:9000");
  assert.deepEqual(masked.sync.custom, { rcloneType: "sftp", rcloneOptions: { pass: MASK } });
  // non-secret values are kept
  assert.equal(masked.sync.s3.bucket, "bkt");
  assert.equal(masked.sync.mode, "mailbox");
});

test("maskSecrets hides every secret in a resolved config and keeps its shape", () => {
  const resolved = resolveConfig(raw(), { env: {} });
  const masked = maskSecrets(resolved);
  assertNoSecrets(JSON.stringify(masked));
  assert.equal(masked.backup?.passphrase, MASK);
  assert.equal(masked.backup?.s3?.secretAccessKey, MASK);
  assert.equal(masked.sync.dropbox?.token, MASK);
  assert.deepEqual(masked.warnings, resolved.warnings);
  assert.equal(masked.sync.interval, resolved.sync.interval);
  // the input is untouched
  assert.equal(resolved.backup?.passphrase, secrets.passphrase);
});

test("maskSecrets masks non-string secrets too, and leaves unset ones unset", () => {
  const masked = maskSecrets({ backup: { passphrase: 12345, s3: { accessKeyId: ["x-LEAK"] } }, sync: { dropbox: {} } });
  assert.deepEqual(masked, { backup: { passphrase: MASK, s3: { accessKeyId: MASK } }, sync: { dropbox: {} } });
});

test("maskSecrets keeps dropbox.fetch by reference and does not serialise it", () => {
  const fetchImpl: typeof globalThis.fetch = async () => new Response("");
  const masked = maskSecrets(resolveConfig(raw(fetchImpl), { env: {} }));
  assert.equal(masked.sync.dropbox?.fetch, fetchImpl);
  assert.equal(masked.backup?.dropbox?.fetch, fetchImpl);
});
