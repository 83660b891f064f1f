/**
 * File paths recorded in commits: relative, '/'-separated, each segment a plain name. Paths come
 * from peers, so each is checked before it becomes a path on disk (`pathProblem`), and a set of
 * paths is checked for names that one file system would merge (`pathCollisions`).
 */

/** Names Windows reserves for devices, with or without an extension (CON, con.txt, COM1…). */
const DEVICE_NAME = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;
const MAX_SEGMENT_BYTES = 255;
const MAX_PATH_BYTES = 4096;
const utf8 = new TextEncoder();

/** Why a recorded path must not be written inside a directory, or null when it is safe. */
export function pathProblem(path: string): string | null {
  if (path === "") return "an empty path";
  if (utf8.encode(path).length > MAX_PATH_BYTES) return `longer than ${MAX_PATH_BYTES} bytes`;
  if (path.startsWith("/") || /^[A-Za-z]:/.test(path)) return "an absolute path";
  if (path.includes("\\")) return "a backslash (only / separates directories)";
  for (const segment of path.split("/")) {
    if (segment === "") return "an empty path segment (// or a trailing /)";
    if (segment === "." || segment === "..") return `a "${segment}" segment`;
    if (/[\u0000-\u001f\u007f]/.test(segment)) return "a control character";
    if (/[<>:"|?*]/.test(segment)) return `a character Windows cannot store (${segment.match(/[<>:"|?*]/)![0]})`;
    if (DEVICE_NAME.test(segment)) return `"${segment}" is a device name on Windows`;
    if (/[. ]$/.test(segment)) return "a segment ending in a dot or space (Windows drops them)";
    if (utf8.encode(segment).length > MAX_SEGMENT_BYTES) return `a segment longer than ${MAX_SEGMENT_BYTES} bytes`;
  }
  return null;
}

/** The key under which a case-insensitive, normalizing file system (macOS, Windows) sees a path. */
export function foldedPath(path: string): string {
  return path.normalize("NFC").toLowerCase();
}

/**
 * Groups of paths that would land on one file on a case-insensitive file system ("Notes.md" and
 * "notes.md"), and paths that are both a file and a directory ("a" and "a/b").
 */
export function pathCollisions(paths: Iterable<string>): string[][] {
  const byFolded = new Map<string, string[]>();
  const all = [...paths];
  for (const p of all) {
    const key = foldedPath(p);
    const group = byFolded.get(key);
    if (group) group.push(p);
    else byFolded.set(key, [p]);
  }
  const out = [...byFolded.values()].filter((g) => g.length > 1);
  for (const p of all) {
    const segments = foldedPath(p).split("/");
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join("/");
      const file = byFolded.get(dir);
      if (file) out.push([...file, p]);
    }
  }
  return out;
}

/** A path given on the command line or found by a walk, in recorded form ('/'-separated, no ./). */
export function normalizeLocalPath(relative: string): string {
  return relative
    .split(/[\\/]+/)
    .filter((s) => s !== "" && s !== ".")
    .join("/");
}
