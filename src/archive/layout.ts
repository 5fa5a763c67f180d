/**
 * What an extraction has put at each path, and the rules every entry must pass against that. The
 * extractor asks it before writing and the checker (`backup verify`) asks it instead of writing,
 * so the two keep the same record and agree on every archive. Pure.
 */
import { SymlinkGuard, safeEntryName, unsafeEntry } from "./safe-path.js";

/** What the extractor created at a path (the target started empty, so this is everything there). */
export type Kind = "dir" | "file" | "symlink";

/** What to do with a symlink whose target lies outside the restore folder (see `ExtractOptions`). */
export type ExternalSymlinks = "refuse" | "skip" | "allow";

/** What a hard link entry becomes. */
export type HardLinkPlan =
  /** A hard link to the file extracted earlier at `target`. */
  | { kind: "file"; target: string }
  /** A symlink with `linkname`: the entry links to a symlink, which `link(2)` would copy. */
  | { kind: "symlink"; linkname: string }
  /** Nothing: GNU tar's "x link to x" for an item listed twice. */
  | undefined;

/** The record of an extraction (see the module comment). */
export class ArchiveLayout {
  private readonly kinds = new Map<string, Kind>();
  /** Target of each symlink entry met at a path (created, or left out under `"skip"`). */
  private readonly linknames = new Map<string, string>();
  private readonly guard: SymlinkGuard;

  constructor(
    rootDir: string,
    private readonly policy: ExternalSymlinks = "refuse",
  ) {
    this.guard = new SymlinkGuard(rootDir);
  }

  /** What is at `name` (a normalised entry name), if anything. */
  kind(name: string): Kind | undefined {
    return this.kinds.get(name);
  }

  /**
   * The parent folders of `name` still to create, outermost first (recorded as folders from now
   * on). Throws `UNSAFE_ARCHIVE_ENTRY` when one is a file or a symlink: nothing is written through a link.
   */
  newParents(name: string, original: string): string[] {
    // The usual case: the parent is a folder created here, and so is every folder above it (a
    // folder is recorded only after its parents, and never removed or replaced).
    const slash = name.lastIndexOf("/");
    if (slash < 0 || this.kinds.get(name.slice(0, slash)) === "dir") return [];
    const parts = name.split("/");
    const missing: string[] = [];
    for (let i = 1; i < parts.length; i++) {
      const rel = parts.slice(0, i).join("/");
      const kind = this.kinds.get(rel);
      if (kind === "dir") continue;
      if (kind === "symlink") throw unsafeEntry(original, `it would be written through the symlink ${JSON.stringify(rel)}`);
      if (kind === "file") throw unsafeEntry(original, `its parent ${JSON.stringify(rel)} is a file`);
      this.kinds.set(rel, "dir");
      missing.push(rel);
    }
    return missing;
  }

  /**
   * Before an entry of kind `next` goes to `name`: what is there now, which the caller removes
   * (a file or symlink; forgotten here) or keeps (a folder for a folder entry). Throws
   * `UNSAFE_ARCHIVE_ENTRY` when it may not be replaced: a folder (by anything else), anything by
   * a folder, and a symlink another accepted symlink resolves through.
   */
  replace(name: string, original: string, next: Kind): Kind | undefined {
    const kind = this.kinds.get(name);
    if (kind === undefined) return undefined;
    if (kind === "dir") {
      if (next === "dir") return kind;
      throw unsafeEntry(original, "it would replace a folder");
    }
    if (next === "dir") throw unsafeEntry(original, `it would replace a ${kind} with a folder`);
    if (kind === "symlink" && this.guard.pinned(name)) {
      throw unsafeEntry(original, "another symlink in the archive resolves through the symlink here, and replacing it would change where that one points");
    }
    this.kinds.delete(name);
    this.linknames.delete(name);
    this.guard.remove(name);
    return kind;
  }

  /**
   * Whether the symlink `name → linkname` may be created: `undefined` when it may, a warning
   * when the `"skip"` policy leaves it out. Throws `UNSAFE_ARCHIVE_ENTRY` when `"refuse"` (the
   * default) refuses it (`how` says how a restore gets past that).
   */
  symlink(name: string, linkname: string, original: string, how: string): string | undefined {
    const outside = this.policy === "allow" ? undefined : this.guard.check(name, linkname);
    if (outside === undefined) return undefined;
    if (this.policy === "refuse") throw unsafeEntry(original, `${outside} (${how})`);
    this.linknames.set(name, linkname);
    return `Skipped symlink ${JSON.stringify(original)} → ${JSON.stringify(linkname)}: ${outside}`;
  }

  /** Records an entry put at `name` (`linkname`: a symlink's target). */
  added(name: string, kind: Kind, linkname?: string): void {
    this.kinds.set(name, kind);
    if (kind === "symlink" && linkname !== undefined) {
      this.linknames.set(name, linkname);
      this.guard.add(name, linkname);
    }
  }

  /**
   * What the hard link `name` to `linkname` becomes (see {@link HardLinkPlan}). Throws
   * `UNSAFE_ARCHIVE_ENTRY` for a link to anything but a file or symlink met earlier in the archive.
   */
  hardLink(name: string, linkname: string, original: string): HardLinkPlan {
    let target: string;
    try {
      target = safeEntryName(linkname);
    } catch {
      throw unsafeEntry(original, `hard link to ${JSON.stringify(linkname)}, outside the restore folder`);
    }
    const kind = this.kinds.get(target);
    const symlinkTarget = kind === "file" || kind === "dir" ? undefined : this.linknames.get(target);
    if (target === name && (kind === "file" || symlinkTarget !== undefined)) return undefined;
    if (kind === "file") return { kind: "file", target };
    // link(2) on a symlink makes a second symlink with the same target (GNU tar does that): made
    // as a symlink, checked where it goes. Never a hard link: link(2) follows symlinks on some systems.
    if (symlinkTarget !== undefined) return { kind: "symlink", linkname: symlinkTarget };
    throw unsafeEntry(original, `hard link to ${JSON.stringify(linkname)}, which is not a file or symlink extracted earlier from this archive`);
  }
}
