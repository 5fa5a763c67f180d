/**
 * A loopback HTTP fault-injection proxy for the reliability tests. It sits in front of the test
 * RGW (S3) or the Dropbox wire fake and forwards every request unchanged (Host header included, so
 * SigV4 signatures stay valid) unless a rule matches. Rules select requests by method, path (URL
 * including the query), headers or a predicate, skip the first `skip` matches (so "the 3rd part
 * upload" is `skip: 2`) and fire `times` times; their action can:
 *
 * - answer instead of the server: any status with an S3 XML error body (`code`) or a JSON body,
 *   `Retry-After`, extra headers (503 `SlowDown`, 429, 500, 401, ...);
 * - drop the connection while the request body is arriving (`drop-request`, after `afterBytes`);
 * - forward, then drop the connection part-way through the response body (`drop-response`);
 * - forward, then cut the response body short and end it cleanly (`truncate`), optionally with a
 *   matching Content-Length so only an integrity check can notice;
 * - delay the request, then forward it (`delay`);
 * - rewrite the response body and headers (`rewrite`; e.g. shift S3 LastModified for clock skew).
 *
 * Every request is logged (method, url, headers, what happened) so tests can count, for example,
 * UploadPart requests per part number.
 */
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** What to do with a matching request. */
export type FaultAction =
  | {
      kind: "status";
      status: number;
      /** S3 error code for an XML error body (omitted for HEAD). */
      code?: string;
      /** A JSON body (Dropbox style) instead of the XML one. */
      json?: unknown;
      /** `Retry-After` header value (seconds, or an HTTP date). */
      retryAfter?: number | string;
      headers?: Record<string, string>;
    }
  | { kind: "drop-request"; afterBytes?: number }
  /** Forward, then cut the connection after `afterBytes` of the response body (0: before any header). */
  | { kind: "drop-response"; afterBytes?: number }
  | { kind: "truncate"; bytes: number; fixLength?: boolean }
  | { kind: "delay"; ms: number }
  | { kind: "rewrite"; body?: (body: Buffer, req: LoggedRequest) => Buffer; headers?: (headers: IncomingHttpHeaders) => IncomingHttpHeaders };

/** Selects requests; every condition given must hold. */
export interface FaultMatch {
  method?: string;
  /** Matched against the request URL (path and query). A string matches as a substring. */
  path?: string | RegExp;
  /** Header name (lower case) → substring or pattern the value must match. */
  header?: Record<string, string | RegExp>;
  /** Any other test. */
  when?: (req: LoggedRequest) => boolean;
}

/** One injection rule. */
export interface FaultRule extends FaultMatch {
  action: FaultAction;
  /** Matching requests to let through first (default 0). */
  skip?: number;
  /** Matching requests to affect after the skipped ones (default 1; `Infinity` for all). */
  times?: number;
}

/** A request as the proxy saw it. */
export interface LoggedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  /** When it arrived (`Date.now()`). */
  at: number;
  /** The fault applied, if any (`"status:503"`, `"drop-request"`, ...). */
  fault?: string;
}

/** A running proxy. */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>`. */
  endpoint: string;
  port: number;
  /** Adds a rule (rules are tried in the order added; the first live match wins). */
  add(rule: FaultRule): void;
  /** Removes every rule. */
  clear(): void;
  /** Every request so far. */
  log: LoggedRequest[];
  /** Requests matching `m` (all when omitted). */
  count(m?: FaultMatch): number;
  /** How many times rules fired. */
  faults(): number;
  close(): Promise<void>;
}

/** Options of {@link startFaultProxy}. */
export interface FaultProxyOptions {
  /** Where to forward, e.g. the RGW endpoint or `http://127.0.0.1:<dropbox fake port>`. */
  target: string;
  rules?: FaultRule[];
  /** Consulted first for every request: return an action to apply it, undefined to go on. */
  hook?: (req: IncomingMessage) => FaultAction | undefined;
}

