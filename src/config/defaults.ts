/**
 * Defaults of the plugin's config, each defined once here and imported by the rooms that apply them
 * (the schema, the sync filter, the backup walk). No dependencies, so any room may import it.
 */
import type { IncludeItem } from "./types.js";

/** Sync `exclude` when the config sets none (minimatch globs; see sync/filters.ts). */
export const DEFAULT_SYNC_EXCLUDE: readonly string[] = Object.freeze(["**/.DS_Store"]);

/**
 * Backup `exclude` when neither `backup.exclude` nor the sync `exclude` is set (GNU tar `--exclude`
 * patterns; see archive/exclude.ts).
 */
export const DEFAULT_BACKUP_EXCLUDE: readonly string[] = Object.freeze([".git", "node_modules", "__pycache__", ".venv", "venv"]);

/** The include items a backup holds when the config names none. */
export const DEFAULT_BACKUP_INCLUDE: readonly IncludeItem[] = Object.freeze(["workspace", "config", "cron", "memory"]);

/** Seconds between scheduled backups when the config does not say (daily, the plugin's default). */
export const DEFAULT_BACKUP_INTERVAL_S = 86_400;

/** Seconds between periodic syncs when the config does not say (0: manual and session hooks only). */
export const DEFAULT_SYNC_INTERVAL_S = 0;
