/**
 * Names of this library's own temp files. A name pattern alone never decides what is ours: every
 * temp name carries a per-install token (16 random hex digits, created once and kept in
 * `<stateDir>/workspace-sync/install-token`), and only names with this install's token are hidden
 * from sync or removed as leftovers. A user's `.ws-sync-draft.tmp` or `.ws-tmp-report.txt` is an
 * ordinary file, and so is a leftover in the shape older versions used (no token). Names with the
 * exact shape of another install's temp file are reported by sync and never synced or deleted.
 *
 * Without a state folder the token lives only as long as the process: leftovers of a crash are then
 * reported, not removed.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";

const TOKEN_RE = /^[0-9a-f]{16}$/;
const tokens = new Map<string, string>();
let processToken: string | undefined;

/** This install's temp-name token for `stateDir` (read or created once per process; synchronous, a few bytes). */
export function installToken(stateDir?: string): string {
  if (!stateDir) return (processToken ??= randomBytes(8).toString("hex"));
  const file = path.join(path.resolve(stateDir), "workspace-sync", "install-token");
  const cached = tokens.get(file);
  if (cached) return cached;
  let token: string | undefined;
  for (let attempt = 0; attempt < 3 && !token; attempt++) {
    try {
      const text = fs.readFileSync(file, "utf8").trim();
      if (TOKEN_RE.test(text)) token = text;
      else break; // damaged: fall back to a process token rather than guess
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") break;
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const fresh = randomBytes(8).toString("hex");
        const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
        fs.writeFileSync(tmp, `${fresh}\n`, { flag: "wx", mode: 0o600 });
        try {
          fs.linkSync(tmp, file); // fails if another process created it first: then read theirs
          token = fresh;
        } catch {
          /* read it on the next attempt */
        } finally {
          fs.rmSync(tmp, { force: true });
        }
      } catch {
        break; // read-only state folder: a process token
      }
    }
  }
  token ??= installToken();
  tokens.set(file, token);
  return token;
}

/** Random base of this process's temp-name nonces; each name adds a counter (one random read per process, not per file). */
const nonceBase = randomBytes(6).readUIntBE(0, 6);
let nonceCounter = 0;

/** Random part of one temp name: 12 hex digits, unique within the process. */
function nonce(): string {
  nonceCounter = (nonceCounter + 1) % 0x1000000000000;
  return ((nonceBase + nonceCounter) % 0x1000000000000).toString(16).padStart(12, "0");
}

/** Prefix of sync download temp files in the workspace. */
export const SYNC_TEMP_PREFIX = ".ws-sync-";

/** A new sync download temp name (`.ws-sync-<token>-<nonce>.tmp`). */
export function syncTempName(token: string): string {
  return `${SYNC_TEMP_PREFIX}${token}-${nonce()}.tmp`;
}

const SYNC_TEMP_SHAPE = /^\.ws-sync-([0-9a-f]{16})-[0-9a-f]{12}\.tmp$/;

/** `"own"` for this install's sync download temp names, `"other"` for another install's, else undefined (a user file). */
export function syncTempKind(name: string, token: string): "own" | "other" | undefined {
  const m = SYNC_TEMP_SHAPE.exec(name);
  if (!m) return undefined;
  return m[1] === token ? "own" : "other";
}

/** Prefix of the local provider's upload temp files. */
export const PROVIDER_TEMP_PREFIX = ".ws-tmp-";

/** A new provider upload temp name for a file called `base` (at most 255 bytes). */
export function providerTempName(token: string, base: string): string {
  const head = `${PROVIDER_TEMP_PREFIX}${token}-${nonce()}-`;
  let tail = base;
  while (Buffer.byteLength(head + tail) > 255) tail = tail.slice(0, -1);
  return head + tail;
}

const PROVIDER_TEMP_SHAPE = /^\.ws-tmp-([0-9a-f]{16})-[0-9a-f]{12}-/;

/** Kind of a provider temp name (see {@link syncTempKind}), with the name it was going to get. */
export function providerTempKind(name: string, token: string): { kind: "own" | "other"; finalName: string } | undefined {
  const m = PROVIDER_TEMP_SHAPE.exec(name);
  if (!m) return undefined;
  return { kind: m[1] === token ? "own" : "other", finalName: name.slice(m[0].length) };
}
