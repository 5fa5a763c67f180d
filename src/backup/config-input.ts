/**
 * Accepts what callers pass as `syncConfig`: the raw plugin config (nested or flat, resolved and
 * validated here) or a config that was already resolved.
 */
import { resolveConfig } from "../config/index.js";
import type { ResolvedConfig } from "../config/types.js";
import type { Logger } from "../logger.js";

/** A raw plugin config object or an already resolved one. */
export type ConfigInput = ResolvedConfig | Record<string, unknown>;

/** True when `input` came out of `resolveConfig`. */
export function isResolvedConfig(input: unknown): input is ResolvedConfig {
  const c = input as Partial<ResolvedConfig> | undefined;
  return !!c && Array.isArray(c.warnings) && typeof c.sync === "object" && c.sync !== null && typeof c.sync.provider === "string" && Array.isArray(c.sync.exclude);
}

/** Resolves `input` and logs its warnings once. Throws a typed CONFIG_* error when invalid. */
export function loadSyncConfig(input: ConfigInput, logger: Logger): ResolvedConfig {
  if (isResolvedConfig(input)) return input;
  const config = resolveConfig(input);
  for (const w of config.warnings) logger.warn(`[workspace-sync] config: ${w}`);
  return config;
}
