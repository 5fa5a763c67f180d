/** What a `dropbox.token` setting holds, once parsed. */
export interface ParsedToken {
  accessToken?: string;
  refreshToken?: string;
  /** When the access token expires, when known. */
  expiresAt?: Date;
}

/**
 * Parses `dropbox.token`: rclone's token JSON (`{"access_token":…,"refresh_token":…,"expiry":…}`),
 * a short-lived access token (`sl.…`), or a bare string that is a refresh token when an app key
 * is configured and an access token otherwise. Pure; never echoes the token in errors.
 */
export function parseToken(token: string | undefined, hasAppKey: boolean): ParsedToken | undefined {
  const raw = token?.trim();
  if (!raw) return undefined;
  if (raw.startsWith("{")) {
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch {
      return undefined;
    }
    if (typeof json !== "object" || json === null) return undefined;
    const j = json as Record<string, unknown>;
    const out: ParsedToken = {};
    if (typeof j.access_token === "string" && j.access_token) out.accessToken = j.access_token;
    if (typeof j.refresh_token === "string" && j.refresh_token) out.refreshToken = j.refresh_token;
    if (typeof j.expiry === "string" && !j.expiry.startsWith("0001-")) {
      const d = new Date(j.expiry);
      if (!Number.isNaN(d.getTime())) out.expiresAt = d;
    }
    return out.accessToken || out.refreshToken ? out : undefined;
  }
  if (raw.startsWith("sl.") || !hasAppKey) return { accessToken: raw };
  return { refreshToken: raw };
}
