/**
 * The in-band mark of an authenticated snapshot: an empty gzip member placed first in the plaintext,
 * before the archive, carrying an RFC 1952 FEXTRA subfield "WA" (workspace-sync authenticated) with
 * the text `ws-mac/1`. It inflates to nothing, so `openssl enc -d | tar -xz` (gzip reads members one
 * after another and skips unknown extra subfields) sees exactly the archive.
 *
 * Why: the MAC lives in a separate file, and deleting that file must not turn a snapshot into an
 * unauthenticated "legacy" one. The mark sits in the first two cipher blocks; without the passphrase
 * it cannot be removed or forged (changing the first plaintext block means changing the first cipher
 * block, which turns it into random bytes that no longer look like gzip), so a restore that finds
 * the mark and no valid MAC refuses.
 *
 * ```
 * 1f 8b 08 04 00 00 00 00 00 ff   gzip header, FLG = FEXTRA, MTIME 0, OS unknown
 * 0c 00                           XLEN = 12
 * 57 41 08 00 "ws-mac/1"          subfield "WA", 8 bytes
 * 03 00                           empty final deflate block
 * 00 00 00 00 00 00 00 00         CRC-32 0, ISIZE 0
 * ```
 */
import { Transform, type TransformCallback } from "node:stream";

/** The 34-byte empty gzip member marking an authenticated snapshot. */
export const AUTH_MARKER: Buffer = Buffer.concat([
  Buffer.from([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0xff, 0x0c, 0x00, 0x57, 0x41, 0x08, 0x00]),
  Buffer.from("ws-mac/1", "latin1"),
  Buffer.from([0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0]),
]);

/** True when `plain` starts with the marker. */
export function startsWithAuthMarker(plain: Uint8Array): boolean {
  return plain.length >= AUTH_MARKER.length && AUTH_MARKER.equals(plain.subarray(0, AUTH_MARKER.length));
}

/** A Transform putting the marker in front of what flows through (a pipeline stage before the encryption). */
export function prependAuthMarker(): Transform {
  let sent = false;
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      if (!sent) {
        sent = true;
        this.push(AUTH_MARKER);
      }
      callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      if (!sent) this.push(AUTH_MARKER);
      callback();
    },
  });
}

/**
 * A Transform that removes the marker from the start of a plaintext stream (so the archive reader
 * sees exactly what the archiver wrote) and says whether it was there: `stream.marked`, also emitted
 * as a `"marker"` event (true/false) once decided, before any byte is passed on.
 */
export class StripAuthMarker extends Transform {
  /** Whether the stream started with the marker; undefined until decided. */
  marked: boolean | undefined;
  #head: Buffer[] = [];
  #headLength = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.marked !== undefined) return callback(null, chunk);
    this.#head.push(chunk);
    this.#headLength += chunk.length;
    if (this.#headLength < AUTH_MARKER.length) return callback();
    this.#decide(callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.marked === undefined) return this.#decide(callback);
    callback();
  }

  #decide(callback: TransformCallback): void {
    const head = Buffer.concat(this.#head, this.#headLength);
    this.#head = [];
    this.#headLength = 0;
    this.marked = startsWithAuthMarker(head);
    this.emit("marker", this.marked);
    // A listener may have destroyed the stream (marker found where none may be): pass nothing on.
    if (this.destroyed) return callback();
    const rest = this.marked ? head.subarray(AUTH_MARKER.length) : head;
    callback(null, rest.length > 0 ? rest : undefined);
  }
}

/** See {@link StripAuthMarker}. */
export function createStripAuthMarker(): StripAuthMarker {
  return new StripAuthMarker();
}
