/**
 * The byte range of a read ({@link ReadOptions.start} to {@link ReadOptions.end}, both inclusive)
 * as an HTTP `Range` header, and the cut a provider makes itself where a server answers a range
 * request with the whole file.
 */
import { Transform } from "node:stream";

/** A read's range: `start` (default 0) to `end` (inclusive; default the file's end). */
export interface ByteRange {
  start?: number;
  end?: number;
}

/** Whether `r` selects no byte at all (`end` before `start`): nothing is asked of the storage. */
export function emptyRange(r: ByteRange): boolean {
  return r.end !== undefined && r.end < (r.start ?? 0);
}

/** The `Range` header for `r`, or `undefined` for the whole file. */
export function rangeHeader(r: ByteRange): string | undefined {
  const from = r.start !== undefined && r.start > 0 ? r.start : 0;
  if (r.end === undefined) return from > 0 ? `bytes=${from}-` : undefined;
  return `bytes=${from}-${r.end}`;
}

/** Passes on only bytes `start..end` (inclusive) of what it is given: for a server that ignored `Range`. */
export function cutToRange(r: ByteRange): Transform {
  let skip = r.start ?? 0;
  let left = r.end === undefined ? Infinity : r.end + 1 - skip;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      if (left === 0) return done();
      let out = chunk;
      if (skip > 0) {
        const dropped = Math.min(skip, out.length);
        skip -= dropped;
        out = out.subarray(dropped);
      }
      if (out.length > left) out = out.subarray(0, left);
      left -= out.length;
      if (out.length > 0) this.push(out);
      // Past the range: what the server sends on is not read (the caller's stream ends here).
      if (left === 0) this.push(null);
      done();
    },
  });
}
