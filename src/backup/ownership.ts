/**
 * Which snapshots in a backup folder are ours, for retention: decided by what is stored with each
 * (its MAC file and the passphrase, its first cipher block, its checksum file), never by its name.
 * A snapshot that is not provably ours is neither kept nor deleted by a prune: a look-alike name
 * of another tool, another agent's snapshot made with another passphrase, or a name planted by
 * someone who can write to the storage (dated in the future, it would take the policy's places and
 * have the real snapshots deleted) is left alone and reported.
 */
import type { BackupSettings } from "../config/types.js";
import { AES_BLOCK, HEADER_LENGTH, deriveMacKeys, sameHex, snapshotNameTag } from "../crypto/index.js";
import { startsWithAuthMarker } from "../crypto/auth-marker.js";
import { errorMessage, isWorkspaceSyncError, throwIfAborted } from "../errors.js";
import { joinRemotePath } from "../providers/paths.js";
import type { StorageProvider } from "../providers/types.js";
import type { ListedSnapshot, OwnedSnapshots } from "../retention/index.js";
import { compareNewestFirst } from "../snapshot/index.js";
import { mapLimit } from "../util/concurrency.js";
import { printableName } from "../util/printable.js";
import { macFileName, parseMacFile } from "./auth-file.js";
import { plainHead, readSmallFile } from "./authenticate.js";
import { checksumFileName, parseChecksumClaim } from "./checksum.js";
import { OwnedCache, proofDigest } from "./owned-cache.js";
import { backupLocation, loadVerifiedMacs } from "./verified-macs.js";

/** Snapshots checked at once (each reads a small file, and may derive a key on the thread pool). */
const CHECKS_AT_ONCE = 4;

/**
 * How far past now an unauthenticated snapshot's name may be dated (a clock a little ahead): one
 * dated later cannot be ours, and counted it would push real snapshots out of the policy.
 */
const FUTURE_SKEW_MS = 24 * 3600_000;

/** How many times `backup.kdfIterations` a MAC file's key derivation may ask for and still be checked. */
const MAX_ROUNDS_FACTOR = 10;

/** Rounds always checked, whatever `backup.kdfIterations` says (one lowered since: ~1 s of CPU). */
const MIN_ROUNDS_CHECKED = 2_000_000;

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
  /**
   * The agent state folder: the MACs of snapshots this host authenticated whole, whose MAC files
   * have no name tag (`verified-macs.ts`), are read from it. Without it such snapshots are not ours.
   * The snapshots proved ours by their MAC file are kept there too (`owned-cache.ts`): the next
   * check of one whose MAC file and size are unchanged needs no key derivation of its own.
   */
  stateDir?: string;
}

/** How strongly a snapshot of ours is proved ours: a writer moves up these levels and never back. */
const enum Proof {
  /** No MAC file: the plugin's (`tar | openssl`), or unencrypted with its checksum file. */
  None = 0,
  /** A MAC file without a name tag (written before 2026-12-07). */
  Mac = 1,
  /** A MAC file with a name tag: its name was bound by the passphrase's holder. */
  NameTag = 2,
}

/** Why a snapshot without a MAC file newer than a MAC'd one of ours is not ours. */
const AFTER_MAC = "it has no MAC file but an older snapshot of ours has one (a writer that authenticates never goes back)";

type Verdict = { ours: true; proof: Proof } | { ours: false; reason: string; checkFailed?: true; unverified?: true; afterAuthenticated?: true };

/**
 * Sorts `snapshots` (listed in `ctx.dir`, whose names are `folder`) into ours and the rest, each
 * with why:
 * - an encrypted snapshot with a MAC file is ours when that file names it, was made with the
 *   configured passphrase (its check value: one key derivation, no download) and, where it has a
 *   name tag, the tag binds this name, time and size (so a MAC file copied beside another name,
 *   its name edited, is not); one without a name tag (written before 2026-12-07) only once this
 *   host has authenticated it whole (`backup verify`, recorded in `ctx.stateDir`), and while no
 *   older snapshot of ours has a name tag;
 * - an encrypted snapshot without one (made by the plugin or by `tar | openssl`) is ours when no
 *   older snapshot of ours has a MAC file (a writer that authenticates never goes back, as the
 *   restore's rule says), it is not dated in the future, it does not carry the mark of a snapshot
 *   made with a MAC (then its MAC file is missing: a backup stopped before writing it, or it was
 *   deleted in storage; such a snapshot cannot be restored and is not counted), and its first
 *   cipher block decrypts with the configured passphrase;
 * - an unencrypted snapshot is ours on the same terms (no older MAC'd snapshot of ours, not dated
 *   ahead) when its checksum file names it: nothing can authenticate it, so only other tools'
 *   look-alikes are told apart, and in a folder of unencrypted snapshots alone a name planted with
 *   a checksum file counts.
 * A snapshot whose name a backup still claims (one in progress) is not counted, nor one whose check
 * failed (a read error, `checkFailed`): not counting a snapshot only ever keeps more of the others.
 */
