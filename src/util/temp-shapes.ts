/**
 * The shapes of this library's temp names and whose they are (see `temp-names.ts`, which makes
 * them). Nothing here imports anything, so a worker thread can load it for the price of the file.
 */

const SYNC_TEMP_SHAPE = /^\.ws-sync-([0-9a-f]{16})-[0-9a-f]{12}\.tmp$/;

/** `"own"` for this install's sync download temp names, `"other"` for another install's, else undefined (a user file). */
export function syncTempKind(name: string, token: string): "own" | "other" | undefined {
  const m = SYNC_TEMP_SHAPE.exec(name);
  if (!m) return undefined;
  return m[1] === token ? "own" : "other";
}

const PROVIDER_TEMP_SHAPE = /^\.ws-tmp-([0-9a-f]{16})-[0-9a-f]{12}-/;

/** Kind of a provider temp name (see {@link syncTempKind}), with the name it was going to get. */
export function providerTempKind(name: string, token: string): { kind: "own" | "other"; finalName: string } | undefined {
  const m = PROVIDER_TEMP_SHAPE.exec(name);
  if (!m) return undefined;
  return { kind: m[1] === token ? "own" : "other", finalName: name.slice(m[0].length) };
}
