/**
 * A loopback Dropbox HTTP API v2 server for tests, holding files in memory and speaking the real
 * wire format: every call is a POST; RPC calls (api.dropboxapi.com) take JSON bodies; content calls
 * (content.dropboxapi.com) take their argument in `Dropbox-API-Arg` (non-ASCII as \uXXXX) and answer
 * downloads with `Dropbox-API-Result`; endpoint errors are HTTP 409 `{ error_summary, error }`, bad
 * tokens 401, rate limits 429 with `Retry-After`; OAuth refresh issues short-lived tokens.
 * It validates what Dropbox validates (session offsets, 4 MiB append multiples, content hashes,
 * write modes, case-insensitive paths, cursors, folder conflicts) and injects faults on demand.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

const BLOCK = 4 * 1024 * 1024;

/** Dropbox's content hash, computed the documented way (independent of the provider's code). */
export function fakeContentHash(data: Buffer): string {
  const blocks: Buffer[] = [];
  for (let i = 0; i < data.length; i += BLOCK) blocks.push(createHash("sha256").update(data.subarray(i, i + BLOCK)).digest());
  return createHash("sha256").update(Buffer.concat(blocks)).digest("hex");
}

/** A stored file. */
export interface FakeFile {
  /** Display path (`/Code/a.txt`), case as first created. */
  path: string;
  content: Buffer;
  rev: string;
  id: string;
  clientModified: string;
  serverModified: string;
}

/** A fault to inject on an endpoint. */
export interface InjectRule {
  /** Request path, e.g. `/2/files/upload_session/append_v2` or `/oauth2/token`. */
  path: string;
  /** HTTP status to answer with (429, 500, 503, 401, 409...). */
  status: number;
  /** `Retry-After` header (seconds) for 429 / 503. */
  retryAfter?: number;
  /** JSON body; a default matching the status when absent. */
  body?: unknown;
  /** How many requests to fail (default 1). */
  times?: number;
  /** Process the request first, then answer with the fault (a lost response). */
  afterApply?: boolean;
  /** Requests to let through before failing (default 0). */
  skip?: number;
}

/**
 * A rule answering `times` simple uploads (`/2/files/upload`) with 429 too_many_write_operations,
 * the namespace-lock contention Dropbox reports when writes to one folder overlap.
 */
export function writeContention(times: number): InjectRule {
  return {
    path: "/2/files/upload",
    status: 429,
    retryAfter: 0,
    times,
    body: { error_summary: "too_many_write_operations/..", error: { reason: { ".tag": "too_many_write_operations" }, retry_after: 0 } },
  };
}

/** Handle on a running fake. */
export interface DropboxFake {
  port: number;
  /** A fetch that sends Dropbox URLs to the fake and everything else through. */
  fetch: typeof globalThis.fetch;
  /** Files by lower-cased path. */
  files: Map<string, FakeFile>;
  /** Folders by lower-cased path → display path. */
  folders: Map<string, string>;
  /** API calls per endpoint (`files/upload`, `files/list_folder/continue`, `oauth2/token`...). */
  calls: Record<string, number>;
  /** Bytes of file content sent by downloads so far (to observe backpressure). */
  readonly downloadedBytes: number;
  /** App credentials the OAuth endpoint accepts. */
  appKey: string;
  appSecret: string;
  /** The refresh token the OAuth endpoint accepts. */
  refreshToken: string;
  /** Issues a valid (short-lived) access token. */
  issueAccessToken(): string;
  /** Adds a fault rule. */
  inject(rule: InjectRule): void;
  /** Makes the next `n` finish_batch_v2 entries fail with too_many_write_operations (not committed). */
  failBatchEntries(n: number): void;
  /** Drops every fault rule not yet used up. */
  clearInjections(): void;
  /** Makes every issued access token expired (401 expired_access_token). */
  expireTokens(): void;
  /** Revokes the refresh token (refresh answers 400 invalid_grant). */
  revokeRefreshToken(): void;
  /** Invalidates every list cursor (continue answers 409 reset). */
  resetCursors(): void;
  /** Total bytes the account may store (insufficient_space beyond). */
  quota: number;
  /** Content of a file by any-case path, or undefined. */
  read(path: string): Buffer | undefined;
  /** Puts a file directly (test setup). */
  put(path: string, content: Buffer, clientModified?: Date): FakeFile;
  /** Removes a file directly (test setup), logging the change like a real delete. */
  remove(path: string): void;
  close(): Promise<void>;
}

