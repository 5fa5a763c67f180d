/**
 * The `openssl enc` container format: `"Salted__"` (8 ASCII bytes) + 8-byte salt + AES-256-CBC
 * ciphertext with PKCS#7 padding. Constants and small pure checks only; streaming lives in
 * `encrypt.ts` / `decrypt.ts`.
 */

/** The 8-byte magic that starts every salted `openssl enc` file. */
export const OPENSSL_MAGIC: Buffer = Buffer.from("Salted__", "latin1");

/** Salt length written after the magic. */
export const SALT_LENGTH = 8;

/** Magic + salt. */
export const HEADER_LENGTH = OPENSSL_MAGIC.length + SALT_LENGTH;

/** AES block size. */
export const AES_BLOCK = 16;

/** Cipher name as node:crypto (and OpenSSL) spell it. */
export const CIPHER = "aes-256-cbc";

/** Key length for AES-256. */
export const KEY_LENGTH = 32;

/** IV length for CBC. */
export const IV_LENGTH = 16;

/** Builds the 16-byte header for `salt`. */
export function opensslHeader(salt: Uint8Array): Buffer {
  return Buffer.concat([OPENSSL_MAGIC, salt]);
}

/** True when `buf` starts with the `Salted__` magic. */
export function hasOpensslMagic(buf: Uint8Array): boolean {
  if (buf.length < OPENSSL_MAGIC.length) return false;
  for (let i = 0; i < OPENSSL_MAGIC.length; i++) if (buf[i] !== OPENSSL_MAGIC[i]) return false;
  return true;
}

/**
 * Default plaintext check for the first decrypted block: a gzip member header (magic 1f 8b,
 * method 08 = deflate, no reserved flag bits). Wrong keys pass this by chance about once in 2^27.
 */
export function looksLikeGzip(firstBlock: Uint8Array): boolean {
  return (
    firstBlock.length >= 4 &&
    firstBlock[0] === 0x1f &&
    firstBlock[1] === 0x8b &&
    firstBlock[2] === 0x08 &&
    ((firstBlock[3] ?? 0) & 0xe0) === 0
  );
}
