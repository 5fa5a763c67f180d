/**
 * The `<snapshot>.mac` file stored beside each encrypted snapshot: one line of JSON holding the
 * snapshot's MAC, the identity it binds, the MAC key derivation (salt, iterations) and the
 * passphrase check value. Nothing in it is secret. Pure functions.
 *
 * ```json
 * {"workspaceSync":"snapshot-mac","version":1,"algorithm":"hmac-sha256","macKdf":"pbkdf2-sha256-100000",
 *  "salt":"<32 hex>","passphraseCheck":"<32 hex>","snapshot":"backup-20260101T000000Z.tar.gz.enc",
 *  "created":"2026-01-01T00:00:00.123Z","format":"2","kdf":"pbkdf2-sha256-100000","size":12345,"mac":"<64 hex>",
 *  "nameTag":"<64 hex>"}
 * ```
 */
import { MAC_ALGORITHM, MAC_SALT_LENGTH, MAX_MAC_ITERATIONS, PASSPHRASE_CHECK_LENGTH, type SnapshotIdentity } from "../crypto/index.js";
import { MAC_SUFFIX } from "../snapshot/index.js";

/** Name of the MAC file of `snapshotName`. */
export function macFileName(snapshotName: string): string {
  return `${snapshotName}${MAC_SUFFIX}`;
}

/** A parsed MAC file. */
export interface MacRecord extends SnapshotIdentity {
  /** PBKDF2 iterations of the MAC key derivation. */
  macIterations: number;
  /** Hex MAC salt. */
  salt: string;
  /** Hex passphrase check value. */
  passphraseCheck: string;
  /** Hex MAC. */
  mac: string;
  /**
   * Hex tag over the identity alone (`snapshotNameTag`), checked without a download (retention,
   * "latest"); absent in MAC files written before 2026-12-07.
   */
  nameTag?: string;
}

/** Content of a MAC file. */
export function formatMacFile(record: MacRecord): string {
  return (
    JSON.stringify({
      workspaceSync: "snapshot-mac",
      version: 1,
      algorithm: MAC_ALGORITHM,
      macKdf: `pbkdf2-sha256-${record.macIterations}`,
      salt: record.salt,
      passphraseCheck: record.passphraseCheck,
      snapshot: record.name,
      created: record.created,
      format: record.format,
      kdf: record.kdf,
      size: record.size,
      mac: record.mac,
      ...(record.nameTag === undefined ? {} : { nameTag: record.nameTag }),
    }) + "\n"
  );
}

const hex = (v: unknown, bytes: number): v is string => typeof v === "string" && v.length === bytes * 2 && /^[0-9a-f]+$/.test(v);

/** Parses a MAC file; a string saying what is wrong when it is not a valid one. */
export function parseMacFile(text: string): MacRecord | string {
  let o: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) return "not a JSON object";
    o = parsed as Record<string, unknown>;
  } catch {
    return "not JSON";
  }
  if (o.workspaceSync !== "snapshot-mac") return "not a workspace-sync MAC file";
  if (o.version !== 1) return `unsupported MAC file version ${JSON.stringify(o.version)} (written by a newer workspace-sync?)`;
  if (o.algorithm !== MAC_ALGORITHM) return `unsupported algorithm ${JSON.stringify(o.algorithm)}`;
  const kdf = typeof o.macKdf === "string" ? /^pbkdf2-sha256-([1-9][0-9]{0,8})$/.exec(o.macKdf) : null;
  const macIterations = kdf ? Number(kdf[1]) : NaN;
  if (!kdf || macIterations > MAX_MAC_ITERATIONS) return "invalid macKdf";
  if (!hex(o.salt, MAC_SALT_LENGTH)) return "invalid salt";
  if (!hex(o.passphraseCheck, PASSPHRASE_CHECK_LENGTH)) return "invalid passphraseCheck";
  if (!hex(o.mac, 32)) return "invalid mac";
  if (typeof o.snapshot !== "string" || o.snapshot.length === 0 || o.snapshot.length > 255) return "invalid snapshot name";
  if (typeof o.created !== "string" || Number.isNaN(Date.parse(o.created))) return "invalid created time";
  if (typeof o.format !== "string" || typeof o.kdf !== "string") return "invalid format or kdf";
  if (typeof o.size !== "number" || !Number.isSafeInteger(o.size) || o.size < 0) return "invalid size";
  if (o.nameTag !== undefined && !hex(o.nameTag, 32)) return "invalid nameTag";
  return {
    ...(typeof o.nameTag === "string" ? { nameTag: o.nameTag } : {}),
    name: o.snapshot,
    created: o.created,
    format: o.format,
    kdf: o.kdf,
    size: o.size,
    macIterations,
    salt: o.salt,
    passphraseCheck: o.passphraseCheck,
    mac: o.mac,
  };
}
