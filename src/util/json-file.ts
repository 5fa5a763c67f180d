/**
 * Small JSON state files, written atomically (temp file + fsync + rename) so a crash leaves either
 * the old or the new content, never half of one.
 */
import { promises as fsp } from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";

/** Reads a JSON file; `undefined` when it does not exist or does not parse. */
export async function readJsonFile<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

/** Writes `value` as JSON to `file` atomically, creating the folder. */
export async function writeJsonFileAtomic(file: string, value: unknown): Promise<void> {
  await fsp.mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString("hex")}.tmp`;
  const fh = await fsp.open(tmp, "w", 0o600);
  try {
    await fh.writeFile(JSON.stringify(value, null, 2));
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}
