/**
 * The `<snapshot>.sha256` file stored beside each snapshot: the SHA-256 of the stored bytes in
 * `sha256sum` format, so `sha256sum -c` can check a downloaded snapshot too. CBC has no
 * authentication; this is what catches a flipped bit that gzip's CRC might not. Pure functions.
 */

/** Suffix of checksum files. */
export const CHECKSUM_SUFFIX = ".sha256";

/** Name of the checksum file of `snapshotName`. */
export function checksumFileName(snapshotName: string): string {
  return `${snapshotName}${CHECKSUM_SUFFIX}`;
}

/** Content of a checksum file. */
export function formatChecksumFile(sha256Hex: string, snapshotName: string): string {
  return `${sha256Hex}  ${snapshotName}\n`;
}

/** The hex digest in a checksum file, or `undefined` when it is not one. */
export function parseChecksumFile(text: string): string | undefined {
  const m = /^([0-9a-f]{64})\s/i.exec(text.trim() + " ");
  return m ? (m[1] as string).toLowerCase() : undefined;
}
