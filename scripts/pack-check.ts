/**
 * `npm run pack-check`: what a user of the package gets. Packs this package (`npm pack`), installs
 * the tarball into a fresh project (plain `npm install`, dependencies from the registry), copies
 * examples/ into it, checks `npx tribles --version`, and runs test/examples against those copies
 * (they import "tribles" from the fresh project's node_modules). Needs the registry; not run by CI.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dir, "..");
const dir = mkdtempSync(join(tmpdir(), "tribles-pack-check-"));
const run = (cmd: string[], cwd: string, env: Record<string, string> = {}) => {
  console.log(`$ ${cmd.join(" ")}`);
  const proc = Bun.spawnSync(cmd, { cwd, stdout: "inherit", stderr: "inherit", env: { ...process.env, ...env } });
  if (proc.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${proc.exitCode}`);
};
try {
  run(["npm", "pack", "--pack-destination", dir], root);
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"))!;
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "fresh-app", version: "1.0.0", type: "module", private: true }));
  run(["npm", "install", `./${tarball}`, "--no-audit", "--no-fund"], dir);
  run(["npx", "tribles", "--version"], dir);
  cpSync(join(root, "examples"), join(dir, "app"), { recursive: true });
  run([process.execPath, "test", "test/examples"], root, { TRIBLES_EXAMPLES: join(dir, "app") });
  console.log("pack-check: the packed package installs, its CLI runs, and the examples pass against it");
} finally {
  rmSync(dir, { recursive: true, force: true });
}