function matches(m: FaultMatch, r: LoggedRequest): boolean {
  if (m.method && m.method.toUpperCase() !== r.method) return false;
  if (m.path !== undefined && !(typeof m.path === "string" ? r.url.includes(m.path) : m.path.test(r.url))) return false;
  for (const [name, want] of Object.entries(m.header ?? {})) {
    const raw = r.headers[name.toLowerCase()];
    const value = Array.isArray(raw) ? raw.join(",") : raw;
    if (value === undefined || !(typeof want === "string" ? value.includes(want) : want.test(value))) return false;
  }
  return !m.when || m.when(r);
}

function describeAction(a: FaultAction): string {
  return a.kind === "status" ? `status:${a.status}` : a.kind;
}

/** Starts the proxy on a random loopback port. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const upstream = new URL(options.target);
  const rules: (FaultRule & { skipLeft: number; left: number })[] = [];
  const log: LoggedRequest[] = [];
  const sockets = new Set<Socket>();
  let fired = 0;

  const add = (rule: FaultRule): void => {
    rules.push({ ...rule, skipLeft: rule.skip ?? 0, left: rule.times ?? 1 });
  };
  for (const r of options.rules ?? []) add(r);

  const pick = (entry: LoggedRequest): FaultAction | undefined => {
    for (const rule of rules) {
      if (rule.left <= 0 || !matches(rule, entry)) continue;
      if (rule.skipLeft > 0) {
        rule.skipLeft--;
        continue;
      }
      rule.left--;
      return rule.action;
    }
    return undefined;
  };

  const answer = (req: IncomingMessage, res: ServerResponse, a: Extract<FaultAction, { kind: "status" }>): void => {
    req.resume();
    let body = "";
    const headers: Record<string, string> = { ...a.headers };
    if (req.method !== "HEAD") {
      if (a.json !== undefined) {
        body = JSON.stringify(a.json);
        headers["content-type"] = "application/json";
      } else if (a.code) {
        body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${a.code}</Code><Message>injected by the fault proxy</Message><RequestId>fault-proxy</RequestId></Error>`;
        headers["content-type"] = "application/xml";
      }
    }
    if (a.retryAfter !== undefined) headers["retry-after"] = String(a.retryAfter);
    headers["content-length"] = String(Buffer.byteLength(body));
    res.writeHead(a.status, headers);
    res.end(body);
  };

  const forward = (req: IncomingMessage, res: ServerResponse, entry: LoggedRequest, action: FaultAction | undefined): void => {
    const out = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (upstreamRes) => {
        const status = upstreamRes.statusCode ?? 502;
        if (action?.kind === "drop-response") {
          const limit = action.afterBytes ?? 0;
          if (limit === 0) {
            // The server acted on the request but its whole answer is lost.
            upstreamRes.resume();
            res.socket?.destroy();
            return;
          }
          res.writeHead(status, upstreamRes.headers);
          res.flushHeaders();
          let sent = 0;
          upstreamRes.on("data", (chunk: Buffer) => {
            if (sent >= limit) return;
            const part = chunk.subarray(0, limit - sent);
            sent += part.length;
            res.write(part);
            if (sent >= limit) setImmediate(() => res.socket?.destroy());
          });
          upstreamRes.on("end", () => res.socket?.destroy());
          return;
        }
        if (action?.kind === "truncate" || action?.kind === "rewrite") {
          const chunks: Buffer[] = [];
          upstreamRes.on("data", (c: Buffer) => chunks.push(c));
          upstreamRes.on("end", () => {
            let body: Buffer = Buffer.concat(chunks);
            let headers = { ...upstreamRes.headers };
            // The body is re-sent whole, with a Content-Length instead of chunked encoding.
            delete headers["transfer-encoding"];
            if (action.kind === "rewrite") {
              if (action.body) body = action.body(body, entry);
              if (action.headers) headers = action.headers(headers);
              // A HEAD answer has no body but announces the object's length: keep it.
              if (entry.method !== "HEAD") headers["content-length"] = String(body.length);
              res.writeHead(status, headers);
              res.end(body);
              return;
            }
            const cut = body.subarray(0, Math.min(action.bytes, body.length));
            if (action.fixLength) {
              if (entry.method !== "HEAD") headers["content-length"] = String(cut.length);
              res.writeHead(status, headers);
              res.end(cut);
            } else {
              res.writeHead(status, headers);
              res.write(cut);
              setImmediate(() => res.socket?.destroy());
            }
          });
          return;
        }
        res.writeHead(status, upstreamRes.headers);
        upstreamRes.pipe(res);
      },
    );
    out.on("error", (err) => res.destroy(err));
    req.pipe(out);
  };

  const server = createServer((req, res) => {
    const entry: LoggedRequest = { method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, at: Date.now() };
    log.push(entry);
    const action = options.hook?.(req) ?? pick(entry);
    if (action) {
      fired++;
      entry.fault = describeAction(action);
    }
    if (!action || action.kind === "drop-response" || action.kind === "truncate" || action.kind === "rewrite") {
      forward(req, res, entry, action);
      return;
    }
    switch (action.kind) {
      case "status":
        answer(req, res, action);
        return;
      case "delay":
        setTimeout(() => forward(req, res, entry, undefined), action.ms);
        return;
      case "drop-request": {
        // Take part of the body, then cut the connection: the client sees a reset mid-upload.
        const limit = action.afterBytes ?? 0;
        let got = 0;
        const cut = () => req.socket.destroy();
        if (limit === 0) return cut();
        req.on("data", (c: Buffer) => {
          got += c.length;
          if (got >= limit) cut();
        });
        req.on("end", cut);
        return;
      }
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    add,
    clear: () => {
      rules.length = 0;
    },
    log,
    count: (m) => (m ? log.filter((r) => matches(m, r)).length : log.length),
    faults: () => fired,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * A `fetch` for the Dropbox provider that sends Dropbox URLs through `proxy` to the wire fake
 * (same path layout as the fake's own fetch), so faults can be injected on the wire.
 */
