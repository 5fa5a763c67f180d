/**
 * A hostile cloud for sync tests: a real provider plus an in-memory overlay of files whose names the
 * real backend could never hold (`a` beside `a/b` on a folder backend, 300-byte segments, `..`,
 * backslashes, control characters). The overlay behaves like stored objects: it is listed, read,
 * overwritten and deleted through the provider interface, so sync treats it as cloud content.
 */
import { Readable } from "node:stream";
import type { RemoteEntry, StorageProvider } from "../../src/providers/types.js";

/** One overlay object. */
export interface OverlayObject {
  data: Buffer;
  mtime: Date;
}

/** A provider with an overlay of hostile objects (keys are full provider paths). */
export interface HostileCloud extends StorageProvider {
  overlay: Map<string, OverlayObject>;
}

function under(dir: string, key: string): string | undefined {
  if (dir === "") return key;
  return key.startsWith(`${dir}/`) ? key.slice(dir.length + 1) : undefined;
}

/** Wraps `inner`; objects put into `overlay` (full provider paths) are listed, read, replaced and deleted like stored files. */
export function hostileCloud(inner: StorageProvider, overlay = new Map<string, OverlayObject>()): HostileCloud {
  const p: HostileCloud = {
    ...inner,
    overlay,
    description: inner.description,
    capabilities: inner.capabilities,
    async *list(dir, o) {
      yield* inner.list(dir, o);
      for (const [key, obj] of [...overlay].sort(([a], [b]) => (a < b ? -1 : 1))) {
        const rel = under(dir, key);
        if (rel !== undefined && (o?.recursive !== false || !rel.includes("/"))) {
          yield { path: rel, size: obj.data.length, mtime: obj.mtime, revision: `${obj.data.length}:${obj.mtime.getTime()}` } satisfies RemoteEntry;
        }
      }
    },
    async stat(key, o) {
      const obj = overlay.get(key);
      if (obj) return { path: key, size: obj.data.length, mtime: obj.mtime, revision: `${obj.data.length}:${obj.mtime.getTime()}` };
      return inner.stat(key, o);
    },
    async read(key, o) {
      const obj = overlay.get(key);
      if (obj) return Readable.from([obj.data.subarray(o?.start ?? 0)]);
      return inner.read(key, o);
    },
    async write(key, source, o) {
      if (!overlay.has(key)) return inner.write(key, source, o);
      const parts: Buffer[] = [];
      for await (const c of source) parts.push(c as Buffer);
      const obj = { data: Buffer.concat(parts), mtime: o?.mtime ?? new Date() };
      overlay.set(key, obj);
      return { path: key, size: obj.data.length, mtime: obj.mtime, revision: `${obj.data.length}:${obj.mtime.getTime()}` };
    },
    async delete(key, o) {
      if (overlay.delete(key)) return;
      return inner.delete(key, o);
    },
    async deleteMany(keys, o) {
      const rest = keys.filter((k) => !overlay.delete(k));
      return rest.length ? inner.deleteMany(rest, o) : [];
    },
  };
  if (inner.hashLocalFile) p.hashLocalFile = inner.hashLocalFile.bind(inner);
  if (inner.tempFileKind) p.tempFileKind = inner.tempFileKind.bind(inner);
  return p;
}

/** Puts an overlay object. */
export function putHostile(cloud: HostileCloud, key: string, content: string | Buffer, mtime = new Date()): void {
  cloud.overlay.set(key, { data: Buffer.from(content), mtime });
}

