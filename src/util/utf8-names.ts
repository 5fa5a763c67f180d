/**
 * File names that are not valid UTF-8. Node decodes such names lossily (invalid bytes become
 * U+FFFD), so the decoded name names no file: a walk must notice them and say so. Only folders
 * holding a name with U+FFFD are read a second time, as raw bytes.
 */
import fs from "node:fs";

/** Why a name that is not valid UTF-8 is left out (backup and sync say it the same way). */
export const NON_UTF8_REASON = "the name is not valid UTF-8 (shown with \\x escapes); Node cannot open it by name: rename it to back it up or sync it";

/** True when `bytes` is valid UTF-8 (decoding and encoding again gives the same bytes). */
export function isValidUtf8(bytes: Buffer): boolean {
  return Buffer.from(bytes.toString("utf8"), "utf8").equals(bytes);
}

/** The name for messages: valid UTF-8 sequences as text, every other byte as `\xNN`. */
export function displayName(bytes: Buffer): string {
  let out = "";
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    const len = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    const seq = len > 0 ? bytes.subarray(i, i + len) : undefined;
    if (seq && seq.length === len && isValidUtf8(seq)) {
      out += seq.toString("utf8");
      i += len;
    } else {
      out += `\\x${b.toString(16).padStart(2, "0")}`;
      i++;
    }
  }
  return out;
}

/**
 * For a folder whose (lossily decoded) listing holds names with U+FFFD: the names that are not
 * valid UTF-8, for messages, and a test telling a decoded name that exists as written (a real
 * U+FFFD in a valid name) from one that stands for invalid bytes.
 */
export function nonUtf8Names(dir: string): { invalid: string[]; exists: (decoded: string) => boolean } {
  const raw = fs.readdirSync(dir, { encoding: "buffer" });
  const valid = new Set<string>();
  const invalid: string[] = [];
  for (const r of raw) {
    if (isValidUtf8(r)) valid.add(r.toString("utf8"));
    else invalid.push(displayName(r));
  }
  return { invalid: invalid.sort(), exists: (decoded) => !decoded.includes("\uFFFD") || valid.has(decoded) };
}
