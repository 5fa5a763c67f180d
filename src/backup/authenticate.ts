/**
 * Deciding whether a snapshot may be trusted before (and while) it is read, and checking its MAC
 * after. The rules (README "Security notes" says the same):
 *
 * 1. A snapshot with a `.mac` file must match it: the file names this snapshot (else
 *    `SNAPSHOT_SUBSTITUTED`: renamed, swapped, rolled back), its passphrase check matches the
 *    configured passphrase (else `WRONG_PASSPHRASE`, or `SNAPSHOT_TAMPERED` when the snapshot itself
 *    decrypts with it), the stored size is the recorded one (else `SNAPSHOT_TRUNCATED`), and the
 *    MAC over the bytes and the identity matches once everything was read (else `SNAPSHOT_TAMPERED`).
 * 2. A snapshot without a valid MAC is refused (`SNAPSHOT_UNAUTHENTICATED`) when
 *    a. its plaintext starts with the authentication mark (it was written with a MAC: the MAC file
 *       was deleted), or its name is still claimed by a backup that never finished; or
 *    b. an older snapshot in the same folder is authenticated (has a MAC file or the mark): a
 *       writer that authenticates does not go back to writing unauthenticated snapshots, so such a
 *       name is a renamed old snapshot or someone else's (`allowUnauthenticated` lifts this rule
 *       only, for folders where a legacy writer still runs or encryption was turned off); or
 *    c. `requireAuthenticated` is set.
 *    Otherwise (snapshots from before authentication, the plugin, `tar | openssl`, unencrypted
 *    ones) it is read with a warning that it is unauthenticated.
 */
import { randomBytes } from "node:crypto";
import type { Readable } from "node:stream";
import {
  AES_BLOCK,
  AUTH_MARKER,
  HEADER_LENGTH,
  createDecryptStream,
  deriveMacKeys,
  kdfCandidates,
  pbkdf2Kdf,
  sameHex,
  snapshotMac,
  startsWithAuthMarker,
  type MacKeys,
  type MacStream,
} from "../crypto/index.js";
import { WorkspaceSyncError, isWorkspaceSyncError } from "../errors.js";
import { joinRemotePath } from "../providers/paths.js";
import type { StorageProvider } from "../providers/types.js";
import type { BackupSettings } from "../config/types.js";
import { macFileName, parseMacFile, type MacRecord } from "./auth-file.js";
import { checksumFileName, parseChecksumClaim } from "./checksum.js";
import { compareNewestFirst, parseSnapshotName } from "../snapshot/index.js";
import { readPrefix } from "../util/stream-chunks.js";

/** What a restore or verify accepts. */
export interface AuthPolicy {
  /** Refuse every snapshot without a valid MAC (`backup.requireAuthenticated`, `--require-authenticated`). */
  requireAuthenticated?: boolean;
  /** Read an unauthenticated snapshot even when an older one is authenticated (rule 2b only). */
  allowUnauthenticated?: boolean;
}

/** How a snapshot will be checked. */
export type AuthPlan =
  | { kind: "mac"; record: MacRecord; keys: MacKeys }
  | {
      kind: "none";
      /** Why there is no MAC to check. */
      reason: "unencrypted" | "legacy";
      /** The warning to log and report. */
      warning: string;
    };

/** Largest MAC or checksum file read (they are one short line). */
const SMALL_FILE_LIMIT = 4096;

const HOW_TO_READ_ANYWAY = "to read it anyway, decrypt it by hand: openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -pass env:PASS -in <snapshot> | tar -xz";

/** Reads a small file, or `undefined` when it does not exist; `undefined` as well when it is bigger than `limit`. */
export async function readSmallFile(provider: StorageProvider, key: string, signal?: AbortSignal, limit = SMALL_FILE_LIMIT): Promise<string | undefined> {
  let stream: Readable;
  try {
    // One byte past the limit is asked for: enough to tell an oversized file, never more.
    stream = await provider.read(key, { signal, end: limit });
  } catch (err) {
    if (isWorkspaceSyncError(err, "NOT_FOUND")) return undefined;
    throw err;
  }
  const bytes = await readPrefix(stream, limit + 1);
  return bytes.length > limit ? "" : bytes.toString("utf8");
}

/** Context of {@link planAuthentication}. */
export interface PlanContext {
  provider: StorageProvider;
  dir: string;
  /** The snapshot as presented (its name in storage). */
  name: string;
  backup: BackupSettings;
  policy: AuthPolicy;
  signal?: AbortSignal;
  /** Names in the snapshot folder, when the caller listed it already. */
  folder?: ReadonlySet<string>;
}

