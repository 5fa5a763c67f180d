import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { DEFAULT_KDF, deriveKeyIv, kdfCandidates, kdfToString, opensslKdfArgs, parseKdf, pbkdf2Kdf, sameKdf, type KdfSpec } from "../src/crypto/index.js";
import { isWorkspaceSyncError } from "../src/errors.js";

const run = promisify(execFile);
const PBKDF2_100K: KdfSpec = { kind: "pbkdf2", digest: "sha256", iterations: 100_000 };
const EVP_SHA256: KdfSpec = { kind: "evp", digest: "sha256" };
const EVP_MD5: KdfSpec = { kind: "evp", digest: "md5" };

/** What `openssl enc -P` prints for this salt, passphrase and KDF: the reference key and IV. */
async function opensslKeyIv(passphrase: string, saltHex: string, spec: KdfSpec): Promise<{ key: string; iv: string }> {
  const { stdout } = await run("openssl", ["enc", "-aes-256-cbc", ...opensslKdfArgs(spec), "-S", saltHex, "-P", "-pass", "env:PASS"], {
    env: { ...process.env, PASS: passphrase },
  });
  const key = /^key=([0-9A-F]+)$/m.exec(stdout)?.[1];
  const iv = /^iv\s*=([0-9A-F]+)$/m.exec(stdout)?.[1];
  assert.ok(key && iv, `unexpected openssl output: ${stdout}`);
  return { key: key.toLowerCase(), iv: iv.toLowerCase() };
}

describe("kdfCandidates", () => {
  const table: Array<{ name: string; configured: KdfSpec | undefined; expected: KdfSpec[] }> = [
    { name: "default", configured: undefined, expected: [PBKDF2_100K, EVP_SHA256, EVP_MD5] },
    { name: "configured = plugin default", configured: PBKDF2_100K, expected: [PBKDF2_100K, EVP_SHA256, EVP_MD5] },
    {
      name: "configured 20000 iterations",
      configured: pbkdf2Kdf(20_000),
      expected: [{ kind: "pbkdf2", digest: "sha256", iterations: 20_000 }, PBKDF2_100K, EVP_SHA256, EVP_MD5],
    },
    { name: "configured evp-md5", configured: EVP_MD5, expected: [EVP_MD5, PBKDF2_100K, EVP_SHA256] },
    { name: "configured evp-sha256", configured: EVP_SHA256, expected: [EVP_SHA256, PBKDF2_100K, EVP_MD5] },
  ];
  for (const row of table) {
    it(row.name, () => {
      assert.deepEqual(kdfCandidates(row.configured), row.expected);
    });
  }

  it("returns fresh objects (callers may not mutate DEFAULT_KDF through it)", () => {
    const list = kdfCandidates();
    assert.notEqual(list[0], DEFAULT_KDF);
    assert.ok(Object.isFrozen(DEFAULT_KDF));
  });
});

describe("kdf names", () => {
  const table: Array<[KdfSpec, string, string[]]> = [
    [PBKDF2_100K, "pbkdf2-sha256-100000", ["-pbkdf2", "-iter", "100000", "-md", "sha256"]],
    [pbkdf2Kdf(1), "pbkdf2-sha256-1", ["-pbkdf2", "-iter", "1", "-md", "sha256"]],
    [EVP_SHA256, "evp-sha256", ["-md", "sha256"]],
    [EVP_MD5, "evp-md5", ["-md", "md5"]],
  ];
  for (const [spec, name, args] of table) {
    it(`${name} round-trips and maps to openssl ${args.join(" ")}`, () => {
      assert.equal(kdfToString(spec), name);
      assert.deepEqual(parseKdf(name), spec);
      assert.ok(sameKdf(parseKdf(name), spec));
      assert.deepEqual(opensslKdfArgs(spec), args);
    });
  }

  for (const bad of ["", "pbkdf2-sha256-0", "pbkdf2-sha256-01", "pbkdf2-sha1-1000", "evp-sha1", "pbkdf2-sha256-99999999999999999999"]) {
    it(`rejects ${JSON.stringify(bad)}`, () => {
      assert.throws(() => parseKdf(bad), (e) => isWorkspaceSyncError(e, "SNAPSHOT_CORRUPT"));
    });
  }

  it("sameKdf tells specs apart", () => {
    assert.equal(sameKdf(PBKDF2_100K, pbkdf2Kdf(100_000)), true);
    assert.equal(sameKdf(PBKDF2_100K, pbkdf2Kdf(20_000)), false);
    assert.equal(sameKdf(EVP_MD5, EVP_SHA256), false);
    assert.equal(sameKdf(EVP_SHA256, PBKDF2_100K), false);
  });

  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
    it(`pbkdf2Kdf rejects ${bad} iterations with CONFIG_INVALID`, () => {
      assert.throws(() => pbkdf2Kdf(bad), (e) => isWorkspaceSyncError(e, "CONFIG_INVALID"));
    });
  }
});

describe("deriveKeyIv matches openssl enc -P", () => {
  const passphrases = ["correct horse battery staple", "pä$$ w'\"`;|&*ünï 🔑"];
  const specs: KdfSpec[] = [pbkdf2Kdf(100_000), pbkdf2Kdf(20_000), pbkdf2Kdf(1), EVP_SHA256, EVP_MD5];
  for (const passphrase of passphrases) {
    for (const spec of specs) {
      it(`${kdfToString(spec)} with ${JSON.stringify(passphrase)}`, async () => {
        const saltHex = "a1b2c3d4e5f60718";
        const ours = await deriveKeyIv(passphrase, Buffer.from(saltHex, "hex"), spec);
        const ref = await opensslKeyIv(passphrase, saltHex, spec);
        assert.equal(ours.key.toString("hex"), ref.key);
        assert.equal(ours.iv.toString("hex"), ref.iv);
        assert.equal(ours.key.length, 32);
        assert.equal(ours.iv.length, 16);
      });
    }
  }

  it("rejects a salt that is not 8 bytes", async () => {
    await assert.rejects(deriveKeyIv("x", Buffer.alloc(7), DEFAULT_KDF), (e) => isWorkspaceSyncError(e, "CONFIG_INVALID"));
  });
});
