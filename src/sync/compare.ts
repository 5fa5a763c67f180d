/**
 * Content comparison, in one place: do the workspace copy and the cloud copy of a file hold the
 * same bytes? Used wherever sameness is unknown and matters (first runs, lost state, changes on
 * both sides, mirror ingest), with the cheapest proof that holds:
 *
 * 1. Size: different sizes are different files.
 * 2. rclone's default rule: same size and same modification time, compared at the coarser
 *    precision of the two sides (a millisecond of rounding never makes two copies "different").
 *    On backends whose listings give the upload time (S3), the source time comes from the
 *    object's `mtime` metadata (ours or rclone's), read once per object with `stat()`.
 * 3. Hashes, where they cost no transfer: the provider's own (S3 single-part ETag or rclone's
 *    `md5chksum`, Dropbox `content_hash`) against the local file hashed with `hashLocalFile()`.
 *    A hash mismatch is a proof of difference.
 * 4. Bytes: both copies streamed through SHA-256, when reads are cheap (a local folder), or the
 *    file is within the caller's read limit (a conflict copy costs more than a comparison).
 *
 * The pure rules come first; {@link ContentComparer} does the I/O.
 */
import { createHash } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import type { LocalSource, StorageProvider } from "../providers/types.js";
import { WorkspaceFs, isLocalNameProblem } from "../util/safe-fs.js";
import { sourceStream } from "../util/source-stream.js";
import { joinRemotePath } from "../providers/paths.js";
import { SET_MTIME_PRECISION_NS } from "../util/mtime.js";
import { forEachLimit } from "../util/concurrency.js";
import { localChanged, remoteChanged } from "./deltas.js";
import type { StateFiles } from "./state-files.js";
import type { LocalFile, RemoteFile } from "./types.js";

/** Largest file compared by reading both copies when a transfer would be the alternative anyway. */
export const COMPARE_BY_DOWNLOAD_LIMIT = 8 * 1024 * 1024;

/** A modification time in nanoseconds with the precision (ns per unit) it is known to. */
export interface FileTime {
  ns: bigint;
  precisionNs: number;
}

/**
 * The workspace copy's time. From a listing it is exact to the nanosecond, but times this library
 * sets are only exact to the microsecond (see `util/mtime.ts`), so the microsecond is its precision.
 */
export function localTime(l: LocalFile): FileTime {
  if (l.mtimeNs !== undefined) return { ns: l.mtimeNs, precisionNs: SET_MTIME_PRECISION_NS };
  return { ns: BigInt(Math.trunc(l.mtimeMs)) * 1_000_000n, precisionNs: 1_000_000 };
}

/**
 * The cloud copy's source time (the one the file had when it was written there), or `undefined`
 * when the listing only has an upload time. `listMtime` is the provider's capability.
 */
export function remoteSourceTime(r: RemoteFile, listMtime: "source" | "upload"): FileTime | undefined {
  if (r.mtimeNs !== undefined) return { ns: r.mtimeNs, precisionNs: r.mtimePrecisionNs ?? 1 };
  if (listMtime === "source" && r.mtimeMs !== undefined) return { ns: BigInt(Math.trunc(r.mtimeMs)) * 1_000_000n, precisionNs: 1_000_000 };
  return undefined;
}

/**
 * Compares two times at the coarser precision of the two (rclone's modify window): `0` when they
 * differ by less than it, else the sign of `a - b`.
 */
export function compareTimes(a: FileTime, b: FileTime): -1 | 0 | 1 {
  const window = BigInt(Math.max(a.precisionNs, b.precisionNs, 1));
  const dt = a.ns - b.ns;
  if (dt < window && dt > -window) return 0;
  return dt > 0n ? 1 : -1;
}

/** rclone's default equality: same size and same source modification time (at the coarser precision). */
export function sameSizeAndTime(l: LocalFile, r: RemoteFile, listMtime: "source" | "upload"): boolean {
  if (l.size !== r.size) return false;
  const rt = remoteSourceTime(r, listMtime);
  return rt !== undefined && compareTimes(localTime(l), rt) === 0;
}

/** How a verdict was reached (for logs and tests). */
export type CompareProof = "size" | "size+mtime" | "hash" | "bytes";

