/**
 * The member index in our gzip headers, the BGZF idea (samtools/htslib): every gzip member that
 * {@link parallelGzip} writes carries its own total size in an RFC 1952 FEXTRA subfield, so a
 * reader can cut the stream into members without inflating it and inflate them in parallel.
 * Every gzip reader skips extra subfields it does not know (`gzip -t`, `gunzip`, GNU tar, zlib),
 * so the stream stays a plain multi-member gzip file.
 *
 * Layout of an indexed member header (20 bytes, all integers little-endian):
 *
 * ```
 * offset  size  value
 *      0     2  1f 8b          gzip magic
 *      2     1  08             CM = deflate
 *      3     1  04             FLG = FEXTRA (no name, comment or header CRC)
 *      4     4  MTIME          as zlib writes it (0)
 *      8     1  XFL            as zlib writes it
 *      9     1  OS             as zlib writes it (3, Unix)
 *     10     2  XLEN = 8       length of the extra field
 *     12     1  SI1 = 0x57 'W' subfield id "WS" (workspace-sync)
 *     13     1  SI2 = 0x53 'S'
 *     14     2  LEN = 4        subfield data length
 *     16     4  MSIZE          bytes of this whole member, header to trailer inclusive
 * ```
 *
 * followed by the deflate data and the usual 8-byte trailer (CRC-32, ISIZE). A reader finds the
 * "WS" subfield among any others in the extra field. Members are at most {@link MAX_INDEXED_MEMBER}
 * bytes and inflate to at most {@link MAX_INDEXED_ISIZE} bytes; a writer does not index bigger
 * ones, and a reader treats a bigger (or otherwise impossible) size as no index.
 *
 * The index is a hint, never trusted: a reader must check that each member it cut inflates to
 * exactly its bytes (see `parallel-gunzip.ts`), and fall back to inflating the stream in order.
 */

/** gzip magic, method and flag bits used here. */
const ID1 = 0x1f;
const ID2 = 0x8b;
const CM_DEFLATE = 8;
const FEXTRA = 0x04;
/** FTEXT, FHCRC, FEXTRA, FNAME, FCOMMENT; the other three bits are reserved (must be zero). */
const FLG_RESERVED = 0xe0;

/** Subfield id of the member size: "WS" (workspace-sync). */
export const INDEX_SUBFIELD_ID = Buffer.from("WS", "latin1");
/** Length of the subfield's data: MSIZE, a 32-bit little-endian integer. */
export const INDEX_SUBFIELD_LENGTH = 4;
/** Bytes the extra field (XLEN + subfield) adds to zlib's 10-byte header. */
export const INDEX_EXTRA_BYTES = 2 + 4 + INDEX_SUBFIELD_LENGTH;
/** Fixed gzip header without optional fields. */
export const GZIP_BASE_HEADER = 10;
/** Fixed gzip trailer: CRC-32 and ISIZE. */
export const GZIP_TRAILER = 8;

/**
 * Largest member (compressed) a writer indexes and a reader accepts: 4 MiB of data plus room for
 * stored-block overhead. Bounds what a reader buffers per member, whatever the header says.
 */
export const MAX_INDEXED_MEMBER = 4 * 1024 * 1024 + 64 * 1024;
/** Largest uncompressed size (ISIZE) of an indexed member a reader inflates in one piece. */
export const MAX_INDEXED_ISIZE = 4 * 1024 * 1024;

/**
 * Rewrites zlib's 10-byte gzip header (`head`, which must start a member zlib wrote with no
 * optional fields) into an indexed header for a member of `memberBytes` bytes as zlib wrote it.
 * Returns the new 20-byte header, or `undefined` when the member cannot be indexed (header not
 * as expected, or the indexed member would exceed {@link MAX_INDEXED_MEMBER}); the caller then
 * writes the member unchanged.
 */
