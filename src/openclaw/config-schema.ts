/**
 * The plugin config as JSON Schema and UI hints, generated from the zod schemas in `config/schema.ts`
 * (the one definition of what each key may hold, its default and its description), so the
 * manifest the host validates with cannot drift from what the library accepts. The schema is as
 * open as the library: unknown keys only warn there (a config written for a newer version still
 * loads), so objects allow extra keys, except where the library refuses them (`backup.retain`).
 */
import { z } from "zod/v3";
import { CREDENTIAL_URL_KEYS, SECRET_KEYS, backupSchema, fieldMeta, syncSchema, unwrap } from "../config/schema.js";

/** A JSON Schema node (draft-07 subset: what the generator emits). */
export type JsonSchema = { [key: string]: JsonValue };
type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A UI hint for one dotted config key (`PluginConfigUiHint`). */
export interface UiHint {
  label: string;
  help?: string;
  placeholder?: string;
  advanced?: boolean;
  sensitive?: boolean;
}

/** Keys tuned rarely: shown under "advanced" in the host's settings UI. */
const ADVANCED = new Set([
  "timeout",
  "maxDelete",
  "concurrency",
  "conflictResolve",
  "copySymlinks",
  "forcePathStyle",
  "partSizeMiB",
  "queueSize",
  "maxRetrySeconds",
  "idleTimeoutSeconds",
  "sessionToken",
  "compressionLevel",
  "kdfIterations",
]);

const PLACEHOLDERS: Record<string, string> = {
  passphrase: "${BACKUP_PASSPHRASE}",
  accessKeyId: "${AWS_ACCESS_KEY_ID}",
  secretAccessKey: "${AWS_SECRET_ACCESS_KEY}",
  token: "${DROPBOX_TOKEN}",
  endpoint: "https://<account>.r2.cloudflarestorage.com",
  root: "/srv/backups",
};

