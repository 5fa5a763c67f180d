/**
 * zod schemas for the raw config sections (one sync block, one backup block, the provider blocks),
 * each key annotated with the texts that error messages and the generated config reference use.
 * Cross-section rules (backup provider default, provider-block fallback, exclude fallback) live in
 * `resolve.ts`; this file only says what each key may hold and its plain default.
 */
// zod's v3 API, which zod 4 ships at `zod/v3`: zod 4's own API loads all its locale files on
// import, about 6 MiB more resident memory that every backup process would pay for.
import { z } from "zod/v3";
import { DEFAULT_BACKUP_EXCLUDE, DEFAULT_BACKUP_INCLUDE, DEFAULT_BACKUP_INTERVAL_S, DEFAULT_SYNC_EXCLUDE, DEFAULT_SYNC_INTERVAL_S } from "./defaults.js";

/** Per-key annotations: read by `describeConfig`, error formatting and the unknown-key walker. */
export interface FieldMeta {
  /** One-line description for the config reference. */
  description: string;
  /** What a valid value looks like, for error messages ("a number >= 0"). */
  expect?: string;
  /** How to fix a bad value, appended to error messages. */
  fix?: string;
  /** Default shown in the reference when it is computed rather than a plain `.default()`. */
  defaultText?: string;
  /** Accepted for compatibility with the plugin's rclone settings and ignored (with a warning). */
  ignored?: string;
}

const metaBySchema = new WeakMap<z.ZodTypeAny, FieldMeta>();

/** Annotations of {@link FieldMeta}, keyed by schema object, private to the config module. */
export const fieldMeta: { get(schema: z.ZodTypeAny): FieldMeta | undefined } = {
  get: (schema) => metaBySchema.get(schema),
};

function field<T extends z.ZodTypeAny>(schema: T, meta: FieldMeta): T {
  metaBySchema.set(schema, meta);
  return schema;
}

/**
 * A finite number. zod 4 refused non-finite numbers itself; its v3 API needs `.finite()`
 * (`formatIssues` reports a `not_finite` issue alone, as zod 4 did).
 */
const num = () => z.number().finite();
/**
 * A whole number in the safe-integer range, as zod 4's `.int()` was (an unsafe integer fails with
 * the range bound before the schema's own bounds, like zod 4).
 */
const int = () => num().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER);

/** Keys whose values are secrets: never echoed in errors, masked by `maskSecrets`. */
export const SECRET_KEYS: ReadonlySet<string> = new Set([
  "passphrase",
  "accessKeyId",
  "secretAccessKey",
  "sessionToken",
  "token",
  "appKey",
  "appSecret",
]);

/**
 * Keys whose values are URLs that may carry credentials (`https://<key id>:<secret>@host`, or
 * `key:secret@host` without a scheme): a value found at or under them is never echoed in errors,
 * whatever its type, and its strings are masked up to their last `@`. Only `s3.endpoint` today
 * (Dropbox has no configurable URL).
 */
export const CREDENTIAL_URL_KEYS: ReadonlySet<string> = new Set(["endpoint"]);

/** Providers this library implements, plus `off` for sync. */
export const SYNC_PROVIDERS = ["off", "local", "s3", "dropbox"] as const;
/** Providers a backup can use. */
export const BACKUP_PROVIDERS = ["local", "s3", "dropbox"] as const;
/** The plugin's rclone-only providers, refused with `CONFIG_UNSUPPORTED`. */
export const UNSUPPORTED_PROVIDERS = ["gdrive", "onedrive", "custom"] as const;

export const INCLUDE_ITEMS = [
  "workspace",
  "config",
  "cron",
  "memory",
  "sessions",
  "transcripts",
  "credentials",
  "skills",
  "hooks",
  "extensions",
  "env",
  "agents",
  "pages",
] as const;

/** The schema minimum for `timeout` (seconds); lower values are raised to it with a warning. */
export const MIN_TIMEOUT_SECONDS = 60;

const optString = (meta: FieldMeta) => field(z.string().optional(), { expect: "a string", ...meta });
const bool = (dflt: boolean, meta: FieldMeta) =>
  field(z.boolean().default(dflt), { expect: "true or false", fix: "use true or false without quotes", ...meta });
