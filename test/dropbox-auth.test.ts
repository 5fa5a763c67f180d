import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { isWorkspaceSyncError } from "../src/errors.js";
import type { Logger } from "../src/logger.js";
import { createDropboxProvider, parseToken } from "../src/providers/dropbox/index.js";
import { startDropboxFake, type DropboxFake } from "./support/dropbox-fake.js";

const MiB = 1024 * 1024;
const quiet: Logger = { info() {}, warn() {}, error() {} };

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of stream) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function isReauth(e: unknown, secret?: string): boolean {
  if (!isWorkspaceSyncError(e, "AUTH_EXPIRED")) return false;
  const m = e.message;
  return /Dropbox App Console/.test(m) && /re-run authorization/.test(m) && /dropbox\.token/.test(m) && (secret === undefined || !m.includes(secret));
}

describe("dropbox provider: tokens", () => {
  let fake: DropboxFake;
  before(async () => {
    fake = await startDropboxFake();
  });
  after(() => fake.close());

  it("parses the token forms", () => {
    assert.deepEqual(parseToken("sl.abc", true), { accessToken: "sl.abc" });
    assert.deepEqual(parseToken("legacy-long-lived", false), { accessToken: "legacy-long-lived" });
    assert.deepEqual(parseToken("refresh-me", true), { refreshToken: "refresh-me" });
    assert.deepEqual(parseToken('{"access_token":"sl.a","token_type":"bearer","refresh_token":"r","expiry":"2026-05-01T10:00:00.123456+02:00"}', false), {
      accessToken: "sl.a",
      refreshToken: "r",
      expiresAt: new Date("2026-05-01T08:00:00.123Z"),
    });
    assert.deepEqual(parseToken('{"access_token":"sl.a","expiry":"0001-01-01T00:00:00Z"}', false), { accessToken: "sl.a" });
    assert.equal(parseToken("", true), undefined);
    assert.equal(parseToken("{not json", true), undefined);
    assert.throws(() => createDropboxProvider({ token: "{broken" }, { logger: quiet }), (e: unknown) => isWorkspaceSyncError(e, "CONFIG_INVALID") && !/broken/.test((e as Error).message));
  });

  it("refreshes short-lived tokens through the refresh token, also mid-upload and before a download", async () => {
    const provider = createDropboxProvider({ token: fake.refreshToken, appKey: fake.appKey, appSecret: fake.appSecret, fetch: fake.fetch }, { logger: quiet }, { chunkSize: 4 * MiB });
    const oauth0 = fake.calls["oauth2/token"] ?? 0;
    await provider.check();
    assert.equal((fake.calls["oauth2/token"] ?? 0) - oauth0, 1);
    await provider.write("r/one.txt", Readable.from([Buffer.from("1")]));
    fake.expireTokens();
    await provider.write("r/two.txt", Readable.from([Buffer.from("2")]));
    assert.equal((fake.calls["oauth2/token"] ?? 0) - oauth0, 2);

    const data = randomBytes(10 * MiB);
    let expired = false;
    await provider.write("r/big.bin", Readable.from([data]), {
      onProgress: (b) => {
        if (!expired && b >= 4 * MiB) {
          expired = true;
          fake.expireTokens();
        }
      },
    });
    assert.ok(fake.read("/r/big.bin")?.equals(data));
    assert.equal((fake.calls["oauth2/token"] ?? 0) - oauth0, 3);

    fake.expireTokens();
    assert.ok((await readAll(await provider.read("r/big.bin"))).equals(data));
    fake.expireTokens();
    const names = [];
    for await (const e of provider.list("r")) names.push(e.path);
    assert.deepEqual(names.sort(), ["big.bin", "one.txt", "two.txt"]);
  });

  it("a bare access token that expires gives AUTH_EXPIRED with re-authorisation advice", async () => {
    const token = fake.issueAccessToken();
    const provider = createDropboxProvider({ token, fetch: fake.fetch }, { logger: quiet });
    await provider.check();
    fake.expireTokens();
    await assert.rejects(provider.check(), (e: unknown) => isReauth(e, token));
    await assert.rejects(provider.read("r/one.txt"), (e: unknown) => isReauth(e, token));
    await assert.rejects(provider.write("r/three.txt", Readable.from([Buffer.from("3")])), (e: unknown) => isReauth(e, token));
    const unknown = createDropboxProvider({ token: "sl.never-issued", fetch: fake.fetch }, { logger: quiet });
    await assert.rejects(unknown.check(), (e: unknown) => isReauth(e, "sl.never-issued"));
  });

  it("a revoked refresh token gives AUTH_EXPIRED with re-authorisation advice", async () => {
    const local = await startDropboxFake();
    try {
      local.revokeRefreshToken();
      const provider = createDropboxProvider({ token: local.refreshToken, appKey: local.appKey, appSecret: local.appSecret, fetch: local.fetch }, { logger: quiet });
      await assert.rejects(provider.check(), (e: unknown) => isReauth(e, local.refreshToken));
    } finally {
      await local.close();
    }
  });

  it("accepts rclone's stored token JSON", async () => {
    const fresh = JSON.stringify({ access_token: fake.issueAccessToken(), token_type: "bearer", refresh_token: fake.refreshToken, expiry: new Date(Date.now() + 3 * 3600_000).toISOString() });
    const oauth0 = fake.calls["oauth2/token"] ?? 0;
    const a = createDropboxProvider({ token: fresh, appKey: fake.appKey, appSecret: fake.appSecret, fetch: fake.fetch }, { logger: quiet });
    await a.write("rclone/a.txt", Readable.from([Buffer.from("from rclone")]));
    assert.equal((fake.calls["oauth2/token"] ?? 0) - oauth0, 0, "a valid access token is used as is");

    const stale = JSON.stringify({ access_token: "sl.old-expired", token_type: "bearer", refresh_token: fake.refreshToken, expiry: "2026-01-01T00:00:00.000000+00:00" });
    const b = createDropboxProvider({ token: stale, appKey: fake.appKey, appSecret: fake.appSecret, fetch: fake.fetch }, { logger: quiet });
    assert.equal((await readAll(await b.read("rclone/a.txt"))).toString(), "from rclone");
    assert.equal((fake.calls["oauth2/token"] ?? 0) - oauth0, 1, "an expired one is refreshed first");

    // Without app credentials the refresh token cannot be used: the expired token is reported.
    const issued = fake.issueAccessToken();
    fake.expireTokens();
    const c = createDropboxProvider({ token: JSON.stringify({ access_token: issued, refresh_token: fake.refreshToken, expiry: "2026-01-01T00:00:00Z" }), fetch: fake.fetch }, { logger: quiet });
    await assert.rejects(c.check(), (e: unknown) => isReauth(e, fake.refreshToken) && /dropbox\.appKey/.test((e as Error).message));
  });
});
