/**
 * The stages that turn a snapshot's stored bytes into its gzip stream: the integrity check over the
 * stored bytes (the streaming HMAC of an authenticated snapshot, or the SHA-256 of the others),
 * decryption (encrypted snapshots), and the removal of the authentication mark. Described by plain
 * data ({@link SnapshotDecodeSpec}) so that they can be built on a worker thread (see
 * decode-thread.ts) or, where there is none, on the caller's thread, with the same code.
 */
import type { Transform } from "node:stream";
import { StripAuthMarker } from "../crypto/auth-marker.js";
import { DecryptStream } from "../crypto/decrypt.js";
import { HashStream } from "../crypto/hash.js";
import type { KdfSpec } from "../crypto/kdf.js";
import { MacStream } from "../crypto/mac.js";

/** What the decode stages check and undo; plain data (it is sent to a worker thread). */
export interface SnapshotDecodeSpec {
  /**
   * The check over the stored bytes: the HMAC key of the body tag (authenticated snapshots), or a
   * SHA-256 (hex) that the bytes must have (`expected`; none: computed, not checked).
   */
  check: { kind: "mac"; key: Uint8Array } | { kind: "sha256"; expected?: string | undefined };
  /** Decryption, for an encrypted snapshot: the passphrase and the key derivations to try. */
  decrypt?: { passphrase: string; candidates: KdfSpec[] } | undefined;
  /** The snapshot's name, put on errors. */
  path: string;
}

/** What the stages found, final once the last byte went through. */
export interface SnapshotDecodeResult {
  /** Stored bytes read. */
  bytes: number;
  /** The HMAC body tag (check `mac`). */
  tag: Buffer | undefined;
  /** The SHA-256, hex (check `sha256`). */
  digest: string | undefined;
  /** The key derivation that decrypted the snapshot. */
  kdf: KdfSpec | undefined;
  /** Whether the plaintext started with the authentication mark (encrypted snapshots). */
  marked: boolean | undefined;
}

/** The stages of {@link createDecodeStages}, in order, with access to what they found. */
export interface DecodeStages {
  stages: Transform[];
  /** The mark-removing stage: emits `"marker"` (boolean) before it passes any byte on. */
  strip: StripAuthMarker | undefined;
  /** The decrypting stage: emits `"kdf"` once the key derivation is known. */
  decrypt: DecryptStream | undefined;
  result(): SnapshotDecodeResult;
}

/** Builds the decode stages of `spec` on this thread. */
export function createDecodeStages(spec: SnapshotDecodeSpec): DecodeStages {
  const check = spec.check.kind === "mac" ? new MacStream(spec.check.key) : new HashStream({ expected: spec.check.expected, path: spec.path });
  const decrypt = spec.decrypt ? new DecryptStream({ passphrase: spec.decrypt.passphrase, candidates: spec.decrypt.candidates, path: spec.path }) : undefined;
  const strip = decrypt ? new StripAuthMarker() : undefined;
  const stages: Transform[] = [check];
  if (decrypt && strip) stages.push(decrypt, strip);
  return {
    stages,
    strip,
    decrypt,
    result: () => ({
      bytes: check.bytes,
      tag: check instanceof MacStream ? check.tag : undefined,
      digest: check instanceof HashStream ? check.digest : undefined,
      kdf: decrypt?.kdf,
      marked: strip?.marked,
    }),
  };
}
