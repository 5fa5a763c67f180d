/**
 * Reading a snapshot for restore and verify: provider → MAC (authenticated snapshots) or SHA-256
 * check (others) → decrypt (KDF auto-detected) → strip the authentication mark → gzip stream. The
 * integrity check and decryption run on a helper thread (backup/decode-thread.ts) unless the
 * caller says otherwise (`offThread: false`, a snapshot too small for a thread to pay). The
 * MAC is checked once the last byte was read, before the caller may use what it extracted; a
 * failure is explained as exactly as the evidence allows.
 */
import { PassThrough, Writable, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createMacStream, kdfCandidates, kdfToString, pbkdf2Kdf } from "../crypto/index.js";
import { createSnapshotDecoder } from "./decode-thread.js";
import type { RestoreThread } from "./restore-thread.js";
import { WorkspaceSyncError, toWorkspaceSyncError } from "../errors.js";
import { joinRemotePath } from "../providers/paths.js";
import type { StorageProvider } from "../providers/types.js";
import { handsOverReads } from "../providers/hand-over.js";
import type { BackupSettings } from "../config/types.js";
import { checkMac, markerWithoutMac, planAuthentication, readSmallFile, type AuthPlan, type AuthPolicy } from "./authenticate.js";
import { checksumFileName, parseChecksumFile } from "./checksum.js";

/** Options of {@link openSnapshotPlaintext}. */
export interface OpenSnapshotOptions {
  signal?: AbortSignal;
  /** Stored bytes read so far. */
  onBytes?: (n: number) => void;
  /** What is accepted without a MAC. */
  policy?: AuthPolicy;
  /** The plan, when the caller made it already (see {@link planAuthentication}). */
  auth?: AuthPlan;
  /** Names in the snapshot folder, when listed already. */
  folder?: ReadonlySet<string>;
  /** Check and decrypt on a helper thread where available (default true; false: on this thread). */
  offThread?: boolean;
  /** The helper thread (a restore's, shared with its extractor); default: one of the reader's own. */
  thread?: RestoreThread | undefined;
  /**
   * The caller passes `plain` straight to `extractArchive` or `checkArchive` and reads it nowhere
   * else: the decrypted pieces are then handed over to them, which free each one as soon as it is
   * inflated instead of leaving it to the garbage collector (see `util/release-buffer.ts`). Leave
   * it unset (the default) when anything else may hold a chunk of `plain`.
   */
  handOver?: boolean;
}

/** An open snapshot; see {@link openSnapshotPlaintext}. */
export interface OpenSnapshot {
  /** The gzip stream (the archive as the archiver wrote it). */
  plain: Readable;
  /** Settles when every byte was read and checked (MAC, or SHA-256 when there is one). */
  done: Promise<void>;
  /** The SHA-256 checked (unauthenticated snapshots with a checksum file only). */
  expected: string | undefined;
  /** How the snapshot is authenticated. */
  auth: AuthPlan;
  /** The key derivation that decrypted it, once known. */
  kdf: () => string | undefined;
}

/** The stored checksum of a snapshot, or `undefined` when none was stored (or the name is only claimed). */
export async function readStoredChecksum(provider: StorageProvider, dir: string, snapshotName: string, signal?: AbortSignal): Promise<string | undefined> {
  const text = await readSmallFile(provider, joinRemotePath(dir, checksumFileName(snapshotName)), signal);
  return text === undefined ? undefined : parseChecksumFile(text);
}

/**
 * Streams the stored bytes of a snapshot through its checks and the decrypt stage. Throws before
 * reading anything when the snapshot must be refused (see `authenticate.ts`).
 */
