/**
 * Last line of defence for secrets in CLI output: every line written is scrubbed of the config's
 * secret values (also in their JSON-escaped form), whatever module produced it.
 */
import { CREDENTIAL_URL_KEYS } from "../config/schema.js";
import type { ResolvedConfig } from "../config/types.js";
import { endpointSecrets, redactUrlCredentials } from "../util/url-credentials.js";

const SECRET_KEYS = ["passphrase", "accessKeyId", "secretAccessKey", "sessionToken", "token", "appKey", "appSecret"] as const;

/** The secret values in a resolved config (short values are ignored: masking them would garble output). */
export function collectSecrets(config: ResolvedConfig): string[] {
  const found = new Set<string>();
  const visit = (obj: unknown) => {
    if (!obj || typeof obj !== "object") return;
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
      if (typeof v === "string" && (SECRET_KEYS as readonly string[]).includes(k) && v.length >= 4) found.add(v);
      else if (typeof v === "string" && k === "endpoint") addUrlCredentials(v, found);
      else if (v && typeof v === "object") visit(v);
    }
  };
  visit(config);
  const out = new Set<string>();
  for (const s of found) {
    out.add(s);
    out.add(JSON.stringify(s).slice(1, -1));
  }
  // Longest first, so a secret containing another is masked whole.
  return [...out].sort((a, b) => b.length - a.length);
}

/** The credentials an endpoint value may carry, in every spelling (see {@link endpointSecrets}). */
function addUrlCredentials(endpoint: string, found: Set<string>): void {
  for (const v of endpointSecrets(endpoint)) if (v.length >= 4) found.add(v);
}

/**
 * The credentials of every string at or under an `endpoint` key of a RAW (unvalidated) config, in
 * every spelling: for messages about a config that failed validation, where {@link collectSecrets}
 * has no resolved config to read. Longest first, as {@link redact} wants them.
 */
export function rawEndpointSecrets(raw: unknown): string[] {
  const found = new Set<string>();
  const seen = new Set<object>();
  const visit = (v: unknown, inUrl: boolean) => {
    if (typeof v === "string") {
      if (inUrl) addUrlCredentials(v, found);
      return;
    }
    if (!v || typeof v !== "object" || seen.has(v)) return;
    seen.add(v);
    for (const [k, item] of Object.entries(v as Record<string, unknown>)) visit(item, inUrl || CREDENTIAL_URL_KEYS.has(k));
  };
  visit(raw, false);
  return [...found].sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of each secret in `text` with `***`, and the userinfo of every URL. */
export function redact(text: string, secrets: readonly string[]): string {
  let out = redactUrlCredentials(text);
  for (const s of secrets) if (s && out.includes(s)) out = out.split(s).join("***");
  return out;
}
