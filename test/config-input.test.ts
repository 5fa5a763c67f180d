/** One test for "is this config already resolved?", shared by backup, sync and the managers. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isResolvedConfig, loadSyncConfig, resolveConfig } from "../src/config/index.js";
import type { Logger } from "../src/logger.js";

const raw = { sync: { provider: "local", mode: "mirror", remotePath: "r", local: { root: "/tmp/x" } } };

test("isResolvedConfig: a resolved config is, a raw or partial one is not", () => {
  const resolved = resolveConfig(raw);
  assert.equal(isResolvedConfig(resolved), true);
  assert.equal(isResolvedConfig(raw), false);
  assert.equal(isResolvedConfig({ provider: "local", mode: "mirror", warnings: [] }), false);
  assert.equal(isResolvedConfig({ ...resolved, sync: { provider: "local", exclude: [] } }), false);
  assert.equal(isResolvedConfig({ ...resolved, sync: { ...resolved.sync, exclude: "x" } }), false);
  assert.equal(isResolvedConfig(null), false);
});

test("loadSyncConfig resolves a raw config once and passes a resolved one through", () => {
  const warned: string[] = [];
  const logger: Logger = { info: () => {}, warn: (m) => warned.push(m), error: () => {} };
  const resolved = loadSyncConfig({ ...raw, sync: { ...raw.sync, bwlimit: "1M" } }, logger);
  assert.equal(resolved.sync.provider, "local");
  assert.ok(warned.length > 0, "the ignored rclone key is warned about");
  assert.equal(loadSyncConfig(resolved, logger), resolved);
});
