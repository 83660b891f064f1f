/** Sets up piles, keys and a team through the real CLI, for end-to-end sync tests. */
import { join } from "node:path";
import { type SyncProcess, startSyncProcess } from "../../src/cli/sync-process.ts";
import { tempDir } from "../pile/helpers.ts";

export const CLI = [process.execPath, join(import.meta.dir, "../../src/cli/main.ts")];

/** Runs the CLI and returns its exit code and output, whatever the exit code. */
export async function attempt(cwd: string, ...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn([...CLI, ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out, err };
}

/** Runs the CLI and returns its trimmed stdout; a non-zero exit throws with its stderr. */
export async function run(cwd: string, ...args: string[]): Promise<string> {
  const { code, out, err } = await attempt(cwd, ...args);
  if (code !== 0) throw new Error(`tribles ${args.join(" ")} exited ${code}: ${err}`);
  return out.trim();
}

export interface Member {
  name: string;
  pile: string;
  key: string;
  publicKey: string;
  peerId: string;
  cap?: string;
}

export interface Team {
  dir: string;
  root: string;
  members: Record<string, Member>;
  cleanup(): Promise<void>;
  /** Starts `pile net sync` for a member; `wrap` prefixes the command (e.g. `ip netns exec NS`). */
  sync(member: string, extra?: string[], wrap?: string[]): SyncProcess;
  commit(member: string, message: string, files: Record<string, string>): Promise<string>;
}

/** Creates a team founded by the first name; the others get `perm` capabilities unless listed in `outsiders`. */
export async function makeTeam(names: string[], opts: { perm?: string; outsiders?: string[] } = {}): Promise<Team> {
  const tmp = tempDir("tribles-e2e-");
  const dir = tmp.dir;
  const members: Record<string, Member> = {};
  for (const name of names) {
    await run(dir, "pile", "create", `${name}.pile`);
    const id = JSON.parse(await run(dir, "pile", "net", "identity", "--create", "--key", `${name}.key`, "--json"));
    members[name] = { name, pile: `${name}.pile`, key: `${name}.key`, publicKey: id.publicKey, peerId: id.peerId };
  }
  const founder = members[names[0]!]!;
  const team = JSON.parse(await run(dir, "team", "create", "--pile", founder.pile, "--key", founder.key, "--json"));
  founder.cap = team.cap;
  for (const name of names.slice(1)) {
    if (opts.outsiders?.includes(name)) continue;
    const m = members[name]!;
    const out = JSON.parse(
      await run(dir, "team", "invite", m.publicKey, "--perm", opts.perm ?? "write", "--pile", founder.pile, "--key", founder.key, "--team-root", team.teamRoot, "--cap", team.cap, "--json"),
    );
    m.cap = out.cap;
  }
  const processes: SyncProcess[] = [];
  return {
    dir,
    root: team.teamRoot,
    members,
    async cleanup() {
      await Promise.all(processes.map((p) => p.stop()));
      tmp.cleanup();
    },
    sync(member, extra = [], wrap = []) {
      const m = members[member]!;
      // Sync listens on every interface by default: tests keep to 127.0.0.1 unless they say where.
      const listen = extra.includes("--listen") || wrap.length > 0 ? [] : LOOPBACK_LISTEN;
      const args = [m.pile, "--key", m.key, "--team-root", team.teamRoot, ...(m.cap ? ["--cap", m.cap] : []), ...listen, ...extra];
      const p = startSyncProcess([...wrap, ...CLI], args, dir, member);
      processes.push(p);
      return p;
    },
    async commit(member, message, files) {
      const names: string[] = [];
      for (const [file, text] of Object.entries(files)) {
        await Bun.write(join(dir, file), text);
        names.push(file);
      }
      const m = members[member]!;
      return JSON.parse(await run(dir, "pile", "commit", m.pile, "-m", message, "--key", m.key, "--json", ...names)).commit;
    },
  };
}

/** What sync listened on by default before it listened on every interface: 127.0.0.1, random ports. */
export const LOOPBACK_LISTEN = ["--listen", "/ip4/127.0.0.1/udp/0/quic-v1", "--listen", "/ip4/127.0.0.1/tcp/0"];
export const listenFor = (transport: "quic" | "tcp") => ["--listen", transport === "quic" ? "/ip4/127.0.0.1/udp/0/quic-v1" : "/ip4/127.0.0.1/tcp/0"];
export const firstAddr = (e: Record<string, unknown>) => (e.addrs as string[])[0]!;
