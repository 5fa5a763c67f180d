/**
 * Non-fatal findings about keys: unknown keys (probably typos) and the plugin's rclone-only keys,
 * both ignored. Unknown keys warn rather than fail, everywhere (the plugin's schema was strict only
 * for `backup`), so a config written for a newer version still loads.
 */
import type { z } from "zod/v3";
import { fieldMeta, shapeOf } from "./schema.js";
import { formatPath } from "./path.js";
import { isObject } from "./env.js";

/**
 * Walks `value` alongside the object schema `schema` and returns a warning for each key the schema
 * does not know and each key it marks as ignored. Key names only, never values.
 */
export function keyWarnings(schema: z.ZodTypeAny, value: unknown, prefix: readonly PropertyKey[]): string[] {
  const shape = shapeOf(schema);
  if (!shape || !isObject(value)) return [];
  const out: string[] = [];
  for (const [key, item] of Object.entries(value)) {
    if (item === undefined) continue;
    const path = formatPath([...prefix, key]);
    const child = Object.hasOwn(shape, key) ? shape[key] : undefined;
    if (!child) {
      out.push(`${path}: unknown key, ignored — check the spelling against the config reference`);
      continue;
    }
    const meta = fieldMeta.get(child);
    if (meta?.ignored) {
      out.push(`${path}: ignored, ${meta.ignored} (workspace-sync does not use rclone)`);
      continue;
    }
    out.push(...keyWarnings(child, item, [...prefix, key]));
  }
  return out;
}
