/**
 * Config files are read as JSON5, as OpenClaw reads `openclaw.json`: comments, unquoted keys,
 * single quotes, trailing commas. JSON reads exactly as JSON.parse reads it; errors keep the
 * secret-free locator (file:line:column and a reason, never the text).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { promises as fsp } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadConfigFile } from "../src/config/index.js";
import { parseJson5 } from "../src/config/json5.js";
import { WorkspaceSyncError } from "../src/errors.js";
import { runNode } from "./support/run-node.js";
import { tempDir } from "./support/tree.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const BIN = path.resolve(HERE, "..", "src", "cli", "main.js");

const HOST_JSON5 = `// OpenClaw host config
{
  models: { providers: { openai: { apiKey: "\${OPENAI_API_KEY}" } } },
  /* the plugin's entry */
  plugins: {
    entries: {
      'openclaw-workspace-sync': {
        enabled: true,
        config: {
          sync: { provider: 'local', mode: "mirror", local: { root: "store", }, exclude: ['**/.DS_Store', "*.tmp",], },
          backup: { enabled: true, interval: 0x10, retain: +7, },
        },
      },
    },
  },
}
`;

function parsed(text: string): unknown {
  const r = parseJson5(text);
  assert.ok(r.ok, `${JSON.stringify(text)}: ${r.ok ? "" : r.error.reason}`);
  return r.value;
}

function failure(text: string) {
  const r = parseJson5(text);
  assert.ok(!r.ok, `${JSON.stringify(text)} should not parse`);
  return r.error;
}

test("JSON reads exactly as JSON.parse reads it", () => {
  for (const text of [
    '{"a": 1}',
    '[1, -2.5e3, -0, 0.5, 1E+2, "x\\u00e9\\n\\/\\"", true, false, null, {}, []]',
    "  42  ",
    '"\\ud83d\\ude00 é"',
    '{"a": 1, "a": 2, "__proto__": {"x": 1}, "b": {"c": [{"d": "e"}]}}',
    "\ufeff{}",
  ]) {
    const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    assert.deepEqual(parsed(text), JSON.parse(body), text);
  }
  const proto = parsed('{"__proto__": {"polluted": true}}') as Record<string, unknown>;
  assert.ok(Object.hasOwn(proto, "__proto__"), "__proto__ is an own key, as with JSON.parse");
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test("JSON5 syntax: comments, identifier keys, single quotes, trailing commas, numbers, escapes", () => {
  assert.deepEqual(parsed("// c\n{a: 1, $b_2: 'x', 'c d': \"y\", /* c */ e: [1, 2,], }  // end"), { a: 1, $b_2: "x", "c d": "y", e: [1, 2] });
  assert.deepEqual(parsed("[0x1F, +3, .5, 5., -Infinity, Infinity, 1e3]"), [31, 3, 0.5, 5, -Infinity, Infinity, 1000]);
  assert.ok(Number.isNaN(parsed("NaN")));
  assert.equal(parsed("'it\\'s \\x41\\v\\0 a\\\nb \"q\"'"), "it's A\v\0 ab \"q\"");
  assert.equal(parsed('"line1\\\r\nline2"'), "line1line2");
  assert.deepEqual(parsed("{ünïcode: 1, true_: 2}"), { "ünïcode": 1, true_: 2 });
  assert.equal(parsed("\u00a0\u2028 1 \u2029"), 1, "Unicode whitespace");
});

test("errors: line, column and a reason, without the text", () => {
  const cases: [string, number, number, RegExp][] = [
    ["", 1, 1, /unexpected end of file, expected a value/],
    ['{"a" 1}', 1, 6, /expected ":"/],
    ['{"a": 01}', 1, 7, /malformed number/],
    ['{"a": "x\ny"}', 1, 9, /line break inside a string/],
    ['{"a": "x', 1, 9, /unterminated string/],
    ["{a: tru}", 1, 5, /expected a value/],
    ['{"a": 1} x', 1, 10, /after the end/],
    ["{\n  /* open", 2, 3, /unterminated \/\* comment/],
    ["{a: 1,,}", 1, 7, /expected a key/],
    ["[1,,]", 1, 4, /expected a value/],
    ["{\\u0061: 1}", 1, 2, /quote the key/],
    ["'\\1'", 1, 2, /bad escape/],
    ["'\\xZZ'", 1, 2, /bad \\x escape/],
    ["{a: 1 b: 2}", 1, 7, /expected "," or "}"/],
    ["1.2.3", 1, 1, /malformed number/],
    ["[".repeat(600), 1, 513, /nested deeper/],
  ];
  for (const [text, line, column, reason] of cases) {
    const e = failure(text);
    assert.deepEqual([e.line, e.column], [line, column], `position in ${JSON.stringify(text)}: ${e.reason}`);
    assert.match(e.reason, reason);
  }
});

test("loadConfigFile reads a JSON5 openclaw.json: only the entry config, local.root against the file's folder", async (t) => {
  const { dir, cleanup } = await tempDir("ws-json5-");
  t.after(cleanup);
  const file = path.join(dir, "openclaw.json");
  await fsp.writeFile(file, HOST_JSON5);
  const c = await loadConfigFile(file, { env: {} });
  assert.equal(c.sync.provider, "local");
  assert.equal(c.sync.local?.root, path.join(dir, "store"));
  assert.deepEqual(c.sync.exclude, ["**/.DS_Store", "*.tmp"]);
  assert.equal(c.backup?.interval, 16);
  assert.equal(c.backup?.retain, 7);

  const bad = path.join(dir, "bad.json");
  await fsp.writeFile(bad, "{\n  backup: {\n    passphrase: 'hunter2-do-not-print\n  }\n}\n");
  try {
    await loadConfigFile(bad, { env: {} });
    assert.fail("expected a syntax error");
  } catch (err) {
    assert.ok(err instanceof WorkspaceSyncError);
    assert.equal(err.code, "CONFIG_INVALID");
    assert.equal(err.path, bad);
    assert.match(err.message, new RegExp(`^Invalid JSON in config file ${bad.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}:3:38: line break inside a string`));
    assert.ok(!err.message.includes("hunter2"), err.message);
  }
});

test("workspace-sync config check accepts a JSON5 openclaw.json (text and --json)", async (t) => {
  const { dir, cleanup } = await tempDir("ws-json5-cli-");
  t.after(cleanup);
  const file = path.join(dir, "openclaw.json");
  await fsp.writeFile(file, HOST_JSON5);
  const text = await runNode(BIN, ["config", "check", "--config", file], { OPENAI_API_KEY: "" });
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^Config OK: /);
  const json = await runNode(BIN, ["config", "check", "--config", file, "--json"], { OPENAI_API_KEY: "" });
  assert.equal(json.code, 0, json.stderr);
  const out = JSON.parse(json.stdout) as { ok: boolean; config: { sync: { provider: string } } };
  assert.equal(out.ok, true);
  assert.equal(out.config.sync.provider, "local");
});

test("numbers of any length read as JSON.parse reads them (no look-ahead window)", () => {
  for (const text of ["1" + "0".repeat(500), "0." + "0".repeat(450) + "1", "-" + "9".repeat(1000) + "e-3", `{"n": ${"1".repeat(600)}.5}`]) {
    assert.deepEqual(parsed(text), JSON.parse(text), text.slice(0, 20));
  }
  assert.equal(parsed("0x" + "0".repeat(500) + "ff"), 255);
});

test("line and column count every JSON5 line break: \\r\\n, \\r, \\n, \\u2028, \\u2029", () => {
  for (const nl of ["\n", "\r\n", "\r", "\u2028", "\u2029"]) {
    const e = failure(`{${nl}a: 1,${nl}${nl}  b 2}`);
    assert.deepEqual([e.line, e.column], [4, 5], JSON.stringify(nl));
  }
  const mixed = failure("{\r\n a: 1,\r b: 2,\n\u2028 c 3}");
  assert.deepEqual([mixed.line, mixed.column], [5, 4]);
});

test("syntax errors describe the character by class, never quote a letter or digit of the text", () => {
  const cases: [string, RegExp][] = [
    ["{a: hunter2}", /unexpected character \(a letter\), expected a value/],
    ["{a: 1 9}", /a digit/],
    ["{a: 1 'x'}", /a quote/],
    ['{"a": 1 "b": 2}', /a quote/],
    ["{a: 1 }}", /unexpected character "}" after the end/],
    ["{a: 1 ~}", /a symbol/],
    ["{a: 1 é}", /a letter/],
  ];
  for (const [text, reason] of cases) {
    const e = failure(text);
    assert.match(e.reason, reason, text);
    assert.doesNotMatch(e.reason, /"[a-zA-Z0-9~é'"]"/, text);
  }
});
