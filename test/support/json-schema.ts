/**
 * A small JSON Schema validator for the subset the manifest generator emits (type, enum,
 * properties, additionalProperties, anyOf, items, minimum, maximum, minLength, pattern), so a test
 * can check that the host's view of the config (the manifest's configSchema) agrees with the
 * library's. Returns the paths that fail.
 */
type Schema = Record<string, unknown>;

function typeOk(type: unknown, v: unknown): boolean {
  switch (type) {
    case undefined:
      return true;
    case "object":
      return v !== null && typeof v === "object" && !Array.isArray(v);
    case "array":
      return Array.isArray(v);
    case "string":
      return typeof v === "string";
    case "boolean":
      return typeof v === "boolean";
    case "number":
      return typeof v === "number" && Number.isFinite(v);
    case "integer":
      return typeof v === "number" && Number.isInteger(v);
    default:
      throw new Error(`json-schema test helper: type ${String(type)} not supported`);
  }
}

/** Problems of `value` against `schema` (empty when valid). */
export function validateJsonSchema(schema: Schema, value: unknown, at = "$"): string[] {
  if (Array.isArray(schema.anyOf)) {
    const ok = (schema.anyOf as Schema[]).some((s) => validateJsonSchema(s, value, at).length === 0);
    if (!ok) return [`${at}: matches none of anyOf`];
  }
  if (!typeOk(schema.type, value)) return [`${at}: expected ${String(schema.type)}`];
  const out: string[] = [];
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) out.push(`${at}: not one of ${JSON.stringify(schema.enum)}`);
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) out.push(`${at}: below ${schema.minimum}`);
    if (typeof schema.maximum === "number" && value > schema.maximum) out.push(`${at}: above ${schema.maximum}`);
  }
  if (typeof value === "string") {
    if (typeof schema.minLength === "number" && value.length < schema.minLength) out.push(`${at}: shorter than ${schema.minLength}`);
    if (typeof schema.pattern === "string" && !new RegExp(schema.pattern, "u").test(value)) out.push(`${at}: does not match ${schema.pattern}`);
  }
  if (Array.isArray(value) && schema.items) value.forEach((item, i) => out.push(...validateJsonSchema(schema.items as Schema, item, `${at}[${i}]`)));
  if (schema.type === "object" && value && typeof value === "object") {
    const props = (schema.properties ?? {}) as Record<string, Schema>;
    for (const [k, v] of Object.entries(value)) {
      if (Object.hasOwn(props, k)) out.push(...validateJsonSchema(props[k] as Schema, v, `${at}.${k}`));
      else if (schema.additionalProperties === false) out.push(`${at}.${k}: not allowed`);
    }
  }
  return out;
}
