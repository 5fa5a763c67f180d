/**
 * Encrypting side of the `openssl enc` format: a Transform that emits `Salted__` + salt, then
 * AES-256-CBC ciphertext of everything written to it, PKCS#7-padded at the end. Output is
 * byte-compatible with `openssl enc -aes-256-cbc -salt -pbkdf2 -iter N`.
 */
import { createCipheriv, randomBytes, type Cipher } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { WorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";
import { CIPHER, SALT_LENGTH, opensslHeader } from "./format.js";
import { DEFAULT_PBKDF2_ITERATIONS, deriveKeyIv, pbkdf2Kdf, type KdfSpec, type KeyIv } from "./kdf.js";

/** Options for {@link createEncryptStream}. */
export interface EncryptOptions {
  /** The passphrase (UTF-8). Must not be empty. */
  passphrase: string;
  /** PBKDF2-HMAC-SHA256 iterations (default 100 000, what the plugin wrote). */
  iterations?: number;
  /** 8-byte salt; random by default. Only tests should pass one. */
  salt?: Uint8Array;
  /** Stream buffer size in bytes on each side (default 256 KiB). */
  highWaterMark?: number;
}

/** Default buffer size of the crypto streams: big enough that per-chunk overhead is noise. */
export const CRYPTO_HIGH_WATER_MARK = 256 * 1024;

/** A Transform producing an `openssl enc` file; see {@link createEncryptStream}. */
export class EncryptStream extends Transform {
  /** The KDF the key was derived with (record it in snapshot metadata). */
  readonly kdf: KdfSpec;
  /** The salt written in the header. */
  readonly salt: Buffer;
  /** Ciphertext bytes emitted so far, header included. */
  bytesOut = 0;

  readonly #keyIv: Promise<KeyIv>;
  #cipher: Cipher | undefined;

  constructor(options: EncryptOptions) {
    const hwm = options.highWaterMark ?? CRYPTO_HIGH_WATER_MARK;
    super({ readableHighWaterMark: hwm, writableHighWaterMark: hwm });
    if (typeof options.passphrase !== "string" || options.passphrase.length === 0) {
      throw new WorkspaceSyncError("PASSPHRASE_MISSING", "Backup encryption is enabled but the passphrase is empty: set backup.passphrase");
    }
    this.kdf = pbkdf2Kdf(options.iterations ?? DEFAULT_PBKDF2_ITERATIONS);
    const salt = options.salt === undefined ? randomBytes(SALT_LENGTH) : Buffer.from(options.salt);
    if (salt.length !== SALT_LENGTH) {
      throw new WorkspaceSyncError("CONFIG_INVALID", `salt must be ${SALT_LENGTH} bytes (got ${salt.length})`);
    }
    this.salt = salt;
    // Start the (slow) PBKDF2 now so it overlaps with the producer starting up.
    this.#keyIv = deriveKeyIv(options.passphrase, salt, this.kdf);
    this.#keyIv.catch(() => {}); // reported through the first write or flush, never unhandled
  }

  #out(buf: Buffer): void {
    if (buf.length === 0) return;
    this.bytesOut += buf.length;
    this.push(buf);
  }

  #start(then: (cipher: Cipher) => void, callback: TransformCallback): void {
    const cipher = this.#cipher;
    if (cipher) {
      then(cipher);
      return;
    }
    this.#keyIv.then(
      ({ key, iv }) => {
        if (this.destroyed) return callback();
        const c = createCipheriv(CIPHER, key, iv);
        this.#cipher = c;
        this.#out(opensslHeader(this.salt));
        then(c);
      },
      (err: unknown) => callback(toWorkspaceSyncError(err, "CONFIG_INVALID")),
    );
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#start((cipher) => {
      this.#out(cipher.update(chunk));
      callback();
    }, callback);
  }

  override _flush(callback: TransformCallback): void {
    this.#start((cipher) => {
      this.#out(cipher.final());
      callback();
    }, callback);
  }
}

/**
 * A Transform that encrypts what is written to it into the `openssl enc` format with
 * PBKDF2-HMAC-SHA256 (`options.iterations`, default 100 000). Chunks go straight through
 * `cipher.update`; backpressure is the stream's own. `stream.kdf` says which KDF was used.
 * Throws `PASSPHRASE_MISSING` for an empty passphrase and `CONFIG_INVALID` for bad iterations/salt.
 */
export function createEncryptStream(options: EncryptOptions): EncryptStream {
  return new EncryptStream(options);
}
