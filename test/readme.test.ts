/** The README's config reference is the schema's own description: regenerate with scripts/gen-readme.mjs. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describeConfig } from "../src/config/index.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

test("README config reference matches the config schema (run: npm run docs)", () => {
  const text = readFileSync(path.join(root, "README.md"), "utf8");
  const m = /<!-- config-reference:start -->\n([\s\S]*?)\n<!-- config-reference:end -->/.exec(text);
  assert.ok(m, "README.md has the config-reference markers");
  assert.equal(m[1], describeConfig().trim());
});

test("README gives the two set-up commands on its first screen", () => {
  const firstScreen = readFileSync(path.join(root, "README.md"), "utf8").split("\n").slice(0, 40).join("\n");
  assert.match(firstScreen, /npm ci && npm run demo/);
  assert.match(firstScreen, /npm test/);
});
