/** Config key paths as users see them in messages: `backup.s3.bucket`, `sync.exclude[2]`. */
import { CREDENTIAL_URL_KEYS, SECRET_KEYS } from "./schema.js";

/** Formats path segments: string keys joined with dots, array indexes in brackets. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/**
 * True when the value at `path` is (or is inside) a secret, or a URL that may carry credentials
 * (an `endpoint` of any type: `["key:secret@host"]` is still a key pair): never echo it.
 */
export function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path.some((seg) => typeof seg === "string" && (SECRET_KEYS.has(seg) || CREDENTIAL_URL_KEYS.has(seg) || seg === "rcloneOptions"));
}