const optBool = (meta: FieldMeta) =>
  field(z.boolean().optional(), { expect: "true or false", fix: "use true or false without quotes", ...meta });
const ignoredKey = (what: string) =>
  field(z.unknown().optional(), { description: `rclone ${what}; accepted for compatibility and ignored.`, ignored: "an rclone setting" });
const ignoredBlock = (name: string) =>
  field(z.unknown().optional(), {
    description: `The plugin's \`${name}\` provider block (rclone only); accepted and ignored.`,
    ignored: `the ${name} provider needs rclone and is not supported`,
  });

/** `s3` block: S3, Cloudflare R2, Backblaze B2, MinIO. */
export const s3Schema = z.object({
  endpoint: optString({
    description:
      "Custom endpoint: R2 `https://<account>.r2.cloudflarestorage.com`, B2 `https://s3.<region>.backblazeb2.com`. Unset for AWS. Credentials in the URL (`https://<key id>:<secret>@host`) are used as the key pair when `accessKeyId`/`secretAccessKey` are unset, and never shown (everything up to the last `@` is masked); percent-encode `/ ? # @` in them (`%2F %3F %23 %40`).",
  }),
  region: optString({ description: "Region; `auto` for R2.", defaultText: "us-east-1" }),
  bucket: optString({ description: "Bucket name (for backups, `backup.bucket` takes precedence)." }),
  accessKeyId: optString({ description: "Access key id (secret)." }),
  secretAccessKey: optString({ description: "Secret access key (secret)." }),
  sessionToken: optString({ description: "Session token for temporary credentials (secret)." }),
  forcePathStyle: optBool({ description: "Path-style addressing (`endpoint/bucket/key`).", defaultText: "true when `endpoint` is set" }),
  partSizeMiB: field(int().min(5).max(5120).optional(), {
    description: "Fixed multipart part size in MiB.",
    expect: "a whole number of MiB between 5 and 5120",
    fix: "remove it to let the size be chosen automatically",
    defaultText: "chosen from the size estimate, at least 8",
  }),
  queueSize: field(int().min(1).max(64).optional(), {
    description: "Parts uploaded in parallel.",
    expect: "a whole number between 1 and 64",
    defaultText: "3 (fewer when parts are over 16 MiB, so buffers stay near 64 MiB)",
  }),
  maxRetrySeconds: field(num().min(0).optional(), {
    description: "Longest total time to keep retrying a request, in seconds (B2 answers 503 by design).",
    expect: "a number of seconds >= 0",
    defaultText: "300",
  }),
  idleTimeoutSeconds: field(num().min(1).max(86400).optional(), {
    description:
      "Seconds a request may go without any data moving (no answer, or a stalled transfer) before it fails; retried once, so a server that never answers fails a command in about twice this. Slow but moving transfers are never cut off.",
    expect: "a number of seconds between 1 and 86400",
    defaultText: "60",
  }),
});

/** `dropbox` block. */
export const dropboxSchema = z.object({
  appKey: optString({ description: "Dropbox app key, needed with a refresh token (secret)." }),
  appSecret: optString({ description: "Dropbox app secret, needed with a refresh token (secret)." }),
  token: optString({
    description: "A bare access token, a refresh token (with appKey/appSecret) or rclone's token JSON string (secret).",
  }),
  appFolder: optBool({ description: "The token is an app-folder token: the app folder is the root (use `remotePath: \"\"`).", defaultText: "false" }),
  idleTimeoutSeconds: field(num().min(1).max(86400).optional(), {
    description:
      "Seconds a Dropbox request may go without an answer (or with its download stalled) before it fails; retried once. Long polls get Dropbox's own hold time on top.",
    expect: "a number of seconds between 1 and 86400",
    defaultText: "60",
  }),
  fetch: field(z.custom<typeof globalThis.fetch>((v) => typeof v === "function").optional(), {
    description: "Replacement HTTP client (tests, proxies). Only settable when the config object is built in code.",
    expect: "a function",
    fix: "remove it from the JSON file: it can only be set from code",
  }),
});

