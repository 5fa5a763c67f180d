/**
 * `createCliContext` as a host uses it: workspace, state folder and an already-loaded config
 * handed in (no argv, no environment read), warnings logged once, secrets masked in output.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { createCliContext } from "../src/cli/context.js";
import { resolveConfig } from "../src/config/index.js";

function sink(): PassThrough & { text(): string } {
  const s = new PassThrough() as PassThrough & { text(): string };
  let out = "";
  s.on("data", (d: Buffer) => (out += d.toString()));
  s.text = () => out;
  return s;
}

test("a host hands createCliContext a loaded config, workspace and state folder", async () => {
  const secret = "host-Secret-Key-123456";
  const config = resolveConfig({ sync: { provider: "s3", mode: "mailbox", remotePath: "b/share", s3: { accessKeyId: "AKIAHOST", secretAccessKey: secret } } });
  const stdout = sink();
  const stderr = sink();
  const ctx = createCliContext({
    io: { stdout, stderr, env: {}, cwd: "/nowhere" },
    signal: new AbortController().signal,
    workspaceDir: "/host/workspace",
    stateDir: "/host/state",
    config,
  });
  assert.equal(ctx.workspaceDir, "/host/workspace");
  assert.equal(ctx.stateDir, "/host/state");
  assert.equal(await ctx.config(), config);
  assert.equal(await ctx.config(), config, "loaded once");
  ctx.print(`key is ${secret}`);
  await new Promise((r) => setImmediate(r));
  assert.ok(stdout.text().startsWith("key is "));
  assert.ok(!stdout.text().includes(secret), "the config's secrets are masked in output");
});

test("without config or loader, config() fails with a typed error", async () => {
  const ctx = createCliContext({
    io: { stdout: sink(), stderr: sink(), env: {}, cwd: "/" },
    signal: new AbortController().signal,
    workspaceDir: "/w",
    stateDir: "/s",
  });
  await assert.rejects(ctx.config(), { code: "CONFIG_INVALID" });
});
