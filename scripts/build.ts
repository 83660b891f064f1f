/**
 * `npm run build`: compiles the CLI into one self-contained executable, dist/tribles.
 * The QUIC native addon and the WASM kernels are embedded (see src/net/quic.ts), so the file runs
 * from any directory on a machine without node_modules.
 */
import { mkdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const outfile = join(root, "dist", "tribles");
mkdirSync(join(root, "dist"), { recursive: true });

// Bytecode (kept as ESM, which our top-level awaits need) spares the runtime parsing the ~10 MB
// bundle at every start: `tribles --help` starts about 2-3x faster. `--no-bytecode` turns it off.
const args = [process.execPath, "build", "--compile", "--minify", "--sourcemap=none", "--format=esm", join(root, "src/cli/main.ts"), "--outfile", outfile];
if (!process.argv.includes("--no-bytecode")) args.splice(3, 0, "--bytecode");
const started = performance.now();
const proc = Bun.spawnSync(args, { cwd: root, stdout: "inherit", stderr: "inherit" });
if (proc.exitCode !== 0) {
  console.error(`build failed (exit ${proc.exitCode})`);
  process.exit(proc.exitCode ?? 1);
}
const size = statSync(outfile).size;
console.log(`built ${outfile} (${(size / 1024 / 1024).toFixed(1)} MiB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
