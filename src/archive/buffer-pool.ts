/**
 * Reusable read buffers for the pack stage. File bytes are read into a region of a pooled slab and
 * handed to tar-stream; once the gzip stage has copied a region into its block it calls
 * {@link ReadBufferPool.release}, and a slab whose regions are all released is reused. A fresh
 * buffer per read would be garbage that V8 frees only after tens of MiB of external memory have
 * piled up, which is most of a backup's peak RSS.
 */

interface Slab {
  buf: Buffer;
  /** Bytes handed out since the slab was last (re)started. */
  used: number;
  /** Regions handed out and not released yet. */
  refs: number;
}

/** Counters for tests and benchmarks. */
export interface ReadBufferPoolStats {
  /** Slabs allocated (at most `maxSlabs`). */
  slabs: number;
  /** Buffers allocated outside the pool because no slab was free or the request was too big. */
  fallbacks: number;
  /** Regions handed out and not released yet. */
  outstanding: number;
}

/** A pool of `slabSize`-byte slabs, at most `maxSlabs` of them; see the module comment. */
export class ReadBufferPool {
  private readonly slabs = new Map<ArrayBufferLike, Slab>();
  private readonly free: Slab[] = [];
  private current: Slab | undefined;
  private fallbacks = 0;

  constructor(
    readonly slabSize: number,
    private readonly maxSlabs: number,
  ) {}

  /**
   * A buffer of `size` bytes whose content is undefined. Every region taken must come back through
   * {@link release} (the chunk handed on, or the region itself when it was not used); a buffer that
   * does not come from the pool is ignored there, so callers need not tell them apart.
   */
  take(size: number): Buffer {
    if (size > this.slabSize) return this.fallback(size);
    let slab = this.current;
    if (slab === undefined || slab.used + size > this.slabSize) {
      if (slab !== undefined) this.retire(slab);
      slab = this.free.pop() ?? this.create();
      if (slab === undefined) return this.fallback(size);
      slab.used = 0;
      this.current = slab;
    }
    const region = slab.buf.subarray(slab.used, slab.used + size);
    slab.used += size;
    slab.refs++;
    return region;
  }

  /** Gives back a region (or any chunk cut from it) once its bytes have been copied elsewhere. */
  release(chunk: Uint8Array): void {
    const slab = this.slabs.get(chunk.buffer);
    if (slab === undefined || slab.refs === 0) return;
    slab.refs--;
    if (slab.refs === 0 && slab !== this.current) this.free.push(slab);
  }

  stats(): ReadBufferPoolStats {
    let outstanding = 0;
    for (const slab of this.slabs.values()) outstanding += slab.refs;
    return { slabs: this.slabs.size, fallbacks: this.fallbacks, outstanding };
  }

  private retire(slab: Slab): void {
    this.current = undefined;
    if (slab.refs === 0) this.free.push(slab);
  }

  private create(): Slab | undefined {
    if (this.slabs.size >= this.maxSlabs) return undefined;
    // allocUnsafeSlow: a slab must own its ArrayBuffer, which is how released chunks are matched.
    const slab: Slab = { buf: Buffer.allocUnsafeSlow(this.slabSize), used: 0, refs: 0 };
    this.slabs.set(slab.buf.buffer, slab);
    return slab;
  }

  private fallback(size: number): Buffer {
    this.fallbacks++;
    return Buffer.allocUnsafe(size);
  }
}
