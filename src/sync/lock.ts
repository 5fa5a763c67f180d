/** The run lock lives in `src/util/run-lock.ts` (backups use it too). */
export * from "../util/run-lock.js";
