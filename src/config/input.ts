/**
 * What callers pass as `syncConfig` (the library functions, {@link WorkspaceSync}, the plugin-shaped
 * managers): the raw plugin config (nested or flat, resolved and validated here) or a config that was
 * already resolved.
 */
import type { Logger } from "../logger.js";
import { resolveConfig } from "./resolve.js";
import type { ResolvedConfig, SyncSettings } from "./types.js";

/** A raw plugin config object or an already resolved one. */
export type ConfigInput = ResolvedConfig | Record<string, unknown>;

/** Sync keys every resolved config has (a raw config may lack any of them). */
const RESOLVED_SYNC_FIELDS: readonly (keyof SyncSettings)[] = ["provider", "remotePath", "localPath", "exclude", "conflictResolve", "maxDelete", "concurrency", "timeout"];

/**
 * True when `value` came out of {@link resolveConfig}: it has the `warnings` list and a `sync` block
 * with every resolved key (a string provider, an exclude list). Anything else is a raw config.
 */
export function isResolvedConfig(value: unknown): value is ResolvedConfig {
  if (typeof value !== "object" || value === null) return false;
  const v = value as { warnings?: unknown; sync?: unknown };
  if (!Array.isArray(v.warnings) || typeof v.sync !== "object" || v.sync === null) return false;
  const sync = v.sync as Partial<Record<keyof SyncSettings, unknown>>;
  return RESOLVED_SYNC_FIELDS.every((k) => k in sync) && typeof sync.provider === "string" && Array.isArray(sync.exclude);
}

/** Resolves `input` and logs its warnings once. Throws a typed CONFIG_* error when invalid. */
export function loadSyncConfig(input: ConfigInput, logger: Logger): ResolvedConfig {
  if (isResolvedConfig(input)) return input;
  const config = resolveConfig(input);
  for (const w of config.warnings) logger.warn(`[workspace-sync] config: ${w}`);
  return config;
}
