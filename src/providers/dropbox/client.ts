import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { Dropbox, DropboxAuth } from "dropbox";
import { WorkspaceSyncError, abortError, throwIfAborted } from "../../errors.js";
import type { Logger } from "../../logger.js";
import { FetchDeadlineError, withDeadlines } from "../../util/fetch-deadline.js";
import { clampTimerMs } from "../../util/timers.js";
import { REAUTH_ADVICE, classifyFailure, toDropboxError } from "./errors.js";
import type { ParsedToken } from "./token.js";

/** What {@link DropboxClient} needs. */
export interface DropboxClientOptions {
  token: ParsedToken;
  appKey?: string;
  appSecret?: string;
  fetch: typeof globalThis.fetch;
  logger: Logger;
  /** Longest total time to keep retrying one call (rate limits, 5xx, network). */
  maxRetryMs: number;
  /** First back-off step for 5xx and network errors. */
  backoffBaseMs: number;
  /**
   * A request fails when no answer starts, or its body stops, for this long (ms); it is retried
   * {@link DEADLINE_RETRIES} time(s), then the call fails with NETWORK. Default
   * {@link DEFAULT_DROPBOX_IDLE_TIMEOUT_MS}.
   */
  idleTimeoutMs?: number;
  /**
   * Longest wait for a batch job (`finish_batch`, `delete_batch`) that keeps answering
   * `in_progress`, in ms; then the operation fails as retryable. Default
   * {@link DEFAULT_DROPBOX_JOB_TIMEOUT_MS}.
   */
  jobTimeoutMs?: number;
}

/** Default idle limit per Dropbox request: 60 s without an answer (or without body data) fails it. */
export const DEFAULT_DROPBOX_IDLE_TIMEOUT_MS = 60_000;
/** Default limit for a batch job to complete: 10 minutes of `in_progress` answers. */
export const DEFAULT_DROPBOX_JOB_TIMEOUT_MS = 10 * 60_000;
/** Longest `backoff` a server may impose between longpolls; a larger hint waits this long. */
export const MAX_SERVER_BACKOFF_MS = 5 * 60_000;
/** Retries after a request went silent: a server that never answers fails a call in ~2 idle periods. */
export const DEADLINE_RETRIES = 1;
/** Dropbox may answer a longpoll up to 90 s after its `timeout`. */
const LONGPOLL_JITTER_MS = 90_000;

/** Extra time Dropbox may hold a `list_folder/longpoll`: its `timeout` (30-480 s, default 30) plus jitter. */
function longpollMs(url: string, body: unknown): number {
  if (!/\/files\/list_folder\/longpoll/.test(url)) return 0;
  let timeout = 30;
  try {
    const text = typeof body === "string" ? body : body instanceof Uint8Array ? Buffer.from(body).toString() : "";
    const t = (JSON.parse(text) as { timeout?: unknown }).timeout;
    if (typeof t === "number" && Number.isFinite(t)) timeout = Math.min(480, Math.max(30, t));
  } catch {
    // keep the default
  }
  return timeout * 1000 + LONGPOLL_JITTER_MS;
}

function deadlineOf(err: unknown): FetchDeadlineError | undefined {
  for (let e = err, depth = 0; e && typeof e === "object" && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof FetchDeadlineError) return e;
  }
  return undefined;
}

/** Attempts for 5xx / network failures before giving up (rate limits are bounded by time instead). */
const MAX_SERVER_ATTEMPTS = 8;

/**
 * The SDK plus what every call needs around it: one fetch for everything (the SDK, OAuth refresh
 * and our streamed calls), AbortSignal plumbing into that fetch, single-flight token refresh, and
 * the retry loop for rate limits, 5xx and network errors.
 */
export class DropboxClient {
  readonly sdk: Dropbox;
  readonly auth: DropboxAuth;
  /** The fetch every request goes through; picks up the signal of the call in progress. */
  readonly fetch: typeof globalThis.fetch;
  private readonly signals = new AsyncLocalStorage<AbortSignal | undefined>();
  private readonly canRefresh: boolean;
  private refreshing: Promise<void> | undefined;

  constructor(private readonly options: DropboxClientOptions) {
    const base = withDeadlines(options.fetch, {
      idleMs: options.idleTimeoutMs ?? DEFAULT_DROPBOX_IDLE_TIMEOUT_MS,
      logger: options.logger,
      label: "dropbox",
      extraMs: longpollMs,
    });
    const signals = this.signals;
    this.fetch = ((input: Parameters<typeof fetch>[0], init?: RequestInit) => {
      const signal = init?.signal ?? signals.getStore();
      return base(input, signal ? { ...init, signal } : init);
    }) as typeof globalThis.fetch;
    const { token } = options;
    this.canRefresh = Boolean(token.refreshToken && options.appKey);
    this.auth = new DropboxAuth({
      fetch: this.fetch,
      accessToken: token.accessToken,
      // Without an expiry the SDK would refresh before every call; a token we cannot refresh keeps its own.
      accessTokenExpiresAt: token.expiresAt ?? (token.accessToken ? new Date(Date.now() + 3.5 * 3600_000) : undefined),
      refreshToken: token.refreshToken,
      clientId: options.appKey,
      clientSecret: options.appSecret,
    });
    this.sdk = new Dropbox({ auth: this.auth, fetch: this.fetch });
  }

  /** Where the client logs. */
  get logger(): Logger {
    return this.options.logger;
  }

  /** A valid access token, refreshed first when it is about to expire. */
  async accessToken(signal?: AbortSignal): Promise<string> {
    await this.signals.run(signal, () => this.ensureFresh());
    const t = this.auth.getAccessToken();
    if (!t) throw new WorkspaceSyncError("AUTH_EXPIRED", `No Dropbox access token: ${REAUTH_ADVICE}`);
    return t;
  }

