/**
 * Start-up of the compiled executable: median wall time of `tribles --help` (target ≤ 30 ms)
 * against `bun --version` (the runtime's own floor) in the same run. Builds dist/tribles first.
 * Run: `npm run bench -- startup`.
 */
import { join } from "node:path";
import { type BenchRow, median, report } from "./lib.ts";

const root = join(import.meta.dir, "..");
const build = Bun.spawnSync([process.execPath, "run", join(root, "scripts/build.ts")], { cwd: root, stdout: "ignore", stderr: "inherit" });
if (build.exitCode !== 0) throw new Error("build failed");
const exe = join(root, "dist/tribles");

function medianMs(cmd: string[], runs = 30): number {
  Bun.spawnSync(cmd, { stdout: "ignore" });
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    Bun.spawnSync(cmd, { stdout: "ignore", stderr: "ignore" });
    times.push(performance.now() - t0);
  }
  return median(times);
}

const rows: BenchRow[] = [
  { name: "start-up", impl: "bun --version", value: medianMs([process.execPath, "--version"]), unit: "ms", higherIsBetter: false },
  { name: "start-up", impl: "tribles --help (compiled)", value: medianMs([exe, "--help"]), unit: "ms", higherIsBetter: false, referenceImpl: "bun --version", target: "≤ 30 ms" },
  { name: "start-up", impl: "tribles --version (compiled)", value: medianMs([exe, "--version"]), unit: "ms", higherIsBetter: false, referenceImpl: "bun --version" },
];
report("startup", rows);