/** `remotePath` → `Remote path`, `s3` → `S3`, `kdfIterations` → `KDF iterations`. */
export function labelFor(key: string): string {
  const special: Record<string, string> = { s3: "S3", kdfIterations: "KDF iterations", partSizeMiB: "Part size (MiB)", accessKeyId: "Access key ID" };
  if (special[key]) return special[key];
  const words = key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function jsonDefault(schema: z.ZodTypeAny): JsonValue | undefined {
  if (!(schema instanceof z.ZodDefault)) return undefined;
  return JSON.parse(JSON.stringify(schema._def.defaultValue())) as JsonValue;
}

const bounded = (n: number | null) => (n !== null && Math.abs(n) < Number.MAX_SAFE_INTEGER ? n : undefined);

/** One zod schema as JSON Schema, or undefined for values JSON cannot hold (`dropbox.fetch`, a function). */
export function toJsonSchema(schema: z.ZodTypeAny): JsonSchema | undefined {
  const s = unwrap(schema);
  const out: JsonSchema = {};
  if (s instanceof z.ZodString) {
    out.type = "string";
    for (const check of s._def.checks) {
      if (check.kind === "min") out.minLength = check.value;
      if (check.kind === "regex") out.pattern = check.regex.source;
    }
  } else if (s instanceof z.ZodNumber) {
    out.type = s.isInt ? "integer" : "number";
    const min = bounded(s.minValue);
    const max = bounded(s.maxValue);
    if (min !== undefined) out.minimum = min;
    if (max !== undefined) out.maximum = max;
  } else if (s instanceof z.ZodBoolean) {
    out.type = "boolean";
  } else if (s instanceof z.ZodEnum) {
    out.type = "string";
    out.enum = [...(s.options as readonly string[])];
  } else if (s instanceof z.ZodArray) {
    out.type = "array";
    out.items = toJsonSchema(s.element as z.ZodTypeAny) ?? {};
  } else if (s instanceof z.ZodUnion) {
    out.anyOf = (s.options as readonly z.ZodTypeAny[]).map((o) => toJsonSchema(o)).filter((o): o is JsonSchema => o !== undefined);
  } else if (s instanceof z.ZodObject) {
    out.type = "object";
    const properties: JsonSchema = {};
    for (const [key, child] of Object.entries(s.shape as Record<string, z.ZodTypeAny>)) {
      const node = toJsonSchema(child);
      if (node) properties[key] = node;
    }
    out.properties = properties;
    // Unknown keys warn in the library (so configs for newer versions load); a strict block refuses them.
    out.additionalProperties = (s._def as { unknownKeys?: string }).unknownKeys !== "strict";
  } else if (s instanceof z.ZodEffects) {
    return undefined; // z.custom (a function): settable from code only
  } else if (!(s instanceof z.ZodUnknown || s instanceof z.ZodAny)) {
    throw new Error(`config schema: no JSON Schema form for ${s.constructor.name}`);
  }
  const meta = fieldMeta.get(schema);
  let description = meta?.description ? (meta.ignored ? `${meta.description} (Ignored: ${meta.ignored}.)` : meta.description) : undefined;
  // Defaults go into the description, never into `default`: the host fills schema defaults into the
  // config before the plugin sees it, and a root `provider: "off"` filled in next to a `sync` block
  // would switch a nested config to the flat form (whose root keys win). The library applies its own.
  const dflt = jsonDefault(schema);
  if (dflt !== undefined && description !== undefined) description = `${description} Default: ${JSON.stringify(dflt)}.`;
  if (description !== undefined) out.description = description;
  return out;
}

/**
 * JSON Schema of `plugins.entries["openclaw-workspace-sync"].config`: the nested form
 * `{ sync, backup }` or the plugin's older flat form (the sync keys at the root next to `backup`).
 */
export function pluginConfigJsonSchema(): JsonSchema {
  const sync = toJsonSchema(syncSchema) as JsonSchema;
  const backup = toJsonSchema(backupSchema) as JsonSchema;
  return {
    type: "object",
    description:
      'workspace-sync settings: the nested form { "sync": { … }, "backup": { … } }, or the older flat form with the sync keys at the root next to "backup". Unknown keys are ignored with a warning.',
    additionalProperties: true,
    properties: {
      sync: { ...sync, description: "Folder sync (mailbox, mirror or bisync)." },
      backup: { ...backup, description: "Encrypted snapshots of the workspace and agent state." },
      ...(sync.properties as JsonSchema),
    },
  };
}

function hintsFor(schema: z.ZodTypeAny, prefix: string, out: Record<string, UiHint>): void {
  const s = unwrap(schema);
  if (!(s instanceof z.ZodObject)) return;
  for (const [key, child] of Object.entries(s.shape as Record<string, z.ZodTypeAny>)) {
    const meta = fieldMeta.get(child);
    if (!meta || (unwrap(child) instanceof z.ZodEffects && !toJsonSchema(child))) continue;
    const hint: UiHint = { label: labelFor(key), help: meta.ignored ? `${meta.description} (Ignored: ${meta.ignored}.)` : meta.description };
    if (PLACEHOLDERS[key] && unwrap(child) instanceof z.ZodString) hint.placeholder = PLACEHOLDERS[key];
    if (ADVANCED.has(key) || meta.ignored) hint.advanced = true;
    if (SECRET_KEYS.has(key) || CREDENTIAL_URL_KEYS.has(key)) hint.sensitive = true;
    out[`${prefix}${key}`] = hint;
    hintsFor(child, `${prefix}${key}.`, out);
  }
}

/**
 * UI hints for every key, under its dotted path in both layouts (`sync.s3.secretAccessKey` and
 * the flat `s3.secretAccessKey`, `backup.passphrase`). Secrets are `sensitive` (an endpoint URL
 * may carry a key pair, so it is too).
 */
export function pluginConfigUiHints(): Record<string, UiHint> {
  const out: Record<string, UiHint> = {
    sync: { label: "Sync", help: "Folder sync (mailbox, mirror or bisync)." },
    backup: { label: "Backup", help: "Encrypted snapshots of the workspace and agent state." },
  };
  hintsFor(syncSchema, "sync.", out);
  hintsFor(backupSchema, "backup.", out);
  hintsFor(syncSchema, "", out);
  return out;
}
