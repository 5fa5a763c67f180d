/**
 * Config validation errors: every problem is reported at once, each naming its key path, what was
 * expected, what was found (never for secrets) and how to fix it.
 */
import { z } from "zod/v3";
import { WorkspaceSyncError, type ErrorCode } from "../errors.js";
import { holdsSecret, isSection, metaAt, schemaAt, unwrap } from "./schema.js";
import { formatPath, isSecretPath } from "./path.js";

/** One problem found in a config. */
export interface ConfigIssue {
  /** Key path as users write it, e.g. `backup.interval` or `sync.exclude[1]` (flat form: `interval`). */
  path: string;
  /** The full message, starting with the path. */
  message: string;
}

/**
 * A `CONFIG_INVALID` / `CONFIG_UNSUPPORTED` error carrying every issue found. `path` is the first
 * issue's path; the message lists them all, one per line.
 */
export class ConfigError extends WorkspaceSyncError {
  /** Every problem found, in config order. */
  readonly issues: readonly ConfigIssue[];
  /** Non-fatal findings collected before validation failed (unknown keys, ignored keys). */
  readonly warnings: readonly string[];

  constructor(code: ErrorCode, issues: ConfigIssue[], source?: string, warnings: readonly string[] = []) {
    const where = source ? ` in ${source}` : "";
    const title = code === "CONFIG_UNSUPPORTED" ? "Unsupported config" : "Invalid config";
    const message =
      issues.length === 1
        ? `${title}${where}: ${issues[0]!.message}`
        : `${title}${where} (${issues.length} problems):\n${issues.map((i) => `  - ${i.message}`).join("\n")}`;
    super(code, message, { path: issues[0]?.path });
    this.issues = issues;
    this.warnings = warnings;
  }
}

/** A short rendering of a value for messages; secrets are described by type only. */
export function showValue(value: unknown, secret: boolean): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (typeof value === "function") return "a function";
  // JSON.stringify writes NaN and ±Infinity (and 1e400, read as Infinity) as null.
  if (typeof value === "number" && !Number.isFinite(value) && !secret) return String(value);
  if (secret) {
    if (Array.isArray(value)) return "a list";
    return typeof value === "object" ? "an object" : typeof value === "boolean" ? "a boolean" : `a ${typeof value}`;
  }
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

/**
 * True when the value found for `issue` must be described by type only: it sits at or under a
 * secret key, or where a section (object or list) belongs (a block written as a string is often a
 * pasted token), or where the schema below holds a secret key. `schema` is the schema at the
 * issue's path, when known.
 */
export function hideFoundValue(issue: z.ZodIssue, schema: z.ZodTypeAny | undefined, fullPath: readonly PropertyKey[]): boolean {
  if (isSecretPath(fullPath)) return true;
  if (issue.code === "invalid_type" && (issue.expected === "object" || issue.expected === "array")) return true;
  return schema !== undefined && (isSection(schema) || holdsSecret(schema));
}

/** The value at `path` inside `root`, or undefined. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const key of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[key];
  }
  return v;
}

const TYPE_WORDS: Record<string, string> = {
  number: "a number",
  integer: "a whole number",
  string: "a string",
  boolean: "true or false",
  array: "a list",
  object: "an object",
};

const oneOf = (values: readonly unknown[]) => `expected one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;

/** What the issue says was expected; `schema` is the schema at the issue's path, when known. */
function derivedExpectation(issue: z.ZodIssue, schema: z.ZodTypeAny | undefined): string {
  switch (issue.code) {
    case "invalid_type": {
      // An enum refuses a non-string with invalid_type: name its values, as for a wrong string.
      const target = schema && unwrap(schema);
      if (target instanceof z.ZodEnum) return oneOf(target.options as readonly string[]);
      return `expected ${TYPE_WORDS[issue.expected] ?? issue.expected}`;
    }
    case "not_finite":
      return `expected ${TYPE_WORDS.number}`;
    case "too_small":
      if (issue.type === "string") return "expected a non-empty string";
      if (issue.type === "array") return `expected at least ${String(issue.minimum)} item(s)`;
      return `expected a number ${issue.inclusive ? ">=" : ">"} ${String(issue.minimum)}`;
    case "too_big":
      if (issue.type === "array") return `expected at most ${String(issue.maximum)} item(s)`;
      return `expected a number ${issue.inclusive ? "<=" : "<"} ${String(issue.maximum)}`;
    case "invalid_enum_value":
      return oneOf(issue.options);
    case "invalid_string":
      return issue.validation === "regex" ? 'expected a duration such as "30d", "12h" or "1y6m"' : `expected a ${String(issue.validation)}`;
    default:
      return "invalid value";
  }
}

/**
 * Unfolds union errors into the branch that matched the input's shape, so messages point at the real
 * key. Issue paths inside a union's errors are already full paths.
 */
function flatten(issue: z.ZodIssue): z.ZodIssue[] {
  if (issue.code === "invalid_union" && issue.unionErrors.length > 0) {
    const depth = issue.path.length;
    const branch = issue.unionErrors.find((err) => !err.issues.every((e) => e.code === "invalid_type" && e.path.length === depth));
    if (branch) return branch.issues.flatMap(flatten);
  }
  return [issue];
}

/** An issue after which zod stops checking that value: a non-finite number, or a fraction where a whole number goes. */
const stopsChecks = (issue: z.ZodIssue) =>
  issue.code === "not_finite" || (issue.code === "invalid_type" && issue.expected === "integer");

/**
 * Drops the issues that follow a {@link stopsChecks} issue for the same value (zod's v3 API runs
 * every number check; one message per bad number is enough).
 */
function firstOfStopped(issues: readonly z.ZodIssue[]): z.ZodIssue[] {
  const stopped = new Set<string>();
  return issues.filter((issue) => {
    const key = JSON.stringify(issue.path);
    if (stopped.has(key)) return false;
    if (stopsChecks(issue)) stopped.add(key);
    return true;
  });
}

/**
 * Turns zod issues for one config section into {@link ConfigIssue}s.
 * @param schema the section schema the issues came from
 * @param input the raw section value (to show what was found)
 * @param prefix the section's path in the config file (`["backup"]`, `["sync"]` or `[]` for the flat form)
 */
export function formatIssues(
  issues: readonly z.ZodIssue[],
  schema: z.ZodTypeAny,
  input: unknown,
  prefix: readonly PropertyKey[],
): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of firstOfStopped(issues.flatMap(flatten))) {
    const fullPath = [...prefix, ...issue.path];
    const path = formatPath(fullPath) || "(root)";
    const { meta, exact } = metaAt(schema, issue.path);
    const fix = meta?.fix ? ` — ${meta.fix}` : "";
    const value = valueAt(input, issue.path);
    let message: string;
    if (issue.code === "unrecognized_keys") {
      const keys = issue.keys.map((k) => `"${k}"`).join(", ");
      message = `${path}: unknown key${issue.keys.length > 1 ? "s" : ""} ${keys}${fix}`;
    } else if (value === undefined && issue.code === "invalid_type") {
      message = `${path}: is required${meta?.expect && exact ? ` (${meta.expect})` : ""}${fix}`;
    } else {
      const at = schemaAt(schema, issue.path);
      const expectation = exact && meta?.expect ? `expected ${meta.expect}` : derivedExpectation(issue, at);
      message = `${path}: ${expectation}, got ${showValue(value, hideFoundValue(issue, at, fullPath))}${fix}`;
    }
    out.push({ path, message });
  }
  return out;
}