/** Decides, before reading a byte of the snapshot, how it is checked; throws when it must be refused. */
export async function planAuthentication(ctx: PlanContext): Promise<AuthPlan> {
  const { provider, dir, name, backup, signal } = ctx;
  const encrypted = name.endsWith(".enc");
  const macText = await readSmallFile(provider, joinRemotePath(dir, macFileName(name)), signal);
  if (macText !== undefined) {
    const parsed = parseMacFile(macText);
    if (typeof parsed === "string") {
      throw new WorkspaceSyncError("SNAPSHOT_TAMPERED", `The MAC file of ${name} is not valid (${parsed}): it was changed or damaged in storage; restore another snapshot`, { path: name });
    }
    if (parsed.name !== name) {
      throw new WorkspaceSyncError(
        "SNAPSHOT_SUBSTITUTED",
        `Snapshot ${name} is not the snapshot its MAC file authenticates (${parsed.name}, made ${parsed.created}): a snapshot or MAC file was renamed or swapped in storage (an old snapshot presented as another one); restore another snapshot and check who can write to the backup storage`,
        { path: name },
      );
    }
    if (!encrypted) {
      throw new WorkspaceSyncError("SNAPSHOT_SUBSTITUTED", `Snapshot ${name} is not encrypted but has a MAC file: only encrypted snapshots get one, so it was put there by someone else; restore another snapshot`, { path: name });
    }
    if (!backup.passphrase) {
      throw new WorkspaceSyncError("PASSPHRASE_MISSING", `Snapshot ${name} is encrypted but no passphrase is configured: set backup.passphrase`, { path: "backup.passphrase" });
    }
    const keys = await deriveMacKeys(backup.passphrase, Buffer.from(parsed.salt, "hex"), parsed.macIterations);
    if (!sameHex(keys.check.toString("hex"), parsed.passphraseCheck)) {
      // Either the passphrase is wrong or the MAC file was replaced: the snapshot's first block says which.
      const decrypts = await plainHead(provider, dir, name, backup, signal).then(
        () => true,
        (err: unknown) => (isWorkspaceSyncError(err, "WRONG_PASSPHRASE") ? false : Promise.reject(err)),
      );
      if (!decrypts) {
        throw new WorkspaceSyncError(
          "WRONG_PASSPHRASE",
          `wrong passphrase: neither the MAC file of ${name} nor its first cipher block match the configured passphrase; set backup.passphrase to the passphrase the snapshot was made with`,
          { path: name },
        );
      }
      throw new WorkspaceSyncError(
        "SNAPSHOT_TAMPERED",
        `The MAC file of ${name} does not belong to it: the snapshot decrypts with the configured passphrase but its MAC file was made with another one (replaced in storage); restore another snapshot`,
        { path: name },
      );
    }
    const stat = await provider.stat(joinRemotePath(dir, name), { signal });
    if (stat && stat.size !== parsed.size) throw sizeError(name, stat.size, parsed.size);
    return { kind: "mac", record: parsed, keys };
  }

  const claimed = parseChecksumClaim((await readSmallFile(provider, joinRemotePath(dir, checksumFileName(name)), signal)) ?? "");
  if (encrypted && claimed) {
    throw new WorkspaceSyncError(
      "SNAPSHOT_UNAUTHENTICATED",
      `Snapshot ${name} has no MAC file and its name is still claimed by a backup that has not finished (since ${claimed.since.toISOString()}): wait for that backup, or restore an older snapshot`,
      { path: name },
    );
  }
  if (encrypted && backup.passphrase) {
    // Written with a MAC and presented without one: the MAC file was deleted. Said before anything
    // else (the stream checks the mark again while restoring).
    const head = await plainHead(provider, dir, name, backup, signal);
    if (startsWithAuthMarker(head)) throw markerWithoutMac(name);
  }
  const what = encrypted ? "was made without authentication (before workspace-sync authenticated snapshots, by the plugin or by tar | openssl)" : "is not encrypted, so it cannot be authenticated";
  if (ctx.policy.requireAuthenticated) {
    throw new WorkspaceSyncError(
      "SNAPSHOT_UNAUTHENTICATED",
      `Snapshot ${name} has no MAC: it ${what}, and unauthenticated snapshots are refused (backup.requireAuthenticated / --require-authenticated); ${encrypted ? HOW_TO_READ_ANYWAY : "turn that option off to restore it"}`,
      { path: name },
    );
  }
  if (!ctx.policy.allowUnauthenticated) {
    const older = await olderAuthenticated(ctx);
    if (older) {
      throw new WorkspaceSyncError(
        "SNAPSHOT_UNAUTHENTICATED",
        `Snapshot ${name} has no MAC, but the older snapshot ${older} is authenticated: a newer snapshot without one was not written by workspace-sync (an old snapshot renamed to look newer, or a file put there by someone else); restore ${older} or another authenticated snapshot. If a writer without authentication still writes to this folder, or encryption was turned off, on purpose, pass --allow-unauthenticated`,
        { path: name },
      );
    }
  }
  return {
    kind: "none",
    reason: encrypted ? "legacy" : "unencrypted",
    warning: encrypted
      ? `Snapshot ${name} is not authenticated (no MAC): it ${what}; its content cannot be proven unaltered`
      : `Snapshot ${name} is not encrypted and not authenticated: its SHA-256 file only catches accidental damage, not deliberate changes`,
  };
}

