import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fakeContentHash, startDropboxFake, type DropboxFake } from "./support/dropbox-fake.js";

const MiB = 1024 * 1024;

/** The wire fake must refuse what Dropbox refuses, or the provider tests could not fail. */
describe("dropbox wire fake validates like the real API", () => {
  let fake: DropboxFake;
  let auth: string;
  before(async () => {
    fake = await startDropboxFake();
    auth = `Bearer ${fake.issueAccessToken()}`;
  });
  after(() => fake.close());

  const content = (endpoint: string, arg: unknown, body: Buffer, authorization = auth): Promise<Response> =>
    fake.fetch(`https://content.dropboxapi.com/2/${endpoint}`, {
      method: "POST",
      headers: { Authorization: authorization, "Content-Type": "application/octet-stream", "Dropbox-API-Arg": JSON.stringify(arg).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`) },
      body,
    });
  const rpc = (endpoint: string, arg: unknown): Promise<Response> =>
    fake.fetch(`https://api.dropboxapi.com/2/${endpoint}`, { method: "POST", headers: { Authorization: auth, "Content-Type": "application/json" }, body: JSON.stringify(arg) });

  it("checks session offsets and append sizes", async () => {
    const start = await content("files/upload_session/start", { close: false }, Buffer.alloc(4 * MiB, 1));
    assert.equal(start.status, 200);
    const { session_id } = (await start.json()) as { session_id: string };
    const odd = await content("files/upload_session/append_v2", { cursor: { session_id, offset: 4 * MiB }, close: false }, Buffer.alloc(1000));
    assert.equal(odd.status, 400);
    const wrong = await content("files/upload_session/append_v2", { cursor: { session_id, offset: 7 }, close: false }, Buffer.alloc(4 * MiB));
    assert.equal(wrong.status, 409);
    assert.deepEqual(((await wrong.json()) as { error: unknown }).error, { ".tag": "incorrect_offset", correct_offset: 4 * MiB });
    const last = await content("files/upload_session/append_v2", { cursor: { session_id, offset: 4 * MiB }, close: true }, Buffer.alloc(10, 2));
    assert.equal(last.status, 200);
    const fin = await content("files/upload_session/finish", { cursor: { session_id, offset: 4 * MiB + 10 }, commit: { path: "/s/ok.bin", mode: "add" } }, Buffer.alloc(0));
    assert.equal(fin.status, 200);
    assert.equal(((await fin.json()) as { size: number }).size, 4 * MiB + 10);
  });

  it("checks content hashes, write modes, tokens and header encoding", async () => {
    const body = Buffer.from("héllo");
    const bad = await content("files/upload", { path: "/h.txt", mode: "add", content_hash: "0".repeat(64) }, body);
    assert.equal(bad.status, 409);
    assert.match(((await bad.json()) as { error_summary: string }).error_summary, /content_hash_mismatch/);
    const ok = await content("files/upload", { path: "/Ünï/h.txt", mode: "add", content_hash: fakeContentHash(body) }, body);
    assert.equal(ok.status, 200);
    const meta = (await ok.json()) as { rev: string; path_display: string };
    assert.equal(meta.path_display, "/Ünï/h.txt");
    const dup = await content("files/upload", { path: "/ünï/H.TXT", mode: "add", strict_conflict: true }, body);
    assert.equal(dup.status, 409);
    const stale = await content("files/upload", { path: "/ünï/h.txt", mode: { ".tag": "update", update: "000000000deadbeef" } }, body);
    assert.equal(stale.status, 409);
    const upd = await content("files/upload", { path: "/ünï/h.txt", mode: { ".tag": "update", update: meta.rev } }, Buffer.from("new"));
    assert.equal(upd.status, 200);
    assert.equal(fake.read("/ÜNÏ/h.txt")?.toString(), "new");
    const noauth = await content("files/upload", { path: "/x.txt" }, body, "Bearer sl.bogus");
    assert.equal(noauth.status, 401);
    assert.equal(((await noauth.json()) as { error: { ".tag": string } }).error[".tag"], "invalid_access_token");
    const wrongHost = await fake.fetch("https://api.dropboxapi.com/2/files/upload", { method: "POST", headers: { Authorization: auth, "Dropbox-API-Arg": '{"path":"/y"}', "Content-Type": "application/octet-stream" }, body });
    assert.equal(wrongHost.status, 400);
  });

  it("reports folder conflicts, missing paths and 429s with Retry-After", async () => {
    assert.equal((await rpc("files/create_folder_v2", { path: "/dir" })).status, 200);
    const again = await rpc("files/create_folder_v2", { path: "/DIR" });
    assert.equal(again.status, 409);
    assert.match(((await again.json()) as { error_summary: string }).error_summary, /^path\/conflict\/folder/);
    const missing = await rpc("files/list_folder", { path: "/nothing" });
    assert.equal(missing.status, 409);
    assert.match(((await missing.json()) as { error_summary: string }).error_summary, /^path\/not_found/);
    fake.inject({ path: "/2/files/get_metadata", status: 429, retryAfter: 7 });
    const limited = await rpc("files/get_metadata", { path: "/dir" });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get("retry-after"), "7");
    await limited.body?.cancel();
    assert.equal((fake.calls["files/get_metadata"] ?? 0) >= 1, true);
  });
});
