/**
 * The Markdown config reference, generated from the schemas so the README cannot drift from the code.
 */
import { z } from "zod/v3";
import { backupSchema, dropboxSchema, fieldMeta, localSchema, s3Schema, syncSchema, unwrap } from "./schema.js";

const cell = (text: string) => text.replace(/\|/g, "\\|").replace(/\n/g, " ");

function typeOf(schema: z.ZodTypeAny): string {
  const s = unwrap(schema);
  if (s instanceof z.ZodString) return "string";
  if (s instanceof z.ZodBoolean) return "boolean";
  if (s instanceof z.ZodNumber) {
    const base = s.isInt ? "integer" : "number";
    const min = s.minValue !== null && Math.abs(s.minValue) < Number.MAX_SAFE_INTEGER ? s.minValue : undefined;
    const max = s.maxValue !== null && Math.abs(s.maxValue) < Number.MAX_SAFE_INTEGER ? s.maxValue : undefined;
    if (min !== undefined && max !== undefined) return `${base} ${min}–${max}`;
    if (min !== undefined) return `${base} ≥ ${min}`;
    if (max !== undefined) return `${base} ≤ ${max}`;
    return base;
  }
  if (s instanceof z.ZodEnum) return (s.options as readonly string[]).map((o) => JSON.stringify(o)).join(" | ");
  if (s instanceof z.ZodArray) return `array of ${typeOf(s.element as z.ZodTypeAny)}`;
  if (s instanceof z.ZodUnion) return (s.options as readonly z.ZodTypeAny[]).map(typeOf).join(" or ");
  if (s instanceof z.ZodObject) return "object";
  // `z.custom(check)` is a refined ZodAny; the config's only one is `dropbox.fetch`.
  if (s instanceof z.ZodEffects && s.innerType() instanceof z.ZodAny) return "function";
  return "any";
}

function defaultOf(schema: z.ZodTypeAny): string {
  const meta = fieldMeta.get(schema);
  if (meta?.defaultText) return meta.defaultText;
  if (schema instanceof z.ZodDefault) return `\`${JSON.stringify(schema._def.defaultValue())}\``;
  return "—";
}

interface Row {
  key: string;
  type: string;
  dflt: string;
  description: string;
}

/** Rows for every key of an object schema; `skip` returns true for keys listed elsewhere. */
function rows(schema: z.AnyZodObject, prefix: string, skip: (key: string, s: z.ZodTypeAny) => boolean): Row[] {
  const out: Row[] = [];
  for (const [key, child] of Object.entries(schema.shape as Record<string, z.ZodTypeAny>)) {
    if (skip(key, child)) continue;
    const meta = fieldMeta.get(child);
    out.push({ key: `${prefix}${key}`, type: typeOf(child), dflt: defaultOf(child), description: meta?.description ?? "" });
  }
  return out;
}

function table(list: Row[]): string {
  const lines = ["| Key | Type | Default | Description |", "|---|---|---|---|"];
  for (const r of list) lines.push(`| \`${r.key}\` | ${cell(r.type)} | ${cell(r.dflt)} | ${cell(r.description)} |`);
  return lines.join("\n");
}

const isIgnored = (_key: string, s: z.ZodTypeAny) => fieldMeta.get(s)?.ignored !== undefined;
const isBlockOrIgnored = (key: string, s: z.ZodTypeAny) => isIgnored(key, s) || ["s3", "dropbox", "local"].includes(key);

/**
 * A Markdown reference of every config key (path, type, default, description), generated from the
 * zod schemas and their annotations. Used for the README and `config --help`.
 */
export function describeConfig(): string {
  const ignored = [
    ...rows(syncSchema, "sync.", (k, s) => !isIgnored(k, s)),
    ...rows(backupSchema, "backup.", (k, s) => !isIgnored(k, s)),
  ];
  const blocks = (kind: string) => `\`sync.${kind}\` / \`backup.${kind}\` (a backup without its own block uses the sync one)`;
  return [
    "## Configuration reference",
    "",
    "Generated from the config schema. Two layouts load: the nested form `{ \"sync\": { … }, \"backup\": { … } }`, and the",
    "plugin's older flat form with the sync keys at the root next to `backup`. String values may reference environment",
    "variables as `${NAME}` (NAME in `A-Z`, `0-9`, `_`); `$${NAME}` gives a literal `${NAME}`; an unset or empty variable is an error.",
    "If a `sync` block and any of `provider`, `mode`, `remotePath`, `interval` at the root are both present, the root keys",
    "win and the `sync` block is ignored, with a warning (the plugin did the same, silently). A `null` value means unset.",
    "Unknown keys are reported as warnings and ignored (inside `backup` too, so newer configs still load).",
    "",
    "### Sync (`sync.*`, or the root keys in the flat form)",
    "",
    table(rows(syncSchema, "sync.", isBlockOrIgnored)),
    "",
    "### Backup (`backup.*`)",
    "",
    table(rows(backupSchema, "backup.", isBlockOrIgnored)),
    "",
    `### S3, R2, B2 (${blocks("s3")})`,
    "",
    table(rows(s3Schema, "s3.", () => false)),
    "",
    `### Dropbox (${blocks("dropbox")})`,
    "",
    table(rows(dropboxSchema, "dropbox.", () => false)),
    "",
    `### Local folder (${blocks("local")})`,
    "",
    table(rows(localSchema, "local.", () => false)),
    "",
    "### Accepted and ignored (rclone only)",
    "",
    "These plugin keys load with a warning; providers `gdrive`, `onedrive` and `custom` are refused.",
    "",
    table(ignored),
    "",
  ].join("\n");
}
