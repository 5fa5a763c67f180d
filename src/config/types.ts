/**
 * The resolved configuration: what `loadConfig` / `resolveConfig` return after parsing either the
 * nested `{ sync, backup }` form or the plugin's older flat form, interpolating `${ENV}` and applying
 * defaults. Every other module reads these types, never the raw JSON.
 */

/** Storage backends this library implements. */
export type ProviderName = "local" | "s3" | "dropbox";

/** The sync modes. */
export type SyncMode = "mailbox" | "mirror" | "bisync";

/** Items a backup can include (the plugin's names). */
export type IncludeItem =
  | "workspace"
  | "config"
  | "cron"
  | "memory"
  | "sessions"
  | "transcripts"
  | "credentials"
  | "skills"
  | "hooks"
  | "extensions"
  | "env"
  | "agents"
  | "pages";

/** S3 / R2 / B2 settings (the plugin's `s3` block plus our additions). */
export interface S3Settings {
  /** Custom endpoint (R2: `https://<account>.r2.cloudflarestorage.com`, B2: `https://s3.<region>.backblazeb2.com`). */
  endpoint?: string;
  /** Region; `auto` for R2. Default `us-east-1`. */
  region?: string;
  bucket?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Path-style addressing (`endpoint/bucket/key`). Default: true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** Fixed multipart part size in MiB (default: chosen from the size estimate, at least 8). */
  partSizeMiB?: number;
  /** Parts uploaded in parallel (default 4). */
  queueSize?: number;
  /** Longest total time to keep retrying a request, in seconds (default 300: B2 answers 503 by design). */
  maxRetrySeconds?: number;
  /** Seconds a request may go without any data moving before it fails; retried once (default 60). */
  idleTimeoutSeconds?: number;
}

/** Dropbox settings (the plugin's `dropbox` block). */
export interface DropboxSettings {
  appKey?: string;
  appSecret?: string;
  /** A bare access token, a refresh token (with appKey/appSecret) or rclone's token JSON string. */
  token?: string;
  /** The token is an app-folder token: the app folder is the root. */
  appFolder?: boolean;
  /** Seconds a request may go without an answer before it fails (retried once). Default 60. */
  idleTimeoutSeconds?: number;
  /** Replaces the HTTP client for every request (tests, proxies). Only settable from code. */
  fetch?: typeof globalThis.fetch;
}

/** Local-folder provider settings. */
export interface LocalSettings {
  /** The folder that plays the bucket. */
  root: string;
}

/** Settings shared by the sync and backup sides to build a provider. */
export interface ProviderSettings {
  provider: ProviderName;
  s3?: S3Settings;
  dropbox?: DropboxSettings;
  local?: LocalSettings;
}

/** Resolved sync settings (root keys in the flat format, `sync.*` in the nested one). */
export interface SyncSettings {
  /** `"off"` disables sync. */
  provider: ProviderName | "off";
  /** Required to run a sync; undefined when the user did not set it. */
  mode?: SyncMode;
  ingest: boolean;
  ingestPath: string;
  notifyOnInbox: boolean;
  remotePath: string;
  localPath: string;
  /** Seconds between periodic syncs; 0 = manual only. */
  interval: number;
  /** Seconds before a run is aborted. */
  timeout: number;
  onSessionStart: boolean;
  onSessionEnd: boolean;
  conflictResolve: "newer" | "local" | "remote";
  exclude: string[];
  copySymlinks: boolean;
  /** Abort a run that would delete more than this percentage of the files on either side (default 50). */
  maxDelete: number;
  /**
   * Transfers in flight (default 4). From 2, small copies a provider makes on a thread of its own
   * may go past it, up to one more than that thread's slots (`ProviderCapabilities.threadWrites`;
   * the local provider: 9); every other transfer stays within it.
   */
  concurrency: number;
  s3?: S3Settings;
  dropbox?: DropboxSettings;
  local?: LocalSettings;
}

/** Restic-style retention policy as written in config; see `src/retention`. */
export type RetainSetting =
  | number
  | {
      last?: number;
      hourly?: number;
      daily?: number;
      weekly?: number;
      monthly?: number;
      yearly?: number;
      within?: string;
      withinHourly?: string;
      withinDaily?: string;
      withinWeekly?: string;
      withinMonthly?: string;
      withinYearly?: string;
    };

/** Resolved backup settings (`backup.*`). */
export interface BackupSettings {
  enabled: boolean;
  provider: ProviderName;
  /** Bucket (S3) or top folder; replaces `remotePath` when set, as in the plugin. */
  bucket?: string;
  remotePath: string;
  prefix: string;
  /** Seconds between scheduled backups; 0 = off. Default 86400. */
  interval: number;
  encrypt: boolean;
  passphrase?: string;
  include: IncludeItem[];
  exclude: string[];
  retain: RetainSetting;
  /** gzip level 0-9 (default 6). */
  compressionLevel: number;
  /** PBKDF2 iterations used when writing; also tried first when reading (default 100000). */
  kdfIterations: number;
  /** Refuse snapshots without a valid MAC (legacy, unencrypted) instead of warning (default false). */
  requireAuthenticated?: boolean;
  s3?: S3Settings;
  dropbox?: DropboxSettings;
  local?: LocalSettings;
}

/** The whole resolved configuration. */
export interface ResolvedConfig {
  sync: SyncSettings;
  /** Present when the config has a `backup` block. */
  backup?: BackupSettings;
  /** Non-fatal findings (ignored rclone-only keys, unknown keys) for the caller to log. */
  warnings: string[];
}
