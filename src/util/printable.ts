/**
 * Names from outside (a storage listing) as they may be shown in a log line or on a terminal:
 * control characters (a line break would forge a line, an escape sequence would drive the
 * terminal) and the marks that reorder text (bidirectional overrides) written as `\u{…}` escapes.
 * Every other character stays as it is. Pure.
 */

// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** `name` with its control and text-direction characters escaped as `\u{hex}`. */
export function printableName(name: string): string {
  return name.replace(UNPRINTABLE, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16)}}`);
}

/** The first `max` of `items` for a log line, comma-separated, with how many more there are. */
export function shortList(items: readonly string[], max: number): string {
  const more = items.length > max ? ` and ${items.length - max} more` : "";
  return `${items.slice(0, max).join(", ")}${more}`;
}