/** `local` block: a folder that plays the bucket. */
export const localSchema = z.object({
  root: field(z.string().min(1), {
    description: "The folder that plays the bucket (relative paths are resolved against the config file's folder).",
    expect: "a non-empty folder path",
    fix: 'set it to a folder, e.g. "local": { "root": "/srv/backups" }',
  }),
});

const providerBlocks = {
  s3: field(s3Schema.optional(), { description: "S3 / R2 / B2 settings.", expect: "an object" }),
  dropbox: field(dropboxSchema.optional(), { description: "Dropbox settings.", expect: "an object" }),
  local: field(localSchema.optional(), { description: "Local-folder provider settings.", expect: "an object" }),
  gdrive: ignoredBlock("gdrive"),
  onedrive: ignoredBlock("onedrive"),
  custom: ignoredBlock("custom"),
};

const quoted = (values: readonly string[]) => values.map((v) => `"${v}"`).join(", ");

/** One sync block: `sync.*` in the nested form, the root keys in the flat form. */
export const syncSchema = z.object({
  provider: field(z.enum(SYNC_PROVIDERS).default("off"), {
    description: "Sync storage backend; `off` disables sync.",
    expect: `one of ${quoted(SYNC_PROVIDERS)}`,
  }),
  mode: field(z.enum(["mailbox", "mirror", "bisync"]).optional(), {
    description: "`mailbox` (push the workspace except `_inbox`/`_outbox`, move cloud `_outbox` files into `_inbox`), `mirror` (workspace → cloud, one way) or `bisync` (two-way, conflicts kept). Required to run a sync.",
    expect: 'one of "mailbox", "mirror", "bisync"',
    defaultText: "unset (sync refuses to run)",
  }),
  ingest: bool(false, { description: "Mirror mode: also copy files from cloud `<ingestPath>/` into the workspace (additive, never deletes)." }),
  ingestPath: field(z.string().default("inbox"), {
    description: "Mirror ingest folder, relative: cloud `<remotePath>/<ingestPath>/` is copied into workspace `<localPath>/<ingestPath>/`.",
    expect: "a relative path",
  }),
  notifyOnInbox: bool(false, { description: "Notify the agent when inbox files arrive." }),
  remotePath: field(z.string().default("openclaw-share"), { description: "Folder on the remote.", expect: "a string" }),
  localPath: field(z.string().default(""), {
    description: 'Folder inside the workspace to sync; `""` = the workspace root.',
    expect: "a relative path",
  }),
  interval: field(num().min(0).default(DEFAULT_SYNC_INTERVAL_S), {
    description: "Seconds between periodic syncs; 0 = manual only (the manager runs at most every 60 s).",
    expect: "a number >= 0",
    fix: "set a number of seconds (300 = every 5 minutes, 0 = manual only)",
  }),
  timeout: field(num().min(0).default(1800), {
    description: `Seconds before a sync run is aborted (values below ${MIN_TIMEOUT_SECONDS} are raised to ${MIN_TIMEOUT_SECONDS}).`,
    expect: `a number of seconds >= ${MIN_TIMEOUT_SECONDS}`,
    fix: "set a number of seconds (1800 = 30 minutes)",
  }),
  onSessionStart: bool(false, { description: "Sync when an agent session starts." }),
  onSessionEnd: bool(false, { description: "Sync when an agent session ends." }),
  conflictResolve: field(z.enum(["newer", "local", "remote"]).default("newer"), {
    description: "bisync: which side wins a conflict.",
    expect: 'one of "newer", "local", "remote"',
  }),
  exclude: field(z.array(z.string()).default([...DEFAULT_SYNC_EXCLUDE]), {
    description: "Glob patterns to skip; replaces the default, does not extend it.",
    expect: "a list of glob strings",
    fix: 'write a JSON array, e.g. ["**/.DS_Store", "**/node_modules/**"]',
  }),
  copySymlinks: bool(false, { description: "Follow symlinks and copy their targets." }),
  maxDelete: field(num().min(0).max(100).default(50), {
    description: "Abort a run that would delete more than this percentage of the files on either side.",
    expect: "a percentage between 0 and 100",
    fix: "set a percentage, e.g. 50",
  }),
  concurrency: field(int().min(1).max(64).default(4), {
    description: "Transfers in flight. From 2, small copies a provider makes on a thread of its own may go past it (local: up to 9 in all); every other transfer stays within it.",
    expect: "a whole number between 1 and 64",
  }),
  remoteName: ignoredKey("remote name"),
  configPath: ignoredKey("rclone.conf path"),
  ...providerBlocks,
});

