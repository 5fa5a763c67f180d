/**
 * The `<snapshot>.sha256` file stored beside each snapshot: the SHA-256 of the stored bytes in
 * `sha256sum` format, so `sha256sum -c` can check a downloaded snapshot too. CBC has no
 * authentication; this is what catches a flipped bit that gzip's CRC might not. Pure functions.
 */
import { CHECKSUM_SUFFIX } from "../snapshot/index.js";

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

/**
 * Content of a checksum file while its snapshot is being uploaded: the backup claims the snapshot
 * name by creating this file create-only before the upload starts, so two writers on one folder
 * never pick the same name (the loser moves on to the next suffix). Replaced by the real checksum
 * once the snapshot is complete. `sha256sum -c` reports it as not a checksum line.
 */
export function formatChecksumClaim(claimId: string, since: Date): string {
  return `# workspace-sync: name claimed by a backup in progress (claim ${claimId}, since ${since.toISOString()})\n`;
}

/** The claim in a checksum file written by {@link formatChecksumClaim}, or `undefined` when it is not one. */
export function parseChecksumClaim(text: string): { claimId: string; since: Date } | undefined {
  const m = /^# workspace-sync: name claimed by a backup in progress \(claim ([0-9a-f]{16,64}), since (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)\)\n?$/.exec(text);
  if (!m) return undefined;
  const since = new Date(m[2] as string);
  return Number.isNaN(since.getTime()) ? undefined : { claimId: m[1] as string, since };
}
