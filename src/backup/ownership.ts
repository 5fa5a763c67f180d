/**
 * Which snapshots in a backup folder are ours, for retention: decided by what is stored with each
 * (its MAC file and the passphrase, its first cipher block, its checksum file), never by its name.
 * A snapshot that is not provably ours is neither kept nor deleted by a prune: a look-alike name
 * of another tool, another agent's snapshot made with another passphrase, or a name planted by
 * someone who can write to the storage (dated in the future, it would take the policy's places and
 * have the real snapshots deleted) is left alone and reported.
 */
import type { BackupSettings } from "../config/types.js";
import { deriveMacKeys, sameHex } from "../crypto/index.js";
import { startsWithAuthMarker } from "../crypto/auth-marker.js";
import { errorMessage, isWorkspaceSyncError } from "../errors.js";
import { joinRemotePath } from "../providers/paths.js";
import type { StorageProvider } from "../providers/types.js";
import type { ListedSnapshot, OwnedSnapshots } from "../retention/index.js";
import { mapLimit } from "../util/concurrency.js";
import { macFileName, parseMacFile } from "./auth-file.js";
import { plainHead, readSmallFile } from "./authenticate.js";
import { checksumFileName, parseChecksumClaim } from "./checksum.js";

/** Snapshots checked at once (each reads a small file, and may derive a key on the thread pool). */
const CHECKS_AT_ONCE = 4;

/**
 * How far past now an unauthenticated snapshot's name may be dated (a clock a little ahead): one
 * dated later cannot be ours, and counted it would push real snapshots out of the policy.
 */
const FUTURE_SKEW_MS = 24 * 3600_000;

/** How many times `backup.kdfIterations` a MAC file's key derivation may ask for and still be checked. */
const MAX_ROUNDS_FACTOR = 10;

/** What a backup folder's snapshots are checked with. */
export interface OwnershipContext {
  provider: StorageProvider;
  /** The snapshot folder. */
  dir: string;
  /** The backup settings: the passphrase and key derivation of the snapshots' encryption. */
  backup: Pick<BackupSettings, "passphrase" | "kdfIterations">;
  signal?: AbortSignal;
  /** The current time (default: now). */
  now?: Date;
}

/**
 * Sorts `snapshots` (listed in `ctx.dir`, whose names are `folder`) into ours and the rest, each
 * with why:
 * - an encrypted snapshot with a MAC file is ours when that file names it and was made with the
 *   configured passphrase (its check value: one key derivation, no download);
 * - an encrypted snapshot without one (made by the plugin or by `tar | openssl`) is ours when its
 *   first cipher block decrypts with the configured passphrase, it is not dated in the future, and
 *   it does not carry the mark of a snapshot made with a MAC (then its MAC file is missing: a
 *   backup stopped before writing it, or it was deleted in storage; such a snapshot cannot be
 *   restored and is not counted);
 * - an unencrypted snapshot is ours when its checksum file names it and it is not dated in the
 *   future (nothing can authenticate it: only other tools' look-alikes are told apart).
 * A snapshot whose name a backup still claims (one in progress) is not counted, nor one whose check
 * failed (a read error): not counting a snapshot only ever keeps more of the others.
 */
export async function ownedSnapshots(ctx: OwnershipContext, snapshots: readonly ListedSnapshot[], folder: ReadonlySet<string>): Promise<OwnedSnapshots> {
  const now = (ctx.now ?? new Date()).getTime();
  const verdicts = await mapLimit(snapshots, CHECKS_AT_ONCE, async (s) => {
    try {
      return await verdictOf(ctx, s, folder, now);
    } catch (err) {
      return `it could not be checked (${errorMessage(err)})`;
    }
  });
  const out: OwnedSnapshots = { owned: [], notOurs: [] };
  snapshots.forEach((s, i) => {
    const v = verdicts[i];
    if (v === true) out.owned.push(s);
    else out.notOurs.push({ name: s.name, reason: v ?? "not checked" });
  });
  return out;
}

/** `true` when `s` is ours, else why not. */
async function verdictOf(ctx: OwnershipContext, s: ListedSnapshot, folder: ReadonlySet<string>, now: number): Promise<true | string> {
  const { provider, dir, backup, signal } = ctx;
  const future = s.time.getTime() > now + FUTURE_SKEW_MS;
  const macName = macFileName(s.name);
  if (!s.encrypted) {
    if (folder.has(macName)) return "it is not encrypted but has a MAC file (only encrypted snapshots get one)";
    if (future) return "it is dated in the future and cannot be authenticated";
    const text = folder.has(checksumFileName(s.name)) ? await readSmallFile(provider, joinRemotePath(dir, checksumFileName(s.name)), signal) : undefined;
    if (text !== undefined && parseChecksumClaim(text)) return "a backup still claims its name (one in progress)";
    return text !== undefined && namesSnapshot(text, s.name) ? true : "it has no checksum file of ours naming it";
  }
  if (!backup.passphrase) return "it is encrypted and no passphrase is configured to check it";
  if (folder.has(macName)) {
    const text = await readSmallFile(provider, joinRemotePath(dir, macName), signal);
    if (text === undefined) return "its MAC file is gone";
    const record = parseMacFile(text);
    if (typeof record === "string") return `its MAC file is not valid (${record})`;
    if (record.name !== s.name) return `its MAC file is ${record.name}'s (renamed or swapped in storage)`;
    // A planted MAC file may ask for ten million rounds (seconds of CPU each): not checked.
    if (record.macIterations > backup.kdfIterations * MAX_ROUNDS_FACTOR) {
      return `its MAC file asks for ${record.macIterations} key derivation rounds, over ${MAX_ROUNDS_FACTOR} times backup.kdfIterations (${backup.kdfIterations})`;
    }
    const keys = await deriveMacKeys(backup.passphrase, Buffer.from(record.salt, "hex"), record.macIterations);
    return sameHex(keys.check.toString("hex"), record.passphraseCheck) ? true : "its MAC file was made with another passphrase";
  }
  if (future) return "it is dated in the future and has no MAC";
  const claim = folder.has(checksumFileName(s.name)) ? await readSmallFile(provider, joinRemotePath(dir, checksumFileName(s.name)), signal) : undefined;
  if (claim !== undefined && parseChecksumClaim(claim)) return "a backup still claims its name (one in progress)";
  let head: Buffer;
  try {
    head = await plainHead(provider, dir, s.name, backup, signal);
  } catch (err) {
    if (isWorkspaceSyncError(err, "WRONG_PASSPHRASE")) return "it does not decrypt with the configured passphrase";
    return `it does not decrypt (${errorMessage(err)})`;
  }
  if (startsWithAuthMarker(head)) return "its MAC file is missing (a backup stopped before writing it, or it was deleted in storage): it cannot be restored";
  return true;
}

/** Whether checksum file `text` is one `sha256sum` line for `name`. */
function namesSnapshot(text: string, name: string): boolean {
  const m = /^[0-9a-f]{64} [ *](.+)\n?$/i.exec(text);
  return m?.[1] === name;
}