  private ensureFresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = Promise.resolve(this.auth.checkAndRefreshAccessToken() as unknown as Promise<void>).finally(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  private forceRefresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = Promise.resolve(this.auth.refreshAccessToken() as unknown as Promise<void>).finally(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  /**
   * Runs one Dropbox call with retries: waits out 429 / `too_many_*` (Retry-After, bounded by
   * `maxRetryMs`, logged once per wait), backs off exponentially with jitter on 5xx and network
   * errors, refreshes an expired access token once. Anything else becomes a typed error.
   * `fn` must be safe to repeat (its request body is a buffer, never a half-read stream).
   */
  async call<T>(what: string, path: string | undefined, fn: (sdk: Dropbox) => Promise<T>, signal?: AbortSignal): Promise<T> {
    // The retry budget runs from the first failure, not from the start of a long upload.
    let started = 0;
    let attempts = 0;
    let deadlines = 0;
    let refreshed = false;
    for (;;) {
      throwIfAborted(signal);
      let tokenUsed: string | undefined;
      try {
        return await this.signals.run(signal, async () => {
          await this.ensureFresh();
          tokenUsed = this.auth.getAccessToken();
          return fn(this.sdk);
        });
      } catch (err) {
        if (signal?.aborted) throw abortError(signal.reason);
        const c = classifyFailure(err);
        if (c.kind === "token-expired" && this.canRefresh && !refreshed) {
          refreshed = true;
          // Another call may have refreshed already; only refresh when we still hold the stale token.
          if (this.auth.getAccessToken() === tokenUsed) {
            await this.signals.run(signal, () => this.forceRefresh()).catch((e: unknown) => {
              throw toDropboxError(e, path);
            });
          }
          continue;
        }
        if ((c.kind === "token-expired" || c.status === 401) && !this.canRefresh && this.options.token.refreshToken) {
          throw new WorkspaceSyncError(
            "AUTH_EXPIRED",
            `Dropbox access token expired and the refresh token cannot be used without dropbox.appKey and dropbox.appSecret: set them, or ${REAUTH_ADVICE}`,
            { path, cause: err },
          );
        }
        if (c.kind !== "rate-limit" && c.kind !== "server" && c.kind !== "network") throw toDropboxError(err, path);
        const silent = deadlineOf(err);
        if (silent && ++deadlines > DEADLINE_RETRIES) {
          const at = path !== undefined ? ` (${path === "" ? "/" : path})` : "";
          throw new WorkspaceSyncError(
            "NETWORK",
            `Dropbox ${what}${at} failed: ${silent.message} (${deadlines} attempts): check the network connection and any proxy or firewall, then try again (dropbox.idleTimeoutSeconds sets the limit)`,
            { path, cause: err, retryable: true },
          );
        }
        if (!silent) deadlines = 0;
        if (attempts++ === 0) started = Date.now();
        let waitMs: number;
        if (c.kind === "rate-limit") {
          waitMs = Math.max(50, (c.retryAfterSec ?? Math.min(60, 2 ** attempts)) * 1000);
        } else {
          if (attempts >= MAX_SERVER_ATTEMPTS) throw toDropboxError(err, path);
          const step = this.options.backoffBaseMs * 2 ** (attempts - 1);
          waitMs = Math.max(c.retryAfterSec !== undefined ? c.retryAfterSec * 1000 : 0, step / 2 + Math.random() * step);
        }
        if (Date.now() - started + waitMs > this.options.maxRetryMs) {
          const e = toDropboxError(err, path);
          if (c.kind === "rate-limit") throw e;
          throw new WorkspaceSyncError(e.code, `${e.message} (gave up after ${Math.round((Date.now() - started) / 1000)} s of retries)`, { path, cause: err, retryable: true });
        }
        const seconds = Math.round(waitMs / 100) / 10;
        if (c.kind === "rate-limit") this.options.logger.warn(`dropbox: rate limited (${c.summary || "429"}) on ${what}; waiting ${seconds} s`);
        else this.options.logger.debug?.(`dropbox: ${what} failed (${c.summary}); retrying in ${seconds} s`);
        await this.pause(waitMs, signal);
      }
    }
  }
  /**
   * Polls a batch job with `check` until it stops answering `in_progress`, backing off from 100 ms
   * to 2 s. A job still running after `jobTimeoutMs` fails as a retryable `PROVIDER_ERROR` (a
   * server that never finishes must not hang a run); `signal` stops the wait at once.
   */
  async waitForJob<T extends { ".tag": string }>(what: string, check: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const limitMs = this.options.jobTimeoutMs ?? DEFAULT_DROPBOX_JOB_TIMEOUT_MS;
    const started = Date.now();
    let wait = 100;
    for (;;) {
      const r = await check();
      if (r[".tag"] !== "in_progress") return r;
      if (Date.now() - started + wait > limitMs) {
        throw new WorkspaceSyncError(
          "PROVIDER_ERROR",
          `Dropbox ${what} was still in progress after ${Math.round((Date.now() - started) / 1000)} s: try again later`,
          { retryable: true },
        );
      }
      await this.pause(wait, signal);
      wait = Math.min(wait * 2, 2000);
    }
  }

  /** Waits `ms` (clamped to a valid timer), or throws the abort error as soon as `signal` fires. */
  async pause(ms: number, signal?: AbortSignal): Promise<void> {
    try {
      await delay(clampTimerMs(ms), undefined, signal ? { signal } : undefined);
    } catch {
      throw abortError(signal?.reason);
    }
  }
}
