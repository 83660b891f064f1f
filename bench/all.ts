/**
 * `npm run bench`: runs every benchmark suite in bench/ (each prints its table and writes
 * bench/results/<suite>.json). Pass suite names to run only some: `npm run bench -- pile crypto`.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";

const wanted = new Set(process.argv.slice(2));
const suites = readdirSync(import.meta.dir)
  .filter((f) => f.endsWith(".bench.ts"))
  .map((f) => f.slice(0, -".bench.ts".length))
  .filter((s) => wanted.size === 0 || wanted.has(s))
  .sort();

let failed = 0;
for (const suite of suites) {
  const proc = Bun.spawnSync([process.execPath, "run", join(import.meta.dir, `${suite}.bench.ts`)], {
    stdout: "inherit",
    stderr: "inherit",
  });
  if (proc.exitCode !== 0) {
    console.error(`bench suite ${suite} failed (exit ${proc.exitCode})`);
    failed++;
  }
}
if (suites.length === 0) console.error("no benchmark suites matched");
process.exit(failed ? 1 : 0);
