/**
 * `npm run build:wasm`: rebuilds every WebAssembly kernel. Each kernel folder under wasm/ has its own
 * `build.ts`; the built modules are committed, so a fresh install needs no compiler.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";

const kernels = readdirSync(import.meta.dir, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(join(import.meta.dir, d.name, "build.ts")))
  .map((d) => d.name);
for (const kernel of kernels) {
  console.log(`building wasm/${kernel}`);
  const proc = Bun.spawnSync([process.execPath, "run", join(import.meta.dir, kernel, "build.ts")], {
    stdout: "inherit",
    stderr: "inherit",
  });
  if (proc.exitCode !== 0) process.exit(proc.exitCode ?? 1);
}
