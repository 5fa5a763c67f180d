/**
 * Key derivation for the `openssl enc` format: which KDF turns a passphrase and salt into the
 * AES-256 key and CBC IV. The plugin wrote PBKDF2-HMAC-SHA256 with 100 000 iterations; older
 * `openssl enc` without `-pbkdf2` used EVP_BytesToKey (1 iteration) with sha256 (OpenSSL >= 1.1)
 * or md5 (OpenSSL 1.0, LibreSSL). Choosing candidates and naming them are pure functions.
 */
import { createHash, pbkdf2 } from "node:crypto";
import { WorkspaceSyncError } from "../errors.js";
import { IV_LENGTH, KEY_LENGTH, SALT_LENGTH } from "./format.js";

/** A key-derivation function as `openssl enc` knows it. */
export type KdfSpec =
  | { kind: "pbkdf2"; digest: "sha256"; iterations: number }
  | { kind: "evp"; digest: "sha256" | "md5" };

/** Iterations the plugin used (`openssl enc -pbkdf2 -iter 100000`). */
export const DEFAULT_PBKDF2_ITERATIONS = 100_000;

/** What new snapshots are written with: PBKDF2-HMAC-SHA256, 100 000 iterations. */
export const DEFAULT_KDF: KdfSpec = Object.freeze({ kind: "pbkdf2", digest: "sha256", iterations: DEFAULT_PBKDF2_ITERATIONS });

/** Key and IV derived for one snapshot. */
export interface KeyIv {
  /** 32-byte AES-256 key. */
  key: Buffer;
  /** 16-byte CBC IV. */
  iv: Buffer;
}

/** The PBKDF2 spec for `iterations` (validated). */
export function pbkdf2Kdf(iterations: number = DEFAULT_PBKDF2_ITERATIONS): KdfSpec {
  assertIterations(iterations);
  return { kind: "pbkdf2", digest: "sha256", iterations };
}

function assertIterations(iterations: number): void {
  if (!Number.isSafeInteger(iterations) || iterations < 1) {
    throw new WorkspaceSyncError(
      "CONFIG_INVALID",
      `PBKDF2 iterations must be a positive integer (got ${String(iterations)}): set backup.kdfIterations to e.g. ${DEFAULT_PBKDF2_ITERATIONS}`,
    );
  }
}

/** True when both specs derive the same key. */
export function sameKdf(a: KdfSpec, b: KdfSpec): boolean {
  if (a.kind === "pbkdf2" && b.kind === "pbkdf2") return a.digest === b.digest && a.iterations === b.iterations;
  return a.kind === b.kind && a.digest === b.digest;
}

/**
 * The KDFs a restore tries, in order: the configured one, then the plugin's PBKDF2-100000 (unless
 * that is the configured one), then EVP_BytesToKey with sha256, then with md5. No duplicates.
 */
export function kdfCandidates(configured: KdfSpec = DEFAULT_KDF): KdfSpec[] {
  const list: KdfSpec[] = [];
  for (const spec of [configured, DEFAULT_KDF, { kind: "evp", digest: "sha256" } as const, { kind: "evp", digest: "md5" } as const]) {
    if (!list.some((s) => sameKdf(s, spec))) list.push({ ...spec });
  }
  return list;
}

/** Short stable name for metadata and logs: `pbkdf2-sha256-100000`, `evp-sha256`, `evp-md5`. */
export function kdfToString(spec: KdfSpec): string {
  return spec.kind === "pbkdf2" ? `pbkdf2-${spec.digest}-${spec.iterations}` : `evp-${spec.digest}`;
}

/** Parses {@link kdfToString} output; throws `SNAPSHOT_CORRUPT` on anything else. */
export function parseKdf(text: string): KdfSpec {
  const m = /^pbkdf2-sha256-([1-9][0-9]*)$/.exec(text);
  if (m) {
    const iterations = Number(m[1]);
    if (Number.isSafeInteger(iterations)) return { kind: "pbkdf2", digest: "sha256", iterations };
  }
  if (text === "evp-sha256") return { kind: "evp", digest: "sha256" };
  if (text === "evp-md5") return { kind: "evp", digest: "md5" };
  throw new WorkspaceSyncError("SNAPSHOT_CORRUPT", `unknown key-derivation name "${text}" in snapshot metadata: expected pbkdf2-sha256-<iterations>, evp-sha256 or evp-md5`);
}

/**
 * The `openssl enc` options selecting `spec` (after `-aes-256-cbc`), e.g. to tell a user how to
 * decrypt by hand: `openssl enc -d -aes-256-cbc <these> -pass env:PASS`.
 */
export function opensslKdfArgs(spec: KdfSpec): string[] {
  return spec.kind === "pbkdf2" ? ["-pbkdf2", "-iter", String(spec.iterations), "-md", spec.digest] : ["-md", spec.digest];
}

/**
 * Derives key and IV for `passphrase` (UTF-8 bytes, as `openssl enc -pass env:` reads them) and the
 * 8-byte `salt`. PBKDF2 runs on libuv's thread pool, so the event loop is not blocked.
 */
export async function deriveKeyIv(passphrase: string, salt: Uint8Array, spec: KdfSpec): Promise<KeyIv> {
  if (salt.length !== SALT_LENGTH) {
    throw new WorkspaceSyncError("CONFIG_INVALID", `salt must be ${SALT_LENGTH} bytes (got ${salt.length})`);
  }
  const pass = Buffer.from(passphrase, "utf8");
  let material: Buffer;
  if (spec.kind === "pbkdf2") {
    assertIterations(spec.iterations);
    material = await new Promise<Buffer>((resolve, reject) => {
      pbkdf2(pass, salt, spec.iterations, KEY_LENGTH + IV_LENGTH, spec.digest, (err, out) => (err ? reject(err) : resolve(out)));
    });
  } else {
    material = evpBytesToKey(pass, salt, spec.digest);
  }
  return { key: material.subarray(0, KEY_LENGTH), iv: material.subarray(KEY_LENGTH, KEY_LENGTH + IV_LENGTH) };
}

/** OpenSSL's legacy EVP_BytesToKey with count 1: D_i = H(D_{i-1} || pass || salt), concatenated. */
function evpBytesToKey(pass: Buffer, salt: Uint8Array, digest: "sha256" | "md5"): Buffer {
  const need = KEY_LENGTH + IV_LENGTH;
  const parts: Buffer[] = [];
  let have = 0;
  let prev: Buffer = Buffer.alloc(0);
  while (have < need) {
    prev = createHash(digest).update(prev).update(pass).update(salt).digest();
    parts.push(prev);
    have += prev.length;
  }
  return Buffer.concat(parts, have);
}
