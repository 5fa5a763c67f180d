/**
 * Credentials written into URLs (`http://user:password@host`). One function masks them in any text
 * (error messages, log lines, state files, CLI output); one splits them off a URL before it is used.
 */

/** What userinfo is replaced with. */
export const URL_CREDENTIALS_MASK = "***";

/**
 * `scheme://` followed by userinfo up to the last `@` before the host. The userinfo may hold
 * anything but whitespace and the characters that end an authority (`/ ? #`); the greedy match
 * backtracks to the last `@`, as URL parsers do with an unescaped `@` in a password. In text
 * without whitespace after the URL (compact JSON) this may mask up to a later `@`: more, never less.
 */
const URL_USERINFO = /([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi;

/** `text` with the userinfo of every URL in it replaced by `***` (`http://***@host`). */
export function redactUrlCredentials(text: string): string {
  if (!text.includes("@")) return text;
  return text.replace(URL_USERINFO, `$1${URL_CREDENTIALS_MASK}@`);
}

/** A URL split from the credentials it carried. */
export interface SplitUrl {
  /** The URL without userinfo. */
  url: string;
  /** Percent-decoded user name, when the URL had userinfo. */
  username?: string;
  /** Percent-decoded password, when the URL had one. */
  password?: string;
}

function decode(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
}

/**
 * Splits userinfo off `url` (which must parse with `new URL`). The result's `url` keeps the
 * original spelling otherwise (no normalisation beyond removing `user:password@`).
 */
export function splitUrlCredentials(url: string): SplitUrl {
  const parsed = new URL(url);
  if (!parsed.username && !parsed.password) {
    // `http://@host` parses with empty userinfo: drop the `@` all the same.
    return { url: url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1") };
  }
  const out: SplitUrl = { url: url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1") };
  if (parsed.username) out.username = decode(parsed.username);
  if (parsed.password) out.password = decode(parsed.password);
  return out;
}

const HAS_SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
/** `scheme://`, then userinfo up to the last `@` before the path, query or fragment. */
const LEADING_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)@/i;

/**
 * An endpoint as the S3 code uses it: trimmed, `https://` added when there is no `scheme://`
 * (so `key:secret@host:9000` is a URL with userinfo), trailing slashes removed.
 */
export function normalizeEndpoint(endpoint: string): string {
  const raw = endpoint.trim().replace(/\/+$/, "");
  return HAS_SCHEME.test(raw) ? raw : `https://${raw}`;
}

/** Credentials written into an endpoint: the raw userinfo and its percent-decoded parts. */
export interface EndpointCredentials {
  /** The userinfo as written (`key:secret`, percent-escapes kept). */
  userinfo: string;
  /** Percent-decoded user name (the S3 access key id). */
  username: string;
  /** Percent-decoded password (the S3 secret), when there is one. */
  password?: string;
}

/**
 * The credentials in `endpoint`, read as {@link normalizeEndpoint} makes it (with or without a
 * scheme), or undefined when it has none. The one reading used by masking, secret collection and
 * redaction, so none of them misses what the S3 code would use as a key pair.
 */
export function endpointCredentials(endpoint: string): EndpointCredentials | undefined {
  const m = LEADING_USERINFO.exec(normalizeEndpoint(endpoint));
  if (!m || !m[2]) return undefined;
  const userinfo = m[2];
  const colon = userinfo.indexOf(":");
  const username = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo);
  const password = colon >= 0 ? decode(userinfo.slice(colon + 1)) : "";
  return password ? { userinfo, username, password } : { userinfo, username };
}

/** `endpoint` as written, with its userinfo (scheme or not) replaced by `***`. */
export function maskEndpointCredentials(endpoint: string): string {
  if (HAS_SCHEME.test(endpoint.trim())) return redactUrlCredentials(endpoint);
  return endpointCredentials(endpoint) ? endpoint.replace(/^(\s*)[^/?#]*@/, `$1${URL_CREDENTIALS_MASK}@`) : endpoint;
}
