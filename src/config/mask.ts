/** Secret masking for `config check` output and logs. */
import { CREDENTIAL_URL_KEYS, SECRET_KEYS } from "./schema.js";
import { isPlainObject, setOwn } from "./env.js";
import { maskEndpointCredentials, redactUrlCredentials } from "../util/url-credentials.js";

/** What every secret value is replaced with. */
export const MASK = "***";

/**
 * Returns a copy of a raw or resolved config with every secret replaced by `"***"`: passphrase,
 * access keys, session tokens, Dropbox tokens and app key/secret, every value under
 * `rcloneOptions`, and credentials embedded in URLs (`https://user:pass@host`, and in an `endpoint` also without a scheme: `user:pass@host`). Functions (such as
 * `dropbox.fetch`) are kept by reference; the input is not modified and never JSON-serialised.
 */
export function maskSecrets<T>(config: T): T {
  // `inUrl`: at or under a key that holds URLs with credentials (an endpoint of any type).
  const walk = (v: unknown, maskAll: boolean, inUrl: boolean): unknown => {
    if (typeof v === "string") return maskAll ? MASK : redactUrlCredentials(inUrl ? maskEndpointCredentials(v) : v);
    if (maskAll && (typeof v === "number" || typeof v === "boolean" || typeof v === "bigint")) return MASK;
    if (Array.isArray(v)) return v.map((item) => walk(item, maskAll, inUrl));
    if (isPlainObject(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) {
        const secret = SECRET_KEYS.has(k) && item !== undefined && item !== null && typeof item !== "function";
        // An endpoint's credentials are read as everything up to its last `@`, scheme or not.
        setOwn(out, k, secret ? MASK : walk(item, maskAll || k === "rcloneOptions", inUrl || CREDENTIAL_URL_KEYS.has(k)));
      }
      return out;
    }
    return v;
  };
  return walk(config, false, false) as T;
}
