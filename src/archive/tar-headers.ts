/**
 * Header fix-ups for tar-stream's reader, applied to every entry before extract and check see it:
 *
 * - pax `mtime` records (GNU tar's and ours, for times before 1970 and after 2038, or with a
 *   fraction) replace the header's time field; tar-stream applies only `path`, `linkpath` and `size`.
 * - Negative base-256 numbers (GNU tar's default format for times before 1970): tar-stream 3.2
 *   decodes them one too high (it negates the one's complement instead of the two's complement, so
 *   1960-01-01 comes back as -315619199 instead of -315619200). Its header decoder is wrapped once,
 *   only if a probe shows the bug, so a fixed tar-stream is left alone.
 * - Names and link targets that are not valid UTF-8 (GNU tar stores Latin-1 names as they are, in
 *   the header, a GNU long-name entry or a pax record): tar-stream turns each invalid byte into
 *   U+FFFD, so `caf\xe9` and `caf\xe8` would both become `caf\ufffd`, one replacing the other. Such
 *   a name is decoded to {@link RAW_NAME_MARK} followed by its bytes with `\x` escapes instead,
 *   which no valid name decodes to, so the reader can refuse it ({@link hasRawName}).
 * - GNU sparse files (type 'S', which tar-stream reports as type null): marked, so the reader can
 *   refuse them ({@link isGnuSparse}) rather than skip them or write their packed data as the file.
 */
import { createRequire } from "node:module";
import path from "node:path";
import type * as tar from "tar-stream";
import { displayName, isValidUtf8 } from "../util/utf8-names.js";

type Decode = (buf: Uint8Array, filenameEncoding?: string, allowUnknownFormat?: boolean) => tar.Header | null;
type DecodeLongPath = (buf: Uint8Array, encoding?: string) => string;
type DecodePax = (buf: Uint8Array) => Record<string, string>;

/**
 * Starts a name decoded from bytes that are not valid UTF-8: a lone low surrogate, which decoding
 * bytes as UTF-8 never yields.
 */
export const RAW_NAME_MARK = "\udcff";

/** True when `name` was decoded from bytes that are not valid UTF-8 (see {@link RAW_NAME_MARK}). */
export function hasRawName(name: string | null | undefined): boolean {
  return name?.includes(RAW_NAME_MARK) ?? false;
}

/** A name for messages: a raw name's bytes with `\x` escapes, without the mark. */
export function shownName(name: string): string {
  return name.split(RAW_NAME_MARK).join("");
}

/** A header with the marks the wrapped decoder adds. */
type MarkedHeader = tar.Header & { gnuSparse?: boolean; pax?: Record<string, string> | null };

/**
 * True for a GNU sparse file: type 'S' (gnu and oldgnu formats), or `GNU.sparse.*` pax records
 * (posix format, whose entry name is then `GNUSparseFile.NNNN/<name>` and holds the sparse map).
 */
export function isGnuSparse(h: tar.Header): boolean {
  const m = h as MarkedHeader;
  return m.gnuSparse === true || Object.keys(m.pax ?? {}).some((k) => k.startsWith("GNU.sparse."));
}

/** `bytes` up to the first NUL. */
function field(bytes: Uint8Array, start = 0, end = bytes.length): Buffer {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset + start, end - start);
  const nul = b.indexOf(0);
  return nul < 0 ? b : b.subarray(0, nul);
}

/** The marked form of `bytes` when they are not valid UTF-8, else undefined. */
function rawName(bytes: Buffer): string | undefined {
  return isValidUtf8(bytes) ? undefined : RAW_NAME_MARK + displayName(bytes);
}

const PAX_NAME_KEYS = new Set(["path", "linkpath", "GNU.sparse.name"]);

/** The pax records of `buf` whose names are not valid UTF-8, marked (same parse as tar-stream's). */
function rawPaxNames(buf: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  let b = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  while (b.length > 0) {
    const space = b.indexOf(0x20);
    const len = parseInt(b.subarray(0, space < 0 ? b.length : space).toString("latin1"), 10);
    if (!len || space < 0) break;
    const record = b.subarray(space + 1, len - 1);
    const eq = record.indexOf(0x3d);
    if (eq < 0) break;
    const key = record.subarray(0, eq).toString("latin1");
    const marked = PAX_NAME_KEYS.has(key) ? rawName(record.subarray(eq + 1)) : undefined;
    if (marked !== undefined) out[key] = marked;
    b = b.subarray(len);
  }
  return out;
}

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
  const headers = require(path.join(path.dirname(require.resolve("tar-stream")), "headers.js")) as { decode?: Decode; decodeLongPath?: DecodeLongPath; decodePax?: DecodePax };
  installRawNames(headers);
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
 * Wraps tar-stream's decoders so that a name that is not valid UTF-8 and a GNU sparse header come out marked (see the
 * module comment).
 */
function installRawNames(headers: { decode?: Decode; decodeLongPath?: DecodeLongPath; decodePax?: DecodePax }): void {
  const { decode, decodeLongPath, decodePax } = headers;
  if (typeof decode !== "function" || typeof decodeLongPath !== "function" || typeof decodePax !== "function") return;
  headers.decode = function decodeRaw(buf, filenameEncoding, allowUnknownFormat) {
    const h = decode(buf, filenameEncoding, allowUnknownFormat);
    if (!h) return h;
    if (buf[156] === 0x53) (h as MarkedHeader).gnuSparse = true; // type 'S'
    const name = field(buf, 0, 100);
    // The ustar prefix field (tar-stream's own test: the "ustar\0" magic and a non-empty prefix).
    const ustar = Buffer.from(buf.buffer, buf.byteOffset + 257, 6).toString("latin1") === "ustar\0";
    const prefix = ustar && buf[345] ? field(buf, 345, 500) : undefined;
    const full = prefix ? Buffer.concat([prefix, Buffer.from("/"), name]) : name;
    const marked = rawName(full);
    if (marked !== undefined) h.name = marked;
    const link = buf[157] === 0 ? undefined : rawName(field(buf, 157, 257));
    if (link !== undefined) h.linkname = link;
    return h;
  };
  headers.decodeLongPath = function decodeLongPathRaw(buf, encoding) {
    return rawName(field(buf)) ?? decodeLongPath(buf, encoding);
  };
  headers.decodePax = function decodePaxRaw(buf) {
    return Object.assign(decodePax(buf), rawPaxNames(buf));
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
