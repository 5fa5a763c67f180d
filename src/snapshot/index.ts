/**
 * What a snapshot is called: its file name (time, sequence, encryption) and the sidecar files beside
 * it. The backup room writes these names and the retention room reads them; both import them from here.
 */
export { formatSnapshotName, parseSnapshotName, compareNewestFirst, type SnapshotInfo } from "./name.js";
export { CHECKSUM_SUFFIX, MAC_SUFFIX, SIDECAR_SUFFIXES } from "./sidecars.js";
