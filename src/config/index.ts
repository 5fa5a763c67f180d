/**
 * Config loading: the nested or flat JSON config → a validated {@link ResolvedConfig}.
 */
export type * from "./types.js";
export { resolveConfig, type ResolveOptions } from "./resolve.js";
export { loadConfigFile, parseConfigJson, pluginEntryConfig, PLUGIN_ID, PLUGIN_ENTRY_CONFIG_PATH } from "./file.js";
export { maskSecrets, MASK } from "./mask.js";
export { describeConfig } from "./describe.js";
export { ConfigError, type ConfigIssue } from "./issues.js";
export { interpolateEnv } from "./env.js";
export {
  SECRET_KEYS,
  INCLUDE_ITEMS,
  MIN_TIMEOUT_SECONDS,
} from "./schema.js";
export { DEFAULT_BACKUP_EXCLUDE, DEFAULT_BACKUP_INCLUDE, DEFAULT_SYNC_EXCLUDE } from "./defaults.js";
export { isResolvedConfig, loadSyncConfig, type ConfigInput } from "./input.js";