export async function openSnapshotPlaintext(
  provider: StorageProvider,
  dir: string,
  snapshotName: string,
  backup: BackupSettings,
  opts: OpenSnapshotOptions = {},
): Promise<OpenSnapshot> {
  const { signal } = opts;
  const encrypted = snapshotName.endsWith(".enc");
  if (encrypted && !backup.passphrase) {
    throw new WorkspaceSyncError("PASSPHRASE_MISSING", `Snapshot ${snapshotName} is encrypted but no passphrase is configured: set backup.passphrase`, { path: "backup.passphrase" });
  }
  const auth =
    opts.auth ?? (await planAuthentication({ provider, dir, name: snapshotName, backup, policy: opts.policy ?? {}, signal, ...(opts.folder ? { folder: opts.folder } : {}) }));
  // The MAC covers everything the SHA-256 would: it is only checked where there is no MAC.
  const expected = auth.kind === "mac" ? undefined : await readStoredChecksum(provider, dir, snapshotName, signal);
  // Written with a MAC, presented without one (its MAC file was deleted): nothing is passed on.
  const decoder = createSnapshotDecoder(
    {
      check: auth.kind === "mac" ? { kind: "mac", key: auth.keys.body } : { kind: "sha256", expected },
      decrypt: encrypted ? { passphrase: backup.passphrase as string, candidates: kdfCandidates(pbkdf2Kdf(backup.kdfIterations)) } : undefined,
      path: snapshotName,
    },
    {
      ...(auth.kind === "none" ? { refuseMarked: () => markerWithoutMac(snapshotName) } : {}),
      ...(opts.offThread === false ? { offThread: false } : {}),
      ...(opts.handOver === true ? { handOver: true } : {}),
      thread: opts.thread,
    },
  );
  let source: Readable;
  try {
    // Off the thread, the decoder copies each stored chunk and is the stream's one reader (the
    // progress count below reads it first): a provider of ours may hand its chunks over to be
    // freed (never a caller's, which may keep what it passes on; see providers/hand-over.ts).
    const handOver = decoder.offThread && handsOverReads(provider);
    source = await provider.read(joinRemotePath(dir, snapshotName), { signal, handOver });
  } catch (err) {
    for (const stage of decoder.stages) stage.destroy();
    throw err;
  }
  if (opts.onBytes) {
    let read = 0;
    source.on("data", (chunk: Buffer) => {
      read += chunk.length;
      opts.onBytes?.(read);
    });
  }
  const plain = new PassThrough({ highWaterMark: 256 * 1024 });
  const done = pipeline([source, ...decoder.stages, plain], { signal }).then(() => {
    if (auth.kind === "mac") checkMac(auth, decoder.result());
  });
  return {
    plain,
    done,
    expected,
    auth,
    kdf: () => {
      const kdf = decoder.kdf();
      return kdf ? kdfToString(kdf) : undefined;
    },
  };
}

/**
 * Makes a read failure say what happened. An authenticated snapshot that did not decrypt or
 * decompress is read again through its MAC only (this failure path is the one place a snapshot
 * is read twice): a mismatch is reported as tampering or truncation, which is what it is. An
 * unauthenticated encrypted snapshot that is "corrupt" may as well have been decrypted with a wrong
 * passphrase that happened to pass the first-block check: the message says so.
 */
export async function explainReadFailure(
  err: unknown,
  ctx: { provider: StorageProvider; dir: string; name: string; auth: AuthPlan | undefined; signal?: AbortSignal },
): Promise<WorkspaceSyncError> {
  const e = toWorkspaceSyncError(err);
  const { auth } = ctx;
  // With a MAC, the passphrase was proven right before reading: a "wrong passphrase" from the first
  // block means the bytes were changed (e.g. the salt in the header).
  if (auth?.kind === "mac" && ["SNAPSHOT_CORRUPT", "INTEGRITY_MISMATCH", "WRONG_PASSPHRASE"].includes(e.code)) {
    if (ctx.signal?.aborted) return e;
    try {
      const mac = createMacStream(auth.keys);
      const source = await ctx.provider.read(joinRemotePath(ctx.dir, ctx.name), { signal: ctx.signal });
      await pipeline([source, mac, new Writable({ write: (_chunk, _enc, cb) => cb() })], { signal: ctx.signal });
      checkMac(auth, mac);
    } catch (verdict) {
      const v = toWorkspaceSyncError(verdict);
      if (v.code === "SNAPSHOT_TAMPERED" || v.code === "SNAPSHOT_TRUNCATED") return v;
    }
    return e;
  }
  if (auth?.kind === "none" && auth.reason === "legacy" && e.code === "SNAPSHOT_CORRUPT") {
    return new WorkspaceSyncError(
      "SNAPSHOT_CORRUPT",
      `${e.message}. Or the passphrase is wrong: this snapshot has no MAC to tell, and a wrong passphrase passes the first-block check about once in 100 million tries; if it was made with another passphrase, set backup.passphrase to that one`,
      { path: e.path ?? ctx.name, cause: e },
    );
  }
  return e;
}
