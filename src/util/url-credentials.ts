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

/**
 * The credentials of an endpoint VALUE (the config's own `s3.endpoint`, not free text): everything
 * between an optional `http(s):` plus slashes and the LAST `@`. Deliberately wider than a URL
 * parser's reading: AWS secrets often hold `/` (and may hold `? # @`), which end a parser's userinfo
 * early, and a secret cut there would be printed. Over-masking a value that has an `@` in its path
 * is the accepted price. Only `http`/`https` count as a scheme here: `AKID:/secret@host` would
 * otherwise read its key id as a scheme and leave it unmasked.
 */
const ENDPOINT_VALUE_USERINFO = /^(\s*(?:https?:\/+)?)([^]*)@/i;

/**
 * An endpoint as the S3 code uses it: trimmed, `https://` added when there is no `scheme://`
 * (so `key:secret@host:9000` is a URL with userinfo), trailing slashes removed.
 */
export function normalizeEndpoint(endpoint: string): string {
  const raw = endpoint.trim().replace(/\/+$/, "");
  return HAS_SCHEME.test(raw) ? raw : `https://${raw}`;
}

/**
 * Every spelling of the credentials an endpoint value may carry, for literal redaction: the span up
 * to the last `@` (see {@link maskEndpointCredentials}) and up to each earlier `@` (another parser
 * may stop there), each also after its first `:` (the secret), raw and percent-decoded; plus what
 * WHATWG `new URL` reads as user name and password when the normalised endpoint parses. Empty when
 * the value has no `@`.
 */
export function endpointSecrets(endpoint: string): string[] {
  const m = ENDPOINT_VALUE_USERINFO.exec(endpoint);
  if (!m) return [];
  const out = new Set<string>();
  const add = (v: string) => {
    for (const s of [v, decode(v)]) if (s) out.add(s);
  };
  const full = m[2]!;
  for (let at = full.indexOf("@"); ; at = full.indexOf("@", at + 1)) {
    const span = at < 0 ? full : full.slice(0, at);
    add(span);
    const colon = span.indexOf(":");
    if (colon >= 0) {
      add(span.slice(colon + 1));
      add(span.slice(colon + 1).replace(/^\/+/, ""));
    }
    if (at < 0) break;
  }
  try {
    const parsed = new URL(normalizeEndpoint(endpoint));
    add(parsed.username);
    add(parsed.password);
  } catch {
    // Not a URL: the spans above are all there is (the S3 code refuses it).
  }
  return [...out];
}

/** `endpoint` as written, with everything up to its last `@` after an optional `http(s)://` replaced by `***`. */
export function maskEndpointCredentials(endpoint: string): string {
  return endpoint.replace(ENDPOINT_VALUE_USERINFO, `$1${URL_CREDENTIALS_MASK}@`);
}
