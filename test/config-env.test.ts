import { test } from "node:test";
import assert from "node:assert/strict";
import { resolveConfig, interpolateEnv } from "../src/config/index.js";
import { isWorkspaceSyncError, type WorkspaceSyncError } from "../src/errors.js";

function isConfigMissingEnv(err: unknown): err is WorkspaceSyncError {
  return isWorkspaceSyncError(err, "CONFIG_MISSING_ENV");
}

test("${NAME} is replaced in every string value, nested and in arrays", () => {
  const c = resolveConfig(
    {
      sync: { provider: "s3", remotePath: "agents/${AGENT}", exclude: ["${PAT}/**"], s3: { bucket: "${BUCKET}", accessKeyId: "${KEY_1}" } },
      backup: { passphrase: "pre-${PASS}-post" },
    },
    { env: { AGENT: "a1", PAT: "tmp", BUCKET: "bkt", KEY_1: "AKIA", PASS: "p" } },
  );
  assert.equal(c.sync.remotePath, "agents/a1");
  assert.deepEqual(c.sync.exclude, ["tmp/**"]);
  assert.equal(c.sync.s3?.bucket, "bkt");
  assert.equal(c.sync.s3?.accessKeyId, "AKIA");
  assert.equal(c.backup?.passphrase, "pre-p-post");
});

test("$${NAME} yields a literal ${NAME}; other $ text and lower-case names stay", () => {
  const out = interpolateEnv(
    { a: "$${HOME_DIR}", b: "cost $5 and ${lower} and $NAME and ${1BAD} and $", c: "${A}${A}" },
    { HOME_DIR: "x", lower: "y", NAME: "z", A: "q" },
  );
  assert.deepEqual(out, { a: "${HOME_DIR}", b: "cost $5 and ${lower} and $NAME and ${1BAD} and $", c: "qq" });
});

test("keys, numbers, booleans and functions are untouched; null-valued keys are dropped", () => {
  const fn = () => undefined;
  const out = interpolateEnv({ "${K}": 1, b: true, f: fn, n: null, list: [null, "${K}"] }, { K: "v" });
  assert.deepEqual(Object.keys(out), ["${K}", "b", "f", "list"]);
  assert.equal(out.f, fn);
  assert.deepEqual(out.list, [null, "v"]);
});

test("unset variable: CONFIG_MISSING_ENV naming the variable and the config path", () => {
  assert.throws(
    () => resolveConfig({ backup: { passphrase: "${BACKUP_PASS}" } }, { env: {} }),
    (err: unknown) => {
      assert.ok(isConfigMissingEnv(err));
      assert.equal(err.path, "backup.passphrase");
      assert.match(err.message, /"BACKUP_PASS"/);
      assert.match(err.message, /backup\.passphrase/);
      assert.match(err.message, /export BACKUP_PASS=/);
      return true;
    },
  );
});

test("empty variable is an error too", () => {
  assert.throws(() => resolveConfig({ sync: { s3: { bucket: "${B}" } } }, { env: { B: "" } }), (err: unknown) => {
    assert.ok(isConfigMissingEnv(err));
    assert.equal(err.path, "sync.s3.bucket");
    return true;
  });
});

test("every missing variable is listed, with array paths", () => {
  assert.throws(
    () => resolveConfig({ exclude: ["ok", "${X1}"], backup: { prefix: "${X2}" } }, { env: {} }),
    (err: unknown) => {
      assert.ok(isConfigMissingEnv(err));
      assert.match(err.message, /"X1" referenced at config path exclude\[1\]/);
      assert.match(err.message, /"X2" referenced at config path backup\.prefix/);
      return true;
    },
  );
});

test("env defaults to process.env", () => {
  process.env.WS_CONFIG_TEST_BUCKET = "from-process";
  try {
    assert.equal(resolveConfig({ sync: { s3: { bucket: "${WS_CONFIG_TEST_BUCKET}" } } }).sync.s3?.bucket, "from-process");
  } finally {
    delete process.env.WS_CONFIG_TEST_BUCKET;
  }
});

test("an interpolated value is validated like a literal one", () => {
  assert.throws(() => resolveConfig({ mode: "${MODE}" }, { env: { MODE: "sideways" } }), /mode: expected one of "mailbox", "mirror", "bisync", got "sideways"/);
});
