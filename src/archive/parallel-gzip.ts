/**
 * Parallel gzip, the pigz way: the input is cut into independent blocks that are deflated on
 * zlib's thread pool, a bounded number at a time, and emitted in order. Each block is a complete
 * gzip member; concatenated members are one valid gzip stream (RFC 1952 §2.2) that `gunzip`,
 * `tar -xz` and node's gunzip read. Blocks that barely compress are stored or deflated at level 1
 * instead of spending deflate time on them. Each member records its size in its header (the BGZF
 * idea, see bgzf-index.ts) so that a restore can inflate members in parallel too.
 */
import zlib from "node:zlib";
import { abortError } from "../errors.js";
import { availableCores } from "../util/cores.js";
import { GZIP_BASE_HEADER, INDEX_EXTRA_BYTES, indexedHeader } from "./bgzf-index.js";

/**
 * Output chunk size of each member's deflate: output buffers are allocated as the member grows
 * (a block that compresses to 300 KiB allocates 512 KiB, not the block size plus slack), and each
 * chunk is one thread-pool round trip.
 */
const MEMBER_CHUNK = 256 * 1024;

/**
 * Deflates one block into one gzip member on zlib's thread pool; resolves with its output chunks.
 * With `index`, zlib's header is swapped for one that records the member's size (see bgzf-index.ts).
 */
function gzipMember(block: Buffer, level: number, index: boolean): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const gz = zlib.createGzip({ level, memLevel: 9, chunkSize: MEMBER_CHUNK });
    const out: Buffer[] = [];
    gz.on("data", (chunk: Buffer) => out.push(chunk));
    gz.once("error", reject);
    gz.once("end", () => {
      // The last chunk is a slice of a 256 KiB output buffer: when it uses little of it, a copy lets
      // the big buffer go now rather than when the slice has gone through every later stage.
      const last = out.at(-1);
      if (last !== undefined && last.length * 4 < last.buffer.byteLength) out[out.length - 1] = Buffer.from(last);
      resolve(index ? addIndex(out) : out);
    });
    gz.end(block);
  });
}

/**
 * The member `chunks` as zlib wrote them, with the 10-byte header replaced by an indexed one (the
 * chunks' bytes are not copied). Unchanged when the member cannot be indexed.
 */
function addIndex(chunks: Buffer[]): Buffer[] {
  let first = chunks[0];
  if (first === undefined) return chunks;
  if (first.length < GZIP_BASE_HEADER && chunks.length > 1) {
    chunks = [Buffer.concat(chunks)];
    first = chunks[0] as Buffer;
  }
  let total = 0;
  for (const c of chunks) total += c.length;
  const header = indexedHeader(first, total);
  if (header === undefined) return chunks;
  const rest = first.subarray(GZIP_BASE_HEADER);
  return rest.length > 0 ? [header, rest, ...chunks.slice(1)] : [header, ...chunks.slice(1)];
}

/** Options of {@link parallelGzip}. */
export interface ParallelGzipOptions {
  /** gzip level 0-9 (default 6). */
  level?: number;
  /** Bytes per independent block (default {@link DEFAULT_GZIP_BLOCK_SIZE}). */
  blockSize?: number;
  /** Blocks being deflated at once (default: the number of CPUs, clamped to 2..3 to leave thread-pool room for file reads). */
  concurrency?: number;
  /** Skip deflate effort on blocks whose sample barely compresses (default true). */
  adaptive?: boolean;
  /**
   * Record each member's size in its gzip header (FEXTRA subfield "WS", see bgzf-index.ts) so a
   * reader can inflate members in parallel (default true). Blocks over 4 MiB are never indexed.
   */
  index?: boolean;
  signal?: AbortSignal;
  /**
   * Called with each source chunk once its bytes have been copied into a block: from then on the
   * producer may reuse the chunk's memory.
   */
  onConsumed?: (chunk: Uint8Array) => void;
}

/**
 * Bytes per gzip member by default: 1 MiB keeps both cores busy with three blocks in flight and
 * loses under 0.1% of compression against one deflate stream; 2 MiB blocks cost ~8 MiB more memory
 * for no speed.
 */
export const DEFAULT_GZIP_BLOCK_SIZE = 1024 * 1024;

const PROBE_SLICES = 4;
const PROBE_SLICE_BYTES = 8 * 1024;

/**
 * The level to use for one block: a few slices of it are deflated at level 1; when they barely
 * shrink (random or already compressed data) the block is stored (level 0) or deflated at level 1.
 */
