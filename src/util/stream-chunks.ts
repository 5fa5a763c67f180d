/**
 * A byte stream's chunks one by one, as its writer wrote them.
 *
 * A byte stream's own async iterator reads everything it has buffered at once, so two chunks
 * waiting become one new Buffer: a copy of both, and a Buffer the chunks' producer never handed
 * over (see `release-buffer.ts`). This reads in flowing mode instead, pausing while a chunk waits
 * to be taken.
 */
import { finished, type Readable } from "node:stream";

/**
 * Yields `stream`'s chunks unchanged and in order, holding at most what one `data` event brings
 * while the caller is busy. Throws the stream's error, or a premature-close error when it closes
 * before its end, as its async iterator does; when the caller stops early the stream is destroyed.
 */
export async function* chunksOf(stream: Readable): AsyncGenerator<Buffer, void, undefined> {
  const queue: Buffer[] = [];
  let done = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const onData = (chunk: Buffer): void => {
    queue.push(chunk);
    stream.pause();
    wake?.();
  };
  const stop = finished(stream, { writable: false }, (err) => {
    if (err) failure = err;
    done = true;
    wake?.();
  });
  stream.on("data", onData);
  try {
    for (;;) {
      const chunk = queue.shift();
      if (chunk !== undefined) {
        if (queue.length === 0 && !done) stream.resume();
        yield chunk;
        continue;
      }
      if (failure) throw failure;
      if (done) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    stream.off("data", onData);
    stop();
    if (!done) stream.destroy();
  }
}

/**
 * The first `max` bytes of `stream` (fewer where it ends sooner), then the stream is destroyed:
 * what follows is never read. Throws the stream's error.
 */
export async function readPrefix(stream: Readable, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const chunk of stream) {
      const b = chunk as Buffer;
      chunks.push(n + b.length > max ? b.subarray(0, max - n) : b);
      n = Math.min(max, n + b.length);
      if (n === max) break;
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks, n);
}
