/**
 * Raw config → {@link ResolvedConfig}: interpolate `${ENV}`, split flat/nested, refuse rclone-only
 * providers, validate every key (all problems at once), then apply the cross-section defaults.
 */
import { normalizePolicy } from "../retention/policy.js";
import os from "node:os";
import path from "node:path";
import type { BackupSettings, LocalSettings, ResolvedConfig, SyncSettings } from "./types.js";
import { interpolateEnv, isObject } from "./env.js";
import { splitLayout } from "./layout.js";
import { ConfigError, formatIssues, showValue, type ConfigIssue } from "./issues.js";
import { keyWarnings } from "./warnings.js";
import { formatPath } from "./path.js";
import {
  backupSchema,
  MIN_TIMEOUT_SECONDS,
  syncSchema,
  UNSUPPORTED_PROVIDERS,
  type RawBackup,
  type RawSync,
} from "./schema.js";
import { DEFAULT_BACKUP_EXCLUDE } from "./defaults.js";

/** Options for {@link resolveConfig}. */
export interface ResolveOptions {
  /** Variables for `${NAME}` interpolation. Default: `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Where the config came from (a file path), named in error messages. */
  source?: string;
  /**
   * Folder that relative `local.root` paths are resolved against (`loadConfigFile` passes the
   * config file's folder). Without it they are kept as written. `~/` is always expanded.
   */
  baseDir?: string;
}

/** Checks a workspace-relative path (`localPath`, `ingestPath`) the way the plugin ≥2.4.0 does, plus `..`. */
function relativePathIssue(value: unknown, key: string, prefix: readonly PropertyKey[]): ConfigIssue | undefined {
  if (typeof value !== "string") return undefined;
  const p = formatPath([...prefix, key]);
  const fix = `Remove ${key} or set it to a relative subfolder (e.g. "shared").`;
  if (path.posix.isAbsolute(value) || path.win32.isAbsolute(value)) {
    return { path: p, message: `${p}: ${key} must be relative to the workspace, got absolute path: ${JSON.stringify(value)}. ${fix}` };
  }
  const normal = path.posix.normalize(value.replace(/\\/g, "/"));
  if (normal === ".." || normal.startsWith("../")) {
    return { path: p, message: `${p}: ${key} must stay inside the workspace, got ${JSON.stringify(value)}, which leads outside it. ${fix}` };
  }
  return undefined;
}

function resolveLocal(local: LocalSettings | undefined, baseDir: string | undefined): LocalSettings | undefined {
  if (!local) return undefined;
  let root = local.root;
  if (root === "~" || root.startsWith("~/")) root = path.join(os.homedir(), root.slice(1));
  else if (baseDir && !path.isAbsolute(root)) root = path.resolve(baseDir, root);
  return { root };
}

/** Copies `value` without its undefined-valued keys (resolved settings carry only what is set). */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function unsupportedIssues(section: unknown, prefix: readonly PropertyKey[]): ConfigIssue[] {
  if (!isObject(section)) return [];
  const provider = section.provider;
  if (typeof provider !== "string" || !(UNSUPPORTED_PROVIDERS as readonly string[]).includes(provider)) return [];
  const p = formatPath([...prefix, "provider"]);
  return [
    {
      path: p,
      message: `${p}: provider "${provider}" is not supported by workspace-sync (no rclone): use s3, dropbox or local`,
    },
  ];
}

/**
 * Parses and validates a raw config (the nested `{ sync, backup }` form or the plugin's flat form),
 * interpolating `${ENV}` references and applying the plugin's defaults.
 *
 * @throws {WorkspaceSyncError} `CONFIG_MISSING_ENV` for unset/empty variables, `CONFIG_UNSUPPORTED`
 *   for gdrive/onedrive/custom providers, `CONFIG_INVALID` (a {@link ConfigError} listing every
 *   problem with its key path and fix) for anything else.
 */
