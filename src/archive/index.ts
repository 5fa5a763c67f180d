/**
 * The archive layer: what a backup holds (include set, excludes, walk), writing it as a `.tar.gz`
 * stream (tar-stream + parallel gzip) and extracting one safely.
 */
export { includeItemPath, resolveIncludeSources, type IncludeRoots, type IncludeSource } from "./include-set.js";
export { createExcludeMatcher, normaliseExcludePattern, type ExcludeMatcher } from "./exclude.js";
export {
  type ArchiveEntry,
  type DirectoryEntry,
  type FileEntry,
  type HardLinkEntry,
  type SymlinkEntry,
  TAR_END_BYTES,
  padToBlock,
  tarEntryBytesUpperBound,
} from "./entry.js";
export { walkIncludeSet, walkSources, type WalkOptions, type WalkResult, type WalkSourcesOptions } from "./walk.js";
export { chooseBlockLevel, gzipBytesUpperBound, parallelGzip, type ParallelGzipOptions } from "./parallel-gzip.js";
export { DEFAULT_GUNZIP_CONCURRENCY, GzipTrailingDataError, parallelGunzip, type ParallelGunzipOptions, type SequentialReason } from "./parallel-gunzip.js";
export { INDEX_SUBFIELD_ID, MAX_INDEXED_ISIZE, MAX_INDEXED_MEMBER, readMemberHeader, type MemberHeader } from "./bgzf-index.js";
export { createArchiveStream, type ArchiveStreamOptions } from "./pack.js";
export { extractArchive, type ExtractOptions, type ExtractResult } from "./extract.js";
export { checkArchive, type CheckResult } from "./check.js";
export { SymlinkGuard, safeEntryName } from "./safe-path.js";
