/** Interop with the real `openssl enc` CLI (OpenSSL 3): what the plugin wrote and read. */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { promisify } from "node:util";
import { createGunzip, gzipSync } from "node:zlib";
import {
  DEFAULT_KDF,
  createDecryptStream,
  createEncryptStream,
  kdfCandidates,
  opensslKdfArgs,
  pbkdf2Kdf,
  type KdfSpec,
} from "../src/crypto/index.js";
import { isWorkspaceSyncError } from "../src/errors.js";

const run = promisify(execFile);
const PASSPHRASES = ["correct horse battery staple", "pä$$ w'\"`;|&*ünï 🔑"];

let dir: string;
let n = 0;
const file = (name: string): string => join(dir, `${n++}-${name}`);

/** `openssl enc [-d] -aes-256-cbc <kdf args> -pass env:PASS -in src -out dst`; the passphrase never touches argv. */
async function openssl(decrypt: boolean, args: string[], passphrase: string, src: string, dst: string): Promise<void> {
  await run("openssl", ["enc", ...(decrypt ? ["-d"] : []), "-aes-256-cbc", ...args, "-pass", "env:PASS", "-in", src, "-out", dst], {
    env: { ...process.env, PASS: passphrase },
  });
}

async function ourEncrypt(src: string, dst: string, passphrase: string, iterations?: number): Promise<KdfSpec> {
  const enc = createEncryptStream({ passphrase, ...(iterations === undefined ? {} : { iterations }) });
  await pipeline(createReadStream(src), enc, createWriteStream(dst));
  return enc.kdf;
}

async function ourDecrypt(src: string, dst: string, passphrase: string, configured?: KdfSpec): Promise<KdfSpec | undefined> {
  const dec = createDecryptStream({ passphrase, candidates: kdfCandidates(configured) });
  await pipeline(createReadStream(src), dec, createWriteStream(dst));
  return dec.kdf;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "crypto-openssl-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("openssl decrypts what we write", () => {
  for (const passphrase of PASSPHRASES) {
    for (const size of [0, 15, 16, 17, 2 * 1024 * 1024 + 9]) {
      it(`${size} bytes, passphrase ${JSON.stringify(passphrase)}: openssl enc -d -pbkdf2 -iter 100000 is byte-exact`, async () => {
        const plain = file("plain");
        const data = randomBytes(size);
        await writeFile(plain, data);
        const enc = file("enc");
        assert.deepEqual(await ourEncrypt(plain, enc, passphrase), DEFAULT_KDF);
        const out = file("out");
        await openssl(true, ["-pbkdf2", "-iter", "100000"], passphrase, enc, out);
        assert.ok((await readFile(out)).equals(data));
      });
    }
  }

  it("configured iterations are what openssl needs", async () => {
    const plain = file("plain");
    const data = randomBytes(1000);
    await writeFile(plain, data);
    const enc = file("enc");
    assert.deepEqual(await ourEncrypt(plain, enc, "pw", 20_000), pbkdf2Kdf(20_000));
    const out = file("out");
    await openssl(true, ["-pbkdf2", "-iter", "20000"], "pw", enc, out);
    assert.ok((await readFile(out)).equals(data));
    // The plugin's 100000 does not open it: the iteration count really is in the key. A wrong key
    // fails openssl's padding check in all but about 1 in 256 cases; in those, the bytes differ.
    const wrong = file("out");
    const opened = await openssl(true, ["-pbkdf2", "-iter", "100000"], "pw", enc, wrong).then(
      () => true,
      () => false,
    );
    if (opened) assert.ok(!(await readFile(wrong)).equals(data), "100000 iterations must not give back the plaintext");
  });
});

describe("we decrypt what openssl writes (gzip'd, KDF auto-detected)", () => {
  const cases: Array<{ name: string; args: string[]; configured?: KdfSpec; expected: KdfSpec }> = [
    { name: "plugin: -salt -pbkdf2 -iter 100000", args: ["-salt", "-pbkdf2", "-iter", "100000"], expected: DEFAULT_KDF },
    { name: "-pbkdf2 -iter 20000 (configured)", args: ["-salt", "-pbkdf2", "-iter", "20000"], configured: pbkdf2Kdf(20_000), expected: pbkdf2Kdf(20_000) },
    { name: "-md sha256 (legacy EVP_BytesToKey)", args: ["-salt", "-md", "sha256"], expected: { kind: "evp", digest: "sha256" } },
    { name: "-md md5 (OpenSSL 1.0 / LibreSSL)", args: ["-salt", "-md", "md5"], expected: { kind: "evp", digest: "md5" } },
    {
      name: "-md md5 with a non-default configured PBKDF2",
      args: ["-salt", "-md", "md5"],
      configured: pbkdf2Kdf(5000),
      expected: { kind: "evp", digest: "md5" },
    },
  ];
  for (const passphrase of PASSPHRASES) {
    for (const c of cases) {
      it(`${c.name}, passphrase ${JSON.stringify(passphrase)}`, async () => {
        const raw = randomBytes(300_000);
        const gz = gzipSync(raw);
        const plain = file("plain.gz");
        await writeFile(plain, gz);
        const enc = file("enc");
        await openssl(false, c.args, passphrase, plain, enc);
        assert.equal((await readFile(enc)).subarray(0, 8).toString("latin1"), "Salted__");
        const out = file("out");
        const kdf = await ourDecrypt(enc, out, passphrase, c.configured);
        assert.deepEqual(kdf, c.expected);
        assert.ok((await readFile(out)).equals(gz));
        // And straight into gunzip, as a restore does.
        const chunks: Buffer[] = [];
        const gunzip = createGunzip();
        gunzip.on("data", (b: Buffer) => chunks.push(b));
        await pipeline(createReadStream(enc), createDecryptStream({ passphrase, candidates: kdfCandidates(c.configured) }), gunzip);
        assert.ok(Buffer.concat(chunks).equals(raw));
      });
    }
  }

  it("opensslKdfArgs gives the command that opens a snapshot by hand", async () => {
    for (const spec of kdfCandidates(pbkdf2Kdf(3000))) {
      const gz = gzipSync(Buffer.from("by hand"));
      const plain = file("plain.gz");
      await writeFile(plain, gz);
      const enc = file("enc");
      await openssl(false, opensslKdfArgs(spec), "pw", plain, enc);
      assert.deepEqual(await ourDecrypt(enc, file("out"), "pw", pbkdf2Kdf(3000)), spec);
    }
  });

  it("an openssl file with the wrong passphrase: WRONG_PASSPHRASE, nothing written", async () => {
    const plain = file("plain.gz");
    await writeFile(plain, gzipSync(randomBytes(50_000)));
    const enc = file("enc");
    await openssl(false, ["-salt", "-pbkdf2", "-iter", "100000"], PASSPHRASES[1] as string, plain, enc);
    const out = file("out");
    await assert.rejects(ourDecrypt(enc, out, "pa$$ w'\"`;|&*uni 🔑"), (e) => isWorkspaceSyncError(e, "WRONG_PASSPHRASE"));
    assert.equal((await readFile(out)).length, 0);
  });
});
