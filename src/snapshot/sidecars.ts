/**
 * The sidecar files stored beside a snapshot, named `<snapshot><suffix>`: the checksum (or name
 * claim) file and the MAC file. Backup writes them (backup/checksum.ts, backup/auth-file.ts), restore
 * and verify read them, and pruning deletes them with their snapshot.
 */

/** Suffix of checksum files (`<snapshot>.sha256`, `sha256sum` format; see backup/checksum.ts). */
export const CHECKSUM_SUFFIX = ".sha256";

/** Suffix of MAC files (`<snapshot>.mac`; see backup/auth-file.ts). */
export const MAC_SUFFIX = ".mac";

/**
 * Suffixes of every sidecar deleted together with its snapshot: the checksum (or name claim) and
 * the MAC file. Pruning deletes them after their snapshot, so a failure half-way never leaves a
 * snapshot without its MAC file (which restores would refuse).
 */
export const SIDECAR_SUFFIXES: readonly string[] = [CHECKSUM_SUFFIX, MAC_SUFFIX];
