/**
 * `512B`, `1.2KB`, `3.4MB`, `1.0GB` (one decimal, 1024-based), as the plugin printed sizes.
 * `separator` goes between number and unit (`" "` for CLI tables).
 */
export function formatBytes(bytes: number, separator = ""): string {
  if (bytes < 1024) return `${bytes}${separator}B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${value.toFixed(1)}${separator}${units[i]}`;
}
