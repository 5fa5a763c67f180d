/**
 * Snapshot authentication: an HMAC-SHA256 over the stored bytes of a snapshot and over its identity
 * (name, creation time, format, key derivation, size), keyed from the passphrase with its own salt
 * and domain label, never with the AES key.
 *
 * ```
 * master   = PBKDF2-HMAC-SHA256(passphrase, "workspace-sync/mac/v1\0" || macSalt, iterations, 32)
 * bodyKey  = HKDF-SHA256(master, macSalt, "workspace-sync/mac/v1/body", 32)
 * idKey    = HKDF-SHA256(master, macSalt, "workspace-sync/mac/v1/identity", 32)
 * check    = HKDF-SHA256(master, macSalt, "workspace-sync/mac/v1/passphrase-check", 16)
 * bodyTag  = HMAC-SHA256(bodyKey, stored bytes)                     (computed while streaming)
 * mac      = HMAC-SHA256(idKey, canonicalIdentity || "\n" || hex(bodyTag))
 * ```
 *
 * The body tag is computed while the bytes stream (no second pass); the identity is bound at the
 * end, so a writer may still change the name it finally uses. `check` is stored in clear so a wrong
 * passphrase is told apart from an altered snapshot before anything is downloaded; it is as hard to
 * attack offline as the ciphertext itself (same PBKDF2 cost).
 */
import { createHmac, hkdfSync, pbkdf2, timingSafeEqual, type Hmac } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import { WorkspaceSyncError } from "../errors.js";

/** Algorithm name recorded in MAC files. */
export const MAC_ALGORITHM = "hmac-sha256";

/** Bytes of the random per-snapshot MAC salt. */
export const MAC_SALT_LENGTH = 16;

/** Bytes of the stored passphrase check value. */
export const PASSPHRASE_CHECK_LENGTH = 16;

/** Upper bound of PBKDF2 iterations accepted from a MAC file (a hostile file must not stall us). */
export const MAX_MAC_ITERATIONS = 10_000_000;

const DOMAIN = "workspace-sync/mac/v1";

/** Keys derived for one snapshot's MAC. */
export interface MacKeys {
  /** Key of the streaming HMAC over the stored bytes. */
  body: Buffer;
  /** Key of the HMAC binding identity and body tag. */
  identity: Buffer;
  /** Value stored in clear: tells a wrong passphrase apart from tampering. */
  check: Buffer;
}

/** What a MAC binds besides the bytes: the snapshot's identity. */
export interface SnapshotIdentity {
  /** The snapshot's file name, exactly as stored. */
  name: string;
  /** Creation time, ISO 8601 UTC with milliseconds. */
  created: string;
  /** Snapshot layout version (see `SNAPSHOT_FORMAT_VERSION`). */
  format: string;
  /** Key derivation of the encryption (e.g. `pbkdf2-sha256-100000`). */
  kdf: string;
  /** Stored size in bytes. */
  size: number;
}

/** Derives the MAC keys for `passphrase`, the snapshot's `salt` and `iterations` (PBKDF2 on the thread pool). */
export async function deriveMacKeys(passphrase: string, salt: Uint8Array, iterations: number): Promise<MacKeys> {
  if (typeof passphrase !== "string" || passphrase.length === 0) {
    throw new WorkspaceSyncError("PASSPHRASE_MISSING", "Snapshot authentication needs the passphrase: set backup.passphrase");
  }
  if (salt.length !== MAC_SALT_LENGTH) throw new WorkspaceSyncError("CONFIG_INVALID", `MAC salt must be ${MAC_SALT_LENGTH} bytes (got ${salt.length})`);
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_MAC_ITERATIONS) {
    throw new WorkspaceSyncError("CONFIG_INVALID", `MAC key derivation iterations must be between 1 and ${MAX_MAC_ITERATIONS} (got ${String(iterations)})`);
  }
  const pbkdfSalt = Buffer.concat([Buffer.from(`${DOMAIN}\0`, "utf8"), salt]);
  const master = await new Promise<Buffer>((resolve, reject) => {
    pbkdf2(Buffer.from(passphrase, "utf8"), pbkdfSalt, iterations, 32, "sha256", (err, out) => (err ? reject(err) : resolve(out)));
  });
  const expand = (label: string, length: number) => Buffer.from(hkdfSync("sha256", master, salt, `${DOMAIN}/${label}`, length));
  return { body: expand("body", 32), identity: expand("identity", 32), check: expand("passphrase-check", PASSPHRASE_CHECK_LENGTH) };
}

/** The canonical bytes of an identity: a JSON array in fixed order, so no two identities collide. */
export function canonicalIdentity(id: SnapshotIdentity): Buffer {
  return Buffer.from(JSON.stringify(["workspace-sync snapshot", 1, id.name, id.created, id.format, id.kdf, id.size]), "utf8");
}

/** The final MAC (hex) over `identity` and the streamed `bodyTag`. */
export function snapshotMac(keys: MacKeys, identity: SnapshotIdentity, bodyTag: Buffer): string {
  return createHmac("sha256", keys.identity).update(canonicalIdentity(identity)).update("\n").update(bodyTag.toString("hex")).digest("hex");
}

/**
 * A tag (hex) over `identity` alone (the name, time, format, key derivation and size, not the
 * bytes): checked without downloading the snapshot, it says the MAC file was written for this
 * name by someone with the passphrase (a MAC file copied beside another name, its name edited,
 * fails it). Domain-separated from {@link snapshotMac}'s input by its first line.
 */
export function snapshotNameTag(keys: Pick<MacKeys, "identity">, identity: SnapshotIdentity): string {
  return createHmac("sha256", keys.identity).update("name-tag\n").update(canonicalIdentity(identity)).digest("hex");
}

/** Constant-time comparison of two hex strings of the same expected length. */
export function sameHex(a: string, b: string): boolean {
  const x = Buffer.from(a, "hex");
  const y = Buffer.from(b, "hex");
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

/** Pass-through HMAC-SHA256 over everything flowing through; see {@link createMacStream}. */
export class MacStream extends Transform {
  /** Bytes seen so far. */
  bytes = 0;
  #hmac: Hmac;
  #tag: Buffer | undefined;

  constructor(key: Uint8Array) {
    super();
    this.#hmac = createHmac("sha256", key);
  }

  /** The body tag once the input has ended (undefined before). */
  get tag(): Buffer | undefined {
    return this.#tag;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hmac.update(chunk);
    this.bytes += chunk.length;
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#tag = this.#hmac.digest();
    callback();
  }
}

/**
 * A pass-through Transform computing the body tag (HMAC-SHA256 with `keys.body`) of the stored
 * bytes while they stream; `stream.tag` is final once the writable side has finished.
 */
export function createMacStream(keys: Pick<MacKeys, "body">): MacStream {
  return new MacStream(keys.body);
}
