/**
 * A JSON5 reader for config files (OpenClaw's `openclaw.json` is JSON5): comments, unquoted
 * (identifier) keys, single-quoted strings, trailing commas, hex numbers, `+`/leading or trailing
 * decimal points, `Infinity`/`NaN`, the extra string escapes and line continuations. Every JSON
 * text reads exactly as `JSON.parse` reads it. Errors give an offset, line, column and a reason that
 * never shows the text (a config may hold secrets): a character is named by class (a letter, a
 * digit, a quote...), only the syntax characters `{ } [ ] : ,` are quoted.
 *
 * Written here rather than taken from the `json5` package, whose errors quote the character they
 * stop at (the first letter of a secret written without quotes); it follows the JSON5 1.0 grammar
 * except `\u` escapes inside unquoted keys (refused with a clear reason: quote such a key).
 */
import { setOwn } from "./env.js";

/** Where and why a text is not valid JSON5. */
export interface Json5SyntaxError {
  offset: number;
  /** 1-based. */
  line: number;
  /** 1-based, in UTF-16 code units. */
  column: number;
  reason: string;
}

/** The outcome of {@link parseJson5}: the value, or the first syntax error. */
export type Json5Result = { ok: true; value: unknown } | { ok: false; error: Json5SyntaxError };

class Fail extends Error {
  constructor(
    readonly offset: number,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Deeper nesting than this is refused rather than risking the call stack. */
const MAX_DEPTH = 512;
const LINE_TERMINATORS = "\n\r\u2028\u2029";
const ID_START = /[\p{L}\p{Nl}$_]/u;
const ID_PART = /[\p{L}\p{Nl}$_\p{Mn}\p{Mc}\p{Nd}\p{Pc}\u200C\u200D]/u;
const SINGLE_ESCAPES: Record<string, string> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "'": "'", '"': '"', "\\": "\\", "/": "/" };

/**
 * Number tokens, matched in place (sticky, from `lastIndex`) on the whole text: a number may be any
 * length, as `JSON.parse` reads it, so no look-ahead window is cut out of the text.
 */
const HEX_NUMBER = /0[xX][0-9a-fA-F]+/y;
const DECIMAL_NUMBER = /(?:(?:0|[1-9]\d*)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/y;
/** JSON5 syntax characters: quoting one of these in a message shows no content. */
const SYNTAX_CHARACTERS = new Set(["{", "}", "[", "]", ":", ","]);

/**
 * A character of the text as messages show it: syntax characters quoted, anything else only by its
 * class, since it may be the first character of an unquoted secret.
 */
function characterClass(c: string): string {
  if (SYNTAX_CHARACTERS.has(c)) return JSON.stringify(c);
  if (/\p{L}/u.test(c)) return "(a letter)";
  if (/\p{Nd}/u.test(c)) return "(a digit)";
  if (c === '"' || c === "'" || c === "`") return "(a quote)";
  if (LINE_TERMINATORS.includes(c)) return "(a line break)";
  if (/\s/.test(c)) return "(a space)";
  return "(a symbol)";
}

/** 1-based line and column of `offset`; `\r\n`, `\r`, `\n`, U+2028 and U+2029 each end a line (JSON5). */
function position(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let k = 0; k < offset; k++) {
    const c = text[k]!;
    if (!LINE_TERMINATORS.includes(c)) continue;
    if (c === "\r" && text[k + 1] === "\n") {
      if (k + 1 >= offset) break; // the offset is on the \n of a \r\n: still that line's end
      k++;
    }
    line++;
    lineStart = k + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** Parses `text` as JSON5 (a leading BOM is skipped). Never throws for bad input. */
export function parseJson5(text: string): Json5Result {
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const describe = (at: number) => (at >= text.length ? "end of file" : `character ${characterClass(String.fromCodePoint(text.codePointAt(at)!))}`);
  const fail = (reason: string, at = i): never => {
    throw new Fail(at, reason);
  };

  /** Skips whitespace (JSON5 allows every Unicode space) and comments. */
  const ws = () => {
    for (;;) {
      const c = text[i];
      if (c === undefined) return;
      if (/\s/.test(c)) i++;
      else if (c === "/" && text[i + 1] === "/") {
        i += 2;
        while (i < text.length && !LINE_TERMINATORS.includes(text[i]!)) i++;
      } else if (c === "/" && text[i + 1] === "*") {
        const end = text.indexOf("*/", i + 2);
        if (end < 0) fail("unterminated /* comment");
        i = end + 2;
      } else return;
    }
  };

  const value = (depth: number): unknown => {
    ws();
    const c = text[i];
    if (c === "{") return object(depth + 1);
    if (c === "[") return array(depth + 1);
    if (c === '"' || c === "'") return string();
    if (c !== undefined && /[-+.0-9IN]/.test(c)) return number();
    for (const [lit, v] of [["true", true], ["false", false], ["null", null]] as const) {
      if (text.startsWith(lit, i) && !isIdPart(i + lit.length)) {
        i += lit.length;
        return v;
      }
    }
    return fail(`unexpected ${describe(i)}, expected a value`);
  };

  const isIdPart = (at: number) => at < text.length && ID_PART.test(String.fromCodePoint(text.codePointAt(at)!));

  const object = (depth: number): Record<string, unknown> => {
    if (depth > MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels`);
    i++;
    const out: Record<string, unknown> = {};
    for (;;) {
      ws();
      if (text[i] === "}") {
        i++;
        return out;
      }
      const key = text[i] === '"' || text[i] === "'" ? string() : identifier();
      ws();
      if (text[i] !== ":") fail(`unexpected ${describe(i)}, expected ":" after the key`);
      i++;
      // An own property even for "__proto__", as JSON.parse makes it; a repeated key: the last wins.
      setOwn(out, key, value(depth));
      afterItem("}");
    }
  };

  /** After an item of an object or list: a comma (a trailing one too), or the closing `close` next. */
  const afterItem = (close: "}" | "]"): void => {
    ws();
    if (text[i] === ",") i++;
    else if (text[i] !== close) fail(`unexpected ${describe(i)}, expected "," or "${close}"`);
  };

  const array = (depth: number): unknown[] => {
    if (depth > MAX_DEPTH) fail(`nested deeper than ${MAX_DEPTH} levels`);
    i++;
    const out: unknown[] = [];
    for (;;) {
      ws();
      if (text[i] === "]") {
        i++;
        return out;
      }
      out.push(value(depth));
      afterItem("]");
    }
  };

  const identifier = (): string => {
    const start = i;
    const first = text.codePointAt(i);
    if (text[i] === "\\") fail("escapes in unquoted keys are not supported: quote the key");
    if (first === undefined || !ID_START.test(String.fromCodePoint(first))) {
      fail(`unexpected ${describe(i)}, expected a key (a name or a quoted string)`);
    }
    i += first! > 0xffff ? 2 : 1;
    while (isIdPart(i)) i += text.codePointAt(i)! > 0xffff ? 2 : 1;
    if (text[i] === "\\") fail("escapes in unquoted keys are not supported: quote the key");
    return text.slice(start, i);
  };

  const hex = (at: number, n: number): number => {
    const digits = text.slice(at, at + n);
    if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(digits)) fail(n === 2 ? "bad \\x escape in a string" : "bad \\u escape in a string", at - 2);
    return parseInt(digits, 16);
  };

  const string = (): string => {
    const quote = text[i]!;
    i++;
    let out = "";
    for (;;) {
      if (i >= text.length) fail("unterminated string");
      const c = text[i]!;
      if (c === quote) {
        i++;
        return out;
      }
      if (c === "\n" || c === "\r") fail("line break inside a string (end the line with \\ to continue it)");
      if (c !== "\\") {
        out += c;
        i++;
        continue;
      }
      const e = text[i + 1];
      if (e === undefined) fail("unterminated string");
      if (e === "\r") {
        i += text[i + 2] === "\n" ? 3 : 2;
      } else if (e === "\n" || e === "\u2028" || e === "\u2029") {
        i += 2;
      } else if (e === "u") {
        out += String.fromCharCode(hex(i + 2, 4));
        i += 6;
      } else if (e === "x") {
        out += String.fromCharCode(hex(i + 2, 2));
        i += 4;
      } else if (e === "0") {
        if (/[0-9]/.test(text[i + 2] ?? "")) fail("bad escape in a string (\\0 followed by a digit)");
        out += "\0";
        i += 2;
      } else if (/[1-9]/.test(e)) {
        fail("bad escape in a string (a digit)");
      } else {
        out += Object.hasOwn(SINGLE_ESCAPES, e) ? SINGLE_ESCAPES[e]! : e;
        i += 2;
      }
    }
  };

  const number = (): number => {
    const start = i;
    let sign = 1;
    if (text[i] === "+" || text[i] === "-") {
      if (text[i] === "-") sign = -1;
      i++;
    }
    for (const [word, v] of [["Infinity", Infinity], ["NaN", NaN]] as const) {
      if (text.startsWith(word, i) && !isIdPart(i + word.length)) {
        i += word.length;
        return sign * v;
      }
    }
    HEX_NUMBER.lastIndex = i;
    const hexNum = HEX_NUMBER.exec(text);
    if (hexNum) {
      i += hexNum[0].length;
      if (isIdPart(i)) fail("malformed number", start);
      return sign * parseInt(hexNum[0].slice(2), 16);
    }
    DECIMAL_NUMBER.lastIndex = i;
    const dec = DECIMAL_NUMBER.exec(text);
    if (!dec) return fail(text[i] === "I" || text[i] === "N" ? `unexpected ${describe(i)}, expected a value` : "malformed number", start);
    i += dec[0].length;
    if (isIdPart(i) || text[i] === ".") fail("malformed number", start);
    return sign * Number(dec[0]);
  };

  try {
    const result = value(0);
    ws();
    if (i < text.length) fail(`unexpected ${describe(i)} after the end of the value`);
    return { ok: true, value: result };
  } catch (err) {
    if (!(err instanceof Fail)) throw err;
    const { line, column } = position(text, err.offset);
    return { ok: false, error: { offset: err.offset, line, column, reason: err.reason } };
  }
}
