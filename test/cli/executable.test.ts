import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../pile/helpers.ts";

// Builds the single executable once, copies it alone into an empty directory (no node_modules
// anywhere above it) and runs it from there.
const root = join(import.meta.dir, "../..");
const tmp = tempDir("tribles-exe-");
const exe = join(tmp.dir, "tribles");

async function runExe(args: string[], timeoutMs = 60_000): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([exe, ...args], { cwd: tmp.dir, stdout: "pipe", stderr: "pipe", env: { PATH: "/usr/bin:/bin", HOME: tmp.dir } });
  const timer = setTimeout(() => proc.kill(), timeoutMs);
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  clearTimeout(timer);
  return { code, out, err };
}

beforeAll(() => {
  const build = Bun.spawnSync([process.execPath, "run", join(root, "scripts/build.ts")], { cwd: root, stdout: "pipe", stderr: "pipe" });
  if (build.exitCode !== 0) throw new Error(`build failed: ${build.stderr.toString()}`);
  copyFileSync(join(root, "dist/tribles"), exe);
}, 60_000);
afterAll(() => tmp.cleanup());

describe("the compiled executable, alone in an empty directory", () => {
  test("--help, --version and pile create work", async () => {
    expect(existsSync(join(tmp.dir, "node_modules"))).toBe(false);
    const help = await runExe(["--help"]);
    expect(help.code).toBe(0);
    expect(help.out).toContain("pile net sync <pile>");
    const version = await runExe(["--version"]);
    expect(version.out).toContain("/triblespace/pile-sync/4");
    expect((await runExe(["pile", "create", "x.pile"])).code).toBe(0);
    expect(existsSync(join(tmp.dir, "x.pile"))).toBe(true);
    const bad = await runExe(["pile", "blob", "get", "x.pile", "nothex"]);
    expect(bad.code).toBe(1);
    expect(bad.err.trim().split("\n")).toHaveLength(1);
  }, 30_000);

  for (const transport of ["quic", "tcp"]) {
    test(`two processes of it sync both ways over ${transport}`, async () => {
      const { code, out, err } = await runExe(["demo", ...(transport === "tcp" ? ["--tcp"] : [])]);
      expect(err).not.toContain("demo failed");
      expect(code).toBe(0);
      expect(out).toContain(`over ${transport.toUpperCase()}`);
      expect(out).toContain("bob received branch \"main\"");
      expect(out).toContain("alice received branch \"main\"");
      expect(out).toContain("identical to what was committed");
      expect(out).toContain("done: both piles hold both commits");
    }, 60_000);
  }
});