/** The error for a stored size that differs from the recorded one. */
export function sizeError(name: string, stored: number, recorded: number): WorkspaceSyncError {
  return stored < recorded
    ? new WorkspaceSyncError("SNAPSHOT_TRUNCATED", `Snapshot ${name} is truncated: ${stored} of the ${recorded} bytes its MAC file records are stored (cut off in storage or in transfer); restore another snapshot`, { path: name })
    : new WorkspaceSyncError("SNAPSHOT_TAMPERED", `Snapshot ${name} is longer than its MAC file records (${stored} bytes, not ${recorded}): bytes were added in storage; restore another snapshot`, { path: name });
}

/** After all bytes were read through `mac`: throws unless they and the identity match the MAC file. */
export function checkMac(plan: AuthPlan & { kind: "mac" }, mac: Pick<MacStream, "bytes" | "tag"> | undefined): void {
  const { record, keys } = plan;
  if (!mac || mac.bytes !== record.size) throw sizeError(record.name, mac?.bytes ?? 0, record.size);
  const tag = mac.tag;
  if (!tag || !sameHex(snapshotMac(keys, record, tag), record.mac)) {
    throw new WorkspaceSyncError(
      "SNAPSHOT_TAMPERED",
      `Snapshot ${record.name} does not match its MAC: its content (or the identity its MAC file records) was changed in storage, e.g. a flipped bit; nothing was restored from it; restore another snapshot`,
      { path: record.name },
    );
  }
}

/** The error for an authenticated-format snapshot whose MAC file is gone. */
export function markerWithoutMac(name: string): WorkspaceSyncError {
  return new WorkspaceSyncError(
    "SNAPSHOT_UNAUTHENTICATED",
    `Snapshot ${name} was written with a MAC, but its MAC file (${macFileName(name)}) is missing: it was deleted in storage, so the snapshot cannot be proven unaltered; restore another snapshot`,
    { path: name },
  );
}

/**
 * The newest snapshot older than `ctx.name` that is authenticated (has a MAC file, or, when none
 * has one, carries the mark), or `undefined`.
 */
async function olderAuthenticated(ctx: PlanContext): Promise<string | undefined> {
  const me = parseSnapshotName(ctx.name);
  if (!me) return undefined;
  let folder = ctx.folder;
  if (!folder) {
    const names = new Set<string>();
    for await (const entry of ctx.provider.list(ctx.dir, { recursive: false, signal: ctx.signal })) names.add(entry.path);
    folder = names;
  }
  const older = [...folder]
    .map((n) => parseSnapshotName(n))
    .filter((s): s is NonNullable<typeof s> => s !== undefined && s.name !== ctx.name && compareNewestFirst(me, s) < 0)
    .sort(compareNewestFirst);
  const withMac = older.find((s) => folder.has(macFileName(s.name)));
  if (withMac) return withMac.name;
  // Every MAC file may have been deleted: the mark inside the older snapshots still tells.
  if (!ctx.backup.passphrase) return undefined;
  for (const s of older) {
    if (!s.encrypted) continue;
    const head = await plainHead(ctx.provider, ctx.dir, s.name, ctx.backup, ctx.signal).catch(() => undefined);
    if (head && startsWithAuthMarker(head)) return s.name;
  }
  return undefined;
}

/**
 * Ciphertext a snapshot's head is decrypted from: the header and the blocks the mark spans, and
 * one more, which the decrypting stage holds back (the last block it has may be the padding).
 */
const HEAD_CIPHER_BYTES = HEADER_LENGTH + (Math.ceil(AUTH_MARKER.length / AES_BLOCK) + 1) * AES_BLOCK;

/**
 * Decrypts the first bytes of a snapshot (enough for the mark), reading only those from storage:
 * a plugin-era snapshot is looked at on each backup's prune. Throws `WRONG_PASSPHRASE` when no key
 * derivation turns the first block into gzip.
 */
export async function plainHead(provider: StorageProvider, dir: string, name: string, backup: Pick<BackupSettings, "passphrase" | "kdfIterations">, signal?: AbortSignal): Promise<Buffer> {
  const cipher = await readPrefix(await provider.read(joinRemotePath(dir, name), { signal, end: HEAD_CIPHER_BYTES - 1 }), HEAD_CIPHER_BYTES);
  const decrypt = createDecryptStream({ passphrase: backup.passphrase ?? "", candidates: kdfCandidates(pbkdf2Kdf(backup.kdfIterations)), path: name });
  // Shorter than asked for: the whole snapshot, whose end (its padding) is checked. Otherwise the
  // stream is not ended: its end is not here, and a cut block would read as bad padding.
  if (cipher.length < HEAD_CIPHER_BYTES) decrypt.end(cipher);
  else decrypt.write(cipher);
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of decrypt) {
      chunks.push(chunk as Buffer);
      n += (chunk as Buffer).length;
      if (n >= AUTH_MARKER.length) break;
    }
  } finally {
    decrypt.destroy();
  }
  return Buffer.concat(chunks, n);
}

/** A random id for a name claim. */
export function newClaimId(): string {
  return randomBytes(8).toString("hex");
}
