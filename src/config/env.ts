/**
 * `${ENV_VAR}` interpolation, as OpenClaw core applies it to plugin config before the plugin sees it:
 * only `${NAME}` with NAME matching `[A-Z_][A-Z0-9_]*` is replaced, `$${NAME}` yields a literal
 * `${NAME}`, any other `$` text is left alone, and an unset or empty variable is an error.
 */
import { WorkspaceSyncError } from "../errors.js";
import { formatPath } from "./path.js";

const REFERENCE = /(\$?)\$\{([A-Z_][A-Z0-9_]*)\}/g;

/** One unresolved reference: the variable and where in the config it was used. */
export interface MissingEnv {
  name: string;
  path: string;
}

/** Replaces the references in one string; records the missing ones. */
export function interpolateString(
  value: string,
  env: NodeJS.ProcessEnv,
  path: string,
  missing: MissingEnv[],
): string {
  return value.replace(REFERENCE, (_match, escape: string, name: string) => {
    if (escape) return `\${${name}}`;
    const v = env[name];
    if (v === undefined || v === "") {
      missing.push({ name, path });
      return "";
    }
    return v;
  });
}

/** True for a plain object (a JSON object, or one made with `{}` or `Object.create(null)`). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== "object") return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** True for an object that is not an array (any prototype): a config section as written. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** Sets an own property, even one named `__proto__` (JSON.parse can produce it). */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Returns a copy of `raw` with every string value interpolated (keys are not) and null-valued
 * object keys dropped (null = unset, as the plugin's `??` reads it). Values that are
 * neither strings, arrays nor plain objects (numbers, functions such as `dropbox.fetch`) are kept
 * as they are. Throws `CONFIG_MISSING_ENV` listing every unset or empty variable with its config path.
 */
export function interpolateEnv<T>(raw: T, env: NodeJS.ProcessEnv): T {
  const missing: MissingEnv[] = [];
  const walk = (v: unknown, path: PropertyKey[]): unknown => {
    if (typeof v === "string") return interpolateString(v, env, formatPath(path), missing);
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
    if (isPlainObject(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) {
        // null means "unset" (the plugin reads every key with `??`), so the default applies
        if (item === null) continue;
        setOwn(out, k, walk(item, [...path, k]));
      }
      return out;
    }
    return v;
  };
  const result = walk(raw, []) as T;
  if (missing.length > 0) {
    const lines = missing.map(
      (m) => `Missing environment variable "${m.name}" referenced at config path ${m.path || "(root)"}: export ${m.name}=<value> before running, or write the value into the config`,
    );
    throw new WorkspaceSyncError("CONFIG_MISSING_ENV", lines.join("\n"), { path: missing[0]!.path });
  }
  return result;
}
