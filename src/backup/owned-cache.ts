/**
 * The snapshots this host has already proved ours by their MAC file (`ownership.ts`), kept in the
 * state folder so that a backup's prune, `backup list` and "latest" derive one key per run instead
 * of one per snapshot (a PBKDF2 of `backup.kdfIterations` rounds each: 200 snapshots took ~8 s of
 * every backup on a 2-core VM). restic keeps such a cache of what its key already opened.
 *
 * An entry holds, per snapshot name, a SHA-256 of what its proof was drawn from: the name, the
 * listed size and the MAC file's whole text. A MAC file changed in storage in any byte, or a
 * snapshot of another size, is checked again. The proofs also depend on the passphrase, which the
 * file must not hold: it holds a check value of the passphrase instead, derived as a MAC file's is
 * (the same key derivation, with a salt of the file's own; every MAC file in storage holds one),
 * so a changed passphrase sets every entry aside. Nothing in it is secret.
 */
import { createHash, randomBytes } from "node:crypto";
import path from "node:path";
import { deriveMacKeys, MAC_SALT_LENGTH, sameHex } from "../crypto/index.js";
import { readJsonFile, writeJsonFileAtomic } from "../util/json-file.js";

/** What one location's entries were proved with, and the entries (name → digest of the proof's inputs). */
interface LocationCache {
  salt: string;
  iterations: number;
  check: string;
  owned: Record<string, string>;
}

function fileOf(stateDir: string): string {
  return path.join(stateDir, "workspace-sync", "owned-snapshots.json");
}

/** The digest an entry holds for snapshot `name` of `size` bytes whose MAC file is `macText`. */
export function proofDigest(name: string, size: number, macText: string): string {
  return createHash("sha256").update(JSON.stringify([name, size, macText])).digest("hex");
}

/**
 * The cache of one backup location for one run: {@link ownedBefore} answers from the entries the
 * state folder holds once the configured passphrase is found to be the one they were proved with;
 * {@link save} keeps exactly the proofs of this run.
 */
export class OwnedCache {
  readonly #stateDir: string;
  readonly #location: string;
  readonly #passphrase: string;
  readonly #iterations: number;
  #entries: Promise<ReadonlyMap<string, string>> | undefined;
  /** The record's salt, rounds and check value, as {@link #load} found them to be this passphrase's. */
  #verified: Omit<LocationCache, "owned"> | undefined;

  constructor(stateDir: string, location: string, passphrase: string, iterations: number) {
    this.#stateDir = stateDir;
    this.#location = location;
    this.#passphrase = passphrase;
    this.#iterations = iterations;
  }

  /** Whether `name` was proved ours from exactly `digest` ({@link proofDigest}) with this passphrase. */
  async ownedBefore(name: string, digest: string): Promise<boolean> {
    // A cache that cannot be read is no cache (each snapshot is then checked in full).
    this.#entries ??= this.#load().catch(() => new Map<string, string>());
    const recorded = (await this.#entries).get(name);
    return recorded !== undefined && sameHex(recorded, digest);
  }

  /** The entries recorded for this location, when made with the configured passphrase (one key derivation). */
  async #load(): Promise<ReadonlyMap<string, string>> {
    const here = (await readStore(this.#stateDir))[this.#location];
    if (!isLocationCache(here) || here.iterations !== this.#iterations) return new Map();
    const keys = await deriveMacKeys(this.#passphrase, Buffer.from(here.salt, "hex"), here.iterations);
    if (!sameHex(keys.check.toString("hex"), here.check)) return new Map();
    this.#verified = { salt: here.salt, iterations: here.iterations, check: here.check };
    return new Map(Object.entries(here.owned).filter((e): e is [string, string] => typeof e[1] === "string"));
  }

  /**
   * Records `proved` (name → digest) as this location's entries, in place of the earlier ones (a
   * snapshot pruned, or no longer ours, goes). Written only when they differ; a write that fails
   * only costs the next run its key derivations.
   */
  async save(proved: ReadonlyMap<string, string>): Promise<void> {
    // Never consulted (no MAC file got that far): nothing to say about the record.
    if (this.#entries === undefined) return;
    const before = await this.#entries;
    if (before.size === proved.size && [...proved].every(([n, d]) => before.get(n) === d)) return;
    try {
      const store = await readStore(this.#stateDir);
      const old = store[this.#location];
      // The check value is kept only where it is still the one found to be this passphrase's: a run
      // with another passphrase may have written its own since (a new one costs a key derivation).
      const mine = this.#verified;
      let head: Omit<LocationCache, "owned">;
      if (mine !== undefined && isLocationCache(old) && old.salt === mine.salt && old.iterations === mine.iterations && old.check === mine.check) head = mine;
      else {
        const salt = randomBytes(MAC_SALT_LENGTH);
        const keys = await deriveMacKeys(this.#passphrase, salt, this.#iterations);
        head = { salt: salt.toString("hex"), iterations: this.#iterations, check: keys.check.toString("hex") };
      }
      store[this.#location] = { ...head, owned: Object.fromEntries(proved) };
      await writeJsonFileAtomic(fileOf(this.#stateDir), store);
    } catch {
      /* a cache: the next run checks again */
    }
  }
}

async function readStore(stateDir: string): Promise<Record<string, unknown>> {
  const read = await readJsonFile<unknown>(fileOf(stateDir)).catch(() => undefined);
  // Anything but an object (damaged, or not ours) is started again.
  return typeof read === "object" && read !== null && !Array.isArray(read) ? (read as Record<string, unknown>) : {};
}

function isLocationCache(v: unknown): v is LocationCache {
  if (typeof v !== "object" || v === null) return false;
  const c = v as Partial<LocationCache>;
  return (
    typeof c.salt === "string" &&
    c.salt.length === MAC_SALT_LENGTH * 2 &&
    /^[0-9a-f]+$/.test(c.salt) &&
    typeof c.check === "string" &&
    Number.isSafeInteger(c.iterations) &&
    (c.iterations as number) >= 1 &&
    typeof c.owned === "object" &&
    c.owned !== null &&
    !Array.isArray(c.owned)
  );
}