export function chooseBlockLevel(block: Buffer, level: number): number {
  if (level <= 0) return 0;
  if (block.length < PROBE_SLICES * PROBE_SLICE_BYTES * 2) return level;
  const sample = Buffer.allocUnsafe(PROBE_SLICES * PROBE_SLICE_BYTES);
  const stride = Math.floor((block.length - PROBE_SLICE_BYTES) / (PROBE_SLICES - 1));
  for (let i = 0; i < PROBE_SLICES; i++) {
    block.copy(sample, i * PROBE_SLICE_BYTES, i * stride, i * stride + PROBE_SLICE_BYTES);
  }
  const ratio = zlib.deflateRawSync(sample, { level: 1 }).length / sample.length;
  if (ratio > 0.97) return 0;
  if (ratio > 0.9) return Math.min(level, 1);
  return level;
}

function defaultConcurrency(): number {
  return Math.min(3, Math.max(2, availableCores()));
}

/**
 * Compresses `source` into a multi-member gzip stream. Memory stays within about
 * `(concurrency + 1) × blockSize` plus the compressed output in flight; the generator pulls input
 * only as fast as its consumer takes output.
 */
export async function* parallelGzip(source: AsyncIterable<Uint8Array>, options: ParallelGzipOptions = {}): AsyncGenerator<Buffer> {
  const level = options.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new RangeError(`gzip level must be 0-9, got ${level}`);
  const blockSize = Math.max(64 * 1024, options.blockSize ?? DEFAULT_GZIP_BLOCK_SIZE);
  const concurrency = Math.max(1, options.concurrency ?? defaultConcurrency());
  const adaptive = options.adaptive ?? true;
  const index = options.index ?? true;
  const signal = options.signal;
  const inFlight: { done: Promise<Buffer[]>; block: Buffer }[] = [];
  // Input blocks are reused once their member is out: a fresh buffer per block is garbage that
  // V8 collects only after tens of MiB of external memory have piled up (peak RSS).
  const free: Buffer[] = [];
  const take = async (): Promise<Buffer[]> => {
    const head = inFlight.shift() as { done: Promise<Buffer[]>; block: Buffer };
    const out = await head.done;
    if (head.block.length === blockSize && free.length <= concurrency) free.push(head.block);
    return out;
  };

  const dispatch = (block: Buffer): void => {
    const p = gzipMember(block, adaptive ? chooseBlockLevel(block, level) : level, index);
    p.catch(() => {}); // awaited in order below; avoid an unhandled rejection while waiting for earlier blocks
    inFlight.push({ done: p, block });
  };

  let block: Buffer = Buffer.allocUnsafe(blockSize);
  let filled = 0;
  let emittedAny = false;
  for await (const chunk of source) {
    if (signal?.aborted) throw abortError(signal.reason);
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(blockSize - filled, chunk.length - offset);
      block.set(chunk.subarray(offset, offset + n), filled);
      filled += n;
      offset += n;
      if (filled === blockSize) {
        dispatch(block);
        filled = 0;
        while (inFlight.length >= concurrency) {
          emittedAny = true;
          // Not `yield* array`: its sync iterator has no throw(), so a consumer's throw(err) (Node 24's
          // Readable.from on destroy) would surface as a TypeError instead of err.
          for (const out of await take()) yield out;
        }
        block = free.pop() ?? Buffer.allocUnsafe(blockSize);
      }
    }
    options.onConsumed?.(chunk);
  }
  if (filled > 0 || (!emittedAny && inFlight.length === 0)) dispatch(block.subarray(0, filled));
  while (inFlight.length > 0) {
    if (signal?.aborted) throw abortError(signal.reason);
    for (const out of await take()) yield out;
  }
}

/**
 * An upper bound of the gzip output for `inputBytes` of input cut into `blockSize` blocks.
 * Deflate never emits much more than stored blocks, but node's zlib (Chromium's) cuts incompressible
 * data into small blocks: about 1 byte per KiB was measured, so allow 4 per KiB, plus 28 bytes of
 * gzip header (with its index) and trailer per member.
 */
export function gzipBytesUpperBound(inputBytes: number, blockSize = DEFAULT_GZIP_BLOCK_SIZE): number {
  const members = Math.max(1, Math.ceil(inputBytes / blockSize));
  return inputBytes + Math.ceil(inputBytes / 256) + (32 + INDEX_EXTRA_BYTES) * members + 64;
}