export async function ownedSnapshots(ctx: OwnershipContext, snapshots: readonly ListedSnapshot[], folder: ReadonlySet<string>): Promise<OwnedSnapshots> {
  const now = (ctx.now ?? new Date()).getTime();
  const guarded = (check: () => Promise<Verdict>) => async (): Promise<Verdict> => {
    try {
      return await check();
    } catch (err) {
      throwIfAborted(ctx.signal);
      return { ours: false, reason: `it could not be checked (${errorMessage(err)})`, checkFailed: true };
    }
  };
  // 1. Snapshots with a MAC file, each on its own (a key derivation each, on the thread pool).
  const verdicts = new Map<string, Verdict>();
  const macd = snapshots.filter((s) => s.encrypted && folder.has(macFileName(s.name)));
  const location = backupLocation(ctx.provider.description, ctx.dir);
  const verified = ctx.stateDir && macd.length > 0 ? await loadVerifiedMacs(ctx.stateDir, location) : new Map<string, string>();
  const cache = ctx.stateDir && macd.length > 0 && ctx.backup.passphrase ? new OwnedCache(ctx.stateDir, location, ctx.backup.passphrase, ctx.backup.kdfIterations) : undefined;
  const proved = new Map<string, string>();
  const macVerdicts = await mapLimit(macd, CHECKS_AT_ONCE, (s) => guarded(() => macVerdict(ctx, s, verified, cache, proved))());
  macd.forEach((s, i) => verdicts.set(s.name, macVerdicts[i] as Verdict));
  // Not kept where a check failed: its earlier proof stays for the next run.
  if (cache && !macVerdicts.some((v) => !v.ours && v.checkFailed)) await cache.save(proved);
  // 2. Oldest first: a snapshot with a weaker proof than an older one of ours is not ours.
  const oldestFirst = [...snapshots].sort((a, b) => compareNewestFirst(b, a));
  const toRead: ListedSnapshot[] = [];
  let strongest = Proof.None;
  for (const s of oldestFirst) {
    const v = verdicts.get(s.name);
    if (v === undefined) {
      // Newer than a MAC'd one of ours: not ours whatever it holds (not read; "latest" reads it alone).
      if (strongest > Proof.None) verdicts.set(s.name, { ours: false, reason: AFTER_MAC, afterAuthenticated: true });
      else toRead.push(s);
      continue;
    }
    if (!v.ours) {
      // Not verified yet, and newer than a name-tagged one of ours: a MAC file copied from an older snapshot.
      if (v.unverified && strongest === Proof.NameTag) verdicts.set(s.name, { ours: false, reason: "its MAC file has no name tag but an older snapshot of ours has one (a MAC file copied from an older snapshot?)" });
      continue;
    }
    if (v.proof < strongest) verdicts.set(s.name, { ours: false, reason: "its MAC file has no name tag but an older snapshot of ours has one (a MAC file copied from an older snapshot?)" });
    else strongest = v.proof;
  }
  // 3. The rest (from before any MAC'd snapshot of ours): read where needed.
  const rest = await mapLimit(toRead, CHECKS_AT_ONCE, (s) => guarded(() => plainVerdict(ctx, s, folder, now))());
  toRead.forEach((s, i) => verdicts.set(s.name, rest[i] as Verdict));
  const out: OwnedSnapshots = { owned: [], notOurs: [] };
  for (const s of snapshots) {
    const v = verdicts.get(s.name) ?? { ours: false, reason: "not checked" };
    if (v.ours) out.owned.push(s);
    else out.notOurs.push({ name: s.name, reason: v.reason, ...(v.checkFailed ? { checkFailed: true } : {}), ...(v.unverified ? { unverified: true } : {}), ...(v.afterAuthenticated ? { afterAuthenticated: true } : {}) });
  }
  return out;
}

/**
 * The verdict on encrypted snapshot `s`, which has a MAC file; where it is ours, the digest of
 * what that was proved from goes into `proved` (and where `cache` holds that digest already, it
 * is ours without a key derivation).
 */
