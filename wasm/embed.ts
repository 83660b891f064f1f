/**
 * Writes a built kernel as a TypeScript module exporting its bytes as base64, so it is compiled from
 * memory at import time (nothing read from disk; works inside a `bun build --compile` executable).
 */
import { writeFileSync } from "node:fs";

/** `header`: the comment lines above the export (say what generated the file and from what). */
export function writeEmbedded(path: string, exportName: string, bytes: Uint8Array, header: string): void {
  writeFileSync(path, `${header}\nexport const ${exportName} = "${Buffer.from(bytes).toString("base64")}";\n`);
}