/** The outcome of one comparison: `same` is `undefined` when no cheap enough proof held. */
export interface CompareVerdict {
  same: boolean | undefined;
  proof?: CompareProof;
}

/** What {@link ContentComparer} needs. */
export interface ComparerOptions {
  provider: StorageProvider;
  /** Absolute workspace folder. */
  workspace: string;
  /** The workspace's guarded view, when the caller has one (else one is opened). */
  wfs?: WorkspaceFs;
  /** Cloud folder (provider path). */
  remoteDir: string;
  concurrency: number;
  signal?: AbortSignal;
}

/** One pair to compare: the comparison key, both copies and how many bytes may be read to decide. */
export interface ComparePair {
  key: string;
  local: LocalFile;
  remote: RemoteFile;
  /** Largest size compared by reading both copies (ignored where reads are cheap). 0 = cheap proofs only. */
  readLimit: number;
}

/** What {@link pairsToCompare} needs to know of the run. */
export interface PairRules {
  /** Bisync may read both copies whatever their size (a conflict copy costs more than a comparison). */
  bisync: boolean;
  provider: StorageProvider;
}

/**
 * What to compare, and how far to go, for `keys` present on both sides, where sameness is unknown
 * and matters. Without state (`prior` undefined or no entry) or with changes on both sides, bisync
 * may read both copies whatever their size and the push modes (and mirror ingest) up to
 * {@link COMPARE_BY_DOWNLOAD_LIMIT} (the alternative is a transfer). With only one side moved the
 * transfer happens anyway unless a proof costs no request: the listing's source time or hash, or
 * cheap reads. Pure.
 */
export function pairsToCompare(
  keys: Iterable<string>,
  local: ReadonlyMap<string, LocalFile>,
  remote: ReadonlyMap<string, RemoteFile>,
  prior: StateFiles | undefined,
  rules: PairRules,
): ComparePair[] {
  const caps = rules.provider.capabilities;
  const canHash = typeof rules.provider.hashLocalFile === "function";
  const pairs: ComparePair[] = [];
  for (const key of keys) {
    const s = prior?.get(key);
    const l = local.get(key)!;
    const r = remote.get(key)!;
    if (s && !(localChanged(l, s.local) && remoteChanged(r, s.remote))) {
      if (caps.listMtime === "source" || caps.cheapReads || (canHash && r.hash !== undefined)) pairs.push({ key, local: l, remote: r, readLimit: 0 });
      continue;
    }
    pairs.push({ key, local: l, remote: r, readLimit: rules.bisync ? Number.POSITIVE_INFINITY : COMPARE_BY_DOWNLOAD_LIMIT });
  }
  return pairs;
}

/**
 * Compares workspace and cloud copies for one run. Remembers what it learnt (a `stat()` per cloud
 * object, a hash per local file), so a run asks the cloud about each object at most once.
 */
export class ContentComparer {
  private readonly stats = new Map<string, Promise<RemoteFile | undefined>>();
  private readonly localHashes = new Map<string, Promise<string>>();
  private wfs: Promise<WorkspaceFs> | undefined;

  constructor(private readonly options: ComparerOptions) {}

  /** The keys of `pairs` whose copies were proven equal. */
  async findEqual(pairs: readonly ComparePair[]): Promise<Set<string>> {
    const equal = new Set<string>();
    await forEachLimit(
      pairs,
      this.options.concurrency,
      async (p, _i, signal) => {
        try {
          if ((await this.compare(p.local, p.remote, p.readLimit, signal)).same === true) equal.add(p.key);
        } catch (err) {
          // A workspace file refused for reading (a symlink or FIFO took its name since the
          // listing): not proven equal; its transfer meets the same refusal and reports it.
          if (!isLocalNameProblem(err)) throw err;
        }
      },
      this.options.signal,
    );
    return equal;
  }