// restic's forms: a count, -1 for unlimited; durations in y/m/d/h only.
const countSchema = int().min(-1);
const durationSchema = z.string().regex(/^(\d+[ymdh])+$/);

/** `backup.retain`: a snapshot count or a restic-style policy. Unknown policy keys are errors (a typo would delete more). */
export const retainSchema = z.union([
  countSchema,
  z
    .object({
      last: countSchema.optional(),
      hourly: countSchema.optional(),
      daily: countSchema.optional(),
      weekly: countSchema.optional(),
      monthly: countSchema.optional(),
      yearly: countSchema.optional(),
      within: durationSchema.optional(),
      withinHourly: durationSchema.optional(),
      withinDaily: durationSchema.optional(),
      withinWeekly: durationSchema.optional(),
      withinMonthly: durationSchema.optional(),
      withinYearly: durationSchema.optional(),
    })
    .strict(),
]);

/** The `backup` block. */
export const backupSchema = z.object({
  enabled: bool(false, { description: "Turn scheduled backups on." }),
  provider: field(z.enum(BACKUP_PROVIDERS).optional(), {
    description: "Backup storage backend.",
    expect: `one of ${quoted(BACKUP_PROVIDERS)}`,
    fix: "to turn backups off set backup.enabled to false",
    defaultText: 'the sync provider; when sync is off, "local" if a `local` block exists, else "s3"',
  }),
  remotePath: field(z.string().default(""), { description: "Folder for snapshots (replaced by `bucket` when set).", expect: "a string" }),
  bucket: optString({ description: "Bucket (S3) or top folder; replaces `remotePath` (as in the plugin)." }),
  prefix: field(z.string().default(""), { description: "Subfolder under the bucket/remotePath, e.g. one per agent.", expect: "a string" }),
  interval: field(num().min(0).default(DEFAULT_BACKUP_INTERVAL_S), {
    description: "Seconds between scheduled backups; 0 = no schedule (the manager runs at most every 300 s).",
    expect: "a number >= 0",
    fix: "set a number of seconds (86400 = daily)",
  }),
  encrypt: bool(false, { description: "Encrypt snapshots (AES-256-CBC, OpenSSL `Salted__` format, PBKDF2-SHA256)." }),
  passphrase: optString({ description: "Encryption passphrase (secret); use `${ENV_VAR}`.", fix: 'use a string, e.g. "${BACKUP_PASSPHRASE}"' }),
  include: field(z.array(z.enum(INCLUDE_ITEMS)).default([...DEFAULT_BACKUP_INCLUDE]), {
    description: `What to back up: ${quoted(INCLUDE_ITEMS)}.`,
    expect: "a list of backup items",
    fix: "remove or correct the item",
  }),
  exclude: field(z.array(z.string()).optional(), {
    description: "Patterns to leave out of the archive.",
    expect: "a list of pattern strings",
    fix: 'write a JSON array, e.g. [".git", "node_modules"]',
    defaultText: `the sync \`exclude\` as written, else ${quoted(DEFAULT_BACKUP_EXCLUDE)}`,
  }),
  retain: field(retainSchema.default(7), {
    description: "Snapshots to keep: a count, or a policy {last, hourly, daily, weekly, monthly, yearly, within*}.",
    expect: 'a number of snapshots (-1 = all), or a policy such as { "daily": 7, "weekly": 4 }',
    fix: 'policy keys: last, hourly, daily, weekly, monthly, yearly (whole numbers), within, withinHourly … withinYearly (durations like "30d" or "1y6m")',
  }),
  compressionLevel: field(int().min(0).max(9).default(6), {
    description: "gzip level (0 = store, 9 = smallest).",
    expect: "a whole number between 0 and 9",
  }),
  kdfIterations: field(int().min(1).default(100000), {
    description: "PBKDF2 iterations used when writing; tried first when reading.",
    expect: "a whole number >= 1",
    fix: "keep the default 100000 to stay compatible with the plugin",
  }),
  requireAuthenticated: bool(false, {
    description:
      "Refuse to restore or verify snapshots without a valid MAC (made before authentication, by the plugin, by `tar | openssl`, or unencrypted) instead of warning.",
  }),
  remoteName: ignoredKey("remote name"),
  configPath: ignoredKey("rclone.conf path"),
  ...providerBlocks,
});