export function indexedHeader(head: Uint8Array, memberBytes: number): Buffer | undefined {
  if (head.length < GZIP_BASE_HEADER || head[0] !== ID1 || head[1] !== ID2 || head[2] !== CM_DEFLATE || head[3] !== 0) return undefined;
  const total = memberBytes + INDEX_EXTRA_BYTES;
  if (total > MAX_INDEXED_MEMBER) return undefined;
  const out = Buffer.allocUnsafe(GZIP_BASE_HEADER + INDEX_EXTRA_BYTES);
  out.set(head.subarray(0, GZIP_BASE_HEADER), 0);
  out[3] = FEXTRA;
  out.writeUInt16LE(4 + INDEX_SUBFIELD_LENGTH, 10);
  out.set(INDEX_SUBFIELD_ID, 12);
  out.writeUInt16LE(INDEX_SUBFIELD_LENGTH, 14);
  out.writeUInt32LE(total, 16);
  return out;
}

/** What the start of a member says, see {@link readMemberHeader}. */
export type MemberHeader =
  /** More bytes are needed to tell (at least `need` from the member's start). */
  | { kind: "more"; need: number }
  /** The bytes do not start a gzip member (first byte is not 1f). */
  | { kind: "not-gzip" }
  /** A gzip member (or something only gunzip can judge) without a usable index. */
  | { kind: "unindexed" }
  /** An indexed member of `size` bytes (within the limits; still to be checked by inflating it). */
  | { kind: "indexed"; size: number };

/**
 * Reads the index of the member starting at `buf[0]`, if it has one. Pure and total: never throws,
 * whatever the bytes. `end` says that no more bytes will come after `buf`.
 */
export function readMemberHeader(buf: Uint8Array, end = false): MemberHeader {
  const more = (need: number): MemberHeader => (end ? { kind: "unindexed" } : { kind: "more", need });
  if (buf.length < 1) return more(1);
  if (buf[0] !== ID1) return { kind: "not-gzip" };
  if (buf.length < GZIP_BASE_HEADER + 2) return more(GZIP_BASE_HEADER + 2);
  const flg = buf[3] as number;
  if (buf[1] !== ID2 || buf[2] !== CM_DEFLATE || (flg & FLG_RESERVED) !== 0 || (flg & FEXTRA) === 0) return { kind: "unindexed" };
  const xlen = (buf[10] as number) | ((buf[11] as number) << 8);
  const extraEnd = GZIP_BASE_HEADER + 2 + xlen;
  if (buf.length < extraEnd) return more(extraEnd);
  let size: number | undefined;
  let off = GZIP_BASE_HEADER + 2;
  while (off + 4 <= extraEnd) {
    const len = (buf[off + 2] as number) | ((buf[off + 3] as number) << 8);
    const dataEnd = off + 4 + len;
    if (dataEnd > extraEnd) return { kind: "unindexed" }; // a subfield overruns the extra field
    if (buf[off] === INDEX_SUBFIELD_ID[0] && buf[off + 1] === INDEX_SUBFIELD_ID[1]) {
      if (len !== INDEX_SUBFIELD_LENGTH || size !== undefined) return { kind: "unindexed" };
      size = ((buf[off + 4] as number) | ((buf[off + 5] as number) << 8) | ((buf[off + 6] as number) << 16)) + (buf[off + 7] as number) * 0x1000000;
    }
    off = dataEnd;
  }
  if (size === undefined) return { kind: "unindexed" };
  // The smallest possible member: this header, two bytes of deflate (an empty final block), trailer.
  if (size < extraEnd + 2 + GZIP_TRAILER || size > MAX_INDEXED_MEMBER) return { kind: "unindexed" };
  return { kind: "indexed", size };
}

/** ISIZE of a complete member (its last four bytes): the uncompressed size modulo 2^32, as claimed. */
export function memberIsize(member: Uint8Array): number {
  const n = member.length;
  if (n < GZIP_TRAILER) return 0;
  return ((member[n - 4] as number) | ((member[n - 3] as number) << 8) | ((member[n - 2] as number) << 16)) + (member[n - 1] as number) * 0x1000000;
}
