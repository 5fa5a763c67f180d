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