interface Session {
  chunks: Buffer[];
  offset: number;
  closed: boolean;
}

type LogEntry = { seq: number; lower: string; deleted: boolean };

class ApiError {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {}
}

/** An UploadError (`path` wraps the WriteError in `reason`) as the UploadSessionFinishError a batch entry carries. */
function finishErrorOf(error: unknown): unknown {
  const e = error as { ".tag"?: string; path?: { reason?: unknown } } | undefined;
  return e?.[".tag"] === "path" && e.path?.reason !== undefined ? { ".tag": "path", path: e.path.reason } : error;
}

function conflict(summaryTag: string, error: unknown): ApiError {
  return new ApiError(409, { error_summary: `${summaryTag}/..`, error });
}

const IGNORED = ["desktop.ini", "thumbs.db", ".ds_store", "icon\r", ".dropbox", ".dropbox.attr"];

function decodeArg(header: string | string[] | undefined): Record<string, unknown> {
  if (typeof header !== "string") throw new ApiError(400, "Error in call: missing Dropbox-API-Arg header");
  if (/[^\x20-\x7e]/.test(header)) throw new ApiError(400, "Error in call: Dropbox-API-Arg must be ASCII (escape non-ASCII as \\uXXXX)");
  try {
    return JSON.parse(header) as Record<string, unknown>;
  } catch {
    throw new ApiError(400, "Error in call: could not decode Dropbox-API-Arg as JSON");
  }
}

