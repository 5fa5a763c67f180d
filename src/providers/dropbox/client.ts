import { AsyncLocalStorage } from "node:async_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { Dropbox, DropboxAuth } from "dropbox";
import { WorkspaceSyncError, abortError, throwIfAborted } from "../../errors.js";
import type { Logger } from "../../logger.js";
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
    const base = options.fetch;
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
        try {
          await delay(waitMs, undefined, signal ? { signal } : undefined);
        } catch {
          throw abortError(signal?.reason);
        }
      }
    }
  }
}
