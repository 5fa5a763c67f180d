/** Encryption in the `openssl enc -aes-256-cbc -salt` format, and content hashing. */
export { AES_BLOCK, HEADER_LENGTH, OPENSSL_MAGIC, SALT_LENGTH, hasOpensslMagic, looksLikeGzip } from "./format.js";
export {
  DEFAULT_KDF,
  DEFAULT_PBKDF2_ITERATIONS,
  deriveKeyIv,
  kdfCandidates,
  kdfToString,
  opensslKdfArgs,
  parseKdf,
  pbkdf2Kdf,
  sameKdf,
  type KdfSpec,
  type KeyIv,
} from "./kdf.js";
export { CRYPTO_HIGH_WATER_MARK, EncryptStream, createEncryptStream, type EncryptOptions } from "./encrypt.js";
export { DecryptStream, createDecryptStream, type DecryptOptions } from "./decrypt.js";
export { HashStream, createHashStream, type HashStreamOptions } from "./hash.js";
export {
  MAC_ALGORITHM,
  MAC_SALT_LENGTH,
  MAX_MAC_ITERATIONS,
  MacStream,
  PASSPHRASE_CHECK_LENGTH,
  canonicalIdentity,
  createMacStream,
  deriveMacKeys,
  sameHex,
  snapshotMac,
  snapshotNameTag,
  type MacKeys,
  type SnapshotIdentity,
} from "./mac.js";
export { AUTH_MARKER, StripAuthMarker, createStripAuthMarker, prependAuthMarker, startsWithAuthMarker } from "./auth-marker.js";