function headerSafe(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function parent(lower: string): string {
  const i = lower.lastIndexOf("/");
  return i <= 0 ? "" : lower.slice(0, i);
}

/** Starts the fake on a random loopback port. */
export async function startDropboxFake(): Promise<DropboxFake> {
  const files = new Map<string, FakeFile>();
  const folders = new Map<string, string>();
  const sessions = new Map<string, Session>();
  const calls: Record<string, number> = {};
  const rules: (InjectRule & { left: number; skipLeft: number })[] = [];
  const validTokens = new Set<string>();
  const expiredTokens = new Set<string>();
  const deleteJobs = new Map<string, unknown>();
  const log: LogEntry[] = [];
  let seq = 0;
  let cursorGen = 0;
  let revCounter = 0;
  let refreshRevoked = false;
  let batchEntryFailures = 0;
  let downloadedBytes = 0;
  const appKey = "fake-app-key";
  const appSecret = "fake-app-secret";
  const refreshToken = "fake-refresh-token";

  const state = { quota: Number.POSITIVE_INFINITY };

  function issueAccessToken(): string {
    const t = `sl.fake-${randomBytes(12).toString("hex")}`;
    validTokens.add(t);
    return t;
  }

  function checkPath(path: unknown, allowRoot: boolean): string {
    if (typeof path !== "string") throw new ApiError(400, "Error in call: missing path");
    if (path === "") {
      if (allowRoot) return "";
      throw conflict("path/malformed_path", { ".tag": "path", path: { ".tag": "malformed_path" } });
    }
    if (!path.startsWith("/") || path.endsWith("/") || path.includes("//")) {
      throw conflict("path/malformed_path", { ".tag": "path", path: { ".tag": "malformed_path" } });
    }
    return path;
  }

  function writeError(tag: string, reason: { ".tag": string; conflict?: { ".tag": string } }): ApiError {
    const sub = reason.conflict ? `/${reason.conflict[".tag"]}` : "";
    return conflict(`path/${tag}${sub}`, { ".tag": "path", path: { reason } });
  }

  function used(): number {
    let n = 0;
    for (const f of files.values()) n += f.content.length;
    return n;
  }

  function record(lower: string, deleted: boolean): void {
    log.push({ seq: ++seq, lower, deleted });
    queueMicrotask(() => {
      for (const w of [...waiters]) w();
    });
  }

  function ensureParents(display: string): void {
    const segs = display.split("/").slice(1, -1);
    let acc = "";
    for (const s of segs) {
      acc += `/${s}`;
      const lower = acc.toLowerCase();
      if (files.has(lower)) throw writeError("conflict", { ".tag": "conflict", conflict: { ".tag": "file_ancestor" } });
      if (!folders.has(lower)) {
        folders.set(lower, acc);
        record(lower, false);
      }
    }
  }

  function fileMeta(f: FakeFile, tagged: boolean): Record<string, unknown> {
    const m: Record<string, unknown> = {
      name: f.path.slice(f.path.lastIndexOf("/") + 1),
      path_lower: f.path.toLowerCase(),
      path_display: f.path,
      id: f.id,
      client_modified: f.clientModified,
      server_modified: f.serverModified,
      rev: f.rev,
      size: f.content.length,
      is_downloadable: true,
      content_hash: fakeContentHash(f.content),
    };
    return tagged ? { ".tag": "file", ...m } : m;
  }

  function folderMeta(lower: string): Record<string, unknown> {
    const display = folders.get(lower) ?? lower;
    return { ".tag": "folder", name: display.slice(display.lastIndexOf("/") + 1), path_lower: lower, path_display: display, id: `id:${lower}` };
  }

  function displayFor(path: string): string {
    // Existing parents keep their display case, as in Dropbox.
    const segs = path.split("/").slice(1);
    let acc = "";
    let out = "";
    for (const s of segs) {
      acc += `/${s.toLowerCase()}`;
      const known = folders.get(acc) ?? files.get(acc)?.path;
      out += `/${known ? known.slice(known.lastIndexOf("/") + 1) : s}`;
    }
    return out;
  }

  function commitFile(commit: Record<string, unknown>, content: Buffer): FakeFile {
    const path = checkPath(commit.path, false);
    const name = path.slice(path.lastIndexOf("/") + 1);
    if (IGNORED.includes(name.toLowerCase())) throw writeError("disallowed_name", { ".tag": "disallowed_name" });
    const lower = path.toLowerCase();
    if (folders.has(lower)) throw writeError("conflict", { ".tag": "conflict", conflict: { ".tag": "folder" } });
    const existing = files.get(lower);
    const mode = (commit.mode ?? { ".tag": "add" }) as { ".tag": string; update?: string } | string;
    const tag = typeof mode === "string" ? mode : mode[".tag"];
    if (existing) {
      if (tag === "add") {
        const same = existing.content.equals(content);
        if (!same || commit.strict_conflict === true) throw writeError("conflict", { ".tag": "conflict", conflict: { ".tag": "file" } });
        return existing;
      }
      if (tag === "update") {
        const rev = typeof mode === "string" ? undefined : mode.update;
        if (rev !== existing.rev) throw writeError("conflict", { ".tag": "conflict", conflict: { ".tag": "file" } });
      } else if (tag !== "overwrite") throw new ApiError(400, `Error in call: unknown write mode ${tag}`);
    } else if (tag === "update") {
      throw writeError("conflict", { ".tag": "conflict", conflict: { ".tag": "file" } });
    }
    if (used() - (existing?.content.length ?? 0) + content.length > state.quota) {
      throw writeError("insufficient_space", { ".tag": "insufficient_space" });
    }
    const display = existing ? existing.path : displayFor(path);
    ensureParents(display);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    let clientModified = now;
    if (commit.client_modified !== undefined) {
      if (typeof commit.client_modified !== "string" || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/.test(commit.client_modified)) {
        throw new ApiError(400, "Error in call: client_modified must be YYYY-MM-DDTHH:MM:SSZ");
      }
      clientModified = commit.client_modified;
    }
    const f: FakeFile = {
      path: display,
      content,
      rev: (++revCounter).toString(16).padStart(9, "0") + "a1b2c3d4",
      id: existing?.id ?? `id:${randomBytes(8).toString("hex")}`,
      clientModified,
      serverModified: now,
    };
    files.set(lower, f);
    record(lower, false);
    return f;
  }

  function checkHash(arg: Record<string, unknown>, data: Buffer, tag = "content_hash_mismatch"): void {
    if (arg.content_hash !== undefined && arg.content_hash !== fakeContentHash(data)) {
      throw conflict(tag, { ".tag": tag });
    }
  }

  function lookupSession(cursor: unknown): { id: string; s: Session; offset: number } {
    const c = cursor as { session_id?: unknown; offset?: unknown } | undefined;
    if (!c || typeof c.session_id !== "string" || typeof c.offset !== "number") throw new ApiError(400, "Error in call: bad cursor");
    const s = sessions.get(c.session_id);
    if (!s) throw conflict("lookup_failed/not_found", { ".tag": "not_found" });
    if (c.offset !== s.offset) throw conflict("incorrect_offset", { ".tag": "incorrect_offset", correct_offset: s.offset });
    return { id: c.session_id, s, offset: c.offset };
  }

  function checkChunk(data: Buffer, close: boolean): void {
    if (!close && data.length % BLOCK !== 0) {
      throw new ApiError(400, "Error in call: data of a non-closing append must be a multiple of 4194304 bytes");
    }
  }

  function finishSession(arg: Record<string, unknown>, body: Buffer): Record<string, unknown> {
    let found;
    try {
      found = lookupSession(arg.cursor);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        const err = (e.body as { error: unknown }).error;
        throw conflict(`lookup_failed/${(err as { ".tag": string })[".tag"]}`, { ".tag": "lookup_failed", lookup_failed: err });
      }
      throw e;
    }
    if (found.s.closed && body.length > 0) throw conflict("lookup_failed/closed", { ".tag": "lookup_failed", lookup_failed: { ".tag": "closed" } });
    checkHash(arg, body);
    const content = Buffer.concat([...found.s.chunks, body]);
    const f = commitFile(arg.commit as Record<string, unknown>, content);
    sessions.delete(found.id);
    return fileMeta(f, false);
  }

  // ---- listing
  function under(lower: string, dir: string, recursive: boolean): boolean {
    if (dir === "") return recursive ? lower !== "" : parent(lower) === "";
    if (!lower.startsWith(`${dir}/`)) return false;
    return recursive || parent(lower) === dir;
  }

  function snapshot(dir: string, recursive: boolean): Record<string, unknown>[] {
    const out: Record<string, unknown>[] = [];
    for (const lower of [...folders.keys()].sort()) if (under(lower, dir, recursive)) out.push(folderMeta(lower));
    for (const lower of [...files.keys()].sort()) if (under(lower, dir, recursive)) out.push(fileMeta(files.get(lower)!, true));
    return out;
  }

  interface Cursor {
    d: string;
    r: boolean;
    s: number;
    g: number;
    o?: number;
    l: number;
  }
  const encodeCursor = (c: Cursor): string => `AAF${Buffer.from(JSON.stringify(c)).toString("base64url")}`;
  function decodeCursor(raw: unknown): Cursor {
    if (typeof raw !== "string" || !raw.startsWith("AAF")) throw new ApiError(400, "Error in call: invalid cursor");
    try {
      return JSON.parse(Buffer.from(raw.slice(3), "base64url").toString()) as Cursor;
    } catch {
      throw new ApiError(400, "Error in call: invalid cursor");
    }
  }

  function page(all: Record<string, unknown>[], c: Cursor): Record<string, unknown> {
    const from = c.o ?? 0;
    const entries = all.slice(from, from + c.l);
    const more = from + c.l < all.length;
    const next: Cursor = more ? { ...c, o: from + c.l } : { d: c.d, r: c.r, s: c.s, g: c.g, l: c.l };
    return { entries, cursor: encodeCursor(next), has_more: more };
  }

  function listFolder(arg: Record<string, unknown>): Record<string, unknown> {
    const path = checkPath(arg.path, true);
    const dir = path.toLowerCase();
    if (dir !== "" && !folders.has(dir)) {
      if (files.has(dir)) throw conflict("path/not_folder", { ".tag": "path", path: { ".tag": "not_folder" } });
      throw conflict("path/not_found", { ".tag": "path", path: { ".tag": "not_found" } });
    }
    const limit = typeof arg.limit === "number" ? Math.min(Math.max(arg.limit, 1), 2000) : 2000;
    const c: Cursor = { d: dir, r: arg.recursive === true, s: seq, g: cursorGen, l: limit };
    return page(snapshot(dir, c.r), c);
  }

  function listContinue(arg: Record<string, unknown>): Record<string, unknown> {
    const c = decodeCursor(arg.cursor);
    if (c.g !== cursorGen) throw conflict("reset", { ".tag": "reset" });
    if (c.o !== undefined) return page(snapshot(c.d, c.r), c);
    const changed = new Map<string, boolean>();
    for (const e of log) if (e.seq > c.s && under(e.lower, c.d, c.r)) changed.set(e.lower, true);
    const entries: Record<string, unknown>[] = [];
    for (const lower of [...changed.keys()].sort()) {
      const f = files.get(lower);
      if (f) entries.push(fileMeta(f, true));
      else if (folders.has(lower)) entries.push(folderMeta(lower));
      else entries.push({ ".tag": "deleted", name: lower.slice(lower.lastIndexOf("/") + 1), path_lower: lower, path_display: lower });
    }
    return { entries, cursor: encodeCursor({ d: c.d, r: c.r, s: seq, g: c.g, l: c.l }), has_more: false };
  }

  const waiters = new Set<() => void>();
  function hasChange(c: Cursor): boolean {
    return log.some((e) => e.seq > c.s && under(e.lower, c.d, c.r));
  }
  function waitForChange(c: Cursor, timeoutSec: number): Promise<boolean> {
    if (hasChange(c)) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = (): void => {
        if (!hasChange(c)) return;
        cleanup();
        resolve(true);
      };
      const timer = setTimeout(() => {
        cleanup();
        resolve(false);
      }, timeoutSec * 1000);
      timer.unref();
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
    });
  }

  // ---- deletes
  function deletePath(pathArg: unknown): Record<string, unknown> {
    const path = checkPath(pathArg, false);
    const lower = path.toLowerCase();
    const f = files.get(lower);
    if (f) {
      files.delete(lower);
      record(lower, true);
      return fileMeta(f, true);
    }
    if (folders.has(lower)) {
      const meta = folderMeta(lower);
      for (const k of [...files.keys()]) if (k.startsWith(`${lower}/`)) {
        files.delete(k);
        record(k, true);
      }
      for (const k of [...folders.keys()]) if (k.startsWith(`${lower}/`)) {
        folders.delete(k);
        record(k, true);
      }
      folders.delete(lower);
      record(lower, true);
      return meta;
    }
    throw conflict("path_lookup/not_found", { ".tag": "path_lookup", path_lookup: { ".tag": "not_found" } });
  }

  // ---- routing
  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    return Buffer.concat(parts);
  }

  function authorize(req: IncomingMessage): void {
    const h = req.headers.authorization ?? "";
    const m = /^Bearer (.+)$/.exec(h);
    if (!m) throw new ApiError(400, 'Error in call to API function: Must provide HTTP header "Authorization" or URL parameter "authorization".');
    const t = m[1]!;
    if (expiredTokens.has(t)) throw new ApiError(401, { error_summary: "expired_access_token/..", error: { ".tag": "expired_access_token" } });
    if (!validTokens.has(t)) throw new ApiError(401, { error_summary: "invalid_access_token/..", error: { ".tag": "invalid_access_token" } });
  }

  const CONTENT = new Set(["files/upload", "files/upload_session/start", "files/upload_session/append_v2", "files/upload_session/finish", "files/download"]);

  function oauth(url: URL, body: Buffer, req: IncomingMessage): Record<string, unknown> {
    const params = new URLSearchParams(url.search);
    const ct = req.headers["content-type"] ?? "";
    if (body.length > 0 && ct.includes("application/x-www-form-urlencoded")) {
      for (const [k, v] of new URLSearchParams(body.toString())) params.set(k, v);
    }
    let id = params.get("client_id");
    let secret = params.get("client_secret");
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
    if (basic) [id, secret] = Buffer.from(basic[1]!, "base64").toString().split(":") as [string, string];
    if (params.get("grant_type") !== "refresh_token") throw new ApiError(400, { error: "unsupported_grant_type" });
    if (id !== appKey || secret !== appSecret) throw new ApiError(400, { error: "invalid_client", error_description: "Invalid client_id or client_secret" });
    if (refreshRevoked || params.get("refresh_token") !== refreshToken) {
      throw new ApiError(400, { error: "invalid_grant", error_description: "refresh token is invalid or revoked" });
    }
    return { access_token: issueAccessToken(), token_type: "bearer", expires_in: 14400 };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    let host = "api";
    let path = url.pathname;
    const m = /^\/__(api|content|notify)(\/.*)$/.exec(path);
    if (m) {
      host = m[1]!;
      path = m[2]!;
    }
    const endpoint = path.replace(/^\/2\//, "").replace(/^\//, "");
    calls[endpoint] = (calls[endpoint] ?? 0) + 1;
    const body = await readBody(req);
    let fault: (typeof rules)[number] | undefined;
    for (const r of rules) {
      if (r.path === path && r.left > 0) {
        if (r.skipLeft > 0) {
          r.skipLeft--;
          continue;
        }
        r.left--;
        fault = r;
        break;
      }
    }
    const sendFault = (f: InjectRule): void => {
      const headers: Record<string, string> = { "Content-Type": "application/json" };
      if (f.retryAfter !== undefined) headers["Retry-After"] = String(f.retryAfter);
      let b = f.body;
      if (b === undefined) {
        if (f.status === 429) b = { error_summary: "too_many_requests/..", error: { reason: { ".tag": "too_many_requests" }, retry_after: f.retryAfter ?? 1 } };
        else if (f.status === 401) b = { error_summary: "expired_access_token/..", error: { ".tag": "expired_access_token" } };
        else b = { error_summary: "internal_error/..", error: { ".tag": "other" } };
      }
      res.writeHead(f.status, headers);
      res.end(typeof b === "string" ? b : JSON.stringify(b));
    };
    if (fault && !fault.afterApply) return sendFault(fault);
    try {
      if (req.method !== "POST") throw new ApiError(400, "Error in call: only POST is supported");
      if (endpoint === "oauth2/token") {
        const out = oauth(url, body, req);
        if (fault) return sendFault(fault);
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify(out));
        return;
      }
      const isContent = CONTENT.has(endpoint);
      if (endpoint === "files/list_folder/longpoll") {
        // Served by notify.dropboxapi.com without authentication.
        if (m && host !== "notify") throw new ApiError(400, "Error in call: files/list_folder/longpoll is served by notify.dropboxapi.com");
        if (req.headers.authorization) throw new ApiError(400, "Error in call: longpoll takes no Authorization header");
        const arg = JSON.parse(body.toString()) as Record<string, unknown>;
        const c = decodeCursor(arg.cursor);
        if (c.g !== cursorGen) throw conflict("reset", { ".tag": "reset" });
        const timeout = typeof arg.timeout === "number" ? arg.timeout : 30;
        const changes = await waitForChange(c, timeout);
        res.writeHead(200, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ changes }));
        return;
      }
      const expected = isContent ? "content" : "api";
      if (m && host !== expected) throw new ApiError(400, `Error in call: ${endpoint} is served by ${expected}.dropboxapi.com`);
      authorize(req);
      if (endpoint === "files/download") {
        const arg = decodeArg(req.headers["dropbox-api-arg"]);
        const p = checkPath(arg.path, false);
        const f = files.get(p.toLowerCase());
        if (!f) throw conflict("path/not_found", { ".tag": "path", path: { ".tag": "not_found" } });
        if (fault) return sendFault(fault);
        // A single byte range, as HTTP gives it (RFC 9110 14.1.2): `bytes=a-` or `bytes=a-b`.
        const range = /^bytes=(\d+)-(\d*)$/.exec(String(req.headers.range ?? ""));
        const start = range ? Number(range[1]) : 0;
        const end = range?.[2] ? Math.min(Number(range[2]), f.content.length - 1) : f.content.length - 1;
        if (range && (start >= f.content.length || end < start)) {
          res.writeHead(416, { "Content-Type": "text/plain" });
          res.end("range not satisfiable");
          return;
        }
        const data = f.content.subarray(start, end + 1);
        res.writeHead(range ? 206 : 200, {
          "Content-Type": "application/octet-stream",
          "Dropbox-API-Result": headerSafe(fileMeta(f, false)),
          "Content-Length": String(data.length),
          ...(range ? { "Content-Range": `bytes ${start}-${end}/${f.content.length}` } : {}),
        });
        // Send in pieces so the client's backpressure matters.
        for (let i = 0; i < data.length; i += 65536) {
          const piece = data.subarray(i, i + 65536);
          downloadedBytes += piece.length;
          if (!res.write(piece)) await new Promise((r) => res.once("drain", r));
          if (res.destroyed) return;
        }
        res.end();
        return;
      }
      let out: unknown;
      if (isContent) {
        const arg = decodeArg(req.headers["dropbox-api-arg"]);
        if (req.headers["content-type"] !== "application/octet-stream") throw new ApiError(400, "Error in call: Content-Type must be application/octet-stream");
        out = contentCall(endpoint, arg, body);
      } else {
        let arg: Record<string, unknown> = {};
        if (body.length > 0) {
          if (!String(req.headers["content-type"]).startsWith("application/json")) throw new ApiError(400, "Error in call: Content-Type must be application/json");
          arg = JSON.parse(body.toString()) as Record<string, unknown>;
        }
        out = rpcCall(endpoint, arg);
      }
      if (fault) return sendFault(fault);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(out ?? null));
    } catch (err) {
      if (err instanceof ApiError) {
        const isJson = typeof err.body !== "string";
        res.writeHead(err.status, { "Content-Type": isJson ? "application/json" : "text/plain; charset=utf-8", ...err.headers });
        res.end(isJson ? JSON.stringify(err.body) : err.body);
        return;
      }
      res.writeHead(500, { "Content-Type": "text/plain" });
      res.end(String(err));
    }
  }

  function contentCall(endpoint: string, arg: Record<string, unknown>, body: Buffer): unknown {
    switch (endpoint) {
      case "files/upload": {
        if (body.length > 150 * 1024 * 1024) throw conflict("payload_too_large", { ".tag": "payload_too_large" });
        checkHash(arg, body);
        return fileMeta(commitFile(arg, body), false);
      }
      case "files/upload_session/start": {
        const close = arg.close === true;
        checkChunk(body, close);
        checkHash(arg, body);
        const id = `pid_upload_session:${randomBytes(10).toString("hex")}`;
        sessions.set(id, { chunks: [body], offset: body.length, closed: close });
        return { session_id: id };
      }
      case "files/upload_session/append_v2": {
        const { s } = lookupSession(arg.cursor);
        if (s.closed) throw conflict("closed", { ".tag": "closed" });
        const close = arg.close === true;
        checkChunk(body, close);
        checkHash(arg, body);
        s.chunks.push(body);
        s.offset += body.length;
        s.closed = close;
        return null;
      }
      case "files/upload_session/finish":
        return finishSession(arg, body);
    }
    throw new ApiError(400, `Unknown API function: ${endpoint}`);
  }

  function rpcCall(endpoint: string, arg: Record<string, unknown>): unknown {
    switch (endpoint) {
      case "users/get_current_account":
        return { account_id: "dbid:fake", name: { display_name: "Fake User" }, email: "fake@example.com" };
      case "files/list_folder":
        return listFolder(arg);
      case "files/list_folder/continue":
        return listContinue(arg);
      case "files/get_metadata": {
        const p = checkPath(arg.path, false).toLowerCase();
        const f = files.get(p);
        if (f) return fileMeta(f, true);
        if (folders.has(p)) return folderMeta(p);
        throw conflict("path/not_found", { ".tag": "path", path: { ".tag": "not_found" } });
      }
      case "files/delete_v2":
        return { metadata: deletePath(arg.path) };
      case "files/delete_batch": {
        const entries = (arg.entries as { path: unknown }[] | undefined) ?? [];
        if (entries.length > 1000) throw new ApiError(400, "Error in call: at most 1000 entries");
        const results = entries.map((e) => {
          try {
            return { ".tag": "success", metadata: deletePath(e.path) };
          } catch (err) {
            if (err instanceof ApiError && err.status === 409) return { ".tag": "failure", failure: (err.body as { error: unknown }).error };
            throw err;
          }
        });
        const job = `dbjid:${randomBytes(8).toString("hex")}`;
        deleteJobs.set(job, { ".tag": "complete", entries: results });
        return { ".tag": "async_job_id", async_job_id: job };
      }
      case "files/delete_batch/check": {
        const job = deleteJobs.get(String(arg.async_job_id));
        if (!job) throw conflict("invalid_async_job_id", { ".tag": "invalid_async_job_id" });
        // The first check reports the job still running, as a real one often is.
        if (!(job as { checked?: boolean }).checked) {
          (job as { checked?: boolean }).checked = true;
          return { ".tag": "in_progress" };
        }
        deleteJobs.delete(String(arg.async_job_id));
        const { checked: _c, ...rest } = job as Record<string, unknown>;
        return rest;
      }
      case "files/create_folder_v2": {
        const p = checkPath(arg.path, false);
        const lower = p.toLowerCase();
        if (folders.has(lower)) throw writeError("conflict", { ".tag": "conflict", conflict: { ".tag": "folder" } });
        if (files.has(lower)) throw writeError("conflict", { ".tag": "conflict", conflict: { ".tag": "file" } });
        const display = displayFor(p);
        ensureParents(`${display}/x`);
        return { metadata: folderMeta(lower) };
      }
      case "files/upload_session/finish_batch_v2": {
        const entries = (arg.entries as Record<string, unknown>[] | undefined) ?? [];
        if (entries.length > 1000) throw new ApiError(400, "Error in call: at most 1000 entries");
        return {
          entries: entries.map((e) => {
            const s = sessions.get(String((e.cursor as { session_id?: unknown } | undefined)?.session_id));
            if (s && !s.closed) return { ".tag": "failure", failure: { ".tag": "lookup_failed", lookup_failed: { ".tag": "not_closed" } } };
            if (batchEntryFailures > 0) {
              batchEntryFailures--;
              return { ".tag": "failure", failure: { ".tag": "too_many_write_operations" } };
            }
            try {
              return { ".tag": "success", ...finishSession(e, Buffer.alloc(0)) };
            } catch (err) {
              // An entry's failure is an UploadSessionFinishError, whose `path` is the WriteError
              // itself (not /files/upload's UploadWriteFailed, which wraps it in `reason`).
              if (err instanceof ApiError && err.status === 409) return { ".tag": "failure", failure: finishErrorOf((err.body as { error: unknown }).error) };
              throw err;
            }
          }),
        };
      }
    }
    throw new ApiError(400, `Unknown API function: ${endpoint}`);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;

  const rewrite = (u: string): string =>
    u
      .replace(/^https:\/\/api\.dropboxapi\.com\/oauth2\//, `http://127.0.0.1:${port}/oauth2/`)
      .replace(/^https:\/\/api\.dropboxapi\.com\//, `http://127.0.0.1:${port}/__api/`)
      .replace(/^https:\/\/content\.dropboxapi\.com\//, `http://127.0.0.1:${port}/__content/`)
      .replace(/^https:\/\/notify\.dropboxapi\.com\//, `http://127.0.0.1:${port}/__notify/`);

  const fakeFetch = ((input: string | URL | Request, init?: RequestInit) => {
    if (typeof input === "string" || input instanceof URL) return globalThis.fetch(rewrite(String(input)), init);
    return globalThis.fetch(new Request(rewrite(input.url), input), init);
  }) as typeof globalThis.fetch;

  const fake: DropboxFake = {
    port,
    fetch: fakeFetch,
    files,
    folders,
    calls,
    appKey,
    appSecret,
    refreshToken,
    issueAccessToken,
    inject(rule) {
      rules.push({ ...rule, left: rule.times ?? 1, skipLeft: rule.skip ?? 0 });
    },
    failBatchEntries(n) {
      batchEntryFailures = n;
    },
    clearInjections() {
      rules.length = 0;
    },
    expireTokens() {
      for (const t of validTokens) expiredTokens.add(t);
      validTokens.clear();
    },
    revokeRefreshToken() {
      refreshRevoked = true;
    },
    resetCursors() {
      cursorGen++;
    },
    get downloadedBytes() {
      return downloadedBytes;
    },
    get quota() {
      return state.quota;
    },
    set quota(v: number) {
      state.quota = v;
    },
    read(path) {
      return files.get(path.toLowerCase())?.content;
    },
    put(path, content, clientModified) {
      const commit: Record<string, unknown> = { path, mode: { ".tag": "overwrite" } };
      if (clientModified) commit.client_modified = clientModified.toISOString().replace(/\.\d{3}Z$/, "Z");
      return commitFile(commit, content);
    },
    remove(path) {
      deletePath(path);
    },
    close() {
      return new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
  return fake;
}
