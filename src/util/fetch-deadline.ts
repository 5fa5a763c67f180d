/**
 * Deadlines for every request made through a `fetch` (the Dropbox SDK's, OAuth refresh, streamed
 * downloads): a request fails when its answer does not start within the idle limit, or when its
 * response body stops moving for that long. Requests that send a body get extra time for it (the
 * answer only comes after the body went out); callers add more for requests a server may hold on
 * purpose (long polls). While waiting, a "still waiting" line is logged every half idle period.
 * A limit on silence, never on total time: a slow but moving download is not cut off.
 */
import type { Logger } from "../logger.js";
import { clampTimerMs } from "./timers.js";
import { redactUrlCredentials } from "./url-credentials.js";

/** Extra time for sending a request body: one second per this many bytes (64 KiB/s, a slow uplink). */
const MIN_SEND_BYTES_PER_SECOND = 64 * 1024;

/** The error a request that went silent fails with. */
export class FetchDeadlineError extends Error {
  constructor(
    /** Where the request went (`https://api.dropboxapi.com`). */
    readonly origin: string,
    /** The idle limit that passed, in ms. */
    readonly idleMs: number,
    /** Whether the answer had started (a stalled body) or not (no answer). */
    readonly stalledBody: boolean,
  ) {
    super(`${origin} ${stalledBody ? "stopped sending the answer" : "sent no answer"} for ${Math.round(idleMs / 100) / 10} s`);
    this.name = "TimeoutError";
  }
}

/** What {@link withDeadlines} needs. */
export interface DeadlineOptions {
  /** Idle limit per request, in ms. */
  idleMs: number;
  logger: Logger;
  /** Prefix of the "still waiting" lines, e.g. `dropbox`. */
  label: string;
  /** More time for the answer to this request (e.g. a long poll the server holds), in ms. */
  extraMs?: (url: string, body: unknown) => number;
}

function urlOf(input: Parameters<typeof fetch>[0]): string {
  return typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
}

function originOf(url: string): string {
  try {
    return redactUrlCredentials(new URL(url).origin);
  } catch {
    return "the server";
  }
}

function bodyBytes(body: unknown): number {
  if (typeof body === "string") return Buffer.byteLength(body);
  if (body instanceof ArrayBuffer) return body.byteLength;
  if (ArrayBuffer.isView(body)) return body.byteLength;
  return 0;
}

/** Wraps `base` so every request has the deadlines described in the module comment. */
export function withDeadlines(base: typeof globalThis.fetch, options: DeadlineOptions): typeof globalThis.fetch {
  const idleMs = Math.max(1, clampTimerMs(options.idleMs));
  const noticeMs = Math.max(1, Math.round(idleMs / 2));
  return (async (input: Parameters<typeof fetch>[0], init?: RequestInit) => {
    const url = urlOf(input);
    const origin = originOf(url);
    const sent = bodyBytes(init?.body);
    const answerMs = clampTimerMs(idleMs + (options.extraMs?.(url, init?.body) ?? 0) + (sent / MIN_SEND_BYTES_PER_SECOND) * 1000);
    const controller = new AbortController();
    const parent = init?.signal ?? undefined;
    // AbortSignal.any adds no listener to the caller's signal (many requests in flight share one).
    const signal = parent ? AbortSignal.any([parent, controller.signal]) : controller.signal;
    let deadline: FetchDeadlineError | undefined;
    const expire = (stalledBody: boolean): void => {
      deadline = new FetchDeadlineError(origin, stalledBody ? idleMs : answerMs, stalledBody);
      controller.abort(deadline);
    };

    const started = Date.now();
    const timer = setTimeout(() => expire(false), answerMs);
    const notice = setInterval(() => {
      const line = `${options.label}: still waiting for ${origin} after ${Math.round((Date.now() - started) / 1000)} s; a request fails after ${Math.round(answerMs / 1000)} s without an answer`;
      // Big uploads wait for their answer while the body goes out: normal, so not a warning.
      if (sent > 1024 * 1024) options.logger.info(line);
      else options.logger.warn(line);
    }, noticeMs);
    notice.unref();
    let res: Response;
    try {
      res = await base(input, { ...init, signal });
    } catch (err) {
      throw deadline ?? err;
    } finally {
      clearTimeout(timer);
      clearInterval(notice);
    }
    if (!res.body) return res;
    // The body: each read that waits longer than the idle limit fails (only while we wait for the
    // network, so a slow consumer never trips it).
    const reader = res.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(c) {
        const idle = setTimeout(() => expire(true), idleMs);
        try {
          const next = await reader.read();
          if (next.done) c.close();
          else c.enqueue(next.value);
        } catch (err) {
          c.error(deadline ?? err);
        } finally {
          clearTimeout(idle);
        }
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    });
    return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
  }) as typeof globalThis.fetch;
}