  /** Compares one pair (see the module comment for the order of proofs). */
  async compare(l: LocalFile, r: RemoteFile, readLimit: number, signal = this.options.signal): Promise<CompareVerdict> {
    const { provider } = this.options;
    if (l.size !== r.size) return { same: false, proof: "size" };
    const listMtime = provider.capabilities.listMtime;
    let remote = r;
    if (remoteSourceTime(r, listMtime) === undefined && provider.capabilities.metadata) {
      // The listing has the upload time only: the object's metadata holds the source time and,
      // for multipart objects, rclone's md5chksum.
      const st = await this.withSourceTime(r, signal);
      if (!st || st.size !== r.size) return { same: undefined }; // gone or replaced since the listing
      remote = st;
    }
    if (sameSizeAndTime(l, remote, listMtime)) return { same: true, proof: "size+mtime" };
    if (provider.hashLocalFile && remote.hash !== undefined) {
      return { same: (await this.localHash(l.path, signal)) === remote.hash, proof: "hash" };
    }
    if (provider.capabilities.cheapReads || r.size <= readLimit) {
      const same = await sameBytes(provider, await this.source(l.path), joinRemotePath(this.options.remoteDir, r.path), signal);
      return { same, proof: "bytes" };
    }
    return { same: undefined };
  }

  /**
   * The cloud file with its source time (and content hash) from `stat()` where the listing only has
   * an upload time; `r` itself where the listing is enough; `undefined` when it is gone.
   */
  async withSourceTime(r: RemoteFile, signal = this.options.signal): Promise<RemoteFile | undefined> {
    const { provider } = this.options;
    if (remoteSourceTime(r, provider.capabilities.listMtime) !== undefined || !provider.capabilities.metadata) return r;
    let pending = this.stats.get(r.path);
    if (!pending) {
      pending = provider.stat(joinRemotePath(this.options.remoteDir, r.path), { signal }).then((st) => {
        if (!st) return undefined;
        const out: RemoteFile = { ...r, size: st.size };
        if (st.mtimeNs !== undefined) {
          out.mtimeNs = st.mtimeNs;
          out.mtimePrecisionNs = st.mtimePrecisionNs ?? 1;
          out.mtimeMs = Number(st.mtimeNs / 1_000_000n);
        }
        if (out.hash === undefined && st.hash !== undefined) out.hash = st.hash;
        return out;
      });
      this.stats.set(r.path, pending);
      pending.catch(() => this.stats.delete(r.path));
    }
    return pending;
  }

  /** Workspace file `rel`, read with the checks of `WorkspaceFs.source` (never through a symlink). */
  private async source(rel: string): Promise<LocalSource> {
    this.wfs ??= this.options.wfs ? Promise.resolve(this.options.wfs) : WorkspaceFs.open(this.options.workspace);
    return (await this.wfs).source(rel);
  }

  private localHash(rel: string, signal: AbortSignal | undefined): Promise<string> {
    let pending = this.localHashes.get(rel);
    if (!pending) {
      pending = this.source(rel).then((file) => this.options.provider.hashLocalFile!(file, { signal }));
      this.localHashes.set(rel, pending);
      pending.catch(() => this.localHashes.delete(rel));
    }
    return pending;
  }
}

/**
 * Whether a local file and a cloud file hold the same bytes, without modification times (mailbox
 * drain, callers without a listing entry): by the provider's hash when both sides have one, else
 * by reading both when the file is at most {@link COMPARE_BY_DOWNLOAD_LIMIT} or reads are cheap.
 * `undefined` when it cannot tell cheaply.
 */
export async function compareContent(provider: StorageProvider, local: LocalSource, remote: RemoteFile, remoteFull: string, signal?: AbortSignal): Promise<boolean | undefined> {
  if (provider.hashLocalFile && remote.hash !== undefined) {
    return (await provider.hashLocalFile(local, { signal })) === remote.hash;
  }
  if (remote.size > COMPARE_BY_DOWNLOAD_LIMIT && !provider.capabilities.cheapReads) return undefined;
  return sameBytes(provider, local, remoteFull, signal);
}

/** Streams both copies through SHA-256 (in parallel) and compares the digests. */
async function sameBytes(provider: StorageProvider, local: LocalSource, remoteFull: string, signal?: AbortSignal): Promise<boolean> {
  const [a, b] = await Promise.all([
    sha256Of(sourceStream(local), signal),
    provider.read(remoteFull, { signal }).then((s) => sha256Of(s, signal)),
  ]);
  return a === b;
}

async function sha256Of(source: NodeJS.ReadableStream, signal?: AbortSignal): Promise<string> {
  const h = createHash("sha256");
  await pipeline(
    source,
    new Writable({
      write(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        cb();
      },
    }),
    { signal },
  );
  return h.digest("hex");
}
