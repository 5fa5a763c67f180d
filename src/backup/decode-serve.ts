/**
 * The decoding side of {@link OffThreadDecode} (decode-thread.ts), run on a helper thread (see
 * restore-thread.ts): runs the decode stages of one snapshot (decode-stages.ts) on the stored
 * bytes that arrive on a port, and sends back the gzip stream, what the stages found, and the
 * first error. It decides nothing the stages do not already decide on the main thread.
 *
 * Flow control: each input batch is acknowledged (`took`) once the first stage has taken it, which
 * it does only while the later stages keep up; output is paused while more than
 * {@link OUT_LIMIT} bytes sent are not yet acknowledged by the main thread's reader.
 */
import type { MessagePort } from "node:worker_threads";
import type { DecodeWorkerData, FromDecodeWorker, ToDecodeWorker, WireError } from "./decode-thread.js";
import { createDecodeStages } from "./decode-stages.js";
import { WorkspaceSyncError } from "../errors.js";

/** Output bytes sent and not yet acknowledged, at most (before the last stage is paused). */
const OUT_LIMIT = 2 * 1024 * 1024;

/**
 * The buffers to send for `chunks`: a chunk that is the whole of its ArrayBuffer is moved to the
 * main thread (the decipher's 64 KiB pieces; nothing here holds them after), the others are
 * copied (consecutive ones together), in order. Copying everything into new buffers cost as
 * much as the decryption it saved (the fresh memory's page faults).
 */
function transferable(chunks: Buffer[]): ArrayBuffer[] {
  const bufs: ArrayBuffer[] = [];
  let run: Buffer[] = [];
  const copyRun = (): void => {
    if (run.length === 0) return;
    // A copy of its own (a small concat would come from the shared pool).
    const copy = new Uint8Array(run.reduce((n, c) => n + c.length, 0));
    let off = 0;
    for (const c of run) {
      copy.set(c, off);
      off += c.length;
    }
    bufs.push(copy.buffer);
    run = [];
  };
  for (const c of chunks) {
    const ab = c.buffer;
    if (ab instanceof ArrayBuffer && c.byteOffset === 0 && c.byteLength === ab.byteLength && c.byteLength >= 4096) {
      copyRun();
      bufs.push(ab);
    } else run.push(c);
  }
  copyRun();
  return bufs;
}

function wire(err: unknown): WireError {
  const e = err as { message?: unknown; code?: unknown; path?: unknown; retryable?: unknown };
  return {
    message: typeof e?.message === "string" ? e.message : String(err),
    code: typeof e?.code === "string" ? e.code : undefined,
    path: typeof e?.path === "string" ? e.path : undefined,
    retryable: e?.retryable === true,
    wse: err instanceof WorkspaceSyncError,
  };
}

/** Decodes the snapshot whose stored bytes arrive on `port`; see the module comment. */
export function serveDecode(port: MessagePort, data: DecodeWorkerData): void {
  const { stages, strip, decrypt, result } = createDecodeStages(data.spec);
  const first = stages[0] as NonNullable<(typeof stages)[number]>;
  const last = stages[stages.length - 1] as NonNullable<(typeof stages)[number]>;
  let stopped = false;
  let out: Buffer[] = [];
  let outBytes = 0;
  let unacked = 0;
  let flushing = false;

  function send(msg: FromDecodeWorker, transfer: ArrayBuffer[] = []): void {
    port.postMessage(msg, transfer);
  }

  function fail(err: unknown): void {
    if (stopped) return;
    stopped = true;
    send({ t: "error", error: wire(err) });
    for (const s of stages) s.destroy();
  }

  /** Sends what the last stage produced since the last flush, in one message. */
  function flush(): void {
    flushing = false;
    if (consumed.length > 0 && !stopped) {
      const bufs = consumed.filter((b) => b.byteLength > 0);
      consumed = [];
      send({ t: "free", bufs }, bufs);
    }
    if (outBytes === 0 || stopped) return;
    const n = outBytes;
    const bufs = transferable(out);
    unacked += n;
    out = [];
    outBytes = 0;
    send({ t: "out", bufs, n }, bufs);
    if (unacked >= OUT_LIMIT) last.pause();
  }

  /**
   * Input buffers that decryption is done with, handed back to be filled again. (Left to this
   * thread's collector, which rarely runs as it allocates little on its heap, freshly allocated
   * ones held ~50 MiB more peak RSS on the bench restore.)
   */
  let consumed: ArrayBuffer[] = [];

  for (const s of stages) s.on("error", fail);
  if (decrypt) {
    // By hand rather than piped, to learn when decryption is done with each chunk. Chunks it still
    // holds (the header and first block, while the key is derived) are left to the collector.
    first.on("data", (chunk: Buffer) => {
      const release = decrypt.kdf === undefined ? undefined : (): void => void consumed.push(chunk.buffer as ArrayBuffer);
      if (!decrypt.write(chunk, release)) first.pause();
    });
    decrypt.on("drain", () => first.resume());
    first.on("end", () => decrypt.end());
    if (strip) decrypt.pipe(strip);
  }
  decrypt?.on("kdf", (spec) => send({ t: "kdf", spec }));
  strip?.on("marker", (marked: boolean) => {
    send({ t: "marker", marked });
    // Refused: nothing after the mark is passed on; the main thread reports why.
    if (marked && data.refuseMarked) {
      stopped = true;
      for (const s of stages) s.destroy();
    }
  });
  last.on("data", (chunk: Buffer) => {
    out.push(chunk);
    outBytes += chunk.length;
    // One message per turn of this thread's loop, or per megabyte.
    if (outBytes >= 1024 * 1024) flush();
    else if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  });
  last.on("end", () => {
    flush();
    if (stopped) return;
    const r = result();
    send({ t: "done", result: { ...r, tag: r.tag ? new Uint8Array(r.tag) : undefined } });
  });

  // The reader is gone (done, failed or aborted): nothing more comes, and nothing is kept.
  port.on("close", () => {
    stopped = true;
    for (const s of stages) s.destroy();
  });
  port.on("message", (msg: ToDecodeWorker) => {
    if (stopped) return;
    if (msg.t === "in") {
      if (!flushing) {
        flushing = true;
        setImmediate(flush);
      }
      const n = msg.n;
      first.write(Buffer.from(msg.buf, 0, n), () => send({ t: "took", n }));
    } else if (msg.t === "ack") {
      unacked -= msg.n;
      if (unacked < OUT_LIMIT && last.isPaused()) last.resume();
    } else {
      first.end();
    }
  });
}
