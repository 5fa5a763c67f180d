/**
 * Header fix-ups for tar-stream's reader, applied to every entry before extract and check see it:
 *
 * - pax `mtime` records (GNU tar's and ours, for times before 1970 and after 2038, or with a
 *   fraction) replace the header's time field; tar-stream applies only `path`, `linkpath` and `size`.
 * - Negative base-256 numbers (GNU tar's default format for times before 1970): tar-stream 3.2
 *   decodes them one too high (it negates the one's complement instead of the two's complement, so
 *   1960-01-01 comes back as -315619199 instead of -315619200). Its header decoder is wrapped once,
 *   only if a probe shows the bug, so a fixed tar-stream is left alone.
 */
import { createRequire } from "node:module";
import path from "node:path";
import type * as tar from "tar-stream";

type Decode = (buf: Uint8Array, filenameEncoding?: string, allowUnknownFormat?: boolean) => tar.Header | null;

/** The value of a base-256 (GNU) numeric field: big-endian two's complement after the marker byte. */
export function decodeBase256(field: Uint8Array): number {
  const negative = field[0] === 0xff;
  let value = 0n;
  for (let i = 1; i < field.length; i++) value = (value << 8n) | BigInt(field[i]!);
  if (negative) value -= 1n << BigInt(8 * (field.length - 1));
  return Number(value);
}

/** A ustar header block with `mtimeField` (12 bytes) as its time and a valid checksum. */
function probeHeader(mtimeField: Uint8Array): Buffer {
  const buf = Buffer.alloc(512);
  buf.write("probe", 0);
  buf.write("0000644\0", 100);
  buf.write("0000000\0", 108);
  buf.write("0000000\0", 116);
  buf.write("00000000000\0", 124);
  Buffer.from(mtimeField).copy(buf, 136);
  buf[156] = 0x30;
  buf.write("ustar\x0000", 257, "latin1");
  buf.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of buf) sum += b;
  buf.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return buf;
}

let installed = false;

/** Wraps tar-stream's header decoder when it mis-decodes negative base-256 times (once per process). */
export function installTarStreamFixes(): void {
  if (installed) return;
  installed = true;
  const require = createRequire(import.meta.url);
  // The module tar-stream's extract uses (its package exports do not list it, so by file path).
  const headers = require(path.join(path.dirname(require.resolve("tar-stream")), "headers.js")) as { decode?: Decode };
  const original = headers.decode;
  if (typeof original !== "function") return;
  const minusOne = new Uint8Array(12).fill(0xff);
  let probe: tar.Header | null = null;
  try {
    probe = original(probeHeader(minusOne), "utf-8", true);
  } catch {
    return;
  }
  if (!probe || probe.mtime?.getTime() === -1000) return; // decoded right: nothing to fix
  headers.decode = function decode(buf, filenameEncoding, allowUnknownFormat) {
    const h = original(buf, filenameEncoding, allowUnknownFormat);
    if (h && buf[136] === 0xff) h.mtime = new Date(decodeBase256(buf.subarray(136, 148)) * 1000);
    return h;
  };
}

/**
 * Parses a pax time (`-315619200`, `1700000000.123456789`) to whole milliseconds (floored), or
 * `undefined` when it is not a decimal number.
 */
export function parsePaxTime(value: string): number | undefined {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(value.trim());
  if (!m) return undefined;
  const frac = (m[3] ?? "").slice(0, 3).padEnd(3, "0");
  const abs = Number(m[2]) * 1000 + Number(frac);
  const rest = (m[3] ?? "").slice(3).replace(/0/g, "") !== "";
  // Floor toward minus infinity: a negative time with sub-millisecond digits is one ms earlier.
  const ms = m[1] === "-" ? -abs - (rest ? 1 : 0) : abs;
  return Number.isFinite(ms) ? ms : undefined;
}

/** Applies what tar-stream leaves out of a header (see the module comment). */
export function applyPaxTimes(h: tar.Header): void {
  const pax = (h as tar.Header & { pax?: Record<string, string> | null }).pax;
  const mtime = pax?.mtime !== undefined ? parsePaxTime(pax.mtime) : undefined;
  if (mtime !== undefined) h.mtime = new Date(mtime);
}