async function macVerdict(ctx: OwnershipContext, s: ListedSnapshot, verified: ReadonlyMap<string, string>, cache: OwnedCache | undefined, proved: Map<string, string>): Promise<Verdict> {
  const { provider, dir, backup, signal } = ctx;
  const no = (reason: string): Verdict => ({ ours: false, reason });
  if (!backup.passphrase) return no("it is encrypted and no passphrase is configured to check it");
  const text = await readSmallFile(provider, joinRemotePath(dir, macFileName(s.name)), signal);
  if (text === undefined) return no("its MAC file is gone");
  const record = parseMacFile(text);
  if (typeof record === "string") return no(`its MAC file is not valid (${record})`);
  if (record.name !== s.name) return no(`its MAC file is ${printableName(record.name)}'s (renamed or swapped in storage)`);
  // A planted MAC file may ask for ten million rounds (seconds of CPU each): not checked.
  const maxRounds = Math.max(backup.kdfIterations * MAX_ROUNDS_FACTOR, MIN_ROUNDS_CHECKED);
  if (record.macIterations > maxRounds) return no(`its MAC file asks for ${record.macIterations} key derivation rounds, over ${maxRounds} (${MAX_ROUNDS_FACTOR} times backup.kdfIterations)`);
  if (record.size !== s.size) return no(`it is ${s.size} bytes where its MAC file says ${record.size}`);
  const digest = proofDigest(s.name, s.size, text);
  const ours = (proof: Proof): Verdict => (proved.set(s.name, digest), { ours: true, proof });
  const proof = record.nameTag === undefined ? Proof.Mac : Proof.NameTag;
  if (await cache?.ownedBefore(s.name, digest)) return ours(proof);
  const keys = await deriveMacKeys(backup.passphrase, Buffer.from(record.salt, "hex"), record.macIterations);
  if (!sameHex(keys.check.toString("hex"), record.passphraseCheck)) return no("its MAC file was made with another passphrase");
  if (record.nameTag === undefined) {
    // Nothing binds its name without a download: ours once this host authenticated it whole.
    if (verified.get(s.name) === record.mac) return ours(proof);
    return { ours: false, reason: "its MAC file has no name tag (written before 2026-12-07): not counted until `workspace-sync backup verify --all` has authenticated it once", unverified: true };
  }
  const tag = snapshotNameTag(keys, { name: s.name, created: record.created, format: record.format, kdf: record.kdf, size: record.size });
  if (!sameHex(tag, record.nameTag)) return no("its MAC file's name tag does not match (written for another name, or edited)");
  return ours(proof);
}

/** The verdict on snapshot `s` without a MAC file (from before any MAC'd snapshot of ours). */
async function plainVerdict(ctx: OwnershipContext, s: ListedSnapshot, folder: ReadonlySet<string>, now: number): Promise<Verdict> {
  const { provider, dir, backup, signal } = ctx;
  const no = (reason: string): Verdict => ({ ours: false, reason });
  if (!s.encrypted && folder.has(macFileName(s.name))) return no("it is not encrypted but has a MAC file (only encrypted snapshots get one)");
  if (s.time.getTime() > now + FUTURE_SKEW_MS) return no("it is dated in the future and has no MAC");
  const checksum = folder.has(checksumFileName(s.name)) ? await readSmallFile(provider, joinRemotePath(dir, checksumFileName(s.name)), signal) : undefined;
  if (checksum !== undefined && parseChecksumClaim(checksum)) return no("a backup still claims its name (one in progress)");
  if (!s.encrypted) return checksum !== undefined && namesSnapshot(checksum, s.name) ? { ours: true, proof: Proof.None } : no("it has no checksum file of ours naming it");
  if (!backup.passphrase) return no("it is encrypted and no passphrase is configured to check it");
  // Only its head is decrypted: a snapshot cut short is told by its listed size where it can be
  // (the header and whole cipher blocks, at least one). A cut at a block boundary shows on restore.
  if (Number.isFinite(s.size) && !wholeCipherBlocks(s.size)) return no(`it is truncated (${s.size} bytes is not the ${HEADER_LENGTH}-byte header and whole ${AES_BLOCK}-byte cipher blocks)`);
  let head: Buffer;
  try {
    head = await plainHead(provider, dir, s.name, backup, signal);
  } catch (err) {
    if (isWorkspaceSyncError(err, "WRONG_PASSPHRASE")) return no("it does not decrypt with the configured passphrase");
    if (isWorkspaceSyncError(err) && err.retryable) throw err;
    return no(`it does not decrypt (${errorMessage(err)})`);
  }
  if (startsWithAuthMarker(head)) return no("its MAC file is missing (a backup stopped before writing it, or it was deleted in storage): it cannot be restored");
  return { ours: true, proof: Proof.None };
}

/** Whether `size` bytes can be an `openssl enc` file: the header and one cipher block or more. */
function wholeCipherBlocks(size: number): boolean {
  return size >= HEADER_LENGTH + AES_BLOCK && (size - HEADER_LENGTH) % AES_BLOCK === 0;
}

/** Whether checksum file `text` is one `sha256sum` line for `name`. */
function namesSnapshot(text: string, name: string): boolean {
  const m = /^[0-9a-f]{64} [ *](.+)\n?$/i.exec(text);
  return m?.[1] === name;
}
