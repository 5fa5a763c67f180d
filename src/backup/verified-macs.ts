/**
 * The snapshots this host has authenticated whole (`backup verify`) whose MAC files carry no name
 * tag (written before 2026-12-07): their MAC (which binds the name and every byte) by name, per
 * backup location, in the state folder. A MAC file without a name tag proves nothing about its
 * name without a download, so retention and "latest" count such a snapshot as ours only when its
 * MAC is recorded here under its name (`ownership.ts`). Nothing in it is secret.
 */
import path from "node:path";
import { readJsonFile, writeJsonFileAtomic } from "../util/json-file.js";

/** name → MAC (hex), per location. */
type Store = Record<string, Record<string, string>>;

function fileOf(stateDir: string): string {
  return path.join(stateDir, "workspace-sync", "verified-macs.json");
}

/** The key of a backup folder: the provider's description and the folder. */
export function backupLocation(providerDescription: string, dir: string): string {
  return `${providerDescription}\n${dir}`;
}

/** The MACs recorded for `location`, by snapshot name (empty when none or unreadable). */
export async function loadVerifiedMacs(stateDir: string, location: string): Promise<ReadonlyMap<string, string>> {
  const store = await readJsonFile<unknown>(fileOf(stateDir)).catch(() => undefined);
  const here = isRecord(store) ? store[location] : undefined;
  if (!isRecord(here)) return new Map();
  return new Map(Object.entries(here).filter((e): e is [string, string] => typeof e[1] === "string"));
}

/** Records `entries` (snapshot name, MAC hex) as authenticated whole at `location`. */
export async function recordVerifiedMacs(stateDir: string, location: string, entries: readonly (readonly [string, string])[]): Promise<void> {
  if (entries.length === 0) return;
  const read = await readJsonFile<unknown>(fileOf(stateDir)).catch(() => undefined);
  // Anything but an object of objects (damaged, or not ours) is started again.
  const store: Store = isRecord(read) ? (read as Store) : {};
  const here = isRecord(store[location]) ? store[location] : {};
  for (const [name, mac] of entries) here[name] = mac;
  store[location] = here;
  await writeJsonFileAtomic(fileOf(stateDir), store);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