/** Raw (validated) sync block. */
export type RawSync = z.output<typeof syncSchema>;
/** Raw (validated) backup block. */
export type RawBackup = z.output<typeof backupSchema>;

/** Strips optional/default/nullable wrappers. */
export function unwrap(schema: z.ZodTypeAny): z.ZodTypeAny {
  let s: z.ZodTypeAny = schema;
  for (;;) {
    if (s instanceof z.ZodOptional || s instanceof z.ZodNullable) s = s.unwrap() as z.ZodTypeAny;
    else if (s instanceof z.ZodDefault) s = s.removeDefault() as z.ZodTypeAny;
    else return s;
  }
}

/** The object schema's shape when `schema` (unwrapped) is an object, else undefined. */
export function shapeOf(schema: z.ZodTypeAny): Record<string, z.ZodTypeAny> | undefined {
  const s = unwrap(schema);
  return s instanceof z.ZodObject ? (s.shape as Record<string, z.ZodTypeAny>) : undefined;
}

/** The schema at `path` inside `root`, through object keys and array items, or undefined. */
export function schemaAt(root: z.ZodTypeAny, path: readonly PropertyKey[]): z.ZodTypeAny | undefined {
  let schema: z.ZodTypeAny | undefined = root;
  for (const key of path) {
    if (!schema) return undefined;
    const s = unwrap(schema);
    if (s instanceof z.ZodArray && typeof key === "number") schema = s.element as z.ZodTypeAny;
    else {
      const shape = shapeOf(s);
      schema = shape && typeof key === "string" && Object.hasOwn(shape, key) ? shape[key] : undefined;
    }
  }
  return schema;
}

/**
 * The annotations of the deepest annotated key along `path` inside `root`, and whether `path`
 * ends exactly at that key.
 */
export function metaAt(root: z.ZodTypeAny, path: readonly PropertyKey[]): { meta?: FieldMeta; exact: boolean } {
  let schema: z.ZodTypeAny | undefined = root;
  let found: FieldMeta | undefined;
  let exact = false;
  for (const key of path) {
    const shape: Record<string, z.ZodTypeAny> | undefined = schema ? shapeOf(schema) : undefined;
    const next: z.ZodTypeAny | undefined = shape && typeof key === "string" && Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (!next) {
      exact = false;
      break;
    }
    schema = next;
    const m = fieldMeta.get(next);
    if (m) {
      found = m;
      exact = true;
    } else exact = false;
  }
  return { meta: found, exact };
}

const secretBelow = new WeakMap<z.ZodTypeAny, boolean>();

/**
 * True when a value of `schema` may hold a secret: the schema (through optional/default
 * wrappers, lists, unions and object keys) has a key named in {@link SECRET_KEYS} or
 * `rcloneOptions` anywhere below it. Error messages never echo such a value, whatever was found.
 */
export function holdsSecret(schema: z.ZodTypeAny): boolean {
  const known = secretBelow.get(schema);
  if (known !== undefined) return known;
  const s = unwrap(schema);
  let found = false;
  if (s instanceof z.ZodObject) {
    found = Object.entries(s.shape as Record<string, z.ZodTypeAny>).some(([k, child]) => SECRET_KEYS.has(k) || k === "rcloneOptions" || holdsSecret(child));
  } else if (s instanceof z.ZodArray) found = holdsSecret(s.element as z.ZodTypeAny);
  else if (s instanceof z.ZodUnion) found = (s.options as z.ZodTypeAny[]).some(holdsSecret);
  secretBelow.set(schema, found);
  return found;
}

/** True when `schema` (unwrapped) is a section: an object or a list, never a single leaf value. */
export function isSection(schema: z.ZodTypeAny): boolean {
  const s = unwrap(schema);
  return s instanceof z.ZodObject || s instanceof z.ZodArray;
}
