/**
 * Worker thread of {@link SmallFileWriter} (small-file-writer.ts), when the extraction has no
 * helper thread of its own to write on: serves the writer's batches (small-file-serve.ts).
 */
import { workerData, type MessagePort } from "node:worker_threads";
import { serveSmallFiles } from "./small-file-serve.js";
import type { SmallFileShared } from "./small-file-writer.js";

const { port, ...shared } = workerData as SmallFileShared & { port: MessagePort };
serveSmallFiles(port, shared);