export function resolveConfig(raw: unknown, options: ResolveOptions = {}): ResolvedConfig {
  const { source, baseDir } = options;
  const env = options.env ?? process.env;
  const input = raw ?? {};
  if (!isObject(input)) {
    throw new ConfigError(
      "CONFIG_INVALID",
      [{ path: "(root)", message: `(root): expected an object such as { "sync": { ... }, "backup": { ... } }, got ${showValue(input, true)}` }],
      source,
    );
  }
  const layout = splitLayout(interpolateEnv(input, env));
  const backupPrefix = ["backup"];

  const unsupported = [...unsupportedIssues(layout.sync, layout.syncPrefix), ...unsupportedIssues(layout.backup, backupPrefix)];
  if (unsupported.length > 0) throw new ConfigError("CONFIG_UNSUPPORTED", unsupported, source, layout.warnings);

  const warnings = [
    ...layout.warnings,
    ...keyWarnings(syncSchema, layout.sync, layout.syncPrefix),
    ...keyWarnings(backupSchema, layout.backup, backupPrefix),
  ];
  const issues = [...layout.issues];

  const syncResult = syncSchema.safeParse(layout.sync);
  if (!syncResult.success) issues.push(...formatIssues(syncResult.error.issues, syncSchema, layout.sync, layout.syncPrefix));
  const rawSync = isObject(layout.sync) ? layout.sync : {};
  for (const key of ["localPath", "ingestPath"]) {
    const issue = relativePathIssue(rawSync[key], key, layout.syncPrefix);
    if (issue) issues.push(issue);
  }

  let backupData: RawBackup | undefined;
  if (layout.backup !== undefined) {
    const backupResult = backupSchema.safeParse(layout.backup);
    if (backupResult.success) backupData = backupResult.data;
    else issues.push(...formatIssues(backupResult.error.issues, backupSchema, layout.backup, backupPrefix));
  }

  const syncData: RawSync | undefined = syncResult.success ? syncResult.data : undefined;
  if (syncData?.provider === "local" && !syncData.local) {
    const p = formatPath([...layout.syncPrefix, "provider"]);
    issues.push({ path: p, message: `${p}: "local" needs a local block — add "local": { "root": "/path/to/folder" } next to it` });
  }
  if (syncData && backupData && !backupData.local && !syncData.local && backupData.provider === "local") {
    issues.push({
      path: "backup.provider",
      message: `backup.provider: "local" needs a local block — add "local": { "root": "/path/to/folder" } to backup (or to the sync settings)`,
    });
  }

  if (issues.length > 0 || !syncData) throw new ConfigError("CONFIG_INVALID", issues, source, warnings);

  const sync = buildSync(syncData, layout.syncPrefix, baseDir, warnings);
  const result: ResolvedConfig = { sync, warnings };
  if (backupData) {
    const rawExclude = rawSync.exclude !== undefined ? syncData.exclude : undefined;
    result.backup = buildBackup(backupData, syncData, rawExclude, baseDir, warnings);
  }
  return result;
}

function buildSync(s: RawSync, prefix: readonly PropertyKey[], baseDir: string | undefined, warnings: string[]): SyncSettings {
  let timeout = s.timeout;
  if (timeout < MIN_TIMEOUT_SECONDS) {
    warnings.push(`${formatPath([...prefix, "timeout"])}: ${timeout} is below the minimum of ${MIN_TIMEOUT_SECONDS} seconds; using ${MIN_TIMEOUT_SECONDS}`);
    timeout = MIN_TIMEOUT_SECONDS;
  }
  return defined<SyncSettings>({
    provider: s.provider,
    mode: s.mode,
    ingest: s.ingest,
    ingestPath: s.ingestPath,
    notifyOnInbox: s.notifyOnInbox,
    remotePath: s.remotePath,
    localPath: s.localPath,
    interval: s.interval,
    timeout,
    onSessionStart: s.onSessionStart,
    onSessionEnd: s.onSessionEnd,
    conflictResolve: s.conflictResolve,
    exclude: s.exclude,
    copySymlinks: s.copySymlinks,
    maxDelete: s.maxDelete,
    concurrency: s.concurrency,
    s3: s.s3 && defined(s.s3),
    dropbox: s.dropbox && defined(s.dropbox),
    local: resolveLocal(s.local, baseDir),
  });
}

function buildBackup(
  b: RawBackup,
  s: RawSync,
  syncExclude: string[] | undefined,
  baseDir: string | undefined,
  warnings: string[],
): BackupSettings {
  const s3 = b.s3 ?? s.s3;
  const dropbox = b.dropbox ?? s.dropbox;
  const local = b.local ?? s.local;
  const provider = b.provider ?? (s.provider !== "off" ? s.provider : local ? "local" : "s3");
  if (!b.provider && provider === "s3" && !s3 && dropbox) {
    warnings.push('backup.provider: not set and sync is off, so backups use "s3" (as in the plugin), but only a dropbox block exists — set backup.provider to "dropbox"');
  }
  const passphrase = b.passphrase === "" ? undefined : b.passphrase;
  if (b.encrypt && passphrase === undefined) {
    warnings.push('backup.passphrase: backup.encrypt is true but no passphrase is set — backups and restores will fail until you set one (e.g. "${BACKUP_PASSPHRASE}")');
  }
  if (!b.encrypt && passphrase !== undefined) {
    // The plugin's default is encrypt: false; a passphrase alone does not change that, so say so.
    warnings.push("backup.encrypt: a passphrase is set but encrypt is not true, so snapshots are NOT encrypted — set \"encrypt\": true to encrypt them");
  }
  // The retention policy is checked by the same code that applies it, so a config never loads
  // and then fails (or deletes more than meant) at prune time.
  normalizePolicy(b.retain);
  if (typeof b.retain === "object" && b.retain.daily === undefined && (b.retain.weekly !== undefined || b.retain.monthly !== undefined)) {
    // The plugin filled in daily: 7 when it was missing; restic's semantics (ours) do not.
    warnings.push('backup.retain: without "daily", no daily snapshots are kept (the plugin kept 7 by default) — add "daily": 7 to keep them');
  }
  return defined<BackupSettings>({
    enabled: b.enabled,
    provider,
    bucket: b.bucket,
    remotePath: b.remotePath,
    prefix: b.prefix,
    interval: b.interval,
    encrypt: b.encrypt,
    passphrase,
    include: b.include,
    exclude: b.exclude ?? syncExclude ?? [...DEFAULT_BACKUP_EXCLUDE],
    retain: b.retain,
    compressionLevel: b.compressionLevel,
    kdfIterations: b.kdfIterations,
    requireAuthenticated: b.requireAuthenticated,
    s3: s3 && defined(s3),
    dropbox: dropbox && defined(dropbox),
    local: resolveLocal(local, baseDir),
  });
}