export function dropboxFetchVia(proxy: { port: number }): typeof globalThis.fetch {
  const base = `http://127.0.0.1:${proxy.port}`;
  const rewrite = (u: string): string =>
    u
      .replace(/^https:\/\/api\.dropboxapi\.com\/oauth2\//, `${base}/oauth2/`)
      .replace(/^https:\/\/api\.dropboxapi\.com\//, `${base}/__api/`)
      .replace(/^https:\/\/content\.dropboxapi\.com\//, `${base}/__content/`)
      .replace(/^https:\/\/notify\.dropboxapi\.com\//, `${base}/__notify/`);
  return ((input: string | URL | Request, init?: RequestInit) => {
    if (typeof input === "string" || input instanceof URL) return globalThis.fetch(rewrite(String(input)), init);
    return globalThis.fetch(new Request(rewrite(input.url), input), init);
  }) as typeof globalThis.fetch;
}

/** S3 request classifiers for rules and counts. */
export const s3 = {
  /** UploadPart: PUT with `partNumber` and `uploadId`. */
  uploadPart: (partNumber?: number): FaultMatch => ({
    method: "PUT",
    when: (r) => /[?&]uploadId=/.test(r.url) && (partNumber === undefined ? /[?&]partNumber=\d+/.test(r.url) : new RegExp(`[?&]partNumber=${partNumber}(&|$)`).test(r.url)),
  }),
  /** CreateMultipartUpload: POST `?uploads`. */
  createMultipart: (): FaultMatch => ({ method: "POST", path: /[?&]uploads(=|&|$)/ }),
  /** CompleteMultipartUpload: POST with `uploadId`. */
  completeMultipart: (): FaultMatch => ({ method: "POST", path: /[?&]uploadId=/ }),
  /** ListObjectsV2: GET `?list-type=2`. */
  list: (): FaultMatch => ({ method: "GET", path: /[?&]list-type=2/ }),
  /** PutObject (single request, no upload id). */
  putObject: (): FaultMatch => ({ method: "PUT", when: (r) => !/[?&]uploadId=/.test(r.url) }),
  /** GetObject of the key ending in `name` (not `name.sha256`). */
  getObject: (name: string): FaultMatch => ({
    method: "GET",
    when: (r) => {
      const p = decodeURIComponent(r.url.split("?")[0] ?? "");
      return p.endsWith(`/${name}`) && !/[?&](list-type|uploads|uploadId)/.test(r.url);
    },
  }),
};
